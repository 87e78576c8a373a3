// What busctl's platform commands look at, read once: the device tree (the
// --dtb file, or the live one), its devices, and on the live machine the
// kernel's device and driver for each node and the routes that can map it
// now. list, show, read, write, bind and unbind all start here.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "document.h"
#include "udrv/core/result.h"
#include "udrv/platform/device_tree.h"
#include "udrv/platform/kernel_devices.h"

namespace udrv::busctl {

// One way a udrv driver could reach a platform device's registers
// (platform_bus.h): "uio" (udrv's UIO platform module bound) or "devmem"
// (/dev/mem, with no kernel driver holding the device).
struct PlatformRouteReport {
  std::string route;
  std::optional<std::string> why_not;  // why it is not usable now
};

struct PlatformEntry {
  platform::DtDevice device;
  // The live machine only: the kernel's device for the node (nullopt: it
  // made none) and the routes.
  std::optional<platform::KernelDevice> kernel;
  std::vector<PlatformRouteReport> routes;
};

struct PlatformView {
  platform::DeviceTree tree;
  bool live = false;  // the machine's own tree, not a --dtb file
  std::vector<PlatformEntry> entries;  // in tree order

  // The entry at `path` ("/pl031@9010000"); NOT_FOUND naming the source.
  Result<const PlatformEntry*> Find(std::string_view path) const;
  // The controller an interrupt goes to, as text names it: "GICv3", "GIC",
  // or its path when it is no GIC.
  std::string ControllerLabel(const platform::InterruptEntry& interrupt) const;
};

// The tree this run reads: options.dtb, else the live tree. nullopt when
// there is neither (a machine without a device tree: x86). The live tree
// that cannot be read (Linux lets only root read it) is the open's error.
Result<std::optional<PlatformView>> ReadPlatformView(const GlobalOptions& options);

// The node path a DEV argument names: "/soc/uart@1" as it is, the node id
// "platform/soc/uart@1" without its bus.
std::string NodePathOf(std::string_view argument);

// "0x9010000 size 0x1000", or "bus address 0x50 (not memory-mapped: ...)".
std::string RegionText(const platform::RegEntry& reg);
// "GICv3 SPI 2 level-high", or "/soc/intc@1 <0x1 0x2>".
std::string InterruptText(const PlatformView& view, const platform::InterruptEntry& interrupt);

// list's entry for the device ($defs/list_platform_device), show's "device".
Json PlatformEntryToJson(const PlatformView& view, const PlatformEntry& entry);

}  // namespace udrv::busctl
