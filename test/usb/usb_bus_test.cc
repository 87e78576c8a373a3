// The USB bus's nodes: the testbed guest's recorded sysfs enumerated
// (device and interface nodes, topological ids, properties), bind rules
// on interface classes, and node ids behind hubs.
#include "udrv/usb/usb_bus.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "../sysfs/temp_tree.h"
#include "udrv/bus/bind_rules.h"

namespace udrv::usb {
namespace {

namespace fs = std::filesystem;

const fs::path kRecorded = fs::path(UDRV_USB_SYSFS) / "x86_64-q35";

UsbBusOptions RecordedOptions(std::vector<std::string>* log = nullptr) {
  UsbBusOptions options;
  options.paths = sysfs::LinuxPaths{.sys = (kRecorded / "sys").string(), .dev = "/recorded/dev"};
  if (log != nullptr) options.log = [log](std::string_view line) { log->emplace_back(line); };
  return options;
}

const bus::DeviceNode& NodeOf(const std::vector<bus::DeviceNode>& nodes, std::string_view id) {
  const auto found = std::ranges::find(nodes, id, &bus::DeviceNode::id);
  REQUIRE(found != nodes.end());
  return *found;
}

TEST_CASE("the recorded guest enumerates as device and interface nodes, parents first", "[usb-bus]") {
  std::vector<std::string> log;
  auto usb = UsbBus::Create(RecordedOptions(&log));
  REQUIRE(usb.has_value());
  CHECK((*usb)->name() == "usb");
  const auto nodes = (*usb)->Enumerate();
  REQUIRE(nodes.has_value());
  CHECK(log.empty());
  std::vector<std::pair<std::string, std::string>> ids;
  for (const bus::DeviceNode& node : *nodes) {
    CHECK(node.bus == "usb");
    ids.emplace_back(node.id, node.parent);
  }
  CHECK(ids == std::vector<std::pair<std::string, std::string>>{
                   {"usb/usb1", ""},
                   {"usb/usb1/1-0:1.0", "usb/usb1"},
                   {"usb/usb1/1-2", "usb/usb1"},
                   {"usb/usb1/1-2/1-2:1.0", "usb/usb1/1-2"},
                   {"usb/usb1/1-3", "usb/usb1"},
                   {"usb/usb1/1-3/1-3:1.0", "usb/usb1/1-3"},
                   {"usb/usb2", ""},
                   {"usb/usb2/2-0:1.0", "usb/usb2"},
                   {"usb/usb2/2-1", "usb/usb2"},
                   {"usb/usb2/2-1/2-1:1.0", "usb/usb2/2-1"},
               });

  const bus::Properties& disk = NodeOf(*nodes, "usb/usb2/2-1").properties;
  CHECK(disk.FindNumber(kPropVid) == 0x46f4);
  CHECK(disk.FindNumber(kPropPid) == 0x0001);
  CHECK(disk.FindNumber(kPropClass) == 0);  // defined per interface
  CHECK(disk.FindNumber(kPropBus) == 2);
  CHECK(disk.FindNumber(kPropAddress) == 2);
  CHECK(disk.FindString(kPropPortPath) == "1");
  CHECK(disk.FindString(kPropSpeed) == "5000");
  CHECK(disk.FindString(kPropDevice) == "2-1");
  CHECK(disk.FindString(kPropDriver) == "usb");
  CHECK(disk.Find(kPropInterface) == nullptr);

  const bus::Properties& storage = NodeOf(*nodes, "usb/usb2/2-1/2-1:1.0").properties;
  CHECK(storage.FindNumber(kPropVid) == 0x46f4);
  CHECK(storage.FindNumber(kPropPid) == 0x0001);
  CHECK(storage.FindNumber(kPropClass) == 0x08);
  CHECK(storage.FindNumber(kPropSubclass) == 0x06);
  CHECK(storage.FindNumber(kPropProtocol) == 0x50);
  CHECK(storage.FindNumber(kPropInterface) == 0);
  CHECK(storage.FindNumber(kPropAlternate) == 0);
  CHECK(storage.FindNumber(kPropConfiguration) == 1);
  CHECK(storage.FindString(kPropDevice) == "2-1");
  CHECK(storage.FindString(kPropDriver) == "usb-storage");

  const bus::Properties& hub = NodeOf(*nodes, "usb/usb1").properties;
  CHECK(hub.FindNumber(kPropClass) == 0x09);
  CHECK(hub.FindString(kPropPortPath) == "");
  CHECK(hub.FindString(kPropSpeed) == "480");
  CHECK(NodeOf(*nodes, "usb/usb1/1-3/1-3:1.0").properties.FindNumber(kPropClass) == 0x03);
}

TEST_CASE("bind rules on interface class 08/06/50 match the disk's interface alone", "[usb-bus]") {
  auto usb = UsbBus::Create(RecordedOptions());
  REQUIRE(usb.has_value());
  const auto nodes = (*usb)->Enumerate();
  REQUIRE(nodes.has_value());
  const std::vector<bus::BindRule> rules = {bus::BindRule::Present(std::string(kPropInterface)),
                                            bus::BindRule::Equal(std::string(kPropClass), 0x08),
                                            bus::BindRule::Equal(std::string(kPropSubclass), 0x06),
                                            bus::BindRule::Equal(std::string(kPropProtocol), 0x50)};
  REQUIRE(bus::ValidateBindRules(rules).has_value());
  std::vector<std::string> matched;
  for (const bus::DeviceNode& node : *nodes) {
    if (bus::Evaluate(rules, node.properties).matched) matched.push_back(node.id);
  }
  CHECK(matched == std::vector<std::string>{"usb/usb2/2-1/2-1:1.0"});
  const std::vector<bus::BindRule> hid = {bus::BindRule::Equal(std::string(kPropClass), 0x03),
                                          bus::BindRule::Equal(std::string(kPropVid), 0x0627)};
  matched.clear();
  for (const bus::DeviceNode& node : *nodes) {
    if (bus::Evaluate(hid, node.properties).matched) matched.push_back(node.id);
  }
  CHECK(matched == std::vector<std::string>{"usb/usb1/1-2/1-2:1.0", "usb/usb1/1-3/1-3:1.0"});
}

TEST_CASE("a machine without USB enumerates no nodes", "[usb-bus]") {
  sysfs::testing::TempTree tree;
  auto usb = UsbBus::Create(UsbBusOptions{.paths = tree.paths(), .log = {}});
  REQUIRE(usb.has_value());
  const auto nodes = (*usb)->Enumerate();
  REQUIRE(nodes.has_value());
  CHECK(nodes->empty());
}

TEST_CASE("devices behind hubs are their hubs' children; a device whose hub is left out is said", "[usb-bus]") {
  KernelUsbView view;
  const auto add = [&](std::string name, std::string parent, std::string port_path) {
    KernelUsbDevice device;
    device.name = std::move(name);
    device.parent = std::move(parent);
    device.port_path = std::move(port_path);
    device.bus = 1;
    view.devices.push_back(std::move(device));
  };
  add("usb1", "", "");
  add("1-1", "usb1", "1");
  add("1-1.2", "1-1", "1.2");
  add("1-1.2.4", "1-1.2", "1.2.4");
  CHECK(NodeIdOf(view, view.devices[3]) == "usb/usb1/1-1/1-1.2/1-1.2.4");
  KernelUsbInterface interface;
  interface.name = "1-1.2.4:1.0";
  CHECK(NodeIdOf(view, view.devices[3], interface) == "usb/usb1/1-1/1-1.2/1-1.2.4/1-1.2.4:1.0");
  // Without the hubs in the view, the kernel's names still give the chain.
  const KernelUsbDevice alone = view.devices[3];
  CHECK(NodeIdOf(KernelUsbView{}, alone) == "usb/usb1/1-1/1-1.2/1-1.2.4");

  // Through the bus: the keyboard's hub left out (its busnum is hostile),
  // so its device and interface are left out and said.
  sysfs::testing::TempTree tree;
  fs::copy(kRecorded / "sys", tree.root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  sysfs::testing::TempTree::Write(tree.root / "devices/pci0000:00/0000:00:05.0/usb1/busnum", "9\n");
  std::vector<std::string> log;
  auto usb = UsbBus::Create(UsbBusOptions{.paths = tree.paths(),
                                          .log = [&log](std::string_view line) { log.emplace_back(line); }});
  REQUIRE(usb.has_value());
  const auto nodes = (*usb)->Enumerate();
  REQUIRE(nodes.has_value());
  CHECK(nodes->size() == 4);
  CHECK(nodes->front().id == "usb/usb2");
  REQUIRE(log.size() == 4);
  CHECK(log[0].starts_with("usb: usb1: IO_INVALID: read "));
  CHECK(log[1] == "usb: 1-0:1.0: its device usb1 is not listed: left out");
  CHECK(log[2] == "usb: 1-2: its hub usb1 is not listed: left out");
  CHECK(log[3] == "usb: 1-3: its hub usb1 is not listed: left out");
}

TEST_CASE("Open refuses a node whose device changed since it was listed, before opening usbfs", "[usb-bus]") {
  // Another device plugged in at the disk's port between Enumerate and Open:
  // the same kernel name, another address (or other codes).
  sysfs::testing::TempTree tree;
  fs::copy(kRecorded / "sys", tree.root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const fs::path disk = tree.root / "devices/pci0000:00/0000:00:05.0/usb2/2-1";
  auto usb = UsbBus::Create(UsbBusOptions{.paths = tree.paths(), .log = {}});
  REQUIRE(usb.has_value());
  const auto nodes = (*usb)->Enumerate();
  REQUIRE(nodes.has_value());
  const bus::DeviceNode& storage = NodeOf(*nodes, "usb/usb2/2-1/2-1:1.0");

  sysfs::testing::TempTree::Write(disk / "devnum", "7\n");
  auto opened = (*usb)->Open(storage);
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().status == Status::NOT_FOUND);
  CHECK(opened.error().what == "open interface 0 of 2-1: the device changed since it was listed (usb.address 2 "
                               "then, 7 now: another device at its port?)");
  CHECK(opened.error().object == "usb/usb2/2-1/2-1:1.0");

  sysfs::testing::TempTree::Write(disk / "devnum", "2\n");
  sysfs::testing::TempTree::Write(disk / "2-1:1.0/bInterfaceProtocol", "62\n");
  opened = (*usb)->Open(storage);
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().what == "open interface 0 of 2-1: the device changed since it was listed (usb.protocol 80 "
                               "then, 98 now: another device at its port?)");
}

TEST_CASE("a configuration the kernel cut short of its wTotalLength is listed, and the note logged", "[usb-bus]") {
  sysfs::testing::TempTree tree;
  fs::copy(kRecorded / "sys", tree.root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const fs::path descriptors = tree.root / "devices/pci0000:00/0000:00:05.0/usb2/2-1/descriptors";
  std::string bytes = sysfs::testing::TempTree::Read(descriptors);
  REQUIRE(bytes.size() == 18 + 44);
  bytes[18 + 2] = 45;  // the device said one byte more than the kernel kept
  sysfs::testing::TempTree::Write(descriptors, bytes);
  std::vector<std::string> log;
  auto usb = UsbBus::Create(UsbBusOptions{.paths = tree.paths(),
                                          .log = [&log](std::string_view line) { log.emplace_back(line); }});
  REQUIRE(usb.has_value());
  const auto nodes = (*usb)->Enumerate();
  REQUIRE(nodes.has_value());
  CHECK(NodeOf(*nodes, "usb/usb2/2-1/2-1:1.0").properties.FindNumber(std::string(kPropClass)) == 0x08u);
  CHECK(log == std::vector<std::string>{"usb: 2-1: configuration 1: wTotalLength 45 but 44 bytes of descriptors "
                                        "(the kernel cuts excess bytes and a descriptor with an invalid bLength)"});
}

TEST_CASE("what Enumerate leaves out is logged with the tree's bytes escaped", "[usb-bus]") {
  // A hostile tree: an attribute and an entry name that would steer a
  // terminal (OSC title, clear screen) and forge a log line.
  sysfs::testing::TempTree tree;
  fs::copy(kRecorded / "sys", tree.root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  sysfs::testing::TempTree::Write(tree.root / "devices/pci0000:00/0000:00:05.0/usb1/speed",
                                  "\x1b]0;owned\x07\n");
  fs::create_directory(tree.root / "bus/usb/devices/x\x1b[2J\nudrv: forged");
  std::vector<std::string> log;
  auto usb = UsbBus::Create(UsbBusOptions{.paths = tree.paths(),
                                          .log = [&log](std::string_view line) { log.emplace_back(line); }});
  REQUIRE(usb.has_value());
  REQUIRE((*usb)->Enumerate().has_value());
  REQUIRE(log.size() >= 2);
  bool said_speed = false;
  bool said_name = false;
  for (const std::string& line : log) {
    INFO(line);
    CHECK(std::ranges::none_of(line, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }));
    said_speed = said_speed || line.find("\\e]0;owned\\x07") != std::string::npos;
    said_name = said_name || line.find("x\\e[2J\\nudrv: forged") != std::string::npos;
  }
  CHECK(said_speed);
  CHECK(said_name);
}

}  // namespace
}  // namespace udrv::usb
