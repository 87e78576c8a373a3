#include "udrv/usb/kernel_devices.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>

#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"

namespace udrv::usb {
namespace {

namespace fs = std::filesystem;

// A number as the kernel names devices: decimal digits, no sign, no
// leading zero, within [min, max].
std::optional<uint32_t> ParseNameNumber(std::string_view text, uint32_t min, uint32_t max) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text.front() == '0')) return std::nullopt;
  if (!std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  const auto value = sysfs::ParseDecimal(text, min, max);
  if (!value) return std::nullopt;
  return static_cast<uint32_t>(*value);
}

// What a name in sys/bus/usb/devices says: "usb2" (root hub of bus 2),
// "2-1.4" (bus 2, ports 1 then 4), "2-1.4:1.0" (its configuration 1,
// interface 0; a root hub's interfaces are "2-0:1.0").
struct UsbName {
  uint32_t bus = 0;
  std::vector<uint32_t> ports;  // empty: the root hub
  bool interface = false;
  uint32_t configuration = 0;
  uint32_t number = 0;
};

// USB 3.2 §10.1.2: hubs tier at most 7 deep under the root hub (ports 1-255).
constexpr size_t kMaxTiers = 7;

std::optional<UsbName> ParseName(std::string_view name) {
  UsbName parsed;
  if (name.starts_with("usb")) {
    const auto bus = ParseNameNumber(name.substr(3), 1, 999);
    if (!bus) return std::nullopt;
    parsed.bus = *bus;
    return parsed;
  }
  std::string_view device = name;
  const size_t colon = name.find(':');
  if (colon != std::string_view::npos) {
    device = name.substr(0, colon);
    const std::string_view rest = name.substr(colon + 1);
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const auto configuration = ParseNameNumber(rest.substr(0, dot), 0, 255);
    const auto number = ParseNameNumber(rest.substr(dot + 1), 0, 255);
    if (!configuration || !number) return std::nullopt;
    parsed.interface = true;
    parsed.configuration = *configuration;
    parsed.number = *number;
  }
  const size_t dash = device.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto bus = ParseNameNumber(device.substr(0, dash), 1, 999);
  if (!bus) return std::nullopt;
  parsed.bus = *bus;
  std::string_view ports = device.substr(dash + 1);
  if (parsed.interface && ports == "0") return parsed;  // a root hub's interface
  while (true) {
    const size_t dot = ports.find('.');
    const auto port = ParseNameNumber(ports.substr(0, dot), 1, 255);
    if (!port || parsed.ports.size() >= kMaxTiers) return std::nullopt;
    parsed.ports.push_back(*port);
    if (dot == std::string_view::npos) break;
    ports.remove_prefix(dot + 1);
  }
  return parsed;
}

std::string PortPathOf(std::span<const uint32_t> ports) {
  std::string path;
  for (const uint32_t port : ports) path += (path.empty() ? "" : ".") + std::to_string(port);
  return path;
}

// The kernel's name of the device `name` describes (an interface's device).
std::string DeviceNameOf(const UsbName& name) {
  if (name.ports.empty()) return "usb" + std::to_string(name.bus);
  return std::to_string(name.bus) + "-" + PortPathOf(name.ports);
}

std::unexpected<Error> BadValue(const std::string& path, const std::string& text, std::string_view expected) {
  return Fail(Status::IO_INVALID,
              "read " + path + ": \"" + text.substr(0, 64) + "\" is not " + std::string(expected), path);
}

// Reads attribute `name` of `dir` as a number: decimal (leading spaces as
// "%2d" prints them allowed) or two-digit-or-more hex ("%02x").
Result<uint32_t> ReadNumber(const std::string& dir, std::string_view name, int base, uint32_t max) {
  const std::string path = dir + "/" + std::string(name);
  UDRV_TRY_ASSIGN(const std::string text, sysfs::ReadAttribute(path));
  std::string_view digits = text;
  while (digits.starts_with(' ')) digits.remove_prefix(1);
  std::optional<uint64_t> value;
  if (base == 16) {
    if (!digits.starts_with("0x")) value = sysfs::ParseHex(digits, max);
  } else if (const auto decimal = sysfs::ParseDecimal(digits, 0, max)) {
    value = static_cast<uint64_t>(*decimal);
  }
  if (!value) {
    return BadValue(path, text,
                    (base == 16 ? "a hexadecimal number up to " : "a decimal number up to ") + std::to_string(max));
  }
  return static_cast<uint32_t>(*value);
}

// sysfs `speed` (drivers/usb/core/sysfs.c speed_show).
bool IsSpeed(std::string_view text) {
  constexpr std::string_view kSpeeds[] = {"1.5", "12", "480", "53.3-480", "5000", "10000", "20000", "unknown"};
  return std::ranges::find(kSpeeds, text) != std::end(kSpeeds);
}

// sysfs `version`: bcdUSB as "%2x.%02x" (" 2.00").
bool IsVersion(std::string_view text) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return text.size() == 5 && (text[0] == ' ' || hex(text[0])) && hex(text[1]) && text[2] == '.' &&
         hex(text[3]) && hex(text[4]);
}

// A string the kernel read from the device (manufacturer, product, serial,
// interface): absent when the device has none.
Result<std::optional<std::string>> ReadDeviceString(const std::string& path) {
  return sysfs::ReadOptionalAttribute(path);
}

Result<KernelUsbInterface> ReadInterface(const std::string& dir, const std::string& name,
                                         const UsbName& parsed) {
  KernelUsbInterface interface;
  interface.name = name;
  interface.configuration = static_cast<uint8_t>(parsed.configuration);
  UDRV_TRY_ASSIGN(const uint32_t number, ReadNumber(dir, "bInterfaceNumber", 16, 255));
  if (number != parsed.number) {
    return Fail(Status::IO_INVALID,
                "read " + dir + "/bInterfaceNumber: " + std::to_string(number) + ", but the name says interface " +
                    std::to_string(parsed.number),
                dir + "/bInterfaceNumber");
  }
  interface.number = static_cast<uint8_t>(number);
  UDRV_TRY_ASSIGN(const uint32_t alternate, ReadNumber(dir, "bAlternateSetting", 10, 255));
  interface.alternate_setting = static_cast<uint8_t>(alternate);
  UDRV_TRY_ASSIGN(const uint32_t interface_class, ReadNumber(dir, "bInterfaceClass", 16, 255));
  UDRV_TRY_ASSIGN(const uint32_t subclass, ReadNumber(dir, "bInterfaceSubClass", 16, 255));
  UDRV_TRY_ASSIGN(const uint32_t protocol, ReadNumber(dir, "bInterfaceProtocol", 16, 255));
  interface.interface_class = static_cast<uint8_t>(interface_class);
  interface.interface_subclass = static_cast<uint8_t>(subclass);
  interface.interface_protocol = static_cast<uint8_t>(protocol);
  UDRV_TRY_ASSIGN(interface.interface_string, ReadDeviceString(dir + "/interface"));
  interface.driver = sysfs::ReadLinkName(dir + "/driver");
  return interface;
}

// `descriptor_bytes_left`: what the view may still read of descriptors
// files (kMaxDescriptorBytesPerView); 0 once a file passed it.
Result<KernelUsbDevice> ReadDevice(const sysfs::LinuxPaths& paths, const std::string& dir,
                                   const std::string& name, const UsbName& parsed,
                                   size_t& descriptor_bytes_left, size_t max_descriptor_bytes) {
  KernelUsbDevice device;
  device.name = name;
  if (!parsed.ports.empty()) {
    device.parent = DeviceNameOf(UsbName{parsed.bus, {parsed.ports.begin(), parsed.ports.end() - 1}});
    device.port_path = PortPathOf(parsed.ports);
    device.port = parsed.ports.back();
  }
  if (!device.parent.empty()) {
    // The kernel puts a device's directory in its hub's: a tree that does
    // not is no kernel's.
    std::error_code error;
    const fs::path real = fs::canonical(dir, error);
    if (error) return FailErrno(error.value(), "resolve " + dir, dir);
    if (real.parent_path().filename() != device.parent) {
      return Fail(Status::IO_INVALID, dir + " is " + real.string() + ", not under its hub " + device.parent, dir);
    }
  }
  UDRV_TRY_ASSIGN(device.bus, ReadNumber(dir, "busnum", 10, 999));
  if (device.bus != parsed.bus) {
    return Fail(Status::IO_INVALID,
                "read " + dir + "/busnum: " + std::to_string(device.bus) + ", but the name says bus " +
                    std::to_string(parsed.bus),
                dir + "/busnum");
  }
  UDRV_TRY_ASSIGN(device.address, ReadNumber(dir, "devnum", 10, 255));
  if (device.address == 0) return BadValue(dir + "/devnum", "0", "a device address (1-255)");
  UDRV_TRY_ASSIGN(const std::string devpath, sysfs::ReadAttribute(dir + "/devpath"));
  if (devpath != (parsed.ports.empty() ? std::string("0") : device.port_path)) {
    return BadValue(dir + "/devpath", devpath, "the port path the name says (" + device.port_path + ")");
  }
  UDRV_TRY_ASSIGN(device.speed, sysfs::ReadAttribute(dir + "/speed"));
  if (!IsSpeed(device.speed)) return BadValue(dir + "/speed", device.speed, "a USB speed");
  // ReadAttribute drops trailing spaces only: " 2.00" keeps its leading one.
  UDRV_TRY_ASSIGN(device.version, sysfs::ReadAttribute(dir + "/version"));
  if (!IsVersion(device.version)) return BadValue(dir + "/version", device.version, "a bcdUSB version");
  UDRV_TRY_ASSIGN(device.max_children, ReadNumber(dir, "maxchild", 10, 255));
  UDRV_TRY_ASSIGN(const std::string configuration, sysfs::ReadAttribute(dir + "/bConfigurationValue"));
  if (!configuration.empty()) {
    const auto value = sysfs::ParseDecimal(configuration, 0, 255);
    if (!value) return BadValue(dir + "/bConfigurationValue", configuration, "a configuration value");
    device.active_configuration = static_cast<uint8_t>(*value);
  }
  UDRV_TRY_ASSIGN(const std::optional<std::string> authorized,
                  sysfs::ReadOptionalAttribute(dir + "/authorized"));
  if (authorized && *authorized != "0" && *authorized != "1") {
    return BadValue(dir + "/authorized", *authorized, "0 or 1");
  }
  device.authorized = !authorized || *authorized == "1";

  const std::string descriptors_path = dir + "/descriptors";
  UDRV_TRY_ASSIGN(const sysfs::FileContents raw,
                  sysfs::ReadFile(descriptors_path, std::min(kMaxDescriptorsFileSize, descriptor_bytes_left) + 1));
  if (raw.bytes.size() > descriptor_bytes_left) {
    descriptor_bytes_left = 0;
    return Fail(Status::OUT_OF_RANGE,
                "read " + descriptors_path + ": past the bound of " + std::to_string(max_descriptor_bytes) +
                    " bytes of descriptors files in one reading",
                name);
  }
  descriptor_bytes_left -= raw.bytes.size();
  const auto* bytes = reinterpret_cast<const uint8_t*>(raw.bytes.data());
  auto descriptors = ParseDescriptors({bytes, raw.bytes.size()}, name);
  if (!descriptors) return Wrap(std::move(descriptors.error()), "parse " + descriptors_path);
  device.descriptors = std::move(*descriptors);

  UDRV_TRY_ASSIGN(device.manufacturer, ReadDeviceString(dir + "/manufacturer"));
  UDRV_TRY_ASSIGN(device.product, ReadDeviceString(dir + "/product"));
  UDRV_TRY_ASSIGN(device.serial, ReadDeviceString(dir + "/serial"));
  device.driver = sysfs::ReadLinkName(dir + "/driver");
  char node[32];
  std::snprintf(node, sizeof(node), "/%03u/%03u", device.bus, device.address);
  device.usbfs_node = paths.dev + "/bus/usb" + node;
  return device;
}

// Parents before children: by bus, the root hub first, then by port path
// as numbers ("1.2" before "1.10", "1" before "1.1").
auto SortKey(const KernelUsbDevice& device) {
  std::vector<uint32_t> ports;
  if (const auto parsed = ParseName(device.name)) ports = parsed->ports;
  return std::tuple(device.bus, std::move(ports));
}

}  // namespace

Result<KernelUsbView> ReadKernelUsbDevices(const sysfs::LinuxPaths& paths, size_t max_descriptor_bytes) {
  KernelUsbView view;
  size_t descriptor_bytes_left = max_descriptor_bytes;
  const std::string dir = paths.BusDevices("usb");
  auto names = sysfs::ListDirectory(dir);
  if (!names) {
    // No USB on the machine, or usbcore not loaded.
    if (names.error().err_no == ENOENT) return view;
    return std::unexpected(std::move(names.error()));
  }
  const auto skip = [&](const std::string& name, const std::string& entry_dir, const Error& error) {
    if (access(entry_dir.c_str(), F_OK) != 0 && errno == ENOENT) {
      view.skipped.push_back(name + ": vanished while read");
    } else {
      view.skipped.push_back(name + ": " + error.ToString());
    }
  };

  std::vector<std::pair<std::string, UsbName>> interfaces;
  size_t device_entries = 0;
  for (const std::string& name : *names) {
    const auto parsed = ParseName(name);
    if (!parsed) {
      view.skipped.push_back(name + ": not a USB device or interface name");
      continue;
    }
    if (parsed->interface) {
      interfaces.emplace_back(name, *parsed);
      continue;
    }
    // The bound counts entries read, not devices kept: a tree of dangling
    // or broken entries costs no more than one of devices.
    if (++device_entries > kMaxUsbDevices) {
      view.skipped.push_back(name + ": past the bound of " + std::to_string(kMaxUsbDevices) + " devices");
      continue;
    }
    const std::string device_dir = dir + "/" + name;
    auto device = ReadDevice(paths, device_dir, name, *parsed, descriptor_bytes_left, max_descriptor_bytes);
    if (!device) {
      skip(name, device_dir, device.error());
      continue;
    }
    view.devices.push_back(std::move(*device));
  }

  std::map<std::string, KernelUsbDevice*, std::less<>> by_name;
  for (KernelUsbDevice& device : view.devices) by_name.emplace(device.name, &device);
  std::map<const KernelUsbDevice*, size_t> interface_entries;  // read of each device
  for (const auto& [name, parsed] : interfaces) {
    const auto device = by_name.find(DeviceNameOf(parsed));
    if (device == by_name.end()) {
      view.skipped.push_back(name + ": its device " + DeviceNameOf(parsed) + " is not listed");
      continue;
    }
    KernelUsbDevice& owner = *device->second;
    if (owner.active_configuration != parsed.configuration) {
      // The kernel is changing the configuration: the next read sees the new one.
      view.skipped.push_back(name + ": not of the active configuration");
      continue;
    }
    if (++interface_entries[&owner] > kMaxInterfaces) {
      view.skipped.push_back(name + ": past the bound of " + std::to_string(kMaxInterfaces) + " interfaces");
      continue;
    }
    const std::string interface_dir = dir + "/" + name;
    auto interface = ReadInterface(interface_dir, name, parsed);
    if (!interface) {
      skip(name, interface_dir, interface.error());
      continue;
    }
    owner.interfaces.push_back(std::move(*interface));
  }
  for (KernelUsbDevice& device : view.devices) {
    std::ranges::sort(device.interfaces, {}, &KernelUsbInterface::number);
  }
  std::ranges::sort(view.devices, [](const KernelUsbDevice& a, const KernelUsbDevice& b) {
    return SortKey(a) < SortKey(b);
  });
  return view;
}

}  // namespace udrv::usb
