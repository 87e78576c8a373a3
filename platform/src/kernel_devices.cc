#include "udrv/platform/kernel_devices.h"

#include <cerrno>
#include <string_view>

#include "udrv/sysfs/file.h"

namespace udrv::platform {
namespace {

// Where an of_node link points: the node's path follows this in the target.
constexpr std::string_view kDevicetreeBase = "/firmware/devicetree/base";

// The node path an of_node link's target names ("/" for the root); nullopt
// for a target that is not into the devicetree directory.
std::optional<std::string> NodePathOf(std::string_view target) {
  const size_t base = target.find(kDevicetreeBase);
  if (base == std::string_view::npos) return std::nullopt;
  std::string_view path = target.substr(base + kDevicetreeBase.size());
  if (path.empty()) return std::string("/");
  if (path.front() != '/') return std::nullopt;
  return std::string(path);
}

}  // namespace

Result<std::map<std::string, KernelDevice, std::less<>>> KernelDevicesByNodePath(
    const sysfs::LinuxPaths& paths) {
  std::map<std::string, KernelDevice, std::less<>> devices;
  for (const std::string_view bus : {"platform", "amba"}) {
    const std::string dir = paths.BusDevices(bus);
    auto names = sysfs::ListDirectory(dir);
    if (!names) {
      // A kernel without the bus (no AMBA on x86) has no directory.
      if (names.error().err_no == ENOENT) continue;
      return std::unexpected(names.error());
    }
    for (const std::string& name : *names) {
      const std::string device_dir = dir + "/" + name;
      auto target = sysfs::ReadLink(device_dir + "/of_node");
      if (!target) {
        // Devices made by drivers, not by the tree, have no of_node.
        if (target.error().err_no == ENOENT) continue;
        return std::unexpected(target.error());
      }
      std::optional<std::string> path = NodePathOf(*target);
      if (!path) continue;
      devices.insert_or_assign(std::move(*path),
                               KernelDevice{std::string(bus), name, sysfs::ReadLinkName(device_dir + "/driver")});
    }
  }
  return devices;
}

}  // namespace udrv::platform
