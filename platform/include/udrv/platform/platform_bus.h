// The platform root bus: the device tree's devices as a bus::Bus (bus/bus.h).
//
// Enumerate reads the tree (the live /sys/firmware/fdt, or a .dtb) and
// gives one node per enabled node with `compatible` but the root (whose
// compatible names the board), with the properties
// below; disabled nodes and nodes whose properties are broken are listed by
// busctl, never offered for binding. Node ids are "platform" and the node's
// path ("platform/soc/serial@7e201000"); a node's parent is the nearest
// ancestor that is a device node itself ("platform/soc").
//
// Open takes the device from the kernel for a driver over the bus's route:
//   uio     binds udrv's UIO platform module (platform/kmod) by
//           driver_override on the device's bus (platform or amba) and maps
//           regions and the interrupt through /dev/uioN
//   devmem  unbinds the kernel driver (IO_STRICT_DEVMEM refuses a region a
//           driver holds) and maps the regions through /dev/mem, O_SYNC;
//           no interrupts
//   vfio    binds vfio-platform (vfio-amba) where the kernel has it, behind
//           the device's IOMMU; written against the UAPI and untested, as no
//           Debian kernel builds it (the error says so)
// The driver gets a platform::Device as its "platform" protocol. Release
// masks the interrupt, closes the device and, when asked, binds the kernel
// driver that held it back.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/dma/bti.h"
#include "udrv/mmio/uio.h"
#include "udrv/platform/device.h"
#include "udrv/platform/device_tree.h"
#include "udrv/platform/kernel_devices.h"
#include "udrv/sysfs/paths.h"

namespace udrv::platform {

inline constexpr std::string_view kBusName = "platform";

// Node properties. Strings unless said otherwise; lists where the tree has
// the property.
inline constexpr std::string_view kPropPath = "fdt.path";              // "/soc/serial@7e201000"
inline constexpr std::string_view kPropName = "fdt.name";              // "serial@7e201000"
inline constexpr std::string_view kPropCompatible = "fdt.compatible";  // list, most specific first
inline constexpr std::string_view kPropRegNames = "fdt.reg_names";              // list
inline constexpr std::string_view kPropInterruptNames = "fdt.interrupt_names";  // list
inline constexpr std::string_view kPropClockNames = "fdt.clock_names";          // list
// The kernel's device for the node, when it made one:
inline constexpr std::string_view kPropKernelBus = "platform.kernel_bus";        // "platform", "amba"
inline constexpr std::string_view kPropKernelDevice = "platform.kernel_device";  // "9010000.pl031"
inline constexpr std::string_view kPropDriver = "platform.driver";               // its bound driver

// The driver name udrv's UIO platform module registers on the platform and
// AMBA buses.
inline constexpr std::string_view kUioDriverName = mmio::kUioPlatformDriverName;
// The module's name for modprobe/insmod, as errors mention it.
inline constexpr std::string_view kUioModuleName = mmio::kUioPlatformModuleName;

// Where the live tree's blob is: sys/firmware/fdt.
std::string LiveTreePath(const sysfs::LinuxPaths& paths);

// The properties of `device`'s node, with `kernel` when the kernel made a
// device for it.
Result<bus::Properties> PropertiesOf(const DtDevice& device, const KernelDevice* kernel);

enum class PlatformRoute : uint8_t { UIO, DEVMEM, VFIO };
std::string_view RouteName(PlatformRoute route);  // "uio", "devmem", "vfio"

struct PlatformBusOptions {
  sysfs::LinuxPaths paths;
  std::string dtb;  // a .dtb to read instead of the live tree
  PlatformRoute route = PlatformRoute::UIO;
  // The uio and devmem routes have no IOMMU: their GetBti needs this consent.
  dma::UnsafePhysicalDma physical_dma;
  bus::Logger log;  // what Enumerate skipped and why (may be empty)
};

class PlatformBus final : public bus::Bus {
 public:
  // Reads and checks the tree; its errors (no live tree, a broken blob).
  static Result<std::unique_ptr<PlatformBus>> Create(PlatformBusOptions options = {});

  std::string_view name() const override { return kBusName; }
  const DeviceTree& tree() const { return tree_; }

  Result<std::vector<bus::DeviceNode>> Enumerate() const override;
  // INVALID_ARGS for a node of another bus; NOT_FOUND when the tree has no
  // device at its path; BAD_STATE for a disabled or broken one, or one the
  // kernel made no device for; the route's errors otherwise, with the
  // device given back to its driver.
  Result<std::unique_ptr<bus::BoundDevice>> Open(const bus::DeviceNode& node) override;

 private:
  PlatformBus(PlatformBusOptions options, DeviceTree tree);

  PlatformBusOptions options_;
  DeviceTree tree_;
};

}  // namespace udrv::platform
