// A kernel's device-tree devices as sysfs shows them, in a temporary tree:
// bus/<bus>/devices/<name> links to the device directory, whose of_node
// links into firmware/devicetree/base and whose driver link names the
// bound driver.
#pragma once

#include <filesystem>
#include <string>

#include "../sysfs/temp_tree.h"

namespace udrv::platform::testing {

inline void AddKernelDevice(const sysfs::testing::TempTree& tree, const std::string& bus,
                            const std::string& name, const std::string& node_path,
                            const std::string& driver) {
  namespace fs = std::filesystem;
  const fs::path device = tree.root / "devices/platform" / name;
  fs::create_directories(device);
  fs::create_directories(tree.root / "bus" / bus / "devices");
  fs::create_symlink(device, tree.root / "bus" / bus / "devices" / name);
  sysfs::testing::TempTree::Write(device / "driver_override", "(null)\n");
  if (!node_path.empty()) {
    fs::create_directories(tree.root / "firmware/devicetree/base" / node_path.substr(1));
    fs::create_symlink("../../../firmware/devicetree/base" + node_path, device / "of_node");
  }
  if (!driver.empty()) {
    fs::create_directories(tree.root / "bus" / bus / "drivers" / driver);
    fs::create_symlink("../../../bus/" + bus + "/drivers/" + driver, device / "driver");
  }
}

}  // namespace udrv::platform::testing
