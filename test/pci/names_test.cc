// Names come from libpci over a pci.ids file; these use small files written
// here so the expected text does not depend on the installed database.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "udrv/pci/names.h"

using udrv::pci::Names;

namespace {

struct TempIds {
  std::string path;
  explicit TempIds(const std::string& text) {
    char name[] = "/tmp/udrv-pciids-XXXXXX";
    int fd = ::mkstemp(name);
    ::close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempIds() { std::remove(path.c_str()); }
};

constexpr const char* kIds =
    "1234  Technical Corp.\n"
    "\t11e8  QEMU PCI test device\n"
    "8086  Intel Corporation\n"
    "\t10d3  82574L Gigabit Network Connection\n"
    "C 02  Network controller\n"
    "\t00  Ethernet controller\n"
    "C ff  Unassigned class\n";

}  // namespace

TEST_CASE("pci names: vendor, device and class from pci.ids", "[pci]") {
  TempIds ids(kIds);
  auto names = Names::Create(ids.path);
  REQUIRE(names);
  CHECK(names->Vendor(0x8086) == "Intel Corporation");
  CHECK(names->Device(0x8086, 0x10d3) == "82574L Gigabit Network Connection");
  CHECK(names->Class(0x02, 0x00) == "Ethernet controller");
  CHECK(names->Vendor(0xabcd).empty());
  CHECK(names->Device(0x8086, 0xffff).empty());
}

TEST_CASE("pci names: lspci -nn labels", "[pci]") {
  TempIds ids(kIds);
  auto names = Names::Create(ids.path);
  REQUIRE(names);
  CHECK(names->ClassLabel(0x02, 0x00) == "Ethernet controller [0200]");
  CHECK(names->DeviceLabel(0x1234, 0x11e8) == "Technical Corp. QEMU PCI test device [1234:11e8]");
  CHECK(names->DeviceLabel(0x8086, 0x0d57) == "Intel Corporation Device [8086:0d57]");
  CHECK(names->DeviceLabel(0xabcd, 0x0001) == "Device [abcd:0001]");
}

TEST_CASE("pci names: a malformed database degrades to numbers", "[pci]") {
  TempIds ids("8086  Intel Corporation\nthis line is not an id entry\n");
  auto names = Names::Create(ids.path);
  REQUIRE(names);
  CHECK(names->Vendor(0x8086).empty());
  CHECK(names->DeviceLabel(0x8086, 0x10d3) == "8086:10d3");
}

TEST_CASE("pci names: a missing database gives numbers", "[pci]") {
  auto names = Names::Create("/nonexistent/pci.ids");
  REQUIRE(names);
  CHECK(names->Vendor(0x8086).empty());
  CHECK(names->DeviceLabel(0x8086, 0x10d3) == "Device [8086:10d3]");
}
