// VfioDevice: pci::Device over a vfio-pci device fd.
#include <fcntl.h>
#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <shared_mutex>
#include <span>

#include "udrv/pci/vfio.h"
#include "vfio_info.h"

namespace udrv::pci {
namespace {

constexpr uint32_t kBarCount = 6;

uint32_t IrqIndex(InterruptMode mode) {
  switch (mode) {
    case InterruptMode::MSI:
      return VFIO_PCI_MSI_IRQ_INDEX;
    case InterruptMode::MSI_X:
      return VFIO_PCI_MSIX_IRQ_INDEX;
    default:
      return VFIO_PCI_INTX_IRQ_INDEX;
  }
}

// The checks that need only sysfs, made before any VFIO node is opened:
// returns the device's IOMMU group.
Result<uint32_t> CheckBoundToVfioPci(const Address& address, const sysfs::LinuxPaths& paths) {
  const std::string object = address.ToString() + " (vfio)";
  auto info = SysfsPci(paths).Read(address);
  if (!info) return Wrap(info.error(), "open VFIO device");
  if (info->driver != "vfio-pci") {
    return Fail(
        Status::BAD_STATE,
        "open VFIO device: it is " +
            (info->driver ? "bound to " + *info->driver : std::string("bound to no driver")) +
            ", not vfio-pci; bind it first with BindDriver(address, \"vfio-pci\") "
            "(udrv/pci/bind.h)",
        object);
  }
  if (!info->iommu_group) {
    return Fail(Status::NOT_SUPPORTED,
                "open VFIO device: it has no IOMMU group (no IOMMU, or the IOMMU is off: "
                "intel_iommu=on / iommu=smmuv3)",
                object);
  }
  return *info->iommu_group;
}

Result<UniqueFd> DupFd(int fd, std::string_view purpose, const std::string& object) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) return FailErrno(errno, "dup of the device fd for " + std::string(purpose), object);
  return copy;
}

}  // namespace

// The device fd, shared with the INTx unmask callbacks of Interrupts the
// driver may keep after the device is gone (they hold it weakly). The shared
// lock covers every use of the fd; Revoke takes it exclusively to close it.
struct VfioDevice::Core {
  std::string object;  // "0000:00:02.0 (vfio)"
  mutable std::shared_mutex mutex;
  UniqueFd fd;              // guarded by mutex
  bool removed = false;     // guarded by mutex
  std::mutex vmo_mutex;     // taken after mutex
  std::vector<Vmo> minted;  // the BAR VMOs handed out, to revoke; guarded by vmo_mutex

  // Runs op(fd) while the fd cannot be closed under it.
  template <typename Op>
  auto With(std::string_view what, Op op) const -> decltype(op(0)) {
    std::shared_lock lock(mutex);
    if (removed) {
      return Fail(
          Status::IO_NOT_PRESENT,
          std::string(what) + ": device was removed (the kernel took it back from vfio-pci)",
          object);
    }
    if (!fd) return Fail(Status::BAD_STATE, std::string(what) + ": device is closed", object);
    return op(fd.get());
  }

  // VFIO_DEVICE_SET_IRQS for `count` vectors of `index` from `start`, with
  // the eventfds in `eventfds` for DATA_EVENTFD.
  Result<void> SetIrqs(uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
                       std::span<const int32_t> eventfds, std::string_view what) const {
    return With(what, [&](int device) -> Result<void> {
      std::vector<std::byte> buffer(sizeof(vfio_irq_set) + eventfds.size_bytes());
      vfio_irq_set set{};
      set.argsz = static_cast<uint32_t>(buffer.size());
      set.flags = flags;
      set.index = index;
      set.start = start;
      set.count = count;
      std::memcpy(buffer.data(), &set, sizeof(set));
      if (!eventfds.empty()) {
        std::memcpy(buffer.data() + sizeof(set), eventfds.data(), eventfds.size_bytes());
      }
      if (::ioctl(device, VFIO_DEVICE_SET_IRQS, buffer.data()) != 0) {
        return FailErrno(errno, "VFIO_DEVICE_SET_IRQS for " + std::string(what), object);
      }
      return {};
    });
  }

  // vfio-pci masks INTx as it fires; this lets the next one in.
  Result<void> UnmaskIntx() const {
    return SetIrqs(VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, 0,
                   1, {}, "unmask INTx");
  }
};

VfioDevice::VfioDevice(Address address, std::shared_ptr<VfioIommu> iommu, sysfs::LinuxPaths paths,
                       std::shared_ptr<Core> core)
    : Device(address),
      iommu_(std::move(iommu)),
      paths_(std::move(paths)),
      core_(std::move(core)) {}

Result<std::unique_ptr<VfioDevice>> VfioDevice::Open(const Address& address,
                                                     std::shared_ptr<VfioIommu> iommu,
                                                     const sysfs::LinuxPaths& paths) {
  const std::string object = address.ToString() + " (vfio)";
  if (!iommu) return Fail(Status::INVALID_ARGS, "open VFIO device: no IOMMU given", object);
  auto group = CheckBoundToVfioPci(address, paths);
  if (!group) return std::unexpected(group.error());
  auto fd = iommu->OpenDeviceFd(address, *group);
  if (!fd) return Wrap(fd.error(), "open VFIO device via " + iommu->Describe());

  auto core = std::make_shared<Core>();
  core->object = object;
  core->fd = std::move(*fd);
  // From here the device's destructor releases it from `iommu`.
  std::unique_ptr<VfioDevice> device(
      new VfioDevice(address, std::move(iommu), paths, std::move(core)));
  if (auto layout = device->ReadDeviceLayout(); !layout) {
    return Wrap(layout.error(), "open VFIO device");
  }
  if (auto watch = device->WatchRemovalRequests(); !watch) {
    return Wrap(watch.error(), "open VFIO device: watch for removal requests");
  }
  return device;
}

Result<void> VfioDevice::ReadDeviceLayout() {
  return core_->With("read the device layout", [&](int fd) -> Result<void> {
    const std::string& object = core_->object;
    vfio_device_info info{};
    info.argsz = sizeof(info);
    if (::ioctl(fd, VFIO_DEVICE_GET_INFO, &info) != 0) {
      return FailErrno(errno, "VFIO_DEVICE_GET_INFO", object);
    }
    if ((info.flags & VFIO_DEVICE_FLAGS_PCI) == 0 ||
        info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
      return Fail(Status::WRONG_TYPE,
                  "VFIO_DEVICE_GET_INFO: not a vfio-pci device (flags " + Hex(info.flags) + ", " +
                      std::to_string(info.num_regions) + " regions)",
                  object);
    }
    device_flags_ = info.flags;

    auto read_region = [&](uint32_t index) -> Result<Region> {
      vfio_region_info initial{};
      initial.argsz = sizeof(initial);
      initial.index = index;
      const std::string call = "VFIO_DEVICE_GET_REGION_INFO(" + std::to_string(index) + ")";
      auto region_info = vfio_info::Query(fd, VFIO_DEVICE_GET_REGION_INFO, initial, call, object);
      if (!region_info) return std::unexpected(region_info.error());
      Region region;
      region.flags = region_info->info.flags;
      region.size = region_info->info.size;
      region.offset = region_info->info.offset;
      if ((region.flags & VFIO_REGION_INFO_FLAG_CAPS) == 0) return region;
      bool truncated = false;
      auto walked = vfio_info::WalkCaps(
          *region_info, region_info->info.cap_offset, call, object,
          [&](const vfio_info_cap_header& header, uint32_t offset) {
            if (header.id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) region.msix_mappable = true;
            if (header.id != VFIO_REGION_INFO_CAP_SPARSE_MMAP) return;
            vfio_region_info_cap_sparse_mmap sparse{};
            const size_t first = offset + sizeof(sparse);
            if (!region_info->ReadCap(offset, sparse) ||
                (region_info->bytes.size() - first) / sizeof(vfio_region_sparse_mmap_area) <
                    sparse.nr_areas) {
              truncated = true;
              return;
            }
            for (uint32_t i = 0; i < sparse.nr_areas; ++i) {
              vfio_region_sparse_mmap_area area{};
              region_info->ReadCap(
                  static_cast<uint32_t>(first + i * sizeof(vfio_region_sparse_mmap_area)), area);
              region.sparse_areas.emplace_back(area.offset, area.size);
            }
          });
      if (!walked) return std::unexpected(walked.error());
      if (truncated) {
        return Fail(Status::IO_INVALID, call + ": sparse mmap capability runs past the info",
                    object);
      }
      return region;
    };

    bars_.clear();
    for (uint32_t index = 0; index < kBarCount; ++index) {
      auto region = read_region(VFIO_PCI_BAR0_REGION_INDEX + index);
      if (!region) return std::unexpected(region.error());
      bars_.push_back(std::move(*region));
    }
    auto config = read_region(VFIO_PCI_CONFIG_REGION_INDEX);
    if (!config) return std::unexpected(config.error());
    if (config->size < kConfigSize || config->size > kExtendedConfigSize) {
      return Fail(Status::IO_INVALID,
                  "config region is " + Hex(config->size) + " bytes (expected 0x100 or 0x1000)",
                  object);
    }
    config_ = std::move(*config);

    auto irq_count = [&](uint32_t index) -> Result<uint32_t> {
      if (index >= info.num_irqs) return 0u;
      vfio_irq_info irq{};
      irq.argsz = sizeof(irq);
      irq.index = index;
      if (::ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) != 0) {
        return FailErrno(errno, "VFIO_DEVICE_GET_IRQ_INFO(" + std::to_string(index) + ")", object);
      }
      return (irq.flags & VFIO_IRQ_INFO_EVENTFD) ? irq.count : 0u;
    };
    auto intx = irq_count(VFIO_PCI_INTX_IRQ_INDEX);
    if (!intx) return std::unexpected(intx.error());
    auto msi = irq_count(VFIO_PCI_MSI_IRQ_INDEX);
    if (!msi) return std::unexpected(msi.error());
    auto msix = irq_count(VFIO_PCI_MSIX_IRQ_INDEX);
    if (!msix) return std::unexpected(msix.error());
    auto request = irq_count(VFIO_PCI_REQ_IRQ_INDEX);
    if (!request) return std::unexpected(request.error());
    modes_.has_legacy = *intx > 0;
    modes_.msi_count = *msi;
    modes_.msix_count = *msix;
    has_request_irq_ = *request > 0;
    return {};
  });
}

Result<void> VfioDevice::WatchRemovalRequests() {
  if (!has_request_irq_) return {};
  UniqueFd request(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!request || !stop)
    return FailErrno(errno, "eventfd for the request interrupt", core_->object);
  auto removal = Interrupt::CreateVirtual(address().ToString() + " removal request");
  if (!removal) return std::unexpected(removal.error());
  const int32_t fds[] = {request.get()};
  auto set = core_->SetIrqs(VFIO_PCI_REQ_IRQ_INDEX,
                            VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, fds,
                            "the request interrupt");
  if (!set) return set;
  removal_ = std::move(*removal);
  request_fd_ = std::move(request);
  stop_fd_ = std::move(stop);
  watcher_ = std::thread([this] { WatchLoop(); });
  return {};
}

void VfioDevice::WatchLoop() {
  pollfd fds[2] = {{request_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  for (;;) {
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    // poll on two eventfds we own cannot fail otherwise; stop either way.
    if (ready < 0 || fds[1].revents != 0) return;
    if (fds[0].revents != 0) {
      Revoke();
      return;
    }
  }
}

void VfioDevice::Revoke() {
  {
    std::unique_lock lock(core_->mutex);
    core_->removed = true;
    core_->fd.reset();
    // The VMOs' dups of the device fd would keep the device file open and
    // the remover waiting: point them at /dev/null, which cannot be mapped.
    std::lock_guard vmo_lock(core_->vmo_mutex);
    UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    for (const Vmo& vmo : core_->minted) {
      auto backing = vmo.GetBacking();
      if (backing && null) ::dup3(null.get(), backing->fd, O_CLOEXEC);
    }
    core_->minted.clear();
  }
  iommu_->ReleaseDevice(address());
  std::vector<Interrupt> mapped;
  {
    std::lock_guard lock(irq_mutex_);
    mapped = std::move(mapped_);
    mapped_.clear();
    vector_fds_.clear();
    mode_ = InterruptMode::DISABLED;
  }
  // Outside the locks: Destroy takes the interrupt's own lock, under which
  // an INTx unmask callback may be waiting for core_'s.
  for (const Interrupt& interrupt : mapped) (void)interrupt.Destroy();
  (void)removal_.Trigger(Now());
}

VfioDevice::~VfioDevice() {
  if (watcher_.joinable()) {
    const uint64_t one = 1;
    // An eventfd write of 1 cannot fail short of a counter overflow.
    (void)!::write(stop_fd_.get(), &one, sizeof(one));
    watcher_.join();
  }
  std::vector<Interrupt> mapped;
  {
    std::lock_guard lock(irq_mutex_);
    if (auto disabled = DisableInterruptsLocked()) mapped = std::move(*disabled);
    for (Interrupt& interrupt : mapped_) mapped.push_back(std::move(interrupt));
    mapped_.clear();
  }
  for (const Interrupt& interrupt : mapped) (void)interrupt.Destroy();
  {
    std::unique_lock lock(core_->mutex);
    core_->fd.reset();
    std::lock_guard vmo_lock(core_->vmo_mutex);
    core_->minted.clear();
  }
  iommu_->ReleaseDevice(address());
}

bool VfioDevice::removed() const {
  std::shared_lock lock(core_->mutex);
  return core_->removed;
}

Result<Interrupt> VfioDevice::GetRemovalRequest() const {
  if (!removal_) {
    return Fail(Status::NOT_SUPPORTED,
                "removal request: vfio-pci on this kernel has no request interrupt", Describe());
  }
  return removal_.Duplicate(kRightsBasic | kRightRead);
}

Result<DeviceInfo> VfioDevice::GetDeviceInfo() const {
  auto present = core_->With("get device info", [](int) -> Result<void> { return {}; });
  if (!present) return std::unexpected(present.error());
  return SysfsPci(paths_).Read(address());
}

Result<uint32_t> VfioDevice::DoReadConfig(uint16_t offset, size_t width) const {
  return core_->With("read config", [&](int fd) -> Result<uint32_t> {
    uint8_t bytes[4] = {};
    const ssize_t n = ::pread(fd, bytes, width, static_cast<off_t>(config_.offset + offset));
    if (n != static_cast<ssize_t>(width)) {
      return n < 0 ? FailErrno(errno, "pread(config " + Hex(offset) + ")", core_->object)
                   : Fail(Status::IO, "pread(config " + Hex(offset) + ") was short", core_->object);
    }
    uint32_t value = 0;  // config space is little endian
    for (size_t i = 0; i < width; ++i) value |= uint32_t{bytes[i]} << (8 * i);
    return value;
  });
}

Result<void> VfioDevice::DoWriteConfig(uint16_t offset, size_t width, uint32_t value) {
  return core_->With("write config", [&](int fd) -> Result<void> {
    uint8_t bytes[4] = {};
    for (size_t i = 0; i < width; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
    const ssize_t n = ::pwrite(fd, bytes, width, static_cast<off_t>(config_.offset + offset));
    if (n != static_cast<ssize_t>(width)) {
      return n < 0
                 ? FailErrno(errno, "pwrite(config " + Hex(offset) + ")", core_->object)
                 : Fail(Status::IO, "pwrite(config " + Hex(offset) + ") was short", core_->object);
    }
    return {};
  });
}

Result<Bar> VfioDevice::GetBar(uint32_t index) {
  const std::string what = "get BAR " + std::to_string(index);
  if (index >= kBarCount) {
    return Fail(Status::OUT_OF_RANGE, what + ": BARs are 0 to 5", Describe());
  }
  auto raw = DoReadConfig(static_cast<uint16_t>(kConfigBar0 + 4 * index), 4);
  if (!raw) return Wrap(raw.error(), what);
  const Region& region = bars_[index];
  if (region.size == 0) {
    return Fail(Status::NOT_FOUND, what + ": not implemented (or the upper half of a 64-bit BAR)",
                Describe());
  }
  Bar bar;
  bar.index = index;
  bar.size = region.size;
  if (*raw & 1u) {
    bar.is_io = true;
    bar.io_base = *raw & ~uint32_t{3};
    return bar;
  }
  bar.is_64bit = ((*raw >> 1) & 3u) == 2u;
  bar.is_prefetchable = (*raw & 8u) != 0;
  if (region.flags & VFIO_REGION_INFO_FLAG_MMAP) {
    if (region.msix_mappable || region.sparse_areas.empty()) {
      bar.mappable.emplace_back(0, region.size);
    } else {
      for (const auto& [offset, size] : region.sparse_areas) {
        if (offset >= region.size || size == 0) continue;
        bar.mappable.emplace_back(offset, std::min(size, region.size - offset));
      }
    }
  }
  const uint64_t page = PageSize();
  const uint64_t vmo_size = (region.size + page - 1) / page * page;
  auto vmo = core_->With(what, [&](int fd) -> Result<Vmo> {
    auto copy = DupFd(fd, what, core_->object);
    if (!copy) return std::unexpected(copy.error());
    auto created =
        Vmo::CreatePhysical(std::move(*copy), region.offset, vmo_size, PhysicalRoute::VFIO_REGION,
                            address().ToString() + " BAR" + std::to_string(index));
    if (!created) return std::unexpected(created.error());
    auto kept = created->Duplicate(kRightSameRights);
    if (!kept) return std::unexpected(kept.error());
    std::lock_guard lock(core_->vmo_mutex);
    core_->minted.push_back(std::move(*kept));
    return created;
  });
  if (!vmo) return Wrap(vmo.error(), what);
  bar.vmo = std::move(*vmo);
  return bar;
}

Result<InterruptModes> VfioDevice::GetInterruptModes() const {
  auto present = core_->With("get interrupt modes", [](int) -> Result<void> { return {}; });
  if (!present) return std::unexpected(present.error());
  return modes_;
}

Result<std::vector<Interrupt>> VfioDevice::DisableInterruptsLocked() {
  if (mode_ != InterruptMode::DISABLED) {
    auto disabled =
        core_->SetIrqs(IrqIndex(mode_), VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0,
                       {}, "disabling " + std::string(InterruptModeName(mode_)));
    if (!disabled) return std::unexpected(disabled.error());
  }
  mode_ = InterruptMode::DISABLED;
  vector_fds_.clear();
  std::vector<Interrupt> mapped = std::move(mapped_);
  mapped_.clear();
  return mapped;
}

Result<void> VfioDevice::SetInterruptMode(InterruptMode mode, uint32_t count) {
  const std::string what = "set interrupt mode " + std::string(InterruptModeName(mode)) + " with " +
                           std::to_string(count) + " vector(s)";
  uint32_t available = 0;
  std::string_view lacking;
  switch (mode) {
    case InterruptMode::DISABLED:
      if (count != 0) return Fail(Status::INVALID_ARGS, what + ": disabled takes 0", Describe());
      break;
    case InterruptMode::LEGACY:
      available = modes_.has_legacy ? 1 : 0;
      lacking = "no INTx (interrupt pin 0, or vfio-pci nointxmask)";
      break;
    case InterruptMode::MSI:
      available = modes_.msi_count;
      lacking = "no MSI capability";
      break;
    case InterruptMode::MSI_X:
      available = modes_.msix_count;
      lacking = "no MSI-X capability";
      break;
  }
  if (mode != InterruptMode::DISABLED) {
    if (available == 0)
      return Fail(Status::NOT_SUPPORTED, what + ": " + std::string(lacking), Describe());
    if (count == 0) return Fail(Status::INVALID_ARGS, what + ": at least one vector", Describe());
    if (count > available) {
      return Fail(Status::OUT_OF_RANGE, what + ": the device has " + std::to_string(available),
                  Describe());
    }
  }

  std::vector<Interrupt> previous;
  Result<void> result;
  {
    std::lock_guard lock(irq_mutex_);
    auto present = core_->With(what, [](int) -> Result<void> { return {}; });
    if (!present) return present;
    auto disabled = DisableInterruptsLocked();
    if (!disabled) return Wrap(disabled.error(), what);
    previous = std::move(*disabled);
    if (mode != InterruptMode::DISABLED) {
      std::vector<UniqueFd> fds;
      std::vector<int32_t> numbers;
      for (uint32_t i = 0; i < count; ++i) {
        UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!fd) {
          result = FailErrno(errno, "eventfd for " + what, Describe());
          break;
        }
        numbers.push_back(fd.get());
        fds.push_back(std::move(fd));
      }
      if (result) {
        result =
            core_->SetIrqs(IrqIndex(mode), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                           0, count, numbers, what);
      }
      if (result) {
        vector_fds_ = std::move(fds);
        mapped_.resize(count);
        mode_ = mode;
      }
    }
  }
  for (const Interrupt& interrupt : previous) (void)interrupt.Destroy();
  return result;
}

Result<Interrupt> VfioDevice::MapInterrupt(uint32_t which) {
  std::lock_guard lock(irq_mutex_);
  const std::string what = "map interrupt " + std::to_string(which);
  auto present = core_->With(what, [](int) -> Result<void> { return {}; });
  if (!present) return std::unexpected(present.error());
  if (mode_ == InterruptMode::DISABLED) {
    return Fail(Status::BAD_STATE, what + ": interrupts are disabled; call SetInterruptMode first",
                Describe());
  }
  if (which >= vector_fds_.size()) {
    return Fail(Status::OUT_OF_RANGE,
                what + ": " + std::string(InterruptModeName(mode_)) + " has " +
                    std::to_string(vector_fds_.size()) + " vector(s)",
                Describe());
  }
  // One mapping per vector: a caller that asks again (a driver host in a
  // loop, say) gets the same object, not one more fd each time.
  Interrupt& mapping = mapped_[which];
  if (mapping && !mapping.destroyed()) return mapping.Duplicate(kRightSameRights);
  UniqueFd copy(::fcntl(vector_fds_[which].get(), F_DUPFD_CLOEXEC, 0));
  if (!copy) return FailErrno(errno, "dup of the vector's eventfd", Describe());
  std::function<Result<void>()> on_ack;
  if (mode_ == InterruptMode::LEGACY) {
    on_ack = [weak = std::weak_ptr<Core>(core_), object = Describe()]() -> Result<void> {
      auto core = weak.lock();
      if (!core) return Fail(Status::BAD_STATE, "unmask INTx: the device was closed", object);
      return core->UnmaskIntx();
    };
  }
  auto interrupt = Interrupt::CreateFromEventfd(std::move(copy),
                                                address().ToString() + " " +
                                                    std::string(InterruptModeName(mode_)) + " " +
                                                    std::to_string(which),
                                                std::move(on_ack));
  if (!interrupt) return std::unexpected(interrupt.error());
  auto kept = interrupt->Duplicate(kRightSameRights);
  if (!kept) return std::unexpected(kept.error());
  mapping = std::move(*kept);
  return interrupt;
}

Result<void> VfioDevice::AckInterrupt(uint32_t which) {
  std::lock_guard lock(irq_mutex_);
  const std::string what = "ack interrupt " + std::to_string(which);
  auto present = core_->With(what, [](int) -> Result<void> { return {}; });
  if (!present) return present;
  if (mode_ == InterruptMode::DISABLED) {
    return Fail(Status::BAD_STATE, what + ": interrupts are disabled", Describe());
  }
  if (which >= vector_fds_.size()) {
    return Fail(Status::OUT_OF_RANGE,
                what + ": " + std::string(InterruptModeName(mode_)) + " has " +
                    std::to_string(vector_fds_.size()) + " vector(s)",
                Describe());
  }
  if (mode_ != InterruptMode::LEGACY) return {};  // MSI and MSI-X are edge messages: no mask
  return core_->UnmaskIntx();
}

Result<dma::Bti> VfioDevice::GetBti(uint32_t index, uint64_t dma_limit) {
  if (index != 0) {
    return Fail(Status::OUT_OF_RANGE,
                "get BTI " + std::to_string(index) + ": a VFIO device has one (index 0)",
                Describe());
  }
  return dma::Bti::Create(iommu_, dma_limit, address().ToString() + " bti 0");
}

Result<void> VfioDevice::ResetDevice() {
  return core_->With("reset", [&](int fd) -> Result<void> {
    if ((device_flags_ & VFIO_DEVICE_FLAGS_RESET) == 0) {
      return Fail(Status::NOT_SUPPORTED,
                  "reset: vfio-pci found no reset method for the device (no FLR, PM or bus "
                  "reset; sysfs reset_method is empty)",
                  core_->object);
    }
    if (::ioctl(fd, VFIO_DEVICE_RESET) != 0)
      return FailErrno(errno, "VFIO_DEVICE_RESET", core_->object);
    return {};
  });
}

Result<std::unique_ptr<Device>> OpenVfioDevice(const Address& address,
                                               const sysfs::LinuxPaths& paths) {
  if (auto bound = CheckBoundToVfioPci(address, paths); !bound) {
    return std::unexpected(bound.error());
  }
  auto iommu = VfioIommu::Create(VfioIommuBackend::AUTO, paths);
  if (!iommu) return Wrap(iommu.error(), "open " + address.ToString() + " over VFIO");
  return OpenVfioDevice(address, std::move(*iommu), paths);
}

Result<std::unique_ptr<Device>> OpenVfioDevice(const Address& address,
                                               std::shared_ptr<VfioIommu> iommu,
                                               const sysfs::LinuxPaths& paths) {
  auto device = VfioDevice::Open(address, std::move(iommu), paths);
  if (!device) return std::unexpected(device.error());
  return std::unique_ptr<Device>(std::move(*device));
}

}  // namespace udrv::pci
