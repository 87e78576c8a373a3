// Bti and Pmt over an IommuDomain (see bti.h).
#include "udrv/dma/bti.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <fstream>
#include <map>
#include <optional>
#include <mutex>
#include <sstream>

namespace udrv::dma {
namespace {

constexpr uint32_t kBtiKnownOptions =
    kBtiPermRead | kBtiPermWrite | kBtiPermExecute | kBtiCompress | kBtiContiguous;
constexpr int kCapIpcLock = 14;  // linux/capability.h CAP_IPC_LOCK

// A field of /proc/self/status ("VmLck:", "CapEff:"), or "" when absent.
std::string StatusField(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field)) return line.substr(field.size());
  }
  return {};
}

bool HasCapIpcLock() {
  const std::string effective = StatusField("CapEff:");
  if (effective.empty()) return false;
  const uint64_t caps = std::stoull(effective, nullptr, 16);
  return (caps >> kCapIpcLock) & 1;
}

// Bytes charged to RLIMIT_MEMLOCK already: mm->locked_vm, which counts both
// mlock()ed pages and the pages VFIO pinned.
uint64_t LockedBytes() {
  const std::string locked_kib = StatusField("VmLck:");
  if (locked_kib.empty()) return 0;
  return std::stoull(locked_kib) * 1024;
}

// VFIO charges pinned pages to RLIMIT_MEMLOCK; without CAP_IPC_LOCK a pin
// past the limit fails in MAP_DMA with a bare ENOMEM. Say why before trying.
Result<void> CheckMemlock(uint64_t size, const std::string& object) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return FailErrno(errno, "getrlimit(RLIMIT_MEMLOCK)", object);
  if (limit.rlim_cur == RLIM_INFINITY || HasCapIpcLock()) return {};
  const uint64_t locked = LockedBytes();
  if (locked + size <= limit.rlim_cur) return {};
  std::ostringstream what;
  what << "pin " << size << " bytes: RLIMIT_MEMLOCK is " << limit.rlim_cur << " bytes and "
       << locked << " are locked already, so " << (locked + size)
       << " are needed (raise it with ulimit -l or prlimit --memlock, or run with CAP_IPC_LOCK)";
  return Fail(Status::NO_RESOURCES, what.str(), object);
}

std::string Hex(uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

}  // namespace

// One pin: its IOVA block and the mapping of the VMO's pages it was made from.
struct Bti::PinRecord {
  uint64_t iova = 0;
  uint64_t size = 0;
  void* mapping = nullptr;  // keeps the pages alive; VFIO pins by vaddr
  size_t mapping_size = 0;
};

struct Bti::State {
  std::shared_ptr<IommuDomain> domain;
  uint64_t dma_limit = kNoDmaLimit;
  std::string name;

  std::mutex mutex;
  uint64_t next_id = 1;                           // guarded by mutex
  std::map<uint64_t, PinRecord> pins;             // guarded by mutex
  std::map<uint64_t, PinRecord> quarantine;       // guarded by mutex

  std::string Describe() const { return "bti '" + name + "'"; }

  // Unmaps a pin, frees its IOVAs and drops its mapping. Nothing is freed
  // when the unmap fails: the device may still reach the memory.
  Result<void> Release(const PinRecord& pin) {
    if (auto unmapped = domain->Unmap(pin.iova, pin.size); !unmapped) {
      return Wrap(std::move(unmapped.error()), "unpin");
    }
    (void)domain->FreeIova(pin.iova, pin.size);
    ::munmap(pin.mapping, pin.mapping_size);
    return {};
  }

  ~State() {
    for (auto& [id, pin] : pins) (void)Release(pin);
    for (auto& [id, pin] : quarantine) (void)Release(pin);
  }
};

Result<Bti> Bti::Create(std::shared_ptr<IommuDomain> domain, uint64_t dma_limit, std::string name) {
  if (!domain) return Fail(Status::INVALID_ARGS, "create bti: no IOMMU domain", name);
  if (dma_limit < PageSize()) {
    return Fail(Status::INVALID_ARGS, "create bti: DMA limit " + Hex(dma_limit) + " is below one page",
                name);
  }
  auto state = std::make_shared<State>();
  state->domain = std::move(domain);
  state->dma_limit = dma_limit;
  state->name = std::move(name);
  return Bti(std::move(state));
}

Result<Pmt> Bti::Pin(uint32_t options, const Vmo& vmo, uint64_t offset, uint64_t size) const {
  if (!state_) return Fail(Status::BAD_HANDLE, "pin: invalid bti");
  const std::string object = state_->Describe();
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
  auto vmo_size = vmo.GetSize();
  if (!vmo_size) return Wrap(std::move(vmo_size.error()), "pin");
  if (offset > *vmo_size || size > *vmo_size - offset) {
    return Fail(Status::OUT_OF_RANGE,
                "pin: [" + Hex(offset) + ", +" + Hex(size) + ") passes the vmo's end " + Hex(*vmo_size),
                object);
  }
  if (auto memlock = CheckMemlock(size, object); !memlock) return std::unexpected(memlock.error());
  auto backing = vmo.GetBacking();
  if (!backing) return Wrap(std::move(backing.error()), "pin");

  // The pages are mapped into this process for the pin's life: VFIO pins by
  // virtual address. MAP_POPULATE faults them in now; no MAP_LOCKED, as
  // VFIO pins (and charges RLIMIT_MEMLOCK for) the pages itself and mlock
  // would charge them a second time. A hugetlb (contiguous) VMO is mapped
  // whole, since hugetlb mappings must start on a huge page.
  const bool whole = *kind == VmoKind::CONTIGUOUS;
  const uint64_t map_offset = backing->fd_offset + (whole ? 0 : offset);
  const size_t map_size = whole ? *vmo_size : size;
  const int prot = PROT_READ | (device_write ? PROT_WRITE : 0);
  void* mapping = ::mmap(nullptr, map_size, prot, MAP_SHARED | MAP_POPULATE, backing->fd,
                         static_cast<off_t>(map_offset));
  if (mapping == MAP_FAILED) return FailErrno(errno, "pin: mmap of the vmo's pages", object);
  const uintptr_t vaddr = reinterpret_cast<uintptr_t>(mapping) + (whole ? offset : 0);

  std::lock_guard lock(state_->mutex);
  auto info = state_->domain->IovaInfo();
  if (!info) {
    ::munmap(mapping, map_size);
    return Wrap(std::move(info.error()), "pin");
  }
  // The largest IOMMU page the buffer's virtual alignment allows, so that
  // hugepage-backed memory gets huge IOMMU mappings; any alignment will do
  // when that one does not fit.
  uint64_t alignment = 0;
  for (uint64_t sizes = info->page_sizes; sizes != 0; sizes &= sizes - 1) {
    const uint64_t candidate = uint64_t{1} << std::countr_zero(sizes);
    if (candidate <= size && vaddr % candidate == 0) alignment = candidate;
  }
  auto iova = state_->domain->AllocateIova(size, alignment, state_->dma_limit);
  if (!iova && alignment != 0) iova = state_->domain->AllocateIova(size, 0, state_->dma_limit);
  if (!iova) {
    ::munmap(mapping, map_size);
    return Wrap(std::move(iova.error()), "pin " + Hex(size) + " bytes below DMA limit " +
                                             Hex(state_->dma_limit));
  }
  if (auto mapped = state_->domain->Map(*iova, vaddr, size, device_read, device_write); !mapped) {
    (void)state_->domain->FreeIova(*iova, size);
    ::munmap(mapping, map_size);
    return Wrap(std::move(mapped.error()), "pin");
  }
  const uint64_t id = state_->next_id++;
  state_->pins.emplace(id, PinRecord{*iova, size, mapping, map_size});

  std::vector<uint64_t> addresses;
  if (options & kBtiContiguous) {
    addresses.push_back(*iova);
  } else {
    // COMPRESS: one per minimum_contiguity, which is the page size here.
    for (uint64_t at = 0; at < size; at += page) addresses.push_back(*iova + at);
  }
  return Pmt(state_, id, std::move(addresses), size);
}

Result<BtiInfo> Bti::GetInfo() const {
  if (!state_) return Fail(Status::BAD_HANDLE, "bti info: invalid bti");
  auto info = state_->domain->IovaInfo();
  if (!info) return Wrap(std::move(info.error()), "bti info");
  BtiInfo result;
  result.minimum_contiguity = PageSize();
  uint64_t top = 0;
  for (const IovaRange& range : info->ranges) {
    top = std::max(top, range.end == UINT64_MAX ? UINT64_MAX : range.end + 1);
  }
  result.aspace_size = std::min(top, state_->dma_limit);
  std::lock_guard lock(state_->mutex);
  result.pmo_count = state_->pins.size() + state_->quarantine.size();
  result.quarantine_count = state_->quarantine.size();
  return result;
}

Result<void> Bti::ReleaseQuarantine() const {
  if (!state_) return Fail(Status::BAD_HANDLE, "release quarantine: invalid bti");
  std::lock_guard lock(state_->mutex);
  std::optional<Error> first_error;
  for (auto it = state_->quarantine.begin(); it != state_->quarantine.end();) {
    auto released = state_->Release(it->second);
    if (!released) {
      if (!first_error) first_error = released.error();
      ++it;
    } else {
      it = state_->quarantine.erase(it);
    }
  }
  if (first_error) return std::unexpected(std::move(*first_error));
  return {};
}

Pmt& Pmt::operator=(Pmt&& other) noexcept {
  if (this != &other) {
    Quarantine();
    state_ = std::move(other.state_);
    id_ = other.id_;
    addresses_ = std::move(other.addresses_);
    size_ = other.size_;
  }
  return *this;
}

Pmt::~Pmt() { Quarantine(); }

void Pmt::Quarantine() {
  if (!state_) return;
  {
    std::lock_guard lock(state_->mutex);
    auto node = state_->pins.extract(id_);
    if (!node.empty()) state_->quarantine.insert(std::move(node));
  }
  state_.reset();
}

Result<void> Pmt::Unpin() {
  if (!state_) return Fail(Status::BAD_HANDLE, "unpin: the pmt is not pinned");
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->pins.find(id_);
    if (it == state_->pins.end()) {
      return Fail(Status::INTERNAL, "unpin: pin record missing", state_->Describe());
    }
    if (auto released = state_->Release(it->second); !released) return released;
    state_->pins.erase(it);
  }
  state_.reset();
  addresses_.clear();
  return {};
}

}  // namespace udrv::dma
