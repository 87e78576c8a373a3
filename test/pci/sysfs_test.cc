// SysfsPci over recorded trees written by the test: the parsing, the errors
// for broken trees, and a vanished device.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "udrv/pci/sysfs.h"

namespace fs = std::filesystem;
using udrv::Status;
using udrv::pci::Address;
using udrv::pci::SysfsPci;

namespace {

struct TempTree {
  fs::path root;
  TempTree() {
    char name[] = "/tmp/udrv-sysfs-XXXXXX";
    root = ::mkdtemp(name);
    fs::create_directories(root / "bus/pci/devices");
    fs::create_directories(root / "bus/pci/drivers/e1000e");
    fs::create_directories(root / "kernel/iommu_groups/7");
  }
  ~TempTree() { fs::remove_all(root); }

  fs::path AddDevice(const std::string& address, const std::string& vendor, const std::string& device,
                     const std::string& cls, const std::string& revision) {
    fs::path dir = root / "devices/pci0000:00" / address;
    fs::create_directories(dir);
    Write(dir / "vendor", vendor);
    Write(dir / "device", device);
    Write(dir / "subsystem_vendor", "0x8086");
    Write(dir / "subsystem_device", "0x0000");
    Write(dir / "class", cls);
    if (!revision.empty()) Write(dir / "revision", revision);
    fs::create_directory_symlink(dir, root / "bus/pci/devices" / address);
    return dir;
  }
  static void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text << "\n"; }
};

}  // namespace

TEST_CASE("sysfs pci: lists and reads a recorded tree", "[pci]") {
  TempTree tree;
  fs::path nic = tree.AddDevice("0000:00:03.0", "0x8086", "0x10d3", "0x020000", "0x00");
  tree.AddDevice("0000:00:00.0", "0x8086", "0x29c0", "0x060000", "0x02");
  fs::create_directory_symlink(tree.root / "bus/pci/drivers/e1000e", nic / "driver");
  fs::create_directory_symlink(tree.root / "kernel/iommu_groups/7", nic / "iommu_group");

  SysfsPci sysfs(tree.root.string());
  auto list = sysfs.List();
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].ToString() == "0000:00:00.0");
  CHECK((*list)[1].ToString() == "0000:00:03.0");

  auto info = sysfs.Read((*list)[1]);
  REQUIRE(info);
  CHECK(info->vendor_id == 0x8086);
  CHECK(info->device_id == 0x10d3);
  CHECK(info->subsystem_vendor_id == 0x8086);
  CHECK(info->class_code == 0x020000);
  CHECK(info->base_class() == 0x02);
  CHECK(info->revision == 0);
  REQUIRE(info->driver);
  CHECK(*info->driver == "e1000e");
  REQUIRE(info->iommu_group);
  CHECK(*info->iommu_group == 7);

  auto bridge = sysfs.Read((*list)[0]);
  REQUIRE(bridge);
  CHECK(bridge->revision == 2);
  CHECK_FALSE(bridge->driver);
  CHECK_FALSE(bridge->iommu_group);
}

TEST_CASE("sysfs pci: revision falls back to config space", "[pci]") {
  TempTree tree;
  fs::path dir = tree.AddDevice("0000:00:02.0", "0x1234", "0x11e8", "0x00ff00", "");
  std::string config(64, '\0');
  config[8] = '\x10';
  std::ofstream(dir / "config", std::ios::binary) << config;
  auto info = SysfsPci(tree.root.string()).Read(*Address::Parse("0000:00:02.0"));
  REQUIRE(info);
  CHECK(info->revision == 0x10);
}

TEST_CASE("sysfs pci: broken trees give errors naming the file", "[pci]") {
  TempTree tree;
  SysfsPci sysfs(tree.root.string());

  SECTION("no PCI bus") {
    SysfsPci empty("/nonexistent-udrv-root");
    auto list = empty.List();
    REQUIRE_FALSE(list);
    CHECK(list.error().status == Status::NOT_FOUND);
    CHECK_THAT(list.error().what, Catch::Contains("/nonexistent-udrv-root/bus/pci/devices"));
  }
  SECTION("an entry that is not an address") {
    fs::create_directory(tree.root / "bus/pci/devices/garbage");
    auto list = sysfs.List();
    REQUIRE_FALSE(list);
    CHECK(list.error().status == Status::IO_INVALID);
    CHECK_THAT(list.error().what, Catch::Contains("garbage"));
  }
  SECTION("a malformed attribute") {
    tree.AddDevice("0000:00:04.0", "0xzz86", "0x10d3", "0x020000", "0x00");
    auto info = sysfs.Read(*Address::Parse("0000:00:04.0"));
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::IO_INVALID);
    CHECK_THAT(info.error().object, Catch::EndsWith("0000:00:04.0/vendor"));
  }
  SECTION("an out-of-range attribute") {
    tree.AddDevice("0000:00:04.0", "0x18086", "0x10d3", "0x020000", "0x00");
    auto info = sysfs.Read(*Address::Parse("0000:00:04.0"));
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::IO_INVALID);
  }
  SECTION("a missing attribute") {
    fs::path dir = tree.AddDevice("0000:00:04.0", "0x8086", "0x10d3", "0x020000", "0x00");
    fs::remove(dir / "class");
    auto info = sysfs.Read(*Address::Parse("0000:00:04.0"));
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::NOT_FOUND);
    CHECK_THAT(info.error().what, Catch::Contains("/class"));
  }
  SECTION("a device that vanished") {
    auto info = sysfs.Read(*Address::Parse("0000:00:09.0"));
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::IO_NOT_PRESENT);
  }
}
