// The kernel's USB devices read from the testbed guest's recorded sysfs
// (test/usb/sysfs/x86_64-q35), checked against the guest kernel's own
// decoding of the same devices (debugfs usb/devices, recorded beside it),
// and hostile or vanishing sysfs values in copies of that tree.
#include "udrv/usb/kernel_devices.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../sysfs/temp_tree.h"
#include "kernel_oracle.h"

namespace udrv::usb {
namespace {

namespace fs = std::filesystem;
using sysfs::testing::TempTree;

const fs::path kRecorded = fs::path(UDRV_USB_SYSFS) / "x86_64-q35";

sysfs::LinuxPaths RecordedPaths() {
  return sysfs::LinuxPaths{.sys = (kRecorded / "sys").string(), .dev = "/recorded/dev"};
}

TEST_CASE("the recorded guest's USB devices match the guest kernel's own decoding", "[kernel-devices]") {
  const auto view = ReadKernelUsbDevices(RecordedPaths());
  REQUIRE(view.has_value());
  CHECK(view->skipped.empty());
  std::vector<std::string> names;
  for (const KernelUsbDevice& device : view->devices) names.push_back(device.name);
  // Parents before children, by bus then port path.
  CHECK(names == std::vector<std::string>{"usb1", "1-2", "1-3", "usb2", "2-1"});
  testing::CheckAgainstUsbDevices(*view, TempTree::Read(kRecorded / "oracle/usb-devices"));
  for (const KernelUsbDevice& device : view->devices) {
    char node[40];
    std::snprintf(node, sizeof(node), "/recorded/dev/bus/usb/%03u/%03u", device.bus, device.address);
    CHECK(device.usbfs_node == node);
  }
}

TEST_CASE("every descriptor field lsusb -v printed in the guest is what the parser read", "[kernel-devices][lsusb]") {
  const auto view = ReadKernelUsbDevices(RecordedPaths());
  REQUIRE(view.has_value());
  CHECK(testing::CheckAgainstLsusbVerbose(*view, TempTree::Read(kRecorded / "oracle/lsusb-v")) > 150);
}

TEST_CASE("the recorded view matches lsusb's list and lsusb -t's tree", "[kernel-devices][lsusb]") {
  const auto view = ReadKernelUsbDevices(RecordedPaths());
  REQUIRE(view.has_value());
  testing::CheckAgainstLsusbList(*view, TempTree::Read(kRecorded / "oracle/lsusb"),
                                 TempTree::Read(kRecorded / "oracle/lsusb-t"));
}

TEST_CASE("the recorded devices: topology, speeds and drivers as the testbed made them", "[kernel-devices]") {
  const auto view = ReadKernelUsbDevices(RecordedPaths());
  REQUIRE(view.has_value());
  REQUIRE(view->devices.size() == 5);
  const KernelUsbDevice& disk = view->devices[4];
  CHECK(disk.name == "2-1");
  CHECK(disk.parent == "usb2");
  CHECK(disk.port_path == "1");
  CHECK(disk.port == 1);
  CHECK(disk.bus == 2);
  CHECK(disk.address == 2);
  CHECK(disk.speed == "5000");
  CHECK(disk.version == " 3.00");
  CHECK(disk.product == "QEMU USB HARDDRIVE");
  REQUIRE(disk.interfaces.size() == 1);
  CHECK(disk.interfaces[0].name == "2-1:1.0");
  CHECK(disk.interfaces[0].interface_class == 0x08);
  CHECK(disk.interfaces[0].interface_subclass == 0x06);
  CHECK(disk.interfaces[0].interface_protocol == 0x50);
  CHECK(disk.interfaces[0].driver == "usb-storage");
  CHECK_FALSE(disk.interfaces[0].interface_string.has_value());
  const KernelUsbDevice& hub = view->devices[0];
  CHECK(hub.name == "usb1");
  CHECK(hub.is_root_hub());
  CHECK(hub.speed == "480");
  CHECK(hub.max_children == 4);
  REQUIRE(hub.interfaces.size() == 1);
  CHECK(hub.interfaces[0].name == "1-0:1.0");
  CHECK(hub.interfaces[0].driver == "hub");
  CHECK(view->devices[1].interfaces.at(0).driver == "usbhid");
}

TEST_CASE("a machine without USB is an empty view", "[kernel-devices]") {
  TempTree tree;
  const auto view = ReadKernelUsbDevices(tree.paths());
  REQUIRE(view.has_value());
  CHECK(view->devices.empty());
  CHECK(view->skipped.empty());
}

// A copy of the recorded tree a test may break.
struct RecordedCopy {
  TempTree tree;
  RecordedCopy() {
    fs::copy(kRecorded / "sys", tree.root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  fs::path Device(const std::string& relative) const {
    return tree.root / "devices/pci0000:00/0000:00:05.0" / relative;
  }
  Result<KernelUsbView> Read() const { return ReadKernelUsbDevices(tree.paths()); }
};

std::vector<std::string> Names(const KernelUsbView& view) {
  std::vector<std::string> names;
  for (const KernelUsbDevice& device : view.devices) names.push_back(device.name);
  return names;
}

TEST_CASE("hostile sysfs values leave the device out, naming the file", "[kernel-devices]") {
  struct Case {
    const char* file;
    const char* value;
    const char* expected;
  };
  const Case cases[] = {
      {"usb2/2-1/busnum", "3\n", "/busnum: 3, but the name says bus 2"},
      {"usb2/2-1/busnum", "2x\n", "/busnum: \"2x\" is not a decimal number up to 999"},
      {"usb2/2-1/devnum", "0\n", "/devnum: \"0\" is not a device address (1-255)"},
      {"usb2/2-1/devnum", "-1\n", "/devnum: \"-1\" is not a decimal number up to 255"},
      {"usb2/2-1/devpath", "1.2\n", "/devpath: \"1.2\" is not the port path the name says (1)"},
      {"usb2/2-1/speed", "9999\n", "/speed: \"9999\" is not a USB speed"},
      {"usb2/2-1/version", "3.00\n", "/version: \"3.00\" is not a bcdUSB version"},
      {"usb2/2-1/maxchild", "256\n", "/maxchild: \"256\" is not a decimal number up to 255"},
      {"usb2/2-1/bConfigurationValue", "one\n", "/bConfigurationValue: \"one\" is not a configuration value"},
      {"usb2/2-1/authorized", "2\n", "/authorized: \"2\" is not 0 or 1"},
      {"usb2/2-1/descriptors", "\x12\x01", "descriptors: device descriptor: bLength 18 past the end (2 byte(s) left)"},
  };
  for (const Case& c : cases) {
    INFO(c.file << " = " << c.value);
    RecordedCopy copy;
    TempTree::Write(copy.Device(c.file), c.value);
    const auto view = copy.Read();
    REQUIRE(view.has_value());
    CHECK(Names(*view) == std::vector<std::string>{"usb1", "1-2", "1-3", "usb2"});
    REQUIRE(view->skipped.size() == 2);
    CHECK(view->skipped[0].starts_with("2-1: IO_INVALID: "));
    CHECK(view->skipped[0].find(c.expected) != std::string::npos);
    CHECK(view->skipped[1] == "2-1:1.0: its device 2-1 is not listed");
  }
}

TEST_CASE("hostile interface values and names", "[kernel-devices]") {
  SECTION("a class that is no number") {
    RecordedCopy copy;
    TempTree::Write(copy.Device("usb2/2-1/2-1:1.0/bInterfaceClass"), "zz\n");
    const auto view = copy.Read();
    REQUIRE(view.has_value());
    CHECK(view->devices.back().interfaces.empty());
    REQUIRE(view->skipped.size() == 1);
    CHECK(view->skipped[0].find("2-1:1.0: IO_INVALID: read ") == 0);
    CHECK(view->skipped[0].find("bInterfaceClass: \"zz\" is not a hexadecimal number up to 255") != std::string::npos);
  }
  SECTION("an interface number other than its name's") {
    RecordedCopy copy;
    TempTree::Write(copy.Device("usb2/2-1/2-1:1.0/bInterfaceNumber"), "01\n");
    const auto view = copy.Read();
    REQUIRE(view.has_value());
    REQUIRE(view->skipped.size() == 1);
    CHECK(view->skipped[0].find("bInterfaceNumber: 1, but the name says interface 0") != std::string::npos);
  }
  SECTION("names that are no USB device's") {
    RecordedCopy copy;
    for (const char* name : {"2-01", "usb0", "2-1.", "x-1", "2-1:1", "2-256", "1-1.1.1.1.1.1.1.1"}) {
      fs::create_directory_symlink("../../../devices/pci0000:00/0000:00:05.0/usb2/2-1",
                                   copy.tree.root / "bus/usb/devices" / name);
    }
    const auto view = copy.Read();
    REQUIRE(view.has_value());
    CHECK(Names(*view) == std::vector<std::string>{"usb1", "1-2", "1-3", "usb2", "2-1"});
    CHECK(view->skipped.size() == 7);
    for (const std::string& skipped : view->skipped) {
      CHECK(skipped.ends_with(": not a USB device or interface name"));
    }
  }
  SECTION("an interface of another configuration") {
    RecordedCopy copy;
    TempTree::Write(copy.Device("usb2/2-1/bConfigurationValue"), "2\n");
    const auto view = copy.Read();
    REQUIRE(view.has_value());
    CHECK(view->devices.back().interfaces.empty());
    CHECK(view->skipped == std::vector<std::string>{"2-1:1.0: not of the active configuration"});
  }
}

TEST_CASE("entries past the bounds are left out unread; broken ones count", "[kernel-devices]") {
  RecordedCopy copy;
  const fs::path devices = copy.tree.root / "bus/usb/devices";
  // Dangling device entries on bus 3 to make kMaxUsbDevices with the five
  // recorded ones (names sort "1-2" ... "3-9.9", "usb1", "usb2"), then one
  // more, a device, last in name order.
  size_t made = 0;
  for (uint32_t a = 1; a <= 255 && made < kMaxUsbDevices - 5; ++a) {
    for (uint32_t b = 1; b <= 255 && made < kMaxUsbDevices - 5; ++b, ++made) {
      fs::create_symlink("../../../devices/gone", devices / ("3-" + std::to_string(a) + "." + std::to_string(b)));
    }
  }
  fs::create_directory_symlink("../../../devices/pci0000:00/0000:00:05.0/usb2", devices / "usb9");
  // Interfaces of 2-1 past kMaxInterfaces: each dangling, so each is read and refused.
  for (uint32_t i = 1; i <= kMaxInterfaces; ++i) {
    fs::create_symlink("../../../devices/gone", devices / ("2-1:1." + std::to_string(i)));
  }
  const auto view = copy.Read();
  REQUIRE(view.has_value());
  CHECK(Names(*view) == std::vector<std::string>{"usb1", "1-2", "1-3", "usb2", "2-1"});
  CHECK(std::ranges::count(view->skipped, std::string("usb9: past the bound of 4096 devices")) == 1);
  CHECK(std::ranges::count_if(view->skipped,
                              [](const std::string& s) { return s.ends_with(": vanished while read"); }) ==
        kMaxUsbDevices - 5 + kMaxInterfaces - 1);
  CHECK(std::ranges::count_if(view->skipped, [](const std::string& s) {
          return s.starts_with("2-1:1.") && s.ends_with(": past the bound of 32 interfaces");
        }) == 1);
}

TEST_CASE("descriptors files are bounded all together: past the bound, the rest are refused unread",
          "[kernel-devices]") {
  RecordedCopy copy;
  size_t total = 0;
  for (const char* device : {"usb1", "usb1/1-2", "usb1/1-3", "usb2", "usb2/2-1"}) {
    total += fs::file_size(copy.Device(std::string(device) + "/descriptors"));
  }
  const auto all = ReadKernelUsbDevices(copy.tree.paths(), total);
  REQUIRE(all.has_value());
  CHECK(all->devices.size() == 5);
  CHECK(all->skipped.empty());

  const auto one_short = ReadKernelUsbDevices(copy.tree.paths(), total - 1);
  REQUIRE(one_short.has_value());
  CHECK(one_short->devices.size() == 4);
  // The device last read, and any interface of it.
  const auto refused = std::ranges::find_if(one_short->skipped, [](const std::string& s) {
    return s.find(": OUT_OF_RANGE: read ") != std::string::npos;
  });
  REQUIRE(refused != one_short->skipped.end());
  CHECK(refused->find("/descriptors: past the bound of " + std::to_string(total - 1) +
                      " bytes of descriptors files in one reading") != std::string::npos);
  CHECK(std::ranges::count_if(one_short->skipped, [](const std::string& s) {
          return s.find("OUT_OF_RANGE") != std::string::npos;
        }) == 1);

  // Once past it, every later file is refused too, even one that would fit.
  const auto none = ReadKernelUsbDevices(copy.tree.paths(), 0);
  REQUIRE(none.has_value());
  CHECK(none->devices.empty());
  CHECK(std::ranges::count_if(none->skipped, [](const std::string& s) {
          return s.find("bytes of descriptors files in one reading") != std::string::npos;
        }) == 5);
  CHECK(kMaxDescriptorBytesPerView == size_t{64} << 20);
}

TEST_CASE("a device whose directory is not in its hub's is left out", "[kernel-devices]") {
  RecordedCopy copy;
  fs::rename(copy.Device("usb1/1-3"), copy.Device("usb2/1-3"));
  const fs::path devices = copy.tree.root / "bus/usb/devices";
  fs::remove(devices / "1-3");
  fs::remove(devices / "1-3:1.0");
  fs::create_directory_symlink("../../../devices/pci0000:00/0000:00:05.0/usb2/1-3", devices / "1-3");
  fs::create_directory_symlink("../../../devices/pci0000:00/0000:00:05.0/usb2/1-3/1-3:1.0", devices / "1-3:1.0");
  const auto view = copy.Read();
  REQUIRE(view.has_value());
  CHECK(Names(*view) == std::vector<std::string>{"usb1", "1-2", "usb2", "2-1"});
  REQUIRE(view->skipped.size() == 2);
  CHECK(view->skipped[0].starts_with("1-3: IO_INVALID: " + (devices / "1-3").string() + " is "));
  CHECK(view->skipped[0].find("/usb2/1-3, not under its hub usb1") != std::string::npos);
  CHECK(view->skipped[1] == "1-3:1.0: its device 1-3 is not listed");
}

TEST_CASE("a device that vanishes while read is left out and said", "[kernel-devices]") {
  RecordedCopy copy;
  fs::remove_all(copy.Device("usb1/1-3"));
  const auto view = copy.Read();
  REQUIRE(view.has_value());
  CHECK(Names(*view) == std::vector<std::string>{"usb1", "1-2", "usb2", "2-1"});
  CHECK(view->skipped ==
        std::vector<std::string>{"1-3: vanished while read", "1-3:1.0: its device 1-3 is not listed"});
}

TEST_CASE("an unconfigured device has no active configuration and no interfaces", "[kernel-devices]") {
  RecordedCopy copy;
  TempTree::Write(copy.Device("usb1/1-2/bConfigurationValue"), "\n");
  fs::remove(copy.tree.root / "bus/usb/devices/1-2:1.0");
  fs::remove(copy.Device("usb1/1-2/driver"));
  const auto view = copy.Read();
  REQUIRE(view.has_value());
  const KernelUsbDevice& keyboard = view->devices.at(1);
  CHECK(keyboard.name == "1-2");
  CHECK_FALSE(keyboard.active_configuration.has_value());
  CHECK(keyboard.interfaces.empty());
  CHECK_FALSE(keyboard.driver.has_value());
}

}  // namespace
}  // namespace udrv::usb
