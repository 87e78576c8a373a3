#include "udrv/platform/kernel_devices.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "fake_kernel.h"

namespace {

using udrv::platform::KernelDevicesByNodePath;
using udrv::platform::testing::AddKernelDevice;
using udrv::sysfs::testing::TempTree;

TEST_CASE("kernel devices are found by their node's path on the platform and AMBA buses", "[kernel-devices]") {
  TempTree tree;
  AddKernelDevice(tree, "platform", "9030000.pl061", "/pl061@9030000", "pl061_gpio");
  AddKernelDevice(tree, "amba", "9010000.pl031", "/pl031@9010000", "rtc-pl031");
  AddKernelDevice(tree, "platform", "3f201000.serial", "/soc/serial@7e201000", "");
  AddKernelDevice(tree, "platform", "reg-dummy", "", "");  // made by a driver: no of_node

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
  AddKernelDevice(tree, "platform", "9030000.pl061", "/pl061@9030000", "");
  auto devices = KernelDevicesByNodePath(tree.paths());
  REQUIRE(devices);
  CHECK(devices->size() == 1);

  TempTree empty;
  auto none = KernelDevicesByNodePath(empty.paths());
  REQUIRE(none);
  CHECK(none->empty());
}
}  // namespace
