// Bti and Pmt (see bti.h): the pin bookkeeping both kinds share, the
// mappings of a Bti over an IommuDomain, and the pagemap reads of a physical
// Bti.
#include "udrv/dma/bti.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <tuple>
#include <utility>

#include "udrv/core/unique_fd.h"

namespace udrv::dma {
namespace {

constexpr uint32_t kBtiKnownOptions =
    kBtiPermRead | kBtiPermWrite | kBtiPermExecute | kBtiCompress | kBtiContiguous;

// /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst): one 64-bit
// entry per page.
constexpr uint64_t kPagemapPresent = uint64_t{1} << 63;
constexpr uint64_t kPagemapFrameMask = (uint64_t{1} << 55) - 1;  // bits 0-54

// The number in a field of /proc/self/status ("VmLck:"), or nullopt when
// the field is absent.
std::optional<uint64_t> StatusField(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with(field)) continue;
    const size_t start = line.find_first_not_of(" \t", field.size());
    if (start == std::string::npos) return std::nullopt;
    uint64_t value = 0;
    const auto [end, error] =
        std::from_chars(line.data() + start, line.data() + line.size(), value);
    if (error != std::errc()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

// The effective capability set, from capget(2): cheaper than parsing
// /proc/self/status on every pin.
bool HasCapability(int capability) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  const auto word = static_cast<size_t>(capability / 32);
  return (data[word].effective >> (capability % 32)) & 1;
}

// Bytes charged to RLIMIT_MEMLOCK already: mm->locked_vm, which counts both
// mlock()ed pages and the pages VFIO pinned.
uint64_t LockedBytes() { return StatusField("VmLck:").value_or(0) * 1024; }

// A pin RLIMIT_MEMLOCK does not allow: names the limit and what is needed.
Error MemlockError(uint64_t size, uint64_t limit, const std::string& object, int err_no = 0) {
  const uint64_t locked = LockedBytes();
  std::ostringstream what;
  what << "pin " << size << " bytes: RLIMIT_MEMLOCK is " << limit << " bytes and " << locked
       << " are locked already, so " << (locked + size)
       << " are needed (raise it with ulimit -l or prlimit --memlock, or run with CAP_IPC_LOCK)";
  return Error{Status::NO_RESOURCES, what.str(), object, err_no};
}

// RLIMIT_MEMLOCK's soft limit when it applies to this process, nullopt when
// it does not (unlimited, or CAP_IPC_LOCK).
std::optional<uint64_t> MemlockLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  if (HasCapability(CAP_IPC_LOCK)) return std::nullopt;
  return limit.rlim_cur;
}

// VFIO and mlock charge pinned pages to RLIMIT_MEMLOCK and fail with a bare
// ENOMEM past it. A pin larger than the limit is refused here, before
// anything is mapped. What is locked already is summed in only when the
// kernel refuses (ExplainMemlock): reading it costs more than a small pin.
Result<void> CheckMemlock(uint64_t size, const std::string& object) {
  const auto limit = MemlockLimit();
  if (!limit || size <= *limit) return {};
  return std::unexpected(MemlockError(size, *limit, object));
}

// Turns the kernel's ENOMEM for a pin into the RLIMIT_MEMLOCK error when
// the limit applies; other errors pass unchanged.
Error ExplainMemlock(Error error, uint64_t size, const std::string& object) {
  if (error.err_no != ENOMEM) return error;
  const auto limit = MemlockLimit();
  if (!limit) return error;
  return MemlockError(size, *limit, object, ENOMEM);
}

Result<void> CheckDmaLimit(uint64_t dma_limit, const std::string& name) {
  if (dma_limit >= PageSize()) return {};
  return Fail(Status::INVALID_ARGS,
              "create bti: DMA limit " + Hex(dma_limit) + " is below one page", name);
}

// This process's mapping of a pin's pages: VFIO pins by virtual address, and
// pagemap tells physical addresses by virtual address. Unmapped when dropped,
// unless a pin record took it over (Release).
class PinMapping {
 public:
  PinMapping(void* base, size_t length, uintptr_t pinned)
      : base_(base), length_(length), pinned_(pinned) {}
  PinMapping(PinMapping&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)),
        length_(other.length_),
        pinned_(other.pinned_) {}
  PinMapping& operator=(PinMapping&&) = delete;
  ~PinMapping() {
    if (base_ != nullptr) ::munmap(base_, length_);
  }

  // Where the pinned range starts.
  uintptr_t pinned() const { return pinned_; }
  std::pair<void*, size_t> Release() { return {std::exchange(base_, nullptr), length_}; }

 private:
  void* base_;
  size_t length_;
  uintptr_t pinned_;
};

// Maps [offset, offset+size) of `vmo`, faulting the pages in (MAP_POPULATE).
// A hugetlb (contiguous) VMO is mapped whole, since hugetlb mappings must
// start on a huge page. `lock` mlocks the pinned range: the physical Bti
// does; behind an IOMMU VFIO pins (and charges RLIMIT_MEMLOCK for) the pages
// itself, and mlock would charge them a second time.
Result<PinMapping> MapForPin(const Vmo& vmo, VmoKind kind, uint64_t vmo_size, uint64_t offset,
                             uint64_t size, bool writable, bool lock, const std::string& object) {
  auto backing = vmo.GetBacking();
  if (!backing) return Wrap(std::move(backing.error()), "pin");
  const bool whole = kind == VmoKind::CONTIGUOUS;
  const uint64_t map_offset = backing->fd_offset + (whole ? 0 : offset);
  const size_t map_size = whole ? vmo_size : size;
  const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* base = ::mmap(nullptr, map_size, prot, MAP_SHARED | MAP_POPULATE, backing->fd,
                      static_cast<off_t>(map_offset));
  if (base == MAP_FAILED) return FailErrno(errno, "pin: mmap of the vmo's pages", object);
  PinMapping mapping(base, map_size, reinterpret_cast<uintptr_t>(base) + (whole ? offset : 0));
  // Huge pages are never swapped, so for them the lock is the pin's
  // statement of intent and the kernel's RLIMIT_MEMLOCK check of this pin
  // (Linux does not add hugetlb pages to VmLck, so pins are checked one by
  // one, not summed).
  if (lock && ::mlock(reinterpret_cast<void*>(mapping.pinned()), size) != 0) {
    return std::unexpected(
        ExplainMemlock(FailErrno(errno, "pin: mlock of the vmo's pages", object).error(), size, object));
  }
  return mapping;
}

// The physical address of each page of [vaddr, vaddr+size), which must be
// mapped: bit 63 of a pagemap entry says the page is present, bits 0-54 give
// its frame number, which reads as 0 to a process without CAP_SYS_ADMIN
// (when the file was opened).
Result<std::vector<uint64_t>> PhysicalAddresses(uintptr_t vaddr, uint64_t size,
                                                const std::string& object) {
  const uint64_t page = PageSize();
  UniqueFd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (!pagemap) return FailErrno(errno, "pin: open /proc/self/pagemap", object);
  std::vector<uint64_t> entries(size / page);
  const size_t bytes = entries.size() * sizeof(uint64_t);
  const ssize_t n = ::pread(pagemap.get(), entries.data(), bytes,
                            static_cast<off_t>(vaddr / page * sizeof(uint64_t)));
  if (n < 0) return FailErrno(errno, "pin: read /proc/self/pagemap", object);
  if (static_cast<size_t>(n) != bytes) {
    return Fail(Status::IO,
                "pin: read " + std::to_string(n) + " of " + std::to_string(bytes) +
                    " bytes of /proc/self/pagemap",
                object);
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint64_t entry = entries[i];
    if ((entry & kPagemapPresent) == 0) {
      return Fail(Status::INTERNAL,
                  "pin: /proc/self/pagemap says the page at " + Hex(vaddr + i * page) +
                      " is not present although it was mapped with MAP_POPULATE",
                  object);
    }
    const uint64_t frame = entry & kPagemapFrameMask;
    if (frame == 0) {
      return Fail(Status::ACCESS_DENIED,
                  "pin: /proc/self/pagemap shows no physical frame numbers: the process lacks "
                  "CAP_SYS_ADMIN, the only one the kernel shows them to",
                  object);
    }
    entries[i] = frame * page;
  }
  return entries;
}

// What a pin made: the IOVA block behind an IOMMU (0 for a physical pin)
// and the device addresses for the Pmt.
struct Pinned {
  uint64_t iova = 0;
  std::vector<uint64_t> addresses;
};

}  // namespace

// One pin: the mapping of the VMO's pages it was made from and, behind an
// IOMMU, its IOVA block.
struct PinRecord {
  uint64_t remote_id = 0;  // a remote Bti's pin: its id on the remote side
  uint64_t iova = 0;
  uint64_t size = 0;
  void* mapping = nullptr;  // keeps the pages alive (VFIO pins by vaddr) and locked
  size_t mapping_size = 0;
};

class BtiObject {
 public:
  std::shared_ptr<IommuDomain> domain;   // null for a physical or remote Bti
  std::shared_ptr<RemotePinner> remote;  // set for a remote Bti only
  uint64_t dma_limit = kNoDmaLimit;
  int64_t cpu_minus_bus = 0;  // physical Bti: bus address = CPU address - this
  std::string name;

  std::mutex mutex;
  uint64_t next_id = 1;                      // guarded by mutex
  std::map<uint64_t, PinRecord> pins;        // guarded by mutex
  std::map<uint64_t, PinRecord> quarantine;  // guarded by mutex

  std::string Describe() const { return "bti '" + name + "'"; }

  // Records a pin made through `self` (this object's shared owner) and
  // returns the Pmt that owns it.
  Pmt AddPin(const std::shared_ptr<BtiObject>& self, PinRecord record,
             std::vector<uint64_t> addresses);

  // Maps the pinned range into the domain at IOVAs below the DMA limit.
  Result<Pinned> MapIntoDomain(uintptr_t vaddr, uint64_t size, uint32_t options) {
    auto info = domain->IovaInfo();
    if (!info) return Wrap(std::move(info.error()), "pin");
    // The largest IOMMU page the buffer's virtual alignment allows, so that
    // hugepage-backed memory gets huge IOMMU mappings; any alignment will do
    // when that one does not fit.
    uint64_t alignment = 0;
    for (uint64_t sizes = info->page_sizes; sizes != 0; sizes &= sizes - 1) {
      const uint64_t candidate = uint64_t{1} << std::countr_zero(sizes);
      if (candidate <= size && vaddr % candidate == 0) alignment = candidate;
    }
    auto iova = domain->AllocateIova(size, alignment, dma_limit);
    if (!iova && alignment != 0) iova = domain->AllocateIova(size, 0, dma_limit);
    if (!iova) {
      return Wrap(std::move(iova.error()),
                  "pin " + Hex(size) + " bytes below DMA limit " + Hex(dma_limit));
    }
    auto mapped = domain->Map(*iova, vaddr, size, options & kBtiPermRead, options & kBtiPermWrite);
    if (!mapped) {
      (void)domain->FreeIova(*iova, size);
      return std::unexpected(ExplainMemlock(Wrap(std::move(mapped.error()), "pin").error(), size,
                                            Describe()));
    }
    Pinned pinned{.iova = *iova, .addresses = {}};
    if (options & kBtiContiguous) {
      pinned.addresses.push_back(*iova);
    } else {
      // COMPRESS: one per minimum_contiguity, which is the page size.
      for (uint64_t at = 0; at < size; at += PageSize()) pinned.addresses.push_back(*iova + at);
    }
    return pinned;
  }

  // The physical addresses of the pinned range, all below the DMA limit.
  Result<Pinned> ReadPhysical(uintptr_t vaddr, uint64_t size, uint32_t options) const {
    const std::string object = Describe();
    auto pages = PhysicalAddresses(vaddr, size, object);
    if (!pages) return std::unexpected(std::move(pages.error()));
    const uint64_t page = PageSize();
    for (size_t i = 0; i < pages->size(); ++i) {
      const uint64_t cpu_address = (*pages)[i];
      // The bus address, in two's complement: a page below the window wraps
      // to the top, past any limit.
      const uint64_t address = cpu_address - static_cast<uint64_t>(cpu_minus_bus);
      (*pages)[i] = address;
      if (address > dma_limit - page) {
        return Fail(Status::OUT_OF_RANGE,
                    "pin: physical address " + Hex(cpu_address) + " (page " + std::to_string(i) +
                        " of the pin, bus address " + Hex(address) +
                        ") lies at or above the device's DMA limit " + Hex(dma_limit) +
                        "; the device cannot reach this huge page: pin another one",
                    object);
      }
    }
    Pinned pinned;
    if (options & kBtiContiguous) {
      // One huge page is physically contiguous; should the kernel break
      // that, the device must not get one address for scattered pages.
      for (size_t i = 1; i < pages->size(); ++i) {
        if ((*pages)[i] != pages->front() + i * page) {
          return Fail(Status::INTERNAL,
                      "pin CONTIGUOUS: the pages are not physically contiguous: page " +
                          std::to_string(i) + " is at " + Hex((*pages)[i]) + ", not " +
                          Hex(pages->front() + i * page),
                      object);
        }
      }
      pinned.addresses.push_back(pages->front());
    } else {
      // COMPRESS: one per minimum_contiguity, which is the page size.
      pinned.addresses = std::move(*pages);
    }
    return pinned;
  }

  // Behind an IOMMU: unmaps the pin and frees its IOVAs; nothing is freed
  // when the unmap fails, as the device may still reach the memory. Then
  // drops the mapping, which also ends a physical pin's lock.
  Result<void> Release(const PinRecord& pin) {
    if (remote) return remote->Unpin(pin.remote_id);
    if (domain) {
      if (auto unmapped = domain->Unmap(pin.iova, pin.size); !unmapped) {
        return Wrap(std::move(unmapped.error()), "unpin");
      }
      (void)domain->FreeIova(pin.iova, pin.size);
    }
    ::munmap(pin.mapping, pin.mapping_size);
    return {};
  }

  ~BtiObject() {
    for (auto& [id, pin] : pins) (void)Release(pin);
    if (remote) {
      if (!quarantine.empty()) (void)remote->ReleaseQuarantine();
      return;
    }
    for (auto& [id, pin] : quarantine) (void)Release(pin);
  }
};

Result<Bti> Bti::Create(std::shared_ptr<IommuDomain> domain, uint64_t dma_limit, std::string name) {
  if (!domain) return Fail(Status::INVALID_ARGS, "create bti: no IOMMU domain", name);
  if (auto limit = CheckDmaLimit(dma_limit, name); !limit) return std::unexpected(limit.error());
  auto state = std::make_shared<BtiObject>();
  state->domain = std::move(domain);
  state->dma_limit = dma_limit;
  state->name = std::move(name);
  return Bti(std::move(state), kDefaultBtiRights);
}

Result<Bti> Bti::CreatePhysical(UnsafePhysicalDma consent, uint64_t dma_limit, std::string name,
                                int64_t cpu_minus_bus) {
  if (!consent.device_may_reach_all_memory) {
    return Fail(Status::ACCESS_DENIED,
                "create physical bti: without an IOMMU nothing confines the device's DMA: it "
                "can read and write all memory of the machine, not only what is pinned. Pass "
                "UnsafePhysicalDma{.device_may_reach_all_memory = true} to accept that, or use "
                "an IOMMU (vfio-pci)",
                name);
  }
  if (auto limit = CheckDmaLimit(dma_limit, name); !limit) return std::unexpected(limit.error());
  if (!HasCapability(CAP_SYS_ADMIN)) {
    return Fail(Status::ACCESS_DENIED,
                "create physical bti: physical addresses come from /proc/self/pagemap, which "
                "shows frame numbers only to a process with CAP_SYS_ADMIN; run as root or grant "
                "it (setcap cap_sys_admin+ep PROGRAM)",
                name);
  }
  auto state = std::make_shared<BtiObject>();
  state->dma_limit = dma_limit;
  state->cpu_minus_bus = cpu_minus_bus;
  state->name = std::move(name);
  return Bti(std::move(state), kDefaultBtiRights);
}

Result<Bti> Bti::CreateRemote(std::shared_ptr<RemotePinner> pinner, std::string name) {
  if (!pinner) return Fail(Status::INVALID_ARGS, "create remote bti: no pinner", name);
  auto state = std::make_shared<BtiObject>();
  state->remote = std::move(pinner);
  state->name = std::move(name);
  return Bti(std::move(state), kDefaultBtiRights);
}

// A pin of a Bti: dropping the last handle without Unpin quarantines it.
class PmtObject {
 public:
  PmtObject(std::shared_ptr<BtiObject> pinned_by, uint64_t pin_id,
            std::vector<uint64_t> device_addresses, uint64_t pinned_size)
      : bti(std::move(pinned_by)),
        id(pin_id),
        addresses(std::move(device_addresses)),
        size(pinned_size) {}
  PmtObject(const PmtObject&) = delete;
  PmtObject& operator=(const PmtObject&) = delete;
  ~PmtObject() {
    if (!bti) return;
    std::optional<uint64_t> remote_id;
    {
      std::lock_guard lock(bti->mutex);
      auto node = bti->pins.extract(id);
      if (!node.empty()) {
        if (bti->remote) remote_id = node.mapped().remote_id;
        bti->quarantine.insert(std::move(node));
      }
    }
    if (remote_id) bti->remote->Quarantine(*remote_id);
  }

  std::shared_ptr<BtiObject> bti;  // null once unpinned
  const uint64_t id;
  const std::vector<uint64_t> addresses;
  const uint64_t size;
};

Pmt BtiObject::AddPin(const std::shared_ptr<BtiObject>& self, PinRecord record,
                      std::vector<uint64_t> addresses) {
  uint64_t id = 0;
  {
    std::lock_guard lock(mutex);
    id = next_id++;
    pins.emplace(id, record);
  }
  return Pmt(std::make_shared<PmtObject>(self, id, std::move(addresses), record.size),
             kDefaultPmtRights);
}

std::string DescribeObject(const BtiObject& object) { return object.Describe(); }
std::string DescribeObject(const PmtObject& object) {
  return "pmt " + std::to_string(object.id) + (object.bti ? " of " + object.bti->Describe() : "");
}

bool Bti::is_physical() const {
  const auto& state = object();
  return state != nullptr && state->domain == nullptr && state->remote == nullptr;
}

Result<Pmt> Bti::Pin(uint32_t options, const Vmo& vmo, uint64_t offset, uint64_t size) const {
  UDRV_TRY_ASSIGN(BtiObject* const state, Check(kRightMap, "pin"));
  const std::string object = state->Describe();
  const bool device_read = options & kBtiPermRead;
  const bool device_write = options & kBtiPermWrite;
  if (options & ~kBtiKnownOptions) {
    return Fail(Status::INVALID_ARGS, "pin: unknown option bits " + Hex(options & ~kBtiKnownOptions), object);
  }
  if (!device_read && !device_write) {
    return Fail(Status::INVALID_ARGS, "pin: options need PERM_READ or PERM_WRITE", object);
  }
  if (options & kBtiPermExecute) {
    return Fail(Status::INVALID_ARGS, "pin: PERM_EXECUTE is not supported (no device here fetches code)",
                object);
  }
  if ((options & kBtiCompress) && (options & kBtiContiguous)) {
    return Fail(Status::INVALID_ARGS, "pin: COMPRESS and CONTIGUOUS exclude each other", object);
  }
  const uint64_t page = PageSize();
  if (size == 0 || offset % page != 0 || size % page != 0) {
    return Fail(Status::INVALID_ARGS,
                "pin: offset " + Hex(offset) + " and size " + Hex(size) +
                    " must be page aligned and size non-zero",
                object);
  }
  if (!vmo.is_valid()) return Fail(Status::BAD_HANDLE, "pin: invalid vmo", object);
  Rights needed = kRightMap;
  if (device_read) needed |= kRightRead;
  if (device_write) needed |= kRightWrite;
  if ((vmo.rights() & needed) != needed) {
    return Fail(Status::ACCESS_DENIED, "pin: vmo handle lacks " + RightsToString(needed & ~vmo.rights()),
                object);
  }
  auto kind = vmo.GetKind();
  if (!kind) return Wrap(std::move(kind.error()), "pin");
  if (*kind == VmoKind::PHYSICAL) {
    return Fail(Status::NOT_SUPPORTED, "pin: a physical VMO is device memory, not DMA memory", object);
  }
  const bool physical = is_physical();
  if (physical && *kind != VmoKind::CONTIGUOUS) {
    return Fail(Status::NOT_SUPPORTED,
                "pin: a physical bti pins only contiguous VMOs: without an IOMMU the device "
                "uses physical addresses, and the kernel may move an ordinary page (compaction, "
                "migration) while the device still uses its old address. Allocate the memory "
                "with Vmo::CreateContiguous (or dma::ContiguousBuffer): a huge page stays put",
                object);
  }
  auto vmo_size = vmo.GetSize();
  if (!vmo_size) return Wrap(std::move(vmo_size.error()), "pin");
  if (offset > *vmo_size || size > *vmo_size - offset) {
    return Fail(Status::OUT_OF_RANGE,
                "pin: [" + Hex(offset) + ", +" + Hex(size) + ") passes the vmo's end " + Hex(*vmo_size),
                object);
  }
  if (state->remote) {
    UDRV_TRY_ASSIGN(auto pin, state->remote->Pin(options, vmo, offset, size));
    return state->AddPin(this->object(), PinRecord{.remote_id = pin.id, .size = size},
                         std::move(pin.addresses));
  }
  if (auto memlock = CheckMemlock(size, object); !memlock) return std::unexpected(memlock.error());

  // The pages stay mapped into this process for the pin's life.
  auto mapping = MapForPin(vmo, *kind, *vmo_size, offset, size, device_write, physical, object);
  if (!mapping) return std::unexpected(std::move(mapping.error()));
  UDRV_TRY_ASSIGN(auto pinned, physical ? state->ReadPhysical(mapping->pinned(), size, options)
                                         : state->MapIntoDomain(mapping->pinned(), size, options));

  PinRecord record{.iova = pinned.iova, .size = size};
  std::tie(record.mapping, record.mapping_size) = mapping->Release();
  return state->AddPin(this->object(), record, std::move(pinned.addresses));
}

Result<BtiInfo> Bti::GetInfo() const {
  UDRV_TRY_ASSIGN(BtiObject* const state, Check(kRightInspect, "bti info"));
  if (state->remote) return state->remote->GetInfo();
  BtiInfo result;
  result.minimum_contiguity = PageSize();
  result.aspace_size = state->dma_limit;
  if (state->domain) {
    auto info = state->domain->IovaInfo();
    if (!info) return Wrap(std::move(info.error()), "bti info");
    uint64_t top = 0;
    for (const IovaRange& range : info->ranges) {
      top = std::max(top, range.end == UINT64_MAX ? UINT64_MAX : range.end + 1);
    }
    result.aspace_size = std::min(top, state->dma_limit);
  }
  std::lock_guard lock(state->mutex);
  result.pmo_count = state->pins.size() + state->quarantine.size();
  result.quarantine_count = state->quarantine.size();
  return result;
}

Result<void> Bti::ReleaseQuarantine() const {
  UDRV_TRY_ASSIGN(BtiObject* const state, Check(kRightWrite, "release quarantine"));
  if (state->remote) {
    // The remote side holds the quarantined pins; ours are names only.
    if (auto released = state->remote->ReleaseQuarantine(); !released) return released;
    std::lock_guard lock(state->mutex);
    state->quarantine.clear();
    return {};
  }
  std::lock_guard lock(state->mutex);
  std::optional<Error> first_error;
  for (auto it = state->quarantine.begin(); it != state->quarantine.end();) {
    auto released = state->Release(it->second);
    if (!released) {
      if (!first_error) first_error = released.error();
      ++it;
    } else {
      it = state->quarantine.erase(it);
    }
  }
  if (first_error) return std::unexpected(std::move(*first_error));
  return {};
}

std::span<const uint64_t> Pmt::addresses() const {
  const auto& pin = object();
  if (!pin || !pin->bti) return {};
  return pin->addresses;
}

uint64_t Pmt::size() const {
  const auto& pin = object();
  return pin && pin->bti ? pin->size : 0;
}

Result<void> Pmt::Unpin() {
  const auto& pin = object();
  if (!pin || !pin->bti) return Fail(Status::BAD_HANDLE, "unpin: the pmt is not pinned");
  BtiObject& bti = *pin->bti;
  {
    std::lock_guard lock(bti.mutex);
    auto it = bti.pins.find(pin->id);
    if (it == bti.pins.end()) {
      return Fail(Status::INTERNAL, "unpin: pin record missing", bti.Describe());
    }
    UDRV_TRY(bti.Release(it->second));
    bti.pins.erase(it);
  }
  pin->bti.reset();
  reset();
  return {};
}

}  // namespace udrv::dma
