#include "udrv/platform/kernel_devices.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "../sysfs/temp_tree.h"

namespace {

namespace fs = std::filesystem;
using udrv::platform::KernelDevicesByNodePath;
using udrv::sysfs::testing::TempTree;

// A kernel device as Linux lays it out: the bus's devices/ entry links to
// the device directory, whose of_node links into the devicetree directory.
void AddDevice(const TempTree& tree, const std::string& bus, const std::string& name,
               const std::string& node_path, const std::string& driver) {
  const fs::path device = tree.root / "devices/platform" / name;
  fs::create_directories(device);
  fs::create_directories(tree.root / "bus" / bus / "devices");
  fs::create_symlink(device, tree.root / "bus" / bus / "devices" / name);
  if (!node_path.empty()) {
    fs::create_directories(tree.root / "firmware/devicetree/base" / node_path.substr(1));
    fs::create_symlink("../../../firmware/devicetree/base" + node_path, device / "of_node");
  }
  if (!driver.empty()) {
    fs::create_directories(tree.root / "bus" / bus / "drivers" / driver);
    fs::create_symlink("../../../bus/" + bus + "/drivers/" + driver, device / "driver");
  }
}

TEST_CASE("kernel devices are found by their node's path on the platform and AMBA buses", "[kernel-devices]") {
  TempTree tree;
  AddDevice(tree, "platform", "9030000.pl061", "/pl061@9030000", "pl061_gpio");
  AddDevice(tree, "amba", "9010000.pl031", "/pl031@9010000", "rtc-pl031");
  AddDevice(tree, "platform", "3f201000.serial", "/soc/serial@7e201000", "");
  AddDevice(tree, "platform", "reg-dummy", "", "");  // made by a driver: no of_node

  auto devices = KernelDevicesByNodePath(tree.paths());
  REQUIRE(devices);
  CHECK(devices->size() == 3);
  const auto& rtc = devices->at("/pl031@9010000");
  CHECK(rtc.bus == "amba");
  CHECK(rtc.name == "9010000.pl031");
  CHECK(rtc.driver == "rtc-pl031");
  const auto& serial = devices->at("/soc/serial@7e201000");
  CHECK(serial.bus == "platform");
  CHECK(serial.name == "3f201000.serial");
  CHECK_FALSE(serial.driver);
}

TEST_CASE("a kernel without the AMBA bus has no amba directory, which is no error", "[kernel-devices]") {
  TempTree tree;
  AddDevice(tree, "platform", "9030000.pl061", "/pl061@9030000", "");
  auto devices = KernelDevicesByNodePath(tree.paths());
  REQUIRE(devices);
  CHECK(devices->size() == 1);

  TempTree empty;
  auto none = KernelDevicesByNodePath(empty.paths());
  REQUIRE(none);
  CHECK(none->empty());
}
}  // namespace
