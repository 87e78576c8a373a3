// Which kernel device stands for a device-tree node: Linux makes one for
// each node it populates, on the platform bus or, for `arm,primecell`
// nodes, the AMBA bus, names it `<translated address>.<node name>`
// ("9010000.pl031") and links it to its node (`of_node`, into
// /sys/firmware/devicetree/base). Read-only: binding goes through
// sysfs/bind.h with the bus and name found here.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "udrv/core/result.h"
#include "udrv/sysfs/paths.h"

namespace udrv::platform {

struct KernelDevice {
  std::string bus;                    // "platform" or "amba"
  std::string name;                   // "9010000.pl031"
  std::optional<std::string> driver;  // the bound driver
};

// Every kernel device of sys/bus/platform and sys/bus/amba that has an
// of_node, by its node's path ("/pl031@9010000"). Devices without one (made
// by drivers, not the tree) are left out. Missing bus directories (a kernel
// without AMBA) are no error; an unreadable one is.
Result<std::map<std::string, KernelDevice, std::less<>>> KernelDevicesByNodePath(
    const sysfs::LinuxPaths& paths);

}  // namespace udrv::platform
