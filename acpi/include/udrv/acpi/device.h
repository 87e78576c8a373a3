// acpi::Device: the protocol a driver speaks to an ACPI device, after
// Fuchsia's fuchsia.hardware.acpi (GetMmio) and the platform bus's
// platform::Device. The ACPI bus (acpi_bus.h) opens a device over one
// route and hands the driver this interface:
//   - devmem: /dev/mem (O_SYNC, mmio/devmem.h), the consumer memory ranges
//             of the device's resources; interrupts are described, not
//             delivered
//   - uio:    udrv's UIO platform module (mmio/uio.h) on the device's
//             platform or amba physical node: the memory ranges through
//             /dev/uioN's maps, the first interrupt delivered
//
// What a driver gets is the device's resources as the bus merged them
// (acpi_bus.h): _CRS where the AML reader decoded it, the kernel's view
// where it could not, each saying which.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/acpi/resources.h"
#include "udrv/bus/node.h"
#include "udrv/bus/protocol.h"
#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/mmio/devmem.h"

namespace udrv::acpi {

// Where a resource of a device came from.
enum class ResourceOrigin : uint8_t {
  CRS_STATIC,      // a Name(_CRS, ResourceTemplate ...) decoded
  CRS_EVALUATED,   // a Method(_CRS) the AML reader ran without touching hardware
  KERNEL_PNP,      // sys/bus/pnp/devices/*/resources: the kernel evaluated _CRS
  KERNEL_IOMEM,    // a /proc/iomem claim named after the device
  KERNEL_IOPORTS,  // a /proc/ioports claim named after the device
};
// "_CRS (static)", "_CRS (evaluated)", "kernel: pnp resources",
// "kernel: /proc/iomem", "kernel: /proc/ioports".
std::string_view ResourceOriginName(ResourceOrigin origin);

struct DeviceMemory {
  MemoryRange range;
  ResourceOrigin origin = ResourceOrigin::CRS_STATIC;
};
struct DeviceIo {
  IoRange range;
  ResourceOrigin origin = ResourceOrigin::CRS_STATIC;
};
struct DeviceInterrupt {
  InterruptInfo info;
  // Whether trigger, polarity, sharing and wake are known: the kernel's PNP
  // resources give the number alone.
  bool flags_known = true;
  ResourceOrigin origin = ResourceOrigin::CRS_STATIC;
};

// One register region: mmio/devmem.h's physical VMO and the region's place in it.
using Mmio = mmio::PhysicalRegion;

class Device {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // The node the driver was bound to: its acpi.* properties.
  virtual const bus::DeviceNode& GetNode() const = 0;
  // "devmem" or "uio"; named in errors and by busctl.
  virtual std::string_view route() const = 0;

  // The device's consumer memory ranges in resource order (producer
  // windows, which a bridge decodes for its children, are not the
  // device's registers). GetMmio(i) maps MemoryRanges()[i].
  virtual const std::vector<DeviceMemory>& MemoryRanges() const = 0;
  // Region `index`: NOT_FOUND past the last; ACCESS_DENIED when the kernel
  // refuses it (a driver holds it), naming the driver to unbind and the
  // /proc/iomem claim.
  virtual Result<Mmio> GetMmio(uint32_t index) = 0;

  // Interrupt `index` described: GSI, trigger, polarity, sharing, wake.
  // NOT_FOUND past the last.
  virtual Result<DeviceInterrupt> GetInterruptInfo(uint32_t index) const = 0;
  // Interrupt `index` delivered, masked at its controller each time it
  // fires until the Ack (or the next Wait): NOT_SUPPORTED on a route that
  // cannot serve it (devmem; uio past the first), saying so.
  virtual Result<Interrupt> GetInterrupt(uint32_t index) = 0;

  // The device's I/O port ranges, described (x86; udrv opens no ports).
  virtual const std::vector<DeviceIo>& GetIoPorts() const = 0;

 protected:
  Device() = default;
};

}  // namespace udrv::acpi

// acpi::Device is the protocol "acpi".
template <>
struct udrv::bus::ProtocolTraits<udrv::acpi::Device> {
  static constexpr std::string_view kName = "acpi";
};
