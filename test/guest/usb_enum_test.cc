// USB enumeration on the live x86_64 guest ("[usb-enum]"): the kernel's
// USB devices read from the guest's own /sys (not a recording) and the
// bus's nodes, against what the guest kernel and usbutils say of the same
// devices: debugfs usb/devices (the kernel's decoding of every
// descriptor), lsusb, lsusb -v and lsusb -t (test/usb/kernel_oracle.h).
// Besides sysfs and debugfs, the devices' usbfs nodes are opened for
// GET_DESCRIPTOR on the default pipe (BOS, strings), as lsusb -v does: no
// interface is claimed, no kernel driver detached.
#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "../sysfs/temp_tree.h"
#include "kernel_oracle.h"
#include "udrv/bus/bind_rules.h"
#include "udrv/usb/usb_bus.h"

namespace udrv::usb {
namespace {

// What `command` printed on stdout; it must exit 0.
std::string Output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text;
  std::array<char, 4096> chunk;
  while (const size_t got = fread(chunk.data(), 1, chunk.size(), pipe)) text.append(chunk.data(), got);
  REQUIRE(pclose(pipe) == 0);
  return text;
}

// debugfs usb/devices; debugfs mounted first where /init did not.
std::string KernelDecoding() {
  constexpr char kPath[] = "/sys/kernel/debug/usb/devices";
  struct stat info;
  if (stat(kPath, &info) != 0) {
    REQUIRE(mount("debugfs", "/sys/kernel/debug", "debugfs", 0, nullptr) == 0);
  }
  return sysfs::testing::TempTree::Read(kPath);
}

TEST_CASE("the guest's live USB devices match the kernel's decoding and lsusb", "[usb-enum]") {
  const auto view = ReadKernelUsbDevices(sysfs::LinuxPaths{});
  REQUIRE(view.has_value());
  CHECK(view->skipped.empty());
  std::vector<std::string> names;
  for (const KernelUsbDevice& device : view->devices) names.push_back(device.name);
  CHECK(names == std::vector<std::string>{"usb1", "1-2", "1-3", "usb2", "2-1"});

  testing::CheckAgainstUsbDevices(*view, KernelDecoding());
  CHECK(testing::CheckAgainstLsusbVerbose(*view, Output("lsusb -v 2>/dev/null")) > 150);
  testing::CheckAgainstLsusbList(*view, Output("lsusb"), Output("lsusb -t"));
  for (const KernelUsbDevice& device : view->devices) {
    INFO(device.name);
    // The usbfs node the bus would open: only stat'ed here.
    struct stat node;
    REQUIRE(stat(device.usbfs_node.c_str(), &node) == 0);
    CHECK(S_ISCHR(node.st_mode));
    CHECK((node.st_mode & 0777) == 0600);
  }
}

// GET_DESCRIPTOR(type, index) of the device at `node` with LANGID
// `language`: what it answered, at most `length` bytes.
std::vector<uint8_t> GetDescriptor(const std::string& node, uint8_t type, uint8_t index, uint16_t language,
                                   uint16_t length) {
  const int fd = open(node.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> bytes(length);
  usbdevfs_ctrltransfer transfer{};
  transfer.bRequestType = 0x80;  // IN, standard, device
  transfer.bRequest = 0x06;      // GET_DESCRIPTOR
  transfer.wValue = static_cast<uint16_t>(type << 8 | index);
  transfer.wIndex = language;
  transfer.wLength = length;
  transfer.timeout = 2000;
  transfer.data = bytes.data();
  const int got = ioctl(fd, USBDEVFS_CONTROL, &transfer);
  close(fd);
  REQUIRE(got >= 0);
  bytes.resize(static_cast<size_t>(got));
  return bytes;
}

// The BOS fields `lsusb -v` printed for a device (its block), as
// LsusbFields takes them: the header and each capability's fields.
std::vector<std::string> LsusbBosFields(const std::string& block) {
  const size_t bos = block.find("\nBinary Object Store Descriptor:");
  if (bos == std::string::npos) return {};
  const size_t end = block.find("\nDevice Status", bos);
  return testing::LsusbFields(block.substr(bos + 1, end == std::string::npos ? std::string::npos : end - bos - 1),
                              /*from_bos=*/true);
}

std::vector<std::string> ParsedBosFields(const BosDescriptor& bos) {
  std::vector<std::string> fields = {"bLength 5", "bDescriptorType 15",
                                     "wTotalLength " + testing::Hex(bos.total_length, 4),
                                     "bNumDeviceCaps " + std::to_string(bos.capabilities.size())};
  for (const DeviceCapability& capability : bos.capabilities) {
    fields.insert(fields.end(), {"bLength " + std::to_string(capability.raw.bytes.size()), "bDescriptorType 16",
                                 "bDevCapabilityType " + std::to_string(capability.capability_type)});
    if (const auto* usb2 = std::get_if<Usb2ExtensionCapability>(&capability.decoded)) {
      fields.push_back("bmAttributes " + testing::Hex(usb2->attributes, 8));
    } else if (const auto* ss = std::get_if<SuperSpeedCapability>(&capability.decoded)) {
      fields.insert(fields.end(), {"bmAttributes " + testing::Hex(ss->attributes, 2),
                                   "wSpeedsSupported " + testing::Hex(ss->speeds_supported, 4),
                                   "bFunctionalitySupport " + std::to_string(ss->functionality_support),
                                   "bU1DevExitLat " + std::to_string(ss->u1_exit_latency),
                                   "bU2DevExitLat " + std::to_string(ss->u2_exit_latency)});
    }
  }
  return fields;
}

TEST_CASE("the devices' BOS and strings, asked for over usbfs, parse as lsusb -v and the kernel read them",
          "[usb-enum]") {
  const auto view = ReadKernelUsbDevices(sysfs::LinuxPaths{});
  REQUIRE(view.has_value());
  const std::string lsusb = Output("lsusb -v 2>/dev/null");
  size_t with_bos = 0;
  for (const KernelUsbDevice& device : view->devices) {
    INFO(device.name);
    char header[40];
    std::snprintf(header, sizeof(header), "\nBus %03u Device %03u: ID ", device.bus, device.address);
    const size_t begin = lsusb.find(header);
    REQUIRE(begin != std::string::npos);
    const std::string block = lsusb.substr(begin, lsusb.find("\nBus ", begin + 1) - begin);
    // BOS from USB 2.01 on (USB 3.2 §9.6.2); lsusb asks the same devices.
    if (device.descriptors.device.usb_version >= 0x0201) {
      const std::vector<uint8_t> head = GetDescriptor(device.usbfs_node, kDescBos, 0, 0, 5);
      REQUIRE(head.size() == 5);
      const std::vector<uint8_t> bytes =
          GetDescriptor(device.usbfs_node, kDescBos, 0, 0, static_cast<uint16_t>(head[2] | head[3] << 8));
      const auto bos = ParseBos(bytes, device.name);
      REQUIRE(bos.has_value());
      const std::vector<std::string> expected = LsusbBosFields(block);
      CHECK(expected.size() > 4);
      CHECK(ParsedBosFields(*bos) == expected);
      ++with_bos;
    }
    // The strings the kernel read at enumeration, asked for again in US English.
    const DeviceDescriptor& descriptor = device.descriptors.device;
    for (const auto& [index, kernel] : {std::pair{descriptor.manufacturer_index, device.manufacturer},
                                        std::pair{descriptor.product_index, device.product},
                                        std::pair{descriptor.serial_index, device.serial}}) {
      if (index == 0) continue;
      const auto text = ParseStringDescriptor(GetDescriptor(device.usbfs_node, kDescString, index, 0x0409, 255),
                                              device.name);
      REQUIRE(text.has_value());
      CHECK(kernel == *text);
    }
  }
  CHECK(with_bos == 2);  // the disk and the USB 3 root hub
}

TEST_CASE("the guest's live USB nodes: the disk's interface binds by 08/06/50", "[usb-enum]") {
  std::vector<std::string> log;
  auto usb = UsbBus::Create(
      UsbBusOptions{.paths = {}, .log = [&log](std::string_view line) { log.emplace_back(line); }});
  REQUIRE(usb.has_value());
  const auto nodes = (*usb)->Enumerate();
  REQUIRE(nodes.has_value());
  CHECK(log.empty());
  CHECK(nodes->size() == 10);
  const std::vector<bus::BindRule> rules = {bus::BindRule::Equal(std::string(kPropClass), 0x08),
                                            bus::BindRule::Equal(std::string(kPropSubclass), 0x06),
                                            bus::BindRule::Equal(std::string(kPropProtocol), 0x50)};
  std::vector<std::string> matched;
  for (const bus::DeviceNode& node : *nodes) {
    if (bus::Evaluate(rules, node.properties).matched) matched.push_back(node.id);
  }
  REQUIRE(matched == std::vector<std::string>{"usb/usb2/2-1/2-1:1.0"});
  const bus::Properties& disk = std::ranges::find(*nodes, matched[0], &bus::DeviceNode::id)->properties;
  CHECK(disk.FindNumber(kPropVid) == 0x46f4);
  CHECK(disk.FindNumber(kPropPid) == 0x0001);
  CHECK(disk.FindString(kPropSpeed) == "5000");
}

}  // namespace
}  // namespace udrv::usb
