// libFuzzer target: the kernel's USB devices as a recorded or replayed
// sysfs tree may hold them (kernel_devices.h). The input is a device entry
// and one interface of it, written as a tree: its name, then one line per
// attribute (busnum, devnum, devpath, speed, version, maxchild,
// bConfigurationValue, authorized, manufacturer; then the interface's
// bInterfaceNumber, bAlternateSetting, bInterfaceClass, bInterfaceSubClass,
// bInterfaceProtocol), then the descriptors file's bytes. What the reader
// keeps must agree with its name and the rules it checks; anything else
// aborts.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "udrv/usb/kernel_devices.h"

namespace {

namespace fs = std::filesystem;

constexpr const char* kDeviceAttributes[] = {"busnum", "devnum", "devpath", "speed", "version",
                                             "maxchild", "bConfigurationValue", "authorized", "manufacturer"};
constexpr const char* kInterfaceAttributes[] = {"bInterfaceNumber", "bAlternateSetting", "bInterfaceClass",
                                                "bInterfaceSubClass", "bInterfaceProtocol"};

// A temporary tree for one input, removed with it.
struct TempTree {
  fs::path root;
  TempTree() {
    char name[] = "/tmp/udrv-fuzz-usb-XXXXXX";
    if (mkdtemp(name) == nullptr) std::abort();
    root = name;
  }
  ~TempTree() { fs::remove_all(root); }
};

// The next line of `input`, taken off it.
std::string_view Line(std::string_view& input) {
  const size_t newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
  return line;
}

void Write(const fs::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary).write(text.data(), static_cast<std::streamsize>(text.size()));
}

// A name that stays one directory entry.
bool IsEntryName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

// The hub directory a device named `name` sits in; "root" for root hubs
// and names that follow no rule (the reader refuses those by name).
std::string HubOf(std::string_view name) {
  const size_t dot = name.rfind('.'), dash = name.find('-');
  if (name.find(':') == std::string_view::npos && dot != std::string_view::npos && dash < dot) {
    return std::string(name.substr(0, dot));
  }
  if (dash != std::string_view::npos && dash > 0) return "usb" + std::string(name.substr(0, dash));
  return "root";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view name = Line(input);
  if (!IsEntryName(name)) return 0;
  const TempTree tree;
  const fs::path devices = tree.root / "bus/usb/devices";
  // As the kernel places them: the device's directory in its hub's (by the
  // naming rules: "2-1.4" in "2-1", "2-1" in "usb2"), the interface's in the
  // device's, each linked from bus/usb/devices.
  const std::string hub = HubOf(name);
  const fs::path device = tree.root / "devices" / hub / std::string(name);
  const fs::path interface = device / (std::string(name) + ":1.0");
  fs::create_directories(interface);
  fs::create_directories(devices);
  fs::create_directory_symlink(device, devices / std::string(name));
  fs::create_directory_symlink(interface, devices / interface.filename());
  for (const char* attribute : kDeviceAttributes) Write(device / attribute, Line(input));
  for (const char* attribute : kInterfaceAttributes) Write(interface / attribute, Line(input));
  Write(device / "descriptors", input);

  const udrv::sysfs::LinuxPaths paths{.sys = tree.root.string(), .dev = "/dev"};
  const auto view = udrv::usb::ReadKernelUsbDevices(paths);
  if (!view) std::abort();  // the directory is there: every problem is a skipped entry
  if (view->devices.size() > 1) std::abort();
  for (const udrv::usb::KernelUsbDevice& kept : view->devices) {
    if (kept.name != name || kept.address == 0 || kept.address > 255 || kept.version.size() != 5) std::abort();
    const std::string bus = std::to_string(kept.bus);
    if (kept.is_root_hub() ? (kept.name != "usb" + bus || !kept.port_path.empty())
                           : kept.name != bus + "-" + kept.port_path) {
      std::abort();
    }
    char node[32];
    std::snprintf(node, sizeof(node), "/dev/bus/usb/%03u/%03u", kept.bus, kept.address);
    if (kept.usbfs_node != node) std::abort();
    for (const udrv::usb::KernelUsbInterface& kept_interface : kept.interfaces) {
      if (kept.active_configuration != kept_interface.configuration || kept_interface.number != 0) std::abort();
    }
  }
  if (view->devices.size() + view->skipped.size() == 0) std::abort();  // every entry is kept or said
  return 0;
}
