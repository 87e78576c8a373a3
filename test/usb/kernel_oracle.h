// Oracles for the kernel's USB devices (kernel_devices.h) that nobody here
// wrote, as text: the kernel's own decoding of every device (debugfs
// usb/devices, drivers/usb/core/devices.c) and usbutils' lsusb, lsusb -v
// and lsusb -t. The host tests give them the recorded guest's outputs, the
// guest suite the live ones.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "udrv/usb/kernel_devices.h"

namespace udrv::usb::testing {

// One device of debugfs usb/devices (drivers/usb/core/devices.c): its
// lines by tag, in order.
struct OracleDevice {
  std::vector<std::string> lines;
  std::vector<std::string> Tagged(std::string_view tag) const {
    std::vector<std::string> tagged;
    for (const std::string& line : lines) {
      if (line.starts_with(tag)) tagged.push_back(line);
    }
    return tagged;
  }
};

// The value after "KEY=" in `line`, spaces before it skipped, up to the next space.
inline std::string Field(const std::string& line, const std::string& key) {
  size_t at = line.find(" " + key + "=");
  REQUIRE(at != std::string::npos);
  at += key.size() + 2;
  while (at < line.size() && line[at] == ' ') ++at;
  const size_t end = line.find(' ', at);
  return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}
inline unsigned Number(const std::string& line, const std::string& key, int base = 10) {
  return static_cast<unsigned>(std::stoul(Field(line, key), nullptr, base));
}

// The oracle's devices by (bus, device number).
inline std::map<std::pair<unsigned, unsigned>, OracleDevice> ParseUsbDevices(const std::string& text) {
  std::istringstream file(text);
  std::map<std::pair<unsigned, unsigned>, OracleDevice> devices;
  OracleDevice* current = nullptr;
  for (std::string line; std::getline(file, line);) {
    if (line.starts_with("T:")) current = &devices[{Number(line, "Bus"), Number(line, "Dev#")}];
    if (current != nullptr && !line.empty()) current->lines.push_back(line);
  }
  return devices;
}

inline std::string Hex2(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof(text), "%02x", value);
  return text;
}

// Every device of `view` against the kernel's own decoding of it
// (debugfs usb/devices as text): topology, speed, the device and active
// configuration's descriptors, strings, interfaces, drivers, endpoints.
inline void CheckAgainstUsbDevices(const KernelUsbView& view, const std::string& usb_devices) {
  const auto oracle = ParseUsbDevices(usb_devices);
  REQUIRE(oracle.size() == view.devices.size());
  for (const KernelUsbDevice& device : view.devices) {
    INFO(device.name);
    const auto found = oracle.find({device.bus, device.address});
    REQUIRE(found != oracle.end());
    const OracleDevice& kernel = found->second;
    const std::string topology = kernel.Tagged("T:").at(0);
    CHECK(Field(topology, "Spd") == device.speed);
    CHECK(Number(topology, "MxCh") == device.max_children);
    if (device.is_root_hub()) {
      CHECK(Number(topology, "Lev") == 0);
      CHECK(device.port_path.empty());
      CHECK(device.port == 0);
    } else {
      const auto parent = std::ranges::find(view.devices, device.parent, &KernelUsbDevice::name);
      REQUIRE(parent != view.devices.end());
      CHECK(Number(topology, "Prnt") == parent->address);
      CHECK(Number(topology, "Port") + 1 == device.port);  // the kernel counts ports from 0 here
    }
    const DeviceDescriptor& descriptor = device.descriptors.device;
    const std::string d = kernel.Tagged("D:").at(0);
    char version[8];
    std::snprintf(version, sizeof(version), "%x.%02x", descriptor.usb_version >> 8, descriptor.usb_version & 0xFF);
    CHECK(Field(d, "Ver") == version);
    CHECK(device.version.substr(device.version.find_first_not_of(' ')) == version);
    CHECK(Field(d, "Cls").substr(0, 2) == Hex2(descriptor.device_class));
    CHECK(Number(d, "Sub", 16) == descriptor.device_subclass);
    CHECK(Number(d, "Prot", 16) == descriptor.device_protocol);
    CHECK(Number(d, "MxPS") == descriptor.max_packet_size0);
    CHECK(Number(d, "#Cfgs") == descriptor.num_configurations);
    const std::string p = kernel.Tagged("P:").at(0);
    CHECK(Number(p, "Vendor", 16) == descriptor.vendor_id);
    CHECK(Number(p, "ProdID", 16) == descriptor.product_id);
    char revision[8];
    std::snprintf(revision, sizeof(revision), "%x.%02x", descriptor.device_version >> 8,
                  descriptor.device_version & 0xFF);
    CHECK(Field(p, "Rev") == revision);
    for (const std::string& s : kernel.Tagged("S:")) {
      const std::string value = s.substr(s.find('=') + 1);
      if (s.starts_with("S:  Manufacturer=")) CHECK(device.manufacturer == value);
      if (s.starts_with("S:  Product=")) CHECK(device.product == value);
      if (s.starts_with("S:  SerialNumber=")) CHECK(device.serial == value);
    }
    CHECK(device.driver == "usb");
    CHECK(device.authorized);

    // The active configuration ("C:*"), its interfaces and endpoints.
    const std::vector<std::string> configurations = kernel.Tagged("C:");
    REQUIRE(configurations.size() == device.descriptors.configurations.size());
    const std::string c = configurations.at(0);
    REQUIRE(c.starts_with("C:*"));
    REQUIRE(device.active_configuration == Number(c, "Cfg#"));
    const ConfigurationDescriptor* config = device.descriptors.FindConfiguration(*device.active_configuration);
    REQUIRE(config != nullptr);
    CHECK(Number(c, "#Ifs") == config->num_interfaces);
    CHECK(Number(c, "Atr", 16) == config->attributes);
    const unsigned unit = device.speed == "5000" ? 8 : 2;  // mA per bMaxPower unit
    CHECK(Field(c, "MxPwr") == std::to_string(config->max_power * unit) + "mA");

    const std::vector<std::string> interfaces = kernel.Tagged("I:");
    REQUIRE(interfaces.size() == device.interfaces.size());
    for (size_t i = 0; i < interfaces.size(); ++i) {
      const KernelUsbInterface& interface = device.interfaces[i];
      CHECK(Number(interfaces[i], "If#") == interface.number);
      CHECK(Number(interfaces[i], "Alt") == interface.alternate_setting);
      CHECK(Field(interfaces[i], "Cls").substr(0, 2) == Hex2(interface.interface_class));
      CHECK(Number(interfaces[i], "Sub", 16) == interface.interface_subclass);
      CHECK(Number(interfaces[i], "Prot", 16) == interface.interface_protocol);
      CHECK(Field(interfaces[i], "Driver") == interface.driver.value_or("(none)"));
      CHECK(interface.configuration == *device.active_configuration);
      CHECK(interface.name == (device.is_root_hub() ? std::to_string(device.bus) + "-0" : device.name) + ":" +
                                  std::to_string(interface.configuration) + "." + std::to_string(interface.number));
      const InterfaceDescriptor& parsed = config->interfaces.at(i).alternates.at(interface.alternate_setting);
      CHECK(Number(interfaces[i], "#EPs") == parsed.num_endpoints);
      CHECK(parsed.interface_class == interface.interface_class);
      const std::vector<std::string> endpoints = kernel.Tagged("E:");
      REQUIRE(endpoints.size() == parsed.endpoints.size());
      for (size_t e = 0; e < endpoints.size(); ++e) {
        CHECK(Number(endpoints[e], "Ad", 16) == parsed.endpoints[e].address);
        CHECK(Number(endpoints[e], "Atr", 16) == parsed.endpoints[e].attributes);
        CHECK(Number(endpoints[e], "MxPS") == (parsed.endpoints[e].max_packet_size & 0x7FF));
      }
    }
  }
}

// "%x.%02x": how lsusb and the kernel print a BCD version.
inline std::string Bcd(uint16_t value) {
  char text[8];
  std::snprintf(text, sizeof(text), "%x.%02x", value >> 8, value & 0xFF);
  return text;
}
inline std::string Hex(unsigned value, int digits) {
  char text[12];
  std::snprintf(text, sizeof(text), "0x%0*x", digits, value);
  return text;
}

// The descriptor fields of one device's `lsusb -v` block as "NAME VALUE"
// (the value's first word): the device, configuration, interface, HID
// and endpoint descriptors (with bMaxBurst, lsusb's line for the
// SuperSpeed companion), up to what lsusb asked the device itself (the
// hub descriptor, BOS, qualifier, status).
// With `from_bos`, `block` is the BOS part of it and is read whole.
inline std::vector<std::string> LsusbFields(const std::string& block, bool from_bos = false) {
  std::vector<std::string> fields;
  std::istringstream lines(block);
  for (std::string line; std::getline(lines, line);) {
    if (!from_bos && (line.starts_with("Hub Descriptor:") || line.starts_with("Binary Object Store") ||
                      line.starts_with("Device Qualifier") || line.starts_with("Device Status"))) {
      break;
    }
    std::istringstream words(line);
    std::string name, value;
    if (!(words >> name >> value)) continue;
    // A field's name: a USB 3.2 §9.6 prefix (b, bcd, bm, w, i, id) then a capital.
    static const std::regex kField("(b|bcd|bm|w|i|id)[A-Z][A-Za-z0-9]*|MaxPower");
    if (std::regex_match(name, kField)) fields.push_back(name + " " + value);
  }
  return fields;
}

// The same fields from what ParseDescriptors made of the device's
// sysfs descriptors file.
inline std::vector<std::string> ParsedFields(const KernelUsbDevice& device) {
  const DeviceDescriptor& d = device.descriptors.device;
  std::vector<std::string> fields = {
      "bLength 18", "bDescriptorType 1", "bcdUSB " + Bcd(d.usb_version),
      "bDeviceClass " + std::to_string(d.device_class), "bDeviceSubClass " + std::to_string(d.device_subclass),
      "bDeviceProtocol " + std::to_string(d.device_protocol), "bMaxPacketSize0 " + std::to_string(d.max_packet_size0),
      "idVendor " + Hex(d.vendor_id, 4), "idProduct " + Hex(d.product_id, 4), "bcdDevice " + Bcd(d.device_version),
      "iManufacturer " + std::to_string(d.manufacturer_index), "iProduct " + std::to_string(d.product_index),
      "iSerial " + std::to_string(d.serial_index), "bNumConfigurations " + std::to_string(d.num_configurations)};
  const unsigned unit = device.speed == "5000" ? 8 : 2;
  for (const ConfigurationDescriptor& c : device.descriptors.configurations) {
    fields.insert(fields.end(),
                  {"bLength 9", "bDescriptorType 2", "wTotalLength " + Hex(c.total_length, 4),
                   "bNumInterfaces " + std::to_string(c.num_interfaces),
                   "bConfigurationValue " + std::to_string(c.value),
                   "iConfiguration " + std::to_string(c.configuration_index), "bmAttributes " + Hex(c.attributes, 2),
                   "MaxPower " + std::to_string(c.max_power * unit) + "mA"});
    for (const Interface& interface : c.interfaces) {
      for (const InterfaceDescriptor& i : interface.alternates) {
        fields.insert(fields.end(),
                      {"bLength 9", "bDescriptorType 4", "bInterfaceNumber " + std::to_string(i.number),
                       "bAlternateSetting " + std::to_string(i.alternate_setting),
                       "bNumEndpoints " + std::to_string(i.num_endpoints),
                       "bInterfaceClass " + std::to_string(i.interface_class),
                       "bInterfaceSubClass " + std::to_string(i.interface_subclass),
                       "bInterfaceProtocol " + std::to_string(i.interface_protocol),
                       "iInterface " + std::to_string(i.interface_index)});
        for (const ClassDescriptor& extra : i.extra) {
          const auto* hid = std::get_if<HidDescriptor>(&extra.decoded);
          REQUIRE(hid != nullptr);  // the recorded devices have no other
          fields.insert(fields.end(), {"bLength " + std::to_string(extra.raw.bytes.size()),
                                       "bDescriptorType " + std::to_string(extra.raw.type),
                                       "bcdHID " + Bcd(hid->hid_version),
                                       "bCountryCode " + std::to_string(hid->country_code),
                                       "bNumDescriptors " + std::to_string(hid->descriptors.size())});
          for (const auto& report : hid->descriptors) {
            fields.push_back("bDescriptorType " + std::to_string(report.type));
            fields.push_back("wDescriptorLength " + std::to_string(report.length));
          }
        }
        for (const EndpointDescriptor& e : i.endpoints) {
          fields.insert(fields.end(), {"bLength 7", "bDescriptorType 5", "bEndpointAddress " + Hex(e.address, 2),
                                       "bmAttributes " + std::to_string(e.attributes),
                                       "wMaxPacketSize " + Hex(e.max_packet_size, 4),
                                       "bInterval " + std::to_string(e.interval)});
          if (e.companion) fields.push_back("bMaxBurst " + std::to_string(e.companion->max_burst));
        }
      }
    }
  }
  return fields;
}

// Every descriptor field `lsusb -v` printed (its output as text) against
// what the parser read; the number of fields compared.
inline size_t CheckAgainstLsusbVerbose(const KernelUsbView& view, const std::string& lsusb) {
  size_t compared = 0;
  for (const KernelUsbDevice& device : view.devices) {
    INFO(device.name);
    char header[40];
    std::snprintf(header, sizeof(header), "\nBus %03u Device %03u: ID ", device.bus, device.address);
    const size_t begin = lsusb.find(header);
    REQUIRE(begin != std::string::npos);
    const size_t end = lsusb.find("\nBus ", begin + 1);
    const std::vector<std::string> expected = LsusbFields(lsusb.substr(begin + 1, end - begin - 1));
    CHECK(ParsedFields(device) == expected);
    compared += expected.size();
  }
  return compared;
}

// `view` against lsusb's list (IDs, bus and device numbers) and lsusb -t's
// tree (ports, interfaces, drivers, speeds), each given as its output.
inline void CheckAgainstLsusbList(const KernelUsbView& view, const std::string& list, const std::string& tree_text) {
  std::set<std::string> listed;
  std::istringstream lsusb(list);
  for (std::string line; std::getline(lsusb, line);) listed.insert(line.substr(0, line.find(' ', 28)));
  std::set<std::string> ours;
  std::istringstream tree(tree_text);
  std::vector<std::string> tree_lines;
  for (std::string line; std::getline(tree, line);) tree_lines.push_back(line);
  for (const KernelUsbDevice& device : view.devices) {
    char line[64];
    std::snprintf(line, sizeof(line), "Bus %03u Device %03u: ID %04x:%04x", device.bus, device.address,
                  device.descriptors.device.vendor_id, device.descriptors.device.product_id);
    ours.insert(line);
    const std::string speed = device.speed + "M";
    if (device.is_root_hub()) {
      char root[64];
      std::snprintf(root, sizeof(root), "/:  Bus %02u.Port 1: Dev %u, Class=root_hub, Driver=", device.bus,
                    device.address);
      const auto found = std::ranges::find_if(tree_lines, [&](const std::string& l) { return l.starts_with(root); });
      REQUIRE(found != tree_lines.end());
      CHECK(found->ends_with("/" + std::to_string(device.max_children) + "p, " + speed));
      continue;
    }
    for (const KernelUsbInterface& interface : device.interfaces) {
      const std::string expected = "Port " + std::to_string(device.port) + ": Dev " + std::to_string(device.address) +
                                   ", If " + std::to_string(interface.number) + ", Class=";
      const auto found = std::ranges::find_if(tree_lines, [&](const std::string& l) {
        return l.find("|__ " + expected) != std::string::npos &&
               l.ends_with(", Driver=" + interface.driver.value_or("") + ", " + speed);
      });
      CHECK(found != tree_lines.end());
    }
  }
  CHECK(ours == listed);
}

}  // namespace udrv::usb::testing
