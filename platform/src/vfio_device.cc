// The vfio-platform route: a device-tree device bound to vfio-platform (or
// vfio-amba) behind an IOMMU, through the generic VFIO device fd
// (vfio/device.h). Region N and interrupt N are the device's resources in
// order, as vfio_platform_common.c numbers them.
//
// Untested on a real kernel: Debian's arm64 kernels (6.1, 6.12) build
// neither VFIO_PLATFORM nor VFIO_AMBA, and QEMU's virt puts no platform
// device behind its SMMU. Open detects the driver at run time and says so.
#include <linux/vfio.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <set>
#include <mutex>

#include "local_device.h"
#include "udrv/sysfs/iommu_group.h"
#include "udrv/vfio/device.h"
#include "udrv/vfio/iommu.h"

namespace udrv::platform::internal {
namespace {

class VfioPlatformDevice final : public LocalDevice {
 public:
  VfioPlatformDevice(bus::DeviceNode node, DtDevice tree_device, KernelDevice kernel,
                     const PlatformBusOptions& options, std::shared_ptr<vfio::DeviceFile> file)
      : LocalDevice(std::move(node), std::move(tree_device), std::move(kernel), options),
        file_(std::move(file)) {}
  ~VfioPlatformDevice() override {
    (void)MaskInterrupts();
    file_->Close();
  }

  using Device::GetInterrupt;
  using Device::GetMmio;
  std::string_view route() const override { return "vfio"; }

  Result<Mmio> GetMmio(uint32_t index) override {
    UDRV_TRY_ASSIGN(const RegEntry* reg, Reg(index));
    UDRV_TRY_ASSIGN(const vfio::Region region, file_->GetRegion(index));
    const std::string what = "get MMIO " + std::to_string(index);
    if ((region.flags & VFIO_REGION_INFO_FLAG_MMAP) == 0) {
      // vfio-platform maps a region only when it starts and ends on page boundaries.
      return Fail(Status::NOT_SUPPORTED,
                  what + ": vfio-platform cannot map it (" + Hex(*reg->phys) + "+" + Hex(reg->size) +
                      " is not whole pages); use the uio route",
                  Object());
    }
    if (region.size < reg->size) {
      return Fail(Status::OUT_OF_RANGE,
                  what + ": vfio-platform's region is " + Hex(region.size) + " bytes, the tree says " +
                      Hex(reg->size),
                  Object());
    }
    UDRV_TRY_ASSIGN(Vmo vmo, file_->CreateRegionVmo(region, region.size,
                                                    tree_device_.path + " reg " + std::to_string(index)));
    return Mmio{std::move(vmo), 0, reg->size, *reg->phys};
  }

  Result<Interrupt> GetInterrupt(uint32_t index) override {
    const std::string what = "get interrupt " + std::to_string(index);
    UDRV_TRY_ASSIGN(const uint32_t count, file_->GetIrqCount(index));
    if (count == 0) {
      return Fail(Status::NOT_FOUND, what + ": vfio-platform gives the device no such interrupt", Object());
    }
    UniqueFd event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!event) return FailErrno(errno, what + ": eventfd", Object());
    const int32_t fd = event.get();
    UDRV_TRY(file_->SetIrqs(index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
                            std::span(&fd, 1), what));
    {
      std::lock_guard lock(mutex_);
      mapped_.insert(index);
    }
    // A level-triggered line comes automasked: the ack unmasks it.
    std::weak_ptr<vfio::DeviceFile> weak = file_;
    return Interrupt::CreateFromEventfd(std::move(event), tree_device_.path + " irq " + std::to_string(index),
                                        [weak, index]() -> Result<void> {
                                          auto file = weak.lock();
                                          if (!file) return Fail(Status::BAD_STATE, "unmask: the device is closed");
                                          return file->SetIrqs(index, VFIO_IRQ_SET_DATA_NONE |
                                                                          VFIO_IRQ_SET_ACTION_UNMASK,
                                                               0, 1, {}, "unmask");
                                        });
  }

  Result<void> MaskInterrupts() override {
    std::lock_guard lock(mutex_);
    Result<void> result;
    for (const uint32_t index : mapped_) {
      auto off = file_->SetIrqs(index, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, {},
                                "interrupt " + std::to_string(index) + " off");
      if (!off && result) result = off;
    }
    mapped_.clear();
    return result;
  }

  Result<dma::Bti> GetBti() override {
    // Behind the IOMMU the device reaches only what is pinned; dma-ranges
    // still bounds the addresses it can drive.
    uint64_t limit = dma::kNoDmaLimit;
    if (tree_device_.dma && tree_device_.dma->limit != UINT64_MAX) limit = tree_device_.dma->limit + 1;
    return dma::Bti::Create(file_->iommu(), limit, tree_device_.path + " bti");
  }

 private:
  std::shared_ptr<vfio::DeviceFile> file_;
  std::mutex mutex_;
  std::set<uint32_t> mapped_;  // guarded by mutex_
};

}  // namespace

std::string_view VfioDriverFor(const KernelDevice& kernel) {
  return kernel.bus == "amba" ? "vfio-amba" : "vfio-platform";
}

Result<std::unique_ptr<LocalDevice>> OpenVfioDevice(bus::DeviceNode node, DtDevice tree_device,
                                                    KernelDevice kernel, const PlatformBusOptions& options) {
  const std::string object = tree_device.path + " (vfio)";
  const std::string device_dir = options.paths.BusDevice(kernel.bus, kernel.name);
  UDRV_TRY_ASSIGN(const std::optional<uint32_t> group, sysfs::ReadIommuGroup(device_dir));
  if (!group) {
    return Fail(Status::NOT_SUPPORTED,
                "open over vfio: " + kernel.name + " has no IOMMU group (no IOMMU translates its DMA)",
                object);
  }
  UDRV_TRY_ASSIGN(auto iommu, vfio::Iommu::Create(vfio::IommuBackend::AUTO, options.paths));
  const vfio::DeviceLocation location{kernel.name, device_dir, *group};
  UDRV_TRY_ASSIGN(auto file, vfio::DeviceFile::Open(std::move(iommu), location, object));
  if ((file->info().flags & VFIO_DEVICE_FLAGS_PLATFORM) == 0 && (file->info().flags & VFIO_DEVICE_FLAGS_AMBA) == 0) {
    file->Close();
    return Fail(Status::WRONG_TYPE, "open over vfio: the VFIO device is not a platform or AMBA device", object);
  }
  return std::unique_ptr<LocalDevice>(std::make_unique<VfioPlatformDevice>(
      std::move(node), std::move(tree_device), std::move(kernel), options, std::move(file)));
}

}  // namespace udrv::platform::internal
