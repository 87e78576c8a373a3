#include "udrv/core/vmar.h"

#include <sys/mman.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <vector>

#include "vmo_object.h"

namespace udrv {

namespace {

constexpr VmOptions kVmPerms = kVmPermRead | kVmPermWrite | kVmPermExecute;
constexpr VmOptions kVmCanMapPerms = kVmCanMapRead | kVmCanMapWrite | kVmCanMapExecute;
constexpr VmOptions kMapOptions =
    kVmPerms | kVmSpecific | kVmSpecificOverwrite | kVmMapRange | kVmCompact;
constexpr VmOptions kAllocateOptions =
    kVmCanMapPerms | kVmCanMapSpecific | kVmSpecific | kVmCompact;

std::string Range(uintptr_t addr, uint64_t len) {
  return "[" + Hex(addr) + ", " + Hex(addr + len) + ")";
}

std::string RegionName(const VmarRegion& region) {
  return "vmar '" + region.name + "' @" + Hex(region.base);
}

int ProtFromPerms(VmOptions perms) {
  int prot = PROT_NONE;
  if (perms & kVmPermRead) prot |= PROT_READ;
  if (perms & kVmPermWrite) prot |= PROT_WRITE;
  if (perms & kVmPermExecute) prot |= PROT_EXEC;
  return prot;
}

std::string PermsToString(VmOptions perms) {
  std::string text;
  text += (perms & kVmPermRead) ? 'r' : '-';
  text += (perms & kVmPermWrite) ? 'w' : '-';
  text += (perms & kVmPermExecute) ? 'x' : '-';
  return text;
}

// The handle rights that allow mapping with `perms`.
Rights RightsForPerms(VmOptions perms) {
  Rights rights = kRightNone;
  if (perms & kVmPermRead) rights |= kRightRead;
  if (perms & kVmPermWrite) rights |= kRightWrite;
  if (perms & kVmPermExecute) rights |= kRightExecute;
  return rights;
}

VmOptions PermsForRights(Rights rights) {
  VmOptions perms = 0;
  if (rights & kRightRead) perms |= kVmPermRead;
  if (rights & kRightWrite) perms |= kVmPermWrite;
  if (rights & kRightExecute) perms |= kVmPermExecute;
  return perms;
}

// kVmCanMapRead etc. are kVmPermRead etc. shifted by 7.
VmOptions PermsForCanMap(VmOptions can_map) { return (can_map & kVmCanMapPerms) >> 7; }

bool IsPageAligned(uint64_t value) { return value % PageSize() == 0; }

// Rounds `len` up to the page size; nullopt if it is 0 or wraps.
std::optional<uint64_t> PageRoundedLength(uint64_t len) {
  const uint64_t page = PageSize();
  if (len == 0 || len > UINT64_MAX - (page - 1)) return std::nullopt;
  return (len + page - 1) / page * page;
}

bool Overlaps(uintptr_t a, uint64_t a_len, uintptr_t b, uint64_t b_len) {
  return a < b + b_len && b < a + a_len;
}

bool Contains(const VmarRegion& region, uintptr_t addr, uint64_t len) {
  return addr >= region.base && len <= region.size && addr - region.base <= region.size - len;
}

// Puts PROT_NONE reserved memory back over [addr, addr+len), which lies in
// our own reservation, replacing whatever was mapped there.
Result<void> Reserve(uintptr_t addr, uint64_t len, const std::string& object) {
  void* got = ::mmap(reinterpret_cast<void*>(addr), len, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (got == MAP_FAILED) {
    return FailErrno(errno, "mmap(PROT_NONE, MAP_FIXED, " + Range(addr, len) + ")", object);
  }
  return {};
}

// Start and length of everything that occupies part of `region`, by address.
std::vector<std::pair<uintptr_t, uint64_t>> Occupied(const VmarRegion& region) {
  std::vector<std::pair<uintptr_t, uint64_t>> used;
  auto mapping = region.mappings.begin();
  auto child = region.children.begin();
  while (mapping != region.mappings.end() || child != region.children.end()) {
    if (child == region.children.end() ||
        (mapping != region.mappings.end() && mapping->first < child->first)) {
      used.emplace_back(mapping->first, mapping->second.len);
      ++mapping;
    } else {
      used.emplace_back(child->first, child->second->size);
      ++child;
    }
  }
  return used;
}

bool AnythingIn(const VmarRegion& region, uintptr_t addr, uint64_t len) {
  for (const auto& [start, used_len] : Occupied(region)) {
    if (Overlaps(start, used_len, addr, len)) return true;
  }
  return false;
}

// The lowest address in `region` where `len` bytes aligned to `align` fit.
std::optional<uintptr_t> FirstFit(const VmarRegion& region, uint64_t len, uint64_t align) {
  if (len > region.size) return std::nullopt;
  auto align_up = [align](uintptr_t a) { return (a + align - 1) / align * align; };
  uintptr_t candidate = align_up(region.base);
  for (const auto& [start, used_len] : Occupied(region)) {
    if (candidate + len <= start) break;
    if (start + used_len > candidate) candidate = align_up(start + used_len);
  }
  if (!Contains(region, candidate, len)) return std::nullopt;
  return candidate;
}

// The mapping that covers `addr`, if any.
std::map<uintptr_t, VmarMapping>::iterator MappingAt(VmarRegion& region, uintptr_t addr) {
  auto it = region.mappings.upper_bound(addr);
  if (it == region.mappings.begin()) return region.mappings.end();
  --it;
  return addr < it->first + it->second.len ? it : region.mappings.end();
}

// A mapping may be cut only at its VMO's granule: hugetlb VMAs do not split
// inside a huge page.
Result<void> CheckCut(VmarRegion& region, uintptr_t addr, const char* op) {
  auto it = MappingAt(region, addr);
  if (it == region.mappings.end() || it->first == addr) return {};
  const uint64_t granule = it->second.vmo->map_granule();
  if ((addr - it->first) % granule != 0) {
    return Fail(Status::INVALID_ARGS,
                std::string(op) + ": " + Hex(addr) + " would split a mapping of " +
                    it->second.vmo->Describe() + " inside its " + Hex(granule) + "-byte page",
                RegionName(region));
  }
  return {};
}

// Splits the mapping that straddles `addr` (if one does) into two records.
// The kernel's mapping is untouched; only our bookkeeping follows a cut.
void CutAt(VmarRegion& region, uintptr_t addr) {
  auto it = MappingAt(region, addr);
  if (it == region.mappings.end() || it->first == addr) return;
  VmarMapping& head = it->second;
  const uint64_t head_len = addr - it->first;
  VmarMapping tail{head.len - head_len, head.vmo, head.vmo_offset + head_len, head.perms,
                   head.max_perms};
  head.len = head_len;
  region.mappings.emplace(addr, std::move(tail));
}

// A child region lies wholly inside [addr, addr+len), wholly outside, or
// across an edge (INVALID_ARGS: a region is unmapped whole or not at all).
Result<std::vector<uintptr_t>> ChildrenWithin(const VmarRegion& region, uintptr_t addr,
                                              uint64_t len, const char* op) {
  std::vector<uintptr_t> within;
  for (const auto& [child_base, child] : region.children) {
    if (!Overlaps(child_base, child->size, addr, len)) continue;
    if (child_base < addr || child->end() > addr + len) {
      return Fail(Status::INVALID_ARGS,
                  std::string(op) + ": " + Range(addr, len) + " covers only part of sub-" +
                      RegionName(*child),
                  RegionName(region));
    }
    within.push_back(child_base);
  }
  return within;
}

// Marks `region` and everything under it destroyed and drops their records;
// the caller has already put the reservation back over the address range.
void Retire(VmarRegion& region) {
  region.destroyed = true;
  region.parent = nullptr;
  region.mappings.clear();
  for (auto& [child_base, child] : region.children) Retire(*child);
  region.children.clear();
}

// zx_vmar_destroy on one region: its range becomes reserved again and free in
// its parent.
Result<void> DestroyRegion(VmarRegion& region) {
  auto reserved = Reserve(region.base, region.size, RegionName(region));
  if (!reserved) return reserved;
  VmarRegion* parent = region.parent;
  const uintptr_t base = region.base;
  Retire(region);
  // Last: erasing may drop the parent's reference, the final one to `region`.
  if (parent != nullptr) parent->children.erase(base);
  return {};
}

Result<void> CheckAlive(const VmarRegion& region, const char* op) {
  if (region.destroyed) {
    return Fail(Status::BAD_STATE, std::string(op) + ": the VMAR was destroyed",
                RegionName(region));
  }
  return {};
}

}  // namespace

VmarTree::~VmarTree() { ::munmap(reinterpret_cast<void*>(base), size); }

std::string VmarObject::Describe() const { return RegionName(*region_); }

Result<Vmar> Vmar::Create(uint64_t size, std::string name) {
  const auto rounded = PageRoundedLength(size);
  if (!rounded) {
    return Fail(Status::INVALID_ARGS, "create vmar: size " + Hex(size) + " is 0 or too large",
                "vmar '" + name + "'");
  }
  void* base =
      ::mmap(nullptr, *rounded, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    return FailErrno(errno, "mmap(PROT_NONE, " + Hex(*rounded) + " bytes)", "vmar '" + name + "'");
  }
  auto tree = std::make_shared<VmarTree>(reinterpret_cast<uintptr_t>(base), *rounded);
  auto root = std::make_shared<VmarRegion>();
  root->base = tree->base;
  root->size = tree->size;
  root->can_map_specific = true;
  root->name = std::move(name);
  tree->root = root;
  return Vmar(std::make_shared<VmarObject>(std::move(tree), std::move(root)), kDefaultVmarRights);
}

Result<std::pair<Vmar, uintptr_t>> Vmar::Allocate(VmOptions options, uint64_t offset,
                                                  uint64_t size) const {
  auto valid = Check(kRightNone, "allocate");
  if (!valid) return std::unexpected(valid.error());
  if ((options & ~kAllocateOptions) != 0) {
    return Fail(Status::INVALID_ARGS,
                "allocate: options " + Hex(options & ~kAllocateOptions) +
                    " are not allocation options (CAN_MAP_*, SPECIFIC, COMPACT)",
                (*valid)->Describe());
  }
  const VmOptions can_map = options & (kVmCanMapPerms | kVmCanMapSpecific);
  // kVmCanMapRead etc. need the matching handle right, as perms do for Map.
  auto self = Check(RightsForPerms(PermsForCanMap(can_map)), "allocate");
  if (!self) return std::unexpected(self.error());
  VmarObject& object = **self;
  if (size == 0 || !IsPageAligned(size) || !IsPageAligned(offset)) {
    return Fail(Status::INVALID_ARGS,
                "allocate: offset " + Hex(offset) + " and size " + Hex(size) +
                    " must be page aligned and size non-zero",
                object.Describe());
  }
  const bool specific = (options & kVmSpecific) != 0;
  if (!specific && offset != 0) {
    return Fail(Status::INVALID_ARGS, "allocate: offset " + Hex(offset) + " without SPECIFIC",
                object.Describe());
  }

  std::lock_guard lock(object.tree().mutex);
  VmarRegion& region = object.region();
  auto alive = CheckAlive(region, "allocate");
  if (!alive) return std::unexpected(alive.error());
  if ((can_map & kVmCanMapSpecific) && !region.can_map_specific) {
    return Fail(Status::ACCESS_DENIED,
                "allocate: a sub-VMAR cannot have CAN_MAP_SPECIFIC when its parent lacks it",
                object.Describe());
  }
  if (specific && !region.can_map_specific) {
    return Fail(Status::ACCESS_DENIED, "allocate: SPECIFIC in a VMAR without CAN_MAP_SPECIFIC",
                object.Describe());
  }
  uintptr_t child_base = 0;
  if (specific) {
    if (offset > region.size || size > region.size - offset) {
      return Fail(Status::INVALID_ARGS,
                  "allocate: " + Range(region.base + offset, size) + " is outside the VMAR",
                  object.Describe());
    }
    child_base = region.base + offset;
    if (AnythingIn(region, child_base, size)) {
      return Fail(Status::ALREADY_EXISTS,
                  "allocate: " + Range(child_base, size) + " overlaps a mapping or sub-VMAR",
                  object.Describe());
    }
  } else {
    const auto fit = FirstFit(region, size, PageSize());
    if (!fit) {
      return Fail(Status::NO_RESOURCES, "allocate: no free range of " + Hex(size) + " bytes",
                  object.Describe());
    }
    child_base = *fit;
  }

  auto child = std::make_shared<VmarRegion>();
  child->base = child_base;
  child->size = size;
  child->can_map_specific = (can_map & kVmCanMapSpecific) != 0;
  child->name = region.name + "+" + Hex(child_base - region.base);
  child->parent = &region;
  region.children.emplace(child_base, child);
  // CAN_MAP_READ/WRITE/EXECUTE live on as the child handle's rights, as in
  // Zircon: Map and Protect check those, and Duplicate cannot widen them.
  const Rights child_rights =
      rights() & ~(RightsForPerms(kVmPerms) & ~RightsForPerms(PermsForCanMap(can_map)));
  return std::pair{
      Vmar(std::make_shared<VmarObject>(object.shared_tree(), std::move(child)), child_rights),
      child_base};
}

Result<uintptr_t> Vmar::Map(VmOptions options, uint64_t vmar_offset, const Vmo& vmo,
                            uint64_t vmo_offset, uint64_t len) const {
  auto valid = Check(kRightNone, "map");
  if (!valid) return std::unexpected(valid.error());
  const std::string object_name = (*valid)->Describe();
  if ((options & ~kMapOptions) != 0) {
    return Fail(Status::INVALID_ARGS,
                "map: options " + Hex(options & ~kMapOptions) + " are not mapping options",
                object_name);
  }
  const VmOptions perms = options & kVmPerms;
  if ((perms & kVmPermWrite) && !(perms & kVmPermRead)) {
    return Fail(Status::INVALID_ARGS, "map: WRITE without READ", object_name);
  }
  auto self = Check(RightsForPerms(perms), "map");
  if (!self) return std::unexpected(self.error());
  VmarObject& object = **self;
  auto vmo_checked = vmo.Check(kRightMap | RightsForPerms(perms), "map");
  if (!vmo_checked) return std::unexpected(vmo_checked.error());
  const std::shared_ptr<VmoObject>& vmo_object = vmo.object();
  const uint64_t granule = vmo_object->map_granule();
  const bool overwrite = (options & kVmSpecificOverwrite) != 0;
  const bool specific = overwrite || (options & kVmSpecific) != 0;
  if (!specific && vmar_offset != 0) {
    return Fail(Status::INVALID_ARGS, "map: vmar offset " + Hex(vmar_offset) + " without SPECIFIC",
                object_name);
  }
  if (vmo_offset % granule != 0 || !IsPageAligned(vmar_offset)) {
    return Fail(Status::INVALID_ARGS,
                "map: vmo offset " + Hex(vmo_offset) + " must be a multiple of " + Hex(granule) +
                    " for " + vmo_object->Describe() + " and vmar offset " + Hex(vmar_offset) +
                    " page aligned",
                object_name);
  }
  if (len == 0 || len > UINT64_MAX - (granule - 1)) {
    return Fail(Status::INVALID_ARGS, "map: length " + Hex(len) + " is 0 or too large",
                object_name);
  }
  const uint64_t map_len = (len + granule - 1) / granule * granule;
  if (vmo_offset > vmo_object->size() || map_len > vmo_object->size() - vmo_offset) {
    return Fail(Status::OUT_OF_RANGE,
                "map: [" + Hex(vmo_offset) + ", +" + Hex(map_len) + ") runs past the end of " +
                    vmo_object->Describe() + " (size " + Hex(vmo_object->size()) + ")",
                object_name);
  }

  std::lock_guard lock(object.tree().mutex);
  VmarRegion& region = object.region();
  auto alive = CheckAlive(region, "map");
  if (!alive) return std::unexpected(alive.error());
  if (specific && !region.can_map_specific) {
    return Fail(Status::ACCESS_DENIED, "map: SPECIFIC in a VMAR without CAN_MAP_SPECIFIC",
                object_name);
  }

  uintptr_t addr = 0;
  if (specific) {
    if (vmar_offset > region.size || map_len > region.size - vmar_offset) {
      return Fail(Status::INVALID_ARGS,
                  "map: " + Range(region.base + vmar_offset, map_len) + " is outside the VMAR",
                  object_name);
    }
    addr = region.base + vmar_offset;
    if (addr % granule != 0) {
      return Fail(Status::INVALID_ARGS,
                  "map: " + Hex(addr) + " is not aligned to " + Hex(granule) + " for " +
                      vmo_object->Describe(),
                  object_name);
    }
    if (overwrite) {
      for (const auto& [child_base, child] : region.children) {
        if (Overlaps(child_base, child->size, addr, map_len)) {
          return Fail(Status::INVALID_ARGS,
                      "map: SPECIFIC_OVERWRITE of " + Range(addr, map_len) + " would overlap sub-" +
                          RegionName(*child),
                      object_name);
        }
      }
      for (uintptr_t edge : {addr, addr + map_len}) {
        auto cut = CheckCut(region, edge, "map");
        if (!cut) return std::unexpected(cut.error());
      }
    } else if (AnythingIn(region, addr, map_len)) {
      return Fail(Status::ALREADY_EXISTS,
                  "map: " + Range(addr, map_len) + " overlaps a mapping or sub-VMAR", object_name);
    }
  } else {
    const auto fit = FirstFit(region, map_len, granule);
    if (!fit) {
      return Fail(Status::NO_RESOURCES,
                  "map: no free range of " + Hex(map_len) + " bytes aligned to " + Hex(granule),
                  object_name);
    }
    addr = *fit;
  }

  if (overwrite) {
    CutAt(region, addr);
    CutAt(region, addr + map_len);
  }
  const int flags = MAP_SHARED | MAP_FIXED | ((options & kVmMapRange) ? MAP_POPULATE : 0);
  const uint64_t fd_offset = vmo_object->fd_offset() + vmo_offset;
  void* got = ::mmap(reinterpret_cast<void*>(addr), map_len, ProtFromPerms(perms), flags,
                     vmo_object->fd(), static_cast<off_t>(fd_offset));
  const int err = errno;
  // A failed MAP_FIXED may leave a hole or keep the old pages; either way the
  // range goes back to reserved, empty.
  const bool mapped = got != MAP_FAILED;
  if (!mapped) (void)Reserve(addr, map_len, object_name);
  auto replaced = region.mappings.lower_bound(addr);
  while (replaced != region.mappings.end() && replaced->first < addr + map_len) {
    replaced = region.mappings.erase(replaced);
  }
  if (!mapped) {
    return FailErrno(err,
                     "mmap(" + Range(addr, map_len) + ", " + PermsToString(perms) + ", " +
                         vmo_object->Describe() + " at fd offset " + Hex(fd_offset) + ")",
                     object_name);
  }
  region.mappings.emplace(addr, VmarMapping{map_len, VmoMappingRef(vmo_object), vmo_offset, perms,
                                            PermsForRights(vmo.rights())});
  return addr;
}

Result<void> Vmar::Unmap(uintptr_t addr, uint64_t len) const {
  auto self = Check(kRightNone, "unmap");
  if (!self) return std::unexpected(self.error());
  VmarObject& object = **self;
  const auto rounded = PageRoundedLength(len);
  if (!rounded || !IsPageAligned(addr)) {
    return Fail(Status::INVALID_ARGS,
                "unmap: address " + Hex(addr) + " must be page aligned and length " + Hex(len) +
                    " non-zero",
                object.Describe());
  }
  std::lock_guard lock(object.tree().mutex);
  VmarRegion& region = object.region();
  auto alive = CheckAlive(region, "unmap");
  if (!alive) return alive;
  if (!Contains(region, addr, *rounded)) {
    return Fail(Status::INVALID_ARGS, "unmap: " + Range(addr, *rounded) + " is not inside the VMAR",
                object.Describe());
  }
  auto children = ChildrenWithin(region, addr, *rounded, "unmap");
  if (!children) return std::unexpected(children.error());
  for (uintptr_t edge : {addr, addr + *rounded}) {
    auto cut = CheckCut(region, edge, "unmap");
    if (!cut) return cut;
  }

  auto reserved = Reserve(addr, *rounded, object.Describe());
  if (!reserved) return reserved;
  CutAt(region, addr);
  CutAt(region, addr + *rounded);
  auto it = region.mappings.lower_bound(addr);
  while (it != region.mappings.end() && it->first < addr + *rounded) it = region.mappings.erase(it);
  // Sub-VMARs wholly inside go as if destroyed (zx_vmar_unmap does the same).
  for (uintptr_t child_base : *children) {
    auto child = region.children.find(child_base);
    Retire(*child->second);
    region.children.erase(child);
  }
  return {};
}

Result<void> Vmar::Protect(VmOptions options, uintptr_t addr, uint64_t len) const {
  auto valid = Check(kRightNone, "protect");
  if (!valid) return std::unexpected(valid.error());
  const std::string object_name = (*valid)->Describe();
  if ((options & ~kVmPerms) != 0) {
    return Fail(Status::INVALID_ARGS,
                "protect: options " + Hex(options & ~kVmPerms) + " are not permissions",
                object_name);
  }
  if ((options & kVmPermWrite) && !(options & kVmPermRead)) {
    return Fail(Status::INVALID_ARGS, "protect: WRITE without READ", object_name);
  }
  auto self = Check(RightsForPerms(options), "protect");
  if (!self) return std::unexpected(self.error());
  VmarObject& object = **self;
  const auto rounded = PageRoundedLength(len);
  if (!rounded || !IsPageAligned(addr)) {
    return Fail(Status::INVALID_ARGS,
                "protect: address " + Hex(addr) + " must be page aligned and length " + Hex(len) +
                    " non-zero",
                object_name);
  }
  const uintptr_t end = addr + *rounded;
  std::lock_guard lock(object.tree().mutex);
  VmarRegion& region = object.region();
  auto alive = CheckAlive(region, "protect");
  if (!alive) return alive;
  if (!Contains(region, addr, *rounded)) {
    return Fail(Status::INVALID_ARGS,
                "protect: " + Range(addr, *rounded) + " is not inside the VMAR", object_name);
  }
  for (const auto& [child_base, child] : region.children) {
    if (Overlaps(child_base, child->size, addr, *rounded)) {
      return Fail(Status::INVALID_ARGS,
                  "protect: " + Range(addr, *rounded) + " overlaps sub-" + RegionName(*child) +
                      "; protect through its own handle",
                  object_name);
    }
  }
  // Every page must be mapped, by mappings whose VMO handles allowed `options`.
  for (uintptr_t at = addr; at < end;) {
    auto it = MappingAt(region, at);
    if (it == region.mappings.end()) {
      return Fail(Status::NOT_FOUND, "protect: nothing is mapped at " + Hex(at), object_name);
    }
    if ((options & ~it->second.max_perms) != 0) {
      return Fail(Status::ACCESS_DENIED,
                  "protect: " + PermsToString(options) + " exceeds what the handle to " +
                      it->second.vmo->Describe() + " allowed when it was mapped (" +
                      PermsToString(it->second.max_perms) + ")",
                  object_name);
    }
    at = it->first + it->second.len;
  }
  for (uintptr_t edge : {addr, end}) {
    auto cut = CheckCut(region, edge, "protect");
    if (!cut) return cut;
  }

  if (::mprotect(reinterpret_cast<void*>(addr), *rounded, ProtFromPerms(options)) != 0) {
    return FailErrno(errno,
                     "mprotect(" + Range(addr, *rounded) + ", " + PermsToString(options) + ")",
                     object_name);
  }
  CutAt(region, addr);
  CutAt(region, end);
  for (auto it = region.mappings.lower_bound(addr); it != region.mappings.end() && it->first < end;
       ++it) {
    it->second.perms = options;
  }
  return {};
}

Result<void> Vmar::Destroy() const {
  auto self = Check(kRightDestroy, "destroy");
  if (!self) return std::unexpected(self.error());
  VmarObject& object = **self;
  std::lock_guard lock(object.tree().mutex);
  auto alive = CheckAlive(object.region(), "destroy");
  if (!alive) return alive;
  return DestroyRegion(object.region());
}

Result<uintptr_t> Vmar::GetBase() const {
  auto self = Check(kRightInspect, "get base");
  if (!self) return std::unexpected(self.error());
  std::lock_guard lock((*self)->tree().mutex);
  auto alive = CheckAlive((*self)->region(), "get base");
  if (!alive) return std::unexpected(alive.error());
  return (*self)->region().base;
}

Result<uint64_t> Vmar::GetSize() const {
  auto self = Check(kRightInspect, "get size");
  if (!self) return std::unexpected(self.error());
  std::lock_guard lock((*self)->tree().mutex);
  auto alive = CheckAlive((*self)->region(), "get size");
  if (!alive) return std::unexpected(alive.error());
  return (*self)->region().size;
}

}  // namespace udrv
