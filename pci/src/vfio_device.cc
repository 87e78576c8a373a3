// VfioDevice: pci::Device over a vfio-pci device fd (a vfio::DeviceFile):
// what is PCI about it, which region is config space or a BAR and which
// interrupt index is INTx, MSI or MSI-X.
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>

#include "udrv/pci/vfio.h"

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

// vfio-pci masks INTx as it fires; this lets the next one in.
Result<void> UnmaskIntx(const vfio::DeviceFile& file) {
  return file.SetIrqs(VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
                      0, 1, {}, "unmask INTx");
}

}  // namespace

VfioDevice::VfioDevice(Address address, sysfs::LinuxPaths paths,
                       std::shared_ptr<vfio::DeviceFile> file)
    : Device(address), paths_(std::move(paths)), file_(std::move(file)) {}

Result<std::unique_ptr<VfioDevice>> VfioDevice::Open(const Address& address,
                                                     std::shared_ptr<vfio::Iommu> iommu,
                                                     const sysfs::LinuxPaths& paths) {
  const std::string object = address.ToString() + " (vfio)";
  if (!iommu) return Fail(Status::INVALID_ARGS, "open VFIO device: no IOMMU given", object);
  auto group = CheckBoundToVfioPci(address, paths);
  if (!group) return std::unexpected(group.error());
  const vfio::DeviceLocation location{address.ToString(), SysfsPci(paths).DevicePath(address),
                                      *group};
  auto file = vfio::DeviceFile::Open(std::move(iommu), location, object);
  if (!file) return std::unexpected(file.error());
  std::unique_ptr<VfioDevice> device(new VfioDevice(address, paths, std::move(*file)));
  if (auto layout = device->ReadDeviceLayout(); !layout) {
    return Wrap(layout.error(), "open VFIO device");
  }
  auto request = device->file_->GetIrqCount(VFIO_PCI_REQ_IRQ_INDEX);
  if (!request) return Wrap(request.error(), "open VFIO device");
  if (*request > 0) {
    auto watcher = vfio::RemovalWatcher::Start(
        device->file_, VFIO_PCI_REQ_IRQ_INDEX, [raw = device.get()] { raw->OnRemoved(); },
        address.ToString() + " removal request");
    if (!watcher) return Wrap(watcher.error(), "open VFIO device: watch for removal requests");
    device->removal_ = std::move(*watcher);
  }
  return device;
}

Result<void> VfioDevice::ReadDeviceLayout() {
  const vfio::DeviceInfo& info = file_->info();
  if ((info.flags & VFIO_DEVICE_FLAGS_PCI) == 0 ||
      info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
    return Fail(Status::WRONG_TYPE,
                "VFIO_DEVICE_GET_INFO: not a vfio-pci device (flags " + Hex(info.flags) + ", " +
                    std::to_string(info.num_regions) + " regions)",
                file_->object());
  }
  bars_.clear();
  for (uint32_t index = 0; index < kBarCount; ++index) {
    UDRV_TRY_ASSIGN(vfio::Region region, file_->GetRegion(VFIO_PCI_BAR0_REGION_INDEX + index));
    bars_.push_back(std::move(region));
  }
  UDRV_TRY_ASSIGN(config_, file_->GetRegion(VFIO_PCI_CONFIG_REGION_INDEX));
  if (config_.size < kConfigSize || config_.size > kExtendedConfigSize) {
    return Fail(Status::IO_INVALID,
                "config region is " + Hex(config_.size) + " bytes (expected 0x100 or 0x1000)",
                file_->object());
  }
  UDRV_TRY_ASSIGN(const uint32_t intx, file_->GetIrqCount(VFIO_PCI_INTX_IRQ_INDEX));
  UDRV_TRY_ASSIGN(modes_.msi_count, file_->GetIrqCount(VFIO_PCI_MSI_IRQ_INDEX));
  UDRV_TRY_ASSIGN(modes_.msix_count, file_->GetIrqCount(VFIO_PCI_MSIX_IRQ_INDEX));
  modes_.has_legacy = intx > 0;
  return {};
}

void VfioDevice::OnRemoved() {
  std::vector<Interrupt> mapped;
  {
    std::lock_guard lock(irq_mutex_);
    mapped = std::move(mapped_);
    mapped_.clear();
    vector_fds_.clear();
    mode_ = InterruptMode::DISABLED;
  }
  // Outside the lock: Destroy takes the interrupt's own lock, under which
  // an INTx unmask callback may be waiting for the file's.
  for (const Interrupt& interrupt : mapped) (void)interrupt.Destroy();
}

VfioDevice::~VfioDevice() {
  removal_.reset();  // stops the watcher first: it may be in OnRemoved
  std::vector<Interrupt> mapped;
  {
    std::lock_guard lock(irq_mutex_);
    if (auto disabled = DisableInterruptsLocked()) mapped = std::move(*disabled);
    for (Interrupt& interrupt : mapped_) mapped.push_back(std::move(interrupt));
    mapped_.clear();
  }
  for (const Interrupt& interrupt : mapped) (void)interrupt.Destroy();
  file_->Close();
}

bool VfioDevice::removed() const { return file_->removed(); }

Result<Interrupt> VfioDevice::GetRemovalRequest() const {
  if (!removal_) {
    return Fail(Status::NOT_SUPPORTED,
                "removal request: vfio-pci on this kernel has no request interrupt", Describe());
  }
  return removal_->GetRequest();
}

Result<DeviceInfo> VfioDevice::GetDeviceInfo() const {
  UDRV_TRY(file_->CheckPresent("get device info"));
  return SysfsPci(paths_).Read(address());
}

Result<uint32_t> VfioDevice::DoReadConfig(uint16_t offset, size_t width) const {
  uint8_t bytes[4] = {};
  auto read = file_->Read(config_, offset, std::span(bytes, width));
  if (!read) return Wrap(read.error(), "read config " + Hex(offset));
  uint32_t value = 0;  // config space is little endian
  for (size_t i = 0; i < width; ++i) value |= uint32_t{bytes[i]} << (8 * i);
  return value;
}

Result<void> VfioDevice::DoWriteConfig(uint16_t offset, size_t width, uint32_t value) {
  uint8_t bytes[4] = {};
  for (size_t i = 0; i < width; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  auto written = file_->Write(config_, offset, std::span<const uint8_t>(bytes, width));
  if (!written) return Wrap(written.error(), "write config " + Hex(offset));
  return {};
}

Result<Bar> VfioDevice::GetBar(uint32_t index) {
  const std::string what = "get BAR " + std::to_string(index);
  if (index >= kBarCount) {
    return Fail(Status::OUT_OF_RANGE, what + ": BARs are 0 to 5", Describe());
  }
  auto raw = DoReadConfig(static_cast<uint16_t>(kConfigBar0 + 4 * index), 4);
  if (!raw) return Wrap(raw.error(), what);
  const vfio::Region& region = bars_[index];
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
  auto vmo = file_->CreateRegionVmo(region, vmo_size,
                                    address().ToString() + " BAR" + std::to_string(index));
  if (!vmo) return Wrap(vmo.error(), what);
  bar.vmo = std::move(*vmo);
  return bar;
}

Result<InterruptModes> VfioDevice::GetInterruptModes() const {
  UDRV_TRY(file_->CheckPresent("get interrupt modes"));
  return modes_;
}

Result<std::vector<Interrupt>> VfioDevice::DisableInterruptsLocked() {
  if (mode_ != InterruptMode::DISABLED) {
    auto disabled =
        file_->SetIrqs(IrqIndex(mode_), VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0,
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
    UDRV_TRY(file_->CheckPresent(what));
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
            file_->SetIrqs(IrqIndex(mode), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
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
  UDRV_TRY(file_->CheckPresent(what));
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
    on_ack = [weak = std::weak_ptr<vfio::DeviceFile>(file_), object = Describe()]() -> Result<void> {
      auto file = weak.lock();
      if (!file) return Fail(Status::BAD_STATE, "unmask INTx: the device was closed", object);
      return UnmaskIntx(*file);
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
  UDRV_TRY(file_->CheckPresent(what));
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
  return UnmaskIntx(*file_);
}

Result<dma::Bti> VfioDevice::GetBti(uint32_t index, uint64_t dma_limit) {
  if (index != 0) {
    return Fail(Status::OUT_OF_RANGE,
                "get BTI " + std::to_string(index) + ": a VFIO device has one (index 0)",
                Describe());
  }
  return dma::Bti::Create(file_->iommu(), dma_limit, address().ToString() + " bti 0");
}

Result<void> VfioDevice::ResetDevice() {
  return file_->Reset(
      "vfio-pci found no reset method for the device (no FLR, PM or bus reset; sysfs "
      "reset_method is empty)");
}

Result<std::unique_ptr<Device>> OpenVfioDevice(const Address& address,
                                               const sysfs::LinuxPaths& paths) {
  if (auto bound = CheckBoundToVfioPci(address, paths); !bound) {
    return std::unexpected(bound.error());
  }
  auto iommu = vfio::Iommu::Create(vfio::IommuBackend::AUTO, paths);
  if (!iommu) return Wrap(iommu.error(), "open " + address.ToString() + " over VFIO");
  return OpenVfioDevice(address, std::move(*iommu), paths);
}

Result<std::unique_ptr<Device>> OpenVfioDevice(const Address& address,
                                               std::shared_ptr<vfio::Iommu> iommu,
                                               const sysfs::LinuxPaths& paths) {
  auto device = VfioDevice::Open(address, std::move(iommu), paths);
  if (!device) return std::unexpected(device.error());
  return std::unique_ptr<Device>(std::move(*device));
}

}  // namespace udrv::pci
