#include "udrv/core/vmo.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <bit>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "udrv/core/cache.h"
#include "vmo_object.h"

namespace udrv {

namespace {

// memfd_create refuses longer names (249 = NAME_MAX minus the "memfd:" prefix).
constexpr size_t kMaxMemfdName = 249;
constexpr const char* kHugePagesDir = "/sys/kernel/mm/hugepages";

std::string Quoted(const std::string& name) { return "vmo '" + name + "'"; }

bool IsPageAligned(uint64_t value) { return value % PageSize() == 0; }

bool IsValidPolicy(CachePolicy policy) {
  return static_cast<uint32_t>(policy) <= static_cast<uint32_t>(CachePolicy::WRITE_COMBINING);
}

bool IsValidRoute(PhysicalRoute route) {
  return static_cast<uint32_t>(route) <= static_cast<uint32_t>(PhysicalRoute::TEST_FILE);
}

std::string PoliciesToString(CachePolicySet set) {
  std::string text;
  for (uint32_t p = 0; p <= static_cast<uint32_t>(CachePolicy::WRITE_COMBINING); ++p) {
    if ((set & (1u << p)) == 0) continue;
    if (!text.empty()) text += '|';
    text += CachePolicyName(static_cast<CachePolicy>(p));
  }
  return text;
}

// Page-rounds `size`, OUT_OF_RANGE where the result would not fit a file offset.
Result<uint64_t> RoundUpToPage(uint64_t size, const std::string& object) {
  const uint64_t page = PageSize();
  if (size > static_cast<uint64_t>(INT64_MAX) - (page - 1)) {
    return Fail(Status::OUT_OF_RANGE, "size " + Hex(size) + " is too large for a VMO", object);
  }
  return (size + page - 1) / page * page;
}

Result<UniqueFd> CreateMemfd(const std::string& name, unsigned int flags) {
  const std::string memfd_name = name.substr(0, kMaxMemfdName);
  const int fd = ::memfd_create(memfd_name.c_str(), flags | MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return FailErrno(errno, "memfd_create(\"" + memfd_name + "\")", Quoted(name));
  return UniqueFd(fd);
}

// A physical VMO's fd must reach [offset, offset+size); a regular file (a
// sysfs resource file, a test file) says how far it reaches. Device fds
// (VFIO, UIO, /dev/mem) have no size to check against.
Result<void> CheckPhysicalRange(int fd, uint64_t offset, uint64_t size, const std::string& name) {
  if (size == 0 || !IsPageAligned(offset) || !IsPageAligned(size)) {
    return Fail(Status::INVALID_ARGS,
                "physical VMO offset " + Hex(offset) + " and size " + Hex(size) +
                    " must be page aligned (page " + Hex(PageSize()) + ") and size non-zero",
                Quoted(name));
  }
  if (offset + size < offset) {
    return Fail(Status::OUT_OF_RANGE,
                "offset " + Hex(offset) + " + size " + Hex(size) + " overflows", Quoted(name));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return FailErrno(errno, "fstat(physical VMO fd)", Quoted(name));
  if (S_ISREG(st.st_mode) && offset + size > static_cast<uint64_t>(st.st_size)) {
    return Fail(Status::OUT_OF_RANGE,
                "region [" + Hex(offset) + ", " + Hex(offset + size) +
                    ") runs past the end of its file (" + Hex(static_cast<uint64_t>(st.st_size)) +
                    " bytes)",
                Quoted(name));
  }
  return {};
}

// Rights the fd can back: no WRITE on a read-only fd, no READ on a write-only one.
Rights RightsForAccessMode(int fd, Rights rights) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return rights;
  if ((flags & O_ACCMODE) == O_RDONLY) rights &= ~kRightWrite;
  if ((flags & O_ACCMODE) == O_WRONLY) rights &= ~(kRightRead | kRightMap);
  return rights;
}

struct HugePool {
  uint64_t page_size;  // bytes
  std::string dir;     // /sys/kernel/mm/hugepages/hugepages-2048kB
};

// The kernel's hugetlb pools, smallest page first.
std::vector<HugePool> ListHugePools() {
  std::vector<HugePool> pools;
  DIR* dir = ::opendir(kHugePagesDir);
  if (dir == nullptr) return pools;
  while (const dirent* entry = ::readdir(dir)) {
    unsigned long long kib = 0;
    if (std::sscanf(entry->d_name, "hugepages-%llukB", &kib) != 1 || kib == 0) continue;
    pools.push_back({kib * 1024, std::string(kHugePagesDir) + "/" + entry->d_name});
  }
  ::closedir(dir);
  std::sort(pools.begin(), pools.end(),
            [](const HugePool& a, const HugePool& b) { return a.page_size < b.page_size; });
  return pools;
}

std::string ReadSysfsWord(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word)) return "?";
  return word;
}

// Maps a whole contiguous VMO for Read and Write to copy through, as the
// fd's access mode allows. Null for a write-only fd, which cannot be mapped.
Result<std::byte*> MapCopyWindow(int fd, uint64_t size, const std::string& name) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return FailErrno(errno, "fcntl(F_GETFL)", Quoted(name));
  if ((flags & O_ACCMODE) == O_WRONLY) return nullptr;
  const int prot = (flags & O_ACCMODE) == O_RDWR ? PROT_READ | PROT_WRITE : PROT_READ;
  void* window = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
  if (window == MAP_FAILED) {
    return FailErrno(errno, "mmap(contiguous VMO, " + Hex(size) + " bytes)", Quoted(name));
  }
  return static_cast<std::byte*>(window);
}

Result<void> CheckIoRange(const VmoObject& vmo, uint64_t offset, size_t len, const char* op) {
  if (vmo.kind() == VmoKind::PHYSICAL) {
    return Fail(Status::NOT_SUPPORTED,
                std::string(op) +
                    ": a physical VMO is device memory: map it and use MMIO accessors "
                    "(read/write calls are refused, as Fuchsia's driver guide requires)",
                vmo.Describe());
  }
  if (offset > vmo.size() || len > vmo.size() - offset) {
    return Fail(Status::OUT_OF_RANGE,
                std::string(op) + " [" + Hex(offset) + ", +" + Hex(len) +
                    ") is past the end (size " + Hex(vmo.size()) + ")",
                vmo.Describe());
  }
  return {};
}

}  // namespace

std::string_view CachePolicyName(CachePolicy policy) {
  switch (policy) {
    case CachePolicy::CACHED:
      return "CACHED";
    case CachePolicy::UNCACHED:
      return "UNCACHED";
    case CachePolicy::UNCACHED_DEVICE:
      return "UNCACHED_DEVICE";
    case CachePolicy::WRITE_COMBINING:
      return "WRITE_COMBINING";
  }
  return "UNKNOWN_CACHE_POLICY";
}

std::string_view PhysicalRouteName(PhysicalRoute route) {
  switch (route) {
    case PhysicalRoute::VFIO_REGION:
      return "VFIO_REGION";
    case PhysicalRoute::SYSFS_RESOURCE:
      return "SYSFS_RESOURCE";
    case PhysicalRoute::SYSFS_RESOURCE_WC:
      return "SYSFS_RESOURCE_WC";
    case PhysicalRoute::UIO_MAP:
      return "UIO_MAP";
    case PhysicalRoute::DEV_MEM:
      return "DEV_MEM";
    case PhysicalRoute::TEST_FILE:
      return "TEST_FILE";
  }
  return "UNKNOWN_ROUTE";
}

CachePolicySet PhysicalRoutePolicies(PhysicalRoute route) {
  switch (route) {
    case PhysicalRoute::VFIO_REGION:
    case PhysicalRoute::SYSFS_RESOURCE:
    case PhysicalRoute::UIO_MAP:
    case PhysicalRoute::DEV_MEM:
      return CachePolicyBit(CachePolicy::UNCACHED_DEVICE);
    case PhysicalRoute::SYSFS_RESOURCE_WC:
      return CachePolicyBit(CachePolicy::WRITE_COMBINING);
    case PhysicalRoute::TEST_FILE:
      return CachePolicyBit(CachePolicy::CACHED);
  }
  return 0;
}

size_t PageSize() {
  static const size_t page_size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page_size;
}

// --- VmoObject ---

VmoObject::VmoObject(Params params)
    : fd_(std::move(params.fd)),
      kind_(params.kind),
      size_(params.size),
      fd_offset_(params.fd_offset),
      route_(params.route),
      reach_(params.reach),
      name_(std::move(params.name)),
      copy_window_(params.copy_window),
      cache_policy_(params.cache_policy) {}

VmoObject::~VmoObject() {
  if (copy_window_ != nullptr) ::munmap(copy_window_, size_);
}

uint64_t VmoObject::map_granule() const {
  return kind_ == VmoKind::CONTIGUOUS ? size_ : PageSize();
}

CachePolicySet VmoObject::honoured_policies() const {
  if (kind_ == VmoKind::PHYSICAL) return PhysicalRoutePolicies(route_);
  return CachePolicyBit(CachePolicy::CACHED);
}

std::string VmoObject::BackingName() const {
  switch (kind_) {
    case VmoKind::PAGED:
      return "paged memory (memfd)";
    case VmoKind::CONTIGUOUS:
      return "contiguous memory (hugetlb memfd)";
    case VmoKind::PHYSICAL:
      break;
  }
  return "route " + std::string(PhysicalRouteName(route_));
}

CachePolicy VmoObject::cache_policy() const {
  std::lock_guard lock(mutex_);
  return cache_policy_;
}

Result<void> VmoObject::SetCachePolicy(CachePolicy policy) {
  if (!IsValidPolicy(policy)) {
    return Fail(Status::INVALID_ARGS,
                "set cache policy: unknown policy " + std::to_string(static_cast<uint32_t>(policy)),
                Describe());
  }
  const CachePolicySet honoured = honoured_policies();
  if ((honoured & CachePolicyBit(policy)) == 0) {
    return Fail(Status::NOT_SUPPORTED,
                "set cache policy " + std::string(CachePolicyName(policy)) + ": " + BackingName() +
                    " can only be mapped " + PoliciesToString(honoured),
                Describe());
  }
  std::lock_guard lock(mutex_);
  if (mapping_count_ != 0) {
    return Fail(Status::BAD_STATE,
                "set cache policy: the VMO has " + std::to_string(mapping_count_) +
                    " mapping(s); unmap them first",
                Describe());
  }
  cache_policy_ = policy;
  return {};
}

void VmoObject::AddMapping() {
  std::lock_guard lock(mutex_);
  ++mapping_count_;
}

void VmoObject::RemoveMapping() {
  std::lock_guard lock(mutex_);
  --mapping_count_;
}

// --- Vmo ---

Result<Vmo> Vmo::Create(uint64_t size, std::string name) {
  auto rounded = RoundUpToPage(size, Quoted(name));
  if (!rounded) return std::unexpected(rounded.error());
  auto fd = CreateMemfd(name, 0);
  if (!fd) return std::unexpected(fd.error());
  if (::ftruncate(fd->get(), static_cast<off_t>(*rounded)) != 0) {
    return FailErrno(errno, "ftruncate(memfd, " + Hex(*rounded) + ")", Quoted(name));
  }
  VmoObject::Params params;
  params.fd = std::move(*fd);
  params.kind = VmoKind::PAGED;
  params.size = *rounded;
  params.name = std::move(name);
  return Vmo(std::make_shared<VmoObject>(std::move(params)), kDefaultVmoRights);
}

Result<Vmo> Vmo::CreatePhysical(UniqueFd fd, uint64_t offset, uint64_t size, PhysicalRoute route,
                                std::string name, FdReach reach) {
  if (!fd.is_valid())
    return Fail(Status::BAD_HANDLE, "create physical VMO: invalid fd", Quoted(name));
  if (!IsValidRoute(route)) {
    return Fail(
        Status::INVALID_ARGS,
        "create physical VMO: unknown route " + std::to_string(static_cast<uint32_t>(route)),
        Quoted(name));
  }
  auto in_range = CheckPhysicalRange(fd.get(), offset, size, name);
  if (!in_range) return std::unexpected(in_range.error());
  // Each route honours exactly one policy, so that is where it starts.
  const auto natural = static_cast<CachePolicy>(std::countr_zero(PhysicalRoutePolicies(route)));
  const Rights rights = RightsForAccessMode(fd.get(), kDefaultVmoRights);
  VmoObject::Params params;
  params.fd = std::move(fd);
  params.kind = VmoKind::PHYSICAL;
  params.size = size;
  params.fd_offset = offset;
  params.route = route;
  params.reach = reach;
  params.cache_policy = natural;
  params.name = std::move(name);
  return Vmo(std::make_shared<VmoObject>(std::move(params)), rights);
}

Result<Vmo> Vmo::CreateContiguous(uint64_t size, std::string name) {
  if (size == 0)
    return Fail(Status::INVALID_ARGS, "create contiguous VMO: size is 0", Quoted(name));
  const std::vector<HugePool> pools = ListHugePools();
  if (pools.empty()) {
    return Fail(Status::NOT_SUPPORTED,
                std::string("create contiguous VMO: no hugetlb pools under ") + kHugePagesDir +
                    " (kernel without CONFIG_HUGETLBFS?)",
                Quoted(name));
  }
  // The smallest page that fits and that its pool can give now: arm64 has
  // 64 KiB, 2 MiB, 32 MiB and 1 GiB pools, and often only 2 MiB is reserved.
  std::optional<UniqueFd> fd;
  const HugePool* pool = nullptr;
  std::string empty_pools;
  for (const HugePool& candidate : pools) {
    if (candidate.page_size < size) continue;
    // memfd_create encodes the huge page size as mmap does: log2 at MAP_HUGE_SHIFT.
    const auto size_bits = static_cast<unsigned int>(std::countr_zero(candidate.page_size));
    auto memfd = CreateMemfd(name, MFD_HUGETLB | (size_bits << MAP_HUGE_SHIFT));
    if (!memfd) return std::unexpected(memfd.error());
    // Take the page now, so an empty pool fails here rather than as SIGBUS on
    // first touch.
    if (::fallocate(memfd->get(), 0, 0, static_cast<off_t>(candidate.page_size)) == 0) {
      fd = std::move(*memfd);
      pool = &candidate;
      break;
    }
    const int err = errno;
    if (err != ENOSPC && err != ENOMEM) {
      return FailErrno(err, "fallocate(hugetlb memfd, " + Hex(candidate.page_size) + ")",
                       Quoted(name));
    }
    if (!empty_pools.empty()) empty_pools += "; ";
    empty_pools += std::to_string(candidate.page_size / 1024) + " kB: " + candidate.dir +
                   "/nr_hugepages is " + ReadSysfsWord(candidate.dir + "/nr_hugepages") +
                   ", free_hugepages " + ReadSysfsWord(candidate.dir + "/free_hugepages");
  }
  if (pool == nullptr && empty_pools.empty()) {
    return Fail(Status::OUT_OF_RANGE,
                "create contiguous VMO: " + Hex(size) +
                    " bytes is more than the largest huge page (" + Hex(pools.back().page_size) +
                    " bytes); a contiguous VMO is one huge page",
                Quoted(name));
  }
  if (pool == nullptr) {
    return Fail(Status::NO_RESOURCES,
                "create contiguous VMO: no free huge page of " + Hex(size) + " bytes or more (" +
                    empty_pools + "); reserve pages by writing a pool's nr_hugepages",
                Quoted(name), ENOSPC);
  }
  auto window = MapCopyWindow((*fd).get(), pool->page_size, name);
  if (!window) return std::unexpected(window.error());
  VmoObject::Params params;
  params.fd = std::move(*fd);
  params.kind = VmoKind::CONTIGUOUS;
  params.size = pool->page_size;
  params.name = std::move(name);
  params.copy_window = *window;
  return Vmo(std::make_shared<VmoObject>(std::move(params)), kDefaultVmoRights);
}

Result<Vmo> Vmo::FromDescription(UniqueFd fd, const Description& description, Rights rights) {
  const std::string object = Quoted(description.name);
  if (!fd.is_valid()) return Fail(Status::BAD_HANDLE, "vmo from description: invalid fd", object);
  if ((rights & kRightSameRights) != 0) {
    return Fail(Status::INVALID_ARGS,
                "vmo from description: rights must be explicit, not SAME_RIGHTS", object);
  }
  const Rights fd_rights = RightsForAccessMode(fd.get(), rights);
  if (fd_rights != rights) {
    return Fail(Status::INVALID_ARGS,
                "vmo from description: rights " + RightsToString(rights & ~fd_rights) +
                    " need an fd opened for them",
                object);
  }
  if (!IsValidPolicy(description.cache_policy)) {
    return Fail(Status::INVALID_ARGS, "vmo from description: unknown cache policy", object);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FailErrno(errno, "fstat(vmo fd)", object);

  VmoObject::Params params;
  params.kind = description.kind;
  params.size = description.size;
  params.cache_policy = description.cache_policy;
  params.name = description.name;
  switch (description.kind) {
    case VmoKind::PAGED:
    case VmoKind::CONTIGUOUS: {
      if (description.offset != 0 || !IsPageAligned(description.size) ||
          static_cast<uint64_t>(st.st_size) != description.size) {
        return Fail(
            Status::INVALID_ARGS,
            "vmo from description: a memfd-backed VMO needs offset 0 and a page-aligned size "
            "equal to the file's (described offset " +
                Hex(description.offset) + ", size " + Hex(description.size) + "; file " +
                Hex(static_cast<uint64_t>(st.st_size)) + ")",
            object);
      }
      if (description.cache_policy != CachePolicy::CACHED) {
        return Fail(Status::INVALID_ARGS,
                    "vmo from description: memfd-backed memory is only CACHED", object);
      }
      if (description.kind == VmoKind::CONTIGUOUS) {
        // One huge page: hugetlbfs reports its page size as the block size.
        if (description.size == 0 || static_cast<uint64_t>(st.st_blksize) != description.size) {
          return Fail(Status::INVALID_ARGS,
                      "vmo from description: a contiguous VMO is one huge page, but the fd's page "
                      "size is " +
                          Hex(static_cast<uint64_t>(st.st_blksize)),
                      object);
        }
        auto window = MapCopyWindow(fd.get(), description.size, description.name);
        if (!window) return std::unexpected(window.error());
        params.copy_window = *window;
      }
      break;
    }
    case VmoKind::PHYSICAL: {
      if (!IsValidRoute(description.route)) {
        return Fail(Status::INVALID_ARGS, "vmo from description: unknown route", object);
      }
      auto in_range =
          CheckPhysicalRange(fd.get(), description.offset, description.size, description.name);
      if (!in_range) return std::unexpected(in_range.error());
      if ((PhysicalRoutePolicies(description.route) & CachePolicyBit(description.cache_policy)) ==
          0) {
        return Fail(Status::INVALID_ARGS,
                    "vmo from description: route " +
                        std::string(PhysicalRouteName(description.route)) + " cannot honour " +
                        std::string(CachePolicyName(description.cache_policy)),
                    object);
      }
      params.fd_offset = description.offset;
      params.route = description.route;
      params.reach = description.reach;
      break;
    }
    default:
      return Fail(Status::INVALID_ARGS,
                  "vmo from description: unknown kind " +
                      std::to_string(static_cast<uint32_t>(description.kind)),
                  object);
  }
  params.fd = std::move(fd);
  return Vmo(std::make_shared<VmoObject>(std::move(params)), rights);
}

Result<Vmo::Description> Vmo::Describe() const {
  auto vmo = Check(kRightInspect, "describe");
  if (!vmo) return std::unexpected(vmo.error());
  const VmoObject& object = **vmo;
  return Description{object.kind(),         object.size(),  object.fd_offset(),
                     object.route(),        object.cache_policy(), object.name(),
                     object.reach()};
}

Result<void> Vmo::Read(std::span<std::byte> out, uint64_t offset) const {
  auto vmo = Check(kRightRead, "read");
  if (!vmo) return std::unexpected(vmo.error());
  const VmoObject& object = **vmo;
  auto in_range = CheckIoRange(object, offset, out.size(), "read");
  if (!in_range) return in_range;
  if (object.copy_window() != nullptr) {
    std::memcpy(out.data(), object.copy_window() + offset, out.size());
    return {};
  }
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(object.fd(), out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(errno, "pread(" + Hex(offset + done) + ")", object.Describe());
    if (n == 0) {
      return Fail(Status::IO, "pread(" + Hex(offset + done) + "): unexpected end of file",
                  object.Describe());
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<void> Vmo::Write(std::span<const std::byte> in, uint64_t offset) const {
  auto vmo = Check(kRightWrite, "write");
  if (!vmo) return std::unexpected(vmo.error());
  const VmoObject& object = **vmo;
  auto in_range = CheckIoRange(object, offset, in.size(), "write");
  if (!in_range) return in_range;
  if (object.kind() == VmoKind::CONTIGUOUS) {
    if (object.copy_window() == nullptr) {
      return Fail(Status::ACCESS_DENIED,
                  "write: the VMO's fd is not readable, so it cannot be mapped", object.Describe());
    }
    std::memcpy(object.copy_window() + offset, in.data(), in.size());
    return {};
  }
  size_t done = 0;
  while (done < in.size()) {
    const ssize_t n = ::pwrite(object.fd(), in.data() + done, in.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(errno, "pwrite(" + Hex(offset + done) + ")", object.Describe());
    done += static_cast<size_t>(n);
  }
  return {};
}

Result<uint64_t> Vmo::GetSize() const {
  auto vmo = Check(kRightGetProperty, "get size");
  if (!vmo) return std::unexpected(vmo.error());
  return (*vmo)->size();
}

Result<VmoKind> Vmo::GetKind() const {
  auto vmo = Check(kRightGetProperty, "get kind");
  if (!vmo) return std::unexpected(vmo.error());
  return (*vmo)->kind();
}

Result<void> Vmo::SetCachePolicy(CachePolicy policy) const {
  auto vmo = Check(kRightSetProperty | kRightMap, "set cache policy");
  if (!vmo) return std::unexpected(vmo.error());
  return (*vmo)->SetCachePolicy(policy);
}

Result<CachePolicy> Vmo::GetCachePolicy() const {
  auto vmo = Check(kRightGetProperty, "get cache policy");
  if (!vmo) return std::unexpected(vmo.error());
  return (*vmo)->cache_policy();
}

Result<void> Vmo::OpRange(VmoOp op, uint64_t offset, uint64_t size) const {
  Rights needed = kRightRead;
  uint32_t flush_options = 0;
  switch (op) {
    case VmoOp::CACHE_SYNC:
      flush_options = kCacheFlushInstruction;
      break;
    case VmoOp::CACHE_INVALIDATE:
      needed = kRightWrite;
      flush_options = kCacheFlushData | kCacheFlushInvalidate;
      break;
    case VmoOp::CACHE_CLEAN:
      flush_options = kCacheFlushData;
      break;
    case VmoOp::CACHE_CLEAN_INVALIDATE:
      flush_options = kCacheFlushData | kCacheFlushInvalidate;
      break;
    default:
      return Fail(Status::INVALID_ARGS,
                  "op range: unknown op " + std::to_string(static_cast<uint32_t>(op)));
  }
  auto vmo = Check(needed, "op range");
  if (!vmo) return std::unexpected(vmo.error());
  const VmoObject& object = **vmo;
  if (object.kind() == VmoKind::PHYSICAL) {
    return Fail(Status::NOT_SUPPORTED,
                "op range: a physical VMO is device memory, mapped " +
                    std::string(CachePolicyName(object.cache_policy())) +
                    "; cache maintenance is for DMA buffers in paged or contiguous VMOs",
                object.Describe());
  }
  if (size == 0) return Fail(Status::INVALID_ARGS, "op range: size is 0", object.Describe());
  if (offset > object.size() || size > object.size() - offset) {
    return Fail(Status::OUT_OF_RANGE,
                "op range [" + Hex(offset) + ", +" + Hex(size) + ") is past the end (size " +
                    Hex(object.size()) + ")",
                object.Describe());
  }
  // A temporary read-only alias of the whole granules covering the range:
  // maintenance by address acts on the physical lines behind it, so this
  // reaches the same lines as any mapping a driver or device uses.
  const uint64_t granule = object.map_granule();
  const uint64_t map_start = offset / granule * granule;
  const uint64_t map_len = (offset + size - map_start + granule - 1) / granule * granule;
  void* alias = ::mmap(nullptr, map_len, PROT_READ, MAP_SHARED, object.fd(),
                       static_cast<off_t>(object.fd_offset() + map_start));
  if (alias == MAP_FAILED) {
    return FailErrno(errno, "op range: mmap(" + Hex(map_len) + " bytes at " + Hex(map_start) + ")",
                     object.Describe());
  }
  auto flushed = CacheFlush(static_cast<const std::byte*>(alias) + (offset - map_start),
                            static_cast<size_t>(size), flush_options);
  ::munmap(alias, map_len);
  if (!flushed) return Wrap(flushed.error(), "op range");
  return {};
}

Result<Vmo::Backing> Vmo::GetBacking() const {
  auto vmo = Check(kRightMap, "get backing");
  if (!vmo) return std::unexpected(vmo.error());
  return Backing{(*vmo)->fd(), (*vmo)->fd_offset()};
}

}  // namespace udrv
