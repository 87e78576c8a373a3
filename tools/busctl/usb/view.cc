#include "usb/view.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "output.h"
#include "udrv/core/text.h"
#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"
#include "udrv/usb/usb_bus.h"

namespace udrv::busctl {

namespace {

bool IsDigits(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

// "002:002" or "2:2", lsusb -s's BUS:DEVNUM with both given.
std::optional<std::pair<uint32_t, uint32_t>> ParseBusDevnum(std::string_view argument) {
  const size_t colon = argument.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view bus = argument.substr(0, colon);
  const std::string_view devnum = argument.substr(colon + 1);
  if (!IsDigits(bus) || !IsDigits(devnum) || bus.size() > 3 || devnum.size() > 3) return std::nullopt;
  const auto b = sysfs::ParseDecimal(bus, 1, 999);
  const auto d = sysfs::ParseDecimal(devnum, 1, 255);
  if (!b || !d) return std::nullopt;
  return std::pair(static_cast<uint32_t>(*b), static_cast<uint32_t>(*d));
}

// The kernel's device name a DEV argument ends in: "2-1" of
// "usb/usb2/2-1", "usb2" as it is.
std::string_view KernelNameOf(std::string_view argument) {
  const size_t slash = argument.rfind('/');
  return slash == std::string_view::npos ? argument : argument.substr(slash + 1);
}

// "usb2", "2-1", "2-1.4": the shapes of the kernel's USB device names.
bool IsUsbDeviceName(std::string_view name) {
  if (name.starts_with("usb")) return IsDigits(name.substr(3));
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos || !IsDigits(name.substr(0, dash))) return false;
  std::string_view ports = name.substr(dash + 1);
  while (true) {
    const size_t dot = ports.find('.');
    if (!IsDigits(ports.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    ports.remove_prefix(dot + 1);
  }
}

// The device an interface's name names ("2-1" of "2-1:1.0", "usb2" of a
// root hub's "2-0:1.0"); a device's name as it is. Empty when the name is
// neither's.
std::string DeviceNameOf(std::string_view name) {
  const size_t colon = name.find(':');
  if (colon == std::string_view::npos) return IsUsbDeviceName(name) ? std::string(name) : std::string();
  const std::string_view device = name.substr(0, colon);
  const std::string_view interface = name.substr(colon + 1);
  const size_t dot = interface.find('.');
  if (dot == std::string_view::npos || !IsDigits(interface.substr(0, dot)) || !IsDigits(interface.substr(dot + 1))) {
    return {};
  }
  if (device.ends_with("-0") && IsDigits(device.substr(0, device.size() - 2))) {
    return "usb" + std::string(device.substr(0, device.size() - 2));
  }
  return IsUsbDeviceName(device) && !device.starts_with("usb") ? std::string(device) : std::string();
}

std::string Hex4(uint16_t value) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04x", value);
  return text;
}

std::string Hex2(uint8_t value) {
  char text[4];
  std::snprintf(text, sizeof(text), "%02x", value);
  return text;
}

Json OptionalString(const std::optional<std::string>& text) { return text ? Json(*text) : Json(); }

// An attribute as a number, 0 when absent or malformed (rx_lanes, tx_lanes:
// lsusb -t reads them so).
uint32_t OptionalNumber(const std::string& path) {
  auto text = sysfs::ReadOptionalAttribute(path);
  if (!text || !*text) return 0;
  return static_cast<uint32_t>(sysfs::ParseDecimal(**text, 0, 255).value_or(0));
}

}  // namespace

std::optional<std::string> CheckUsbDeviceName(std::string_view argument) {
  const bool id = argument.starts_with(std::string(usb::kBusName) + "/");
  if (id) {
    if (!DeviceNameOf(KernelNameOf(argument)).empty()) return std::string();
    return "device '" + std::string(argument) + "': a USB node id ends in a device's or an "
           "interface's kernel name (usb/usb2/2-1, usb/usb2/2-1/2-1:1.0)";
  }
  if (argument.find('/') != std::string_view::npos) return std::nullopt;
  if (!DeviceNameOf(argument).empty() || ParseBusDevnum(argument)) return std::string();
  return std::nullopt;
}

Result<size_t> UsbView::Find(std::string_view argument) const {
  const auto& devices = kernel.devices;
  if (const auto numbers = ParseBusDevnum(argument)) {
    for (size_t i = 0; i < devices.size(); ++i) {
      if (devices[i].bus == numbers->first && devices[i].address == numbers->second) return i;
    }
  } else {
    // An interface names its device: "2-1:1.0" is 2-1's interface 0.
    const std::string_view name = KernelNameOf(argument);
    const std::string device_name = DeviceNameOf(name);
    for (size_t i = 0; i < devices.size(); ++i) {
      if (devices[i].name != device_name) continue;
      std::string id = UsbNodeId(*this, devices[i]);
      if (name != device_name) {
        const auto& interfaces = devices[i].interfaces;
        if (std::ranges::find(interfaces, name, &usb::KernelUsbInterface::name) == interfaces.end()) break;
        id += "/" + std::string(name);
      }
      // A node id names the device only where the device is.
      if (argument.find('/') != std::string_view::npos && id != argument) break;
      return i;
    }
  }
  // A device the kernel has but the reading skipped says why.
  const std::string device_name = DeviceNameOf(KernelNameOf(argument));
  for (const std::string& skipped : kernel.skipped) {
    if (!device_name.empty() && skipped.starts_with(device_name + ": ")) {
      return Fail(Status::NOT_FOUND, "USB device " + std::string(argument) + " was skipped: " +
                                         skipped.substr(device_name.size() + 2),
                  std::string(argument));
    }
  }
  return Fail(Status::NOT_FOUND,
              "no USB device " + std::string(argument) + (live ? " on this machine" : " in the tree"),
              std::string(argument));
}

std::string UsbView::VendorName(const usb::KernelUsbDevice& device) const {
  if (const auto name = ids.Vendor(device.descriptors.device.vendor_id)) return std::string(*name);
  return device.manufacturer.value_or("");
}

std::string UsbView::ProductName(const usb::KernelUsbDevice& device) const {
  const usb::DeviceDescriptor& descriptor = device.descriptors.device;
  if (const auto name = ids.Product(descriptor.vendor_id, descriptor.product_id)) return std::string(*name);
  return device.product.value_or("");
}

std::string UsbView::ClassName(uint8_t code) const { return std::string(ids.Class(code).value_or("")); }

std::string UsbView::SubclassName(uint8_t code, uint8_t subclass) const {
  return std::string(ids.Subclass(code, subclass).value_or(""));
}

std::string UsbView::ProtocolName(uint8_t code, uint8_t subclass, uint8_t protocol) const {
  return std::string(ids.Protocol(code, subclass, protocol).value_or(""));
}

std::vector<size_t> UsbView::LsusbOrder() const {
  std::vector<size_t> order(kernel.devices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // A device whose path could not be read sorts by its name (its path's
  // last component), after the others.
  const auto key = [this](size_t i) {
    return device_paths[i].empty() ? "~" + kernel.devices[i].name : device_paths[i];
  };
  std::ranges::sort(order, [&](size_t a, size_t b) { return key(a) > key(b); });
  return order;
}

Result<UsbView> ReadUsbView(const GlobalOptions& options) {
  const sysfs::LinuxPaths paths = options.paths();
  UsbView view;
  view.live = options.sysfs_root == "/sys" && options.from.empty();
  auto kernel = usb::ReadKernelUsbDevices(paths);
  if (!kernel) return std::unexpected(NameReplayedFiles(options, kernel.error()));
  view.kernel = std::move(*kernel);
  // Without usb.ids, names are the devices' own strings (as lsusb's without
  // a hardware database).
  if (auto ids = usb::UsbIds::Load(); ids) view.ids = std::move(*ids);

  std::error_code error;
  const std::string devices_dir = std::filesystem::weakly_canonical(paths.sys + "/devices", error).string() + "/";
  for (const usb::KernelUsbDevice& device : view.kernel.devices) {
    const std::string entry = paths.BusDevice(usb::kBusName, device.name);
    const std::string real = std::filesystem::canonical(entry, error).string();
    std::string below;
    if (!error && real.starts_with(devices_dir)) below = real.substr(devices_dir.size());
    view.device_paths.push_back(below);
    // A root hub's controller is its parent device: lsusb -t names its driver.
    std::string controller;
    if (device.is_root_hub()) controller = sysfs::ReadLinkName(entry + "/../driver").value_or("");
    view.controller_drivers.push_back(controller);
    view.rx_lanes.push_back(OptionalNumber(entry + "/rx_lanes"));
    view.tx_lanes.push_back(OptionalNumber(entry + "/tx_lanes"));
  }
  return view;
}

std::string LsusbLine(const UsbView& view, const usb::KernelUsbDevice& device) {
  char head[64];
  std::snprintf(head, sizeof(head), "Bus %03u Device %03u: ID %04x:%04x ", device.bus, device.address,
                device.descriptors.device.vendor_id, device.descriptors.device.product_id);
  return head + Printable(view.VendorName(device)) + " " + Printable(view.ProductName(device));
}

std::string UsbNodeId(const UsbView& view, const usb::KernelUsbDevice& device) {
  return usb::NodeIdOf(view.kernel, device);
}

Json UsbDeviceToJson(const UsbView& view, const usb::KernelUsbDevice& device) {
  const usb::DeviceDescriptor& descriptor = device.descriptors.device;
  Json json = Json::object();
  json["bus"] = usb::kBusName;
  json["node_id"] = UsbNodeId(view, device);
  json["name"] = device.name;
  json["busnum"] = device.bus;
  json["devnum"] = device.address;
  json["port_path"] = device.port_path;
  json["parent"] = device.parent.empty() ? Json() : Json(device.parent);
  json["port"] = device.port;
  json["speed"] = device.speed;
  json["vid"] = Hex4(descriptor.vendor_id);
  json["pid"] = Hex4(descriptor.product_id);
  const auto vendor = view.ids.Vendor(descriptor.vendor_id);
  const auto product = view.ids.Product(descriptor.vendor_id, descriptor.product_id);
  json["vendor"] = vendor ? Json(std::string(*vendor)) : Json();
  json["product"] = product ? Json(std::string(*product)) : Json();
  json["class"] = Hex2(descriptor.device_class);
  json["subclass"] = Hex2(descriptor.device_subclass);
  json["protocol"] = Hex2(descriptor.device_protocol);
  json["manufacturer_string"] = OptionalString(device.manufacturer);
  json["product_string"] = OptionalString(device.product);
  json["serial_string"] = OptionalString(device.serial);
  json["configuration"] = device.active_configuration ? Json(*device.active_configuration) : Json();
  json["authorized"] = device.authorized;
  json["driver"] = OptionalString(device.driver);
  json["usbfs"] = device.usbfs_node;
  Json interfaces = Json::array();
  for (const usb::KernelUsbInterface& interface : device.interfaces) {
    interfaces.push_back({{"name", interface.name},
                          {"node_id", usb::NodeIdOf(view.kernel, device, interface)},
                          {"configuration", interface.configuration},
                          {"number", interface.number},
                          {"alternate", interface.alternate_setting},
                          {"class", Hex2(interface.interface_class)},
                          {"subclass", Hex2(interface.interface_subclass)},
                          {"protocol", Hex2(interface.interface_protocol)},
                          {"string", OptionalString(interface.interface_string)},
                          {"driver", OptionalString(interface.driver)}});
  }
  json["interfaces"] = std::move(interfaces);
  return json;
}

}  // namespace udrv::busctl
