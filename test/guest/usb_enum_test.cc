// USB enumeration on the live x86_64 guest ("[usb-enum]"): the kernel's
// USB devices read from the guest's own /sys (not a recording) and the
// bus's nodes, against what the guest kernel and usbutils say of the same
// devices: debugfs usb/devices (the kernel's decoding of every
// descriptor), lsusb, lsusb -v and lsusb -t (test/usb/kernel_oracle.h).
// Reads only: nothing is opened but sysfs and debugfs files.
#include <sys/mount.h>
#include <sys/stat.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "kernel_oracle.h"
#include "udrv/bus/bind_rules.h"
#include "udrv/usb/usb_bus.h"

namespace udrv::usb {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream file(path);
  REQUIRE(file);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

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
  return ReadText(kPath);
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

TEST_CASE("the guest's live USB nodes: the disk's interface binds by 08/06/50", "[usb-enum]") {
  std::vector<std::string> log;
  auto usb = UsbBus::Create(UsbBusOptions{.paths = {}, .log = [&log](std::string_view line) { log.emplace_back(line); }});
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
