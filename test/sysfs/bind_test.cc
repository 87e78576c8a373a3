// The generic bind over sys/bus/<bus>/, on a platform device of a tree the
// test writes: unbind, driver_override and drivers_probe are plain files,
// so the test reads back what was written where. No kernel answers, so the
// driver link changes only where the test changes it.
#include "udrv/sysfs/bind.h"

#include <catch2/catch.hpp>

#include "result_helpers.h"
#include "temp_tree.h"

namespace fs = std::filesystem;
using udrv::sysfs::BusDevice;
using udrv::sysfs::DriverBinding;
using udrv::sysfs::testing::TempTree;
using udrv::testing::StatusOf;

namespace {

struct PlatformTree : TempTree {
  PlatformTree() {
    device_dir = root / "devices/platform/9000000.pl011";
    fs::create_directories(device_dir);
    fs::create_directories(root / "bus/platform/devices");
    fs::create_directory_symlink("../../../devices/platform/9000000.pl011",
                                 root / "bus/platform/devices/9000000.pl011");
    Write(device_dir / "driver_override", "(null)\n");
    Write(root / "bus/platform/drivers_probe", "");
    AddDriver("uart-pl011");
    AddDriver("vfio-platform");
    fs::create_directory_symlink("../../../bus/platform/drivers/uart-pl011",
                                 device_dir / "driver");
  }
  void AddDriver(const std::string& name) {
    Write(root / "bus/platform/drivers" / name / "unbind", "");
  }
  BusDevice Device() const { return BusDevice{paths(), "platform", "9000000.pl011"}; }

  fs::path device_dir;
};

}  // namespace

TEST_CASE("sysfs bind: a platform device's driver and driver_override", "[sysfs][bind]") {
  PlatformTree tree;
  const BusDevice device = tree.Device();
  CHECK(device.Exists());
  CHECK(device.Path() == tree.root.string() + "/bus/platform/devices/9000000.pl011");
  auto binding = udrv::sysfs::ReadDriverBinding(device);
  REQUIRE_OK(binding);
  CHECK(binding->driver == "uart-pl011");
  CHECK_FALSE(binding->driver_override);

  fs::remove(tree.device_dir / "driver_override");
  CHECK(StatusOf(device.DriverOverride()) == "NOT_SUPPORTED");
}

TEST_CASE("sysfs bind: unbind, override, probe; a declined probe is rolled back",
          "[sysfs][bind]") {
  PlatformTree tree;
  const BusDevice device = tree.Device();
  CHECK(StatusOf(udrv::sysfs::CheckDriverLoaded(device, "vfio-amba")) == "NOT_FOUND");
  REQUIRE_OK(udrv::sysfs::CheckDriverLoaded(device, "vfio-platform"));

  const DriverBinding before{"uart-pl011", std::nullopt};
  // The fake kernel binds nothing: the driver link still names uart-pl011.
  auto bound = udrv::sysfs::BindDriver(device, "vfio-platform", before, "bind it");
  REQUIRE(StatusOf(bound) == "NOT_SUPPORTED");
  CHECK_THAT(bound.error().what,
             Catch::StartsWith("bind it: the driver declined the device (now bound to "
                               "uart-pl011)"));
  CHECK(TempTree::Read(tree.root / "bus/platform/drivers/uart-pl011/unbind") ==
        "9000000.pl011");
  CHECK(TempTree::Read(tree.root / "bus/platform/drivers_probe") == "9000000.pl011");
  // The rollback found the driver as recorded and only cleared the override.
  CHECK(TempTree::Read(tree.device_dir / "driver_override") == "\n");
}

TEST_CASE("sysfs bind: restore puts back the override and probes for the old driver",
          "[sysfs][bind]") {
  PlatformTree tree;
  const BusDevice device = tree.Device();
  TempTree::Write(tree.device_dir / "driver_override", "vfio-platform\n");
  // Already as recorded: nothing is written.
  REQUIRE_OK(udrv::sysfs::RestoreDriver(device, {"uart-pl011", "vfio-platform"}, "restore"));
  CHECK(TempTree::Read(tree.root / "bus/platform/drivers_probe").empty());

  auto restored = udrv::sysfs::RestoreDriver(device, {"vfio-platform", std::nullopt}, "restore");
  REQUIRE(StatusOf(restored) == "BAD_STATE");
  CHECK_THAT(restored.error().what,
             Catch::StartsWith("restore: the device did not bind again (now bound to "
                               "uart-pl011)"));
  CHECK(TempTree::Read(tree.device_dir / "driver_override") == "\n");
  CHECK(TempTree::Read(tree.root / "bus/platform/drivers_probe") == "9000000.pl011");

  REQUIRE_OK(udrv::sysfs::UnbindDriver(device, "uart-pl011", "unbind"));
  CHECK(TempTree::Read(tree.root / "bus/platform/drivers/uart-pl011/unbind") ==
        "9000000.pl011");
}

TEST_CASE("sysfs bind: driver names", "[sysfs][bind]") {
  CHECK(udrv::sysfs::IsDriverName("vfio-pci"));
  CHECK_FALSE(udrv::sysfs::IsDriverName(""));
  CHECK_FALSE(udrv::sysfs::IsDriverName("../vfio"));
  CHECK_FALSE(udrv::sysfs::IsDriverName("a b"));
  CHECK_FALSE(udrv::sysfs::IsDriverName(std::string(256, 'a')));
}
