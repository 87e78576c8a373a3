// The platform device as this process opened it, over one route (uio or
// devmem): what PlatformBus::Open hands a driver, and what the isolation
// service serves a driver host from.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "udrv/core/unique_fd.h"
#include "udrv/platform/device.h"
#include "udrv/platform/device_tree.h"
#include "udrv/platform/kernel_devices.h"
#include "udrv/platform/platform_bus.h"

namespace udrv::platform::internal {

class LocalDevice : public Device {
 public:
  using Device::GetInterrupt;
  using Device::GetMmio;
  const bus::DeviceNode& GetNode() const override { return node_; }
  const DtDevice& tree_device() const { return tree_device_; }
  const KernelDevice& kernel() const { return kernel_; }
  Result<dma::Bti> GetBti() override;

  // The region of reg `index` with a CPU address: NOT_FOUND past the last,
  // NOT_SUPPORTED for one that is not memory-mapped.
  Result<const RegEntry*> Reg(uint32_t index) const;
  // The device's interrupt masked at its controller until an interrupt is
  // mapped again (uio), or nothing to do (devmem).
  virtual Result<void> MaskInterrupts() = 0;
  // The /dev/uioN the route holds; -1 when none.
  virtual int uio_fd() const { return -1; }

 protected:
  LocalDevice(bus::DeviceNode node, DtDevice tree_device, KernelDevice kernel,
              const PlatformBusOptions& options)
      : node_(std::move(node)),
        tree_device_(std::move(tree_device)),
        kernel_(std::move(kernel)),
        paths_(options.paths),
        physical_dma_(options.physical_dma) {}

  // "/pl031@9010000 (uio)": errors name the device so.
  std::string Object() const { return tree_device_.path + " (" + std::string(route()) + ")"; }

  bus::DeviceNode node_;
  DtDevice tree_device_;
  KernelDevice kernel_;
  sysfs::LinuxPaths paths_;
  dma::UnsafePhysicalDma physical_dma_;
};

// Over udrv's UIO platform module, bound to the device already.
Result<std::unique_ptr<LocalDevice>> OpenUioDevice(bus::DeviceNode node, DtDevice tree_device,
                                                   KernelDevice kernel,
                                                   const PlatformBusOptions& options);
// Over vfio-platform (vfio-amba on the AMBA bus), bound to it already.
std::string_view VfioDriverFor(const KernelDevice& kernel);
Result<std::unique_ptr<LocalDevice>> OpenVfioDevice(bus::DeviceNode node, DtDevice tree_device,
                                                    KernelDevice kernel,
                                                    const PlatformBusOptions& options);
// Over /dev/mem, with no kernel driver on the device.
std::unique_ptr<LocalDevice> OpenDevmemDevice(bus::DeviceNode node, DtDevice tree_device,
                                              KernelDevice kernel, const PlatformBusOptions& options);

}  // namespace udrv::platform::internal
