// platform::Device: the protocol a platform driver speaks to its device,
// after Fuchsia's fuchsia.hardware.platform.device (GetMmio, GetInterrupt,
// GetBti, GetNodeDeviceInfo). The platform root bus opens a device-tree
// device over one route and hands the driver this interface:
//   - uio:    udrv's UIO platform module (platform/kmod): regions and the
//             interrupt through /dev/uioN
//   - devmem: /dev/mem (O_SYNC), regions only, once no kernel driver holds them
// In an isolated driver host the same interface is a proxy over the host's
// socket (remote_device.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "udrv/bus/node.h"
#include "udrv/bus/protocol.h"
#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/mmio/devmem.h"

namespace udrv::platform {

// One register region: a physical VMO of whole pages and where in it the
// region starts (mmio/devmem.h); `size` is the region's as `reg` gives it.
using Mmio = mmio::PhysicalRegion;

class Device {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // The node the driver was bound to: its fdt.* properties (fdt.path,
  // fdt.compatible, fdt.reg_names, ...).
  virtual const bus::DeviceNode& GetNode() const = 0;
  // "uio", "devmem" or "remote"; named in errors and by busctl.
  virtual std::string_view route() const = 0;

  // Region `index` of `reg`. NOT_FOUND past the last one; NOT_SUPPORTED for
  // one without a CPU address (a device on a bus that is not memory-mapped).
  virtual Result<Mmio> GetMmio(uint32_t index) = 0;
  // The region `reg-names` names `name`; NOT_FOUND naming the names there are.
  Result<Mmio> GetMmio(std::string_view name);

  // Interrupt `index` of the node. NOT_SUPPORTED on a route without
  // interrupts (devmem) and past what the route can deliver.
  virtual Result<Interrupt> GetInterrupt(uint32_t index) = 0;
  Result<Interrupt> GetInterrupt(std::string_view name);

  // The device's BTI, limited by its `dma-ranges` window. Without an IOMMU
  // (uio, devmem) only with the bus's UnsafePhysicalDma consent.
  virtual Result<dma::Bti> GetBti() = 0;

 protected:
  Device() = default;
};

}  // namespace udrv::platform

// platform::Device is the protocol "platform".
template <>
struct udrv::bus::ProtocolTraits<udrv::platform::Device> {
  static constexpr std::string_view kName = "platform";
};
