#include "usb/describe.h"

#include <cstdarg>
#include <cstdio>
#include <initializer_list>
#include <variant>

#include "udrv/core/text.h"
#include "usb/view.h"

namespace udrv::busctl {

namespace {

[[gnu::format(printf, 1, 2)]] std::string Format(const char* format, ...) {
  char buffer[256];
  va_list arguments;
  va_start(arguments, format);
  const int length = std::vsnprintf(buffer, sizeof(buffer), format, arguments);
  va_end(arguments);
  if (length < 0) return {};
  if (static_cast<size_t>(length) < sizeof(buffer)) return std::string(buffer, static_cast<size_t>(length));
  std::string text(static_cast<size_t>(length) + 1, '\0');
  va_start(arguments, format);
  std::vsnprintf(text.data(), text.size(), format, arguments);
  va_end(arguments);
  text.resize(static_cast<size_t>(length));
  return text;
}

// " 12 01 00": each byte after a space, then the newline.
std::string Bytes(std::span<const uint8_t> bytes) {
  std::string text;
  for (const uint8_t byte : bytes) text += Format(" %02x", byte);
  return text + "\n";
}

uint16_t Le16(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint16_t>(bytes[at] | bytes[at + 1] << 8);
}

uint32_t Le32(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint32_t>(bytes[at]) | static_cast<uint32_t>(bytes[at + 1]) << 8 |
         static_cast<uint32_t>(bytes[at + 2]) << 16 | static_cast<uint32_t>(bytes[at + 3]) << 24;
}

// RFC 4122's text of a GUID kept little-endian in its first three fields.
std::string Guid(std::span<const uint8_t> b) {
  return Format("{%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x}", b[3], b[2], b[1],
                b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

// HID 1.11 §6.2.1 bCountryCode.
const char* CountryName(uint8_t code) {
  static constexpr const char* kCountries[] = {
      "Not supported",      "Arabic",        "Belgian",          "Canadian-Bilingual",
      "Canadian-French",    "Czech Republic", "Danish",          "Finnish",
      "French",             "German",        "Greek",            "Hebrew",
      "Hungary",            "International (ISO)", "Italian",    "Japan (Katakana)",
      "Korean",             "Latin American", "Netherlands/Dutch", "Norwegian",
      "Persian (Farsi)",    "Poland",        "Portuguese",       "Russia",
      "Slovakia",           "Spanish",       "Swedish",          "Swiss/French",
      "Swiss/German",       "Switzerland",   "Taiwan",           "Turkish-Q",
      "UK",                 "US",            "Yugoslavia",       "Turkish-F"};
  return code < std::size(kCountries) ? kCountries[code] : "Unknown";
}

// HID class descriptor types; lsusb prints "(null)" for others.
const char* HidDescriptorName(uint8_t type) {
  switch (type) {
    case 0x21: return "HID";
    case 0x22: return "Report";
    case 0x23: return "Physical";
    default: return "(null)";
  }
}

class Describer {
 public:
  Describer(const UsbView& view, const usb::KernelUsbDevice& device, const UsbSysfsStrings& sysfs_strings,
            const UsbDeviceAnswers& answers)
      : view_(view), device_(device), sysfs_(sysfs_strings), answers_(answers) {}

  std::string Run() {
    const usb::DeviceDescriptor& descriptor = device_.descriptors.device;
    Device();
    Otg();
    for (const usb::ConfigurationDescriptor& configuration : device_.descriptors.configurations) {
      Configuration(configuration);
    }
    if (descriptor.device_class == usb::kClassHub) Hub();
    if (descriptor.usb_version >= 0x0201) Bos();
    if (descriptor.usb_version == 0x0200) Qualifier();
    Debug();
    Status();
    return std::move(text_);
  }

 private:
  // The string of `index`: the device's answer; "(error)" when it was asked
  // and gave none (lsusb's word); else sysfs's copy, else "".
  std::string String(uint8_t index, const std::optional<std::string>& sysfs) const {
    if (index == 0) return "";
    if (const auto found = answers_.strings.find(index); found != answers_.strings.end()) {
      return Printable(found->second);
    }
    if (answers_.opened) return "(error)";
    return Printable(sysfs.value_or(""));
  }

  void Device() {
    const usb::DeviceDescriptor& d = device_.descriptors.device;
    text_ += "Device Descriptor:\n";
    text_ += Format("  bLength             %5u\n  bDescriptorType     %5u\n", 18u, 1u);
    text_ += Format("  bcdUSB              %2x.%02x\n", d.usb_version >> 8, d.usb_version & 0xffu);
    text_ += Format("  bDeviceClass        %5u %s\n", d.device_class, Printable(view_.ClassName(d.device_class)).c_str());
    text_ += Format("  bDeviceSubClass     %5u %s\n", d.device_subclass,
                    Printable(view_.SubclassName(d.device_class, d.device_subclass)).c_str());
    text_ += Format("  bDeviceProtocol     %5u %s\n", d.device_protocol,
                    Printable(view_.ProtocolName(d.device_class, d.device_subclass, d.device_protocol)).c_str());
    text_ += Format("  bMaxPacketSize0     %5u\n", d.max_packet_size0);
    const auto vendor = view_.ids.Vendor(d.vendor_id);
    const auto product = view_.ids.Product(d.vendor_id, d.product_id);
    text_ += Format("  idVendor           0x%04x %s\n", d.vendor_id,
                    Printable(vendor.value_or("")).c_str());
    text_ += Format("  idProduct          0x%04x %s\n", d.product_id,
                    Printable(product.value_or("")).c_str());
    text_ += Format("  bcdDevice           %2x.%02x\n", d.device_version >> 8, d.device_version & 0xffu);
    // lsusb takes these three from sysfs, as the kernel read them.
    text_ += Format("  iManufacturer       %5u %s\n", d.manufacturer_index,
                    Printable(device_.manufacturer.value_or("")).c_str());
    text_ += Format("  iProduct            %5u %s\n", d.product_index,
                    Printable(device_.product.value_or("")).c_str());
    text_ += Format("  iSerial             %5u %s\n", d.serial_index,
                    Printable(device_.serial.value_or("")).c_str());
    text_ += Format("  bNumConfigurations  %5u\n", d.num_configurations);
  }

  // An OTG descriptor anywhere in the first configuration: lsusb prints it
  // before the configurations and decodes the device status's OTG bits.
  void Otg() {
    if (device_.descriptors.configurations.empty()) return;
    const usb::ConfigurationDescriptor& configuration = device_.descriptors.configurations.front();
    const usb::RawDescriptor* found = nullptr;
    const auto look = [&found](const std::vector<usb::ClassDescriptor>& extra) {
      for (const usb::ClassDescriptor& descriptor : extra) {
        if (found == nullptr && descriptor.raw.type == usb::kDescOtg && descriptor.raw.bytes.size() == 3) {
          found = &descriptor.raw;
        }
      }
    };
    look(configuration.extra);
    for (const usb::Interface& interface : configuration.interfaces) {
      for (const usb::InterfaceDescriptor& alternate : interface.alternates) {
        look(alternate.extra);
        for (const usb::EndpointDescriptor& endpoint : alternate.endpoints) look(endpoint.extra);
      }
    }
    if (found == nullptr) return;
    otg_ = true;
    const std::vector<uint8_t>& b = found->bytes;
    text_ += Format("OTG Descriptor:\n  bLength               %3u\n  bDescriptorType       %3u\n"
                    "  bmAttributes         0x%02x\n",
                    b[0], b[1], b[2]);
    if (b[2] & 0x01) text_ += "    SRP (Session Request Protocol)\n";
    if (b[2] & 0x02) text_ += "    HNP (Host Negotiation Protocol)\n";
  }

  void Configuration(const usb::ConfigurationDescriptor& c) {
    const bool active = device_.active_configuration == c.value;
    text_ += "  Configuration Descriptor:\n";
    text_ += Format("    bLength             %5u\n    bDescriptorType     %5u\n", 9u, 2u);
    text_ += Format("    wTotalLength       0x%04x\n", c.total_length);
    text_ += Format("    bNumInterfaces      %5u\n", c.num_interfaces);
    text_ += Format("    bConfigurationValue %5u\n", c.value);
    text_ += Format("    iConfiguration      %5u %s\n", c.configuration_index,
                    String(c.configuration_index, active ? sysfs_.configuration : std::nullopt).c_str());
    text_ += Format("    bmAttributes         0x%02x\n", c.attributes);
    if (!(c.attributes & 0x80)) text_ += "      (Missing must-be-set bit!)\n";
    text_ += (c.attributes & 0x40) ? "      Self Powered\n" : "      (Bus Powered)\n";
    if (c.attributes & 0x20) text_ += "      Remote Wakeup\n";
    if (c.attributes & 0x10) text_ += "      Battery Powered\n";
    const unsigned unit = device_.descriptors.device.usb_version >= 0x0300 ? 8 : 2;
    text_ += Format("    MaxPower            %5umA\n", c.max_power * unit);
    for (const usb::ClassDescriptor& extra : c.extra) {
      if (extra.raw.type == usb::kDescOtg) continue;  // printed before the configurations
      text_ += "    ** UNRECOGNIZED: " + Bytes(extra.raw.bytes);
    }
    for (const usb::Interface& interface : c.interfaces) {
      // An association comes before the first interface of its function.
      for (const usb::InterfaceAssociation& association : c.associations) {
        if (association.first_interface == interface.number) Association(association);
      }
      for (const usb::InterfaceDescriptor& alternate : interface.alternates) Alternate(c, alternate);
    }
  }

  void Association(const usb::InterfaceAssociation& a) {
    text_ += "    Interface Association:\n";
    text_ += Format("      bLength             %5u\n      bDescriptorType     %5u\n", 8u, 11u);
    text_ += Format("      bFirstInterface     %5u\n      bInterfaceCount     %5u\n", a.first_interface,
                    a.interface_count);
    text_ += Format("      bFunctionClass      %5u %s\n", a.function_class,
                    Printable(view_.ClassName(a.function_class)).c_str());
    text_ += Format("      bFunctionSubClass   %5u %s\n", a.function_subclass,
                    Printable(view_.SubclassName(a.function_class, a.function_subclass)).c_str());
    text_ += Format("      bFunctionProtocol   %5u %s\n", a.function_protocol,
                    Printable(view_.ProtocolName(a.function_class, a.function_subclass, a.function_protocol)).c_str());
    text_ += Format("      iFunction           %5u %s\n", a.function_index, String(a.function_index, std::nullopt).c_str());
  }

  // sysfs's `interface` string of an alternate setting the kernel has active.
  std::optional<std::string> ActiveInterfaceString(const usb::ConfigurationDescriptor& c,
                                                   const usb::InterfaceDescriptor& alternate) const {
    for (const usb::KernelUsbInterface& interface : device_.interfaces) {
      if (interface.configuration == c.value && interface.number == alternate.number &&
          interface.alternate_setting == alternate.alternate_setting) {
        return interface.interface_string;
      }
    }
    return std::nullopt;
  }

  void Alternate(const usb::ConfigurationDescriptor& c, const usb::InterfaceDescriptor& i) {
    text_ += "    Interface Descriptor:\n";
    text_ += Format("      bLength             %5u\n      bDescriptorType     %5u\n", 9u, 4u);
    text_ += Format("      bInterfaceNumber    %5u\n      bAlternateSetting   %5u\n", i.number, i.alternate_setting);
    text_ += Format("      bNumEndpoints       %5u\n", i.num_endpoints);
    text_ += Format("      bInterfaceClass     %5u %s\n", i.interface_class,
                    Printable(view_.ClassName(i.interface_class)).c_str());
    text_ += Format("      bInterfaceSubClass  %5u %s\n", i.interface_subclass,
                    Printable(view_.SubclassName(i.interface_class, i.interface_subclass)).c_str());
    text_ += Format("      bInterfaceProtocol  %5u %s\n", i.interface_protocol,
                    Printable(view_.ProtocolName(i.interface_class, i.interface_subclass, i.interface_protocol)).c_str());
    text_ += Format("      iInterface          %5u %s\n", i.interface_index,
                    String(i.interface_index, ActiveInterfaceString(c, i)).c_str());
    for (const usb::ClassDescriptor& extra : i.extra) InterfaceExtra(i, extra);
    for (const usb::EndpointDescriptor& endpoint : i.endpoints) Endpoint(i, endpoint);
  }

  void InterfaceExtra(const usb::InterfaceDescriptor& i, const usb::ClassDescriptor& extra) {
    const std::vector<uint8_t>& b = extra.raw.bytes;
    const bool class_specific = b[1] == usb::kDescCsInterface || b[1] == 0x21;  // CS_INTERFACE, CS_DEVICE
    if (i.interface_class == usb::kClassHid && b.size() >= 6) return Hid(b);
    if (class_specific && i.interface_class == usb::kClassCdc) return Cdc(b, "      ");
    if (!class_specific && b[1] == usb::kDescOtg) return;  // printed before the configurations
    text_ += "      ** UNRECOGNIZED: " + Bytes(b);
  }

  void Hid(const std::vector<uint8_t>& b) {
    const unsigned count = b[5];
    if (b[1] != usb::kDescHid) {
      text_ += "      Warning: Invalid descriptor\n";
    } else if (b[0] < 6 + 3 * count) {
      text_ += "      Warning: Descriptor too short\n";
    }
    text_ += "        HID Device Descriptor:\n";
    text_ += Format("          bLength             %5u\n          bDescriptorType     %5u\n", b[0], b[1]);
    text_ += Format("          bcdHID              %2x.%02x\n", b[3], b[2]);
    text_ += Format("          bCountryCode        %5u %s\n", b[4], CountryName(b[4]));
    text_ += Format("          bNumDescriptors     %5u\n", count);
    unsigned reports = 0;
    for (size_t n = 0; n < count && 8 + 3 * n < b.size(); ++n) {
      const uint8_t type = b[6 + 3 * n];
      reports += type == usb::kDescHidReport ? 1 : 0;
      text_ += Format("          bDescriptorType     %5u %s\n", type, HidDescriptorName(type));
      text_ += Format("          wDescriptorLength   %5u\n", Le16(b, 7 + 3 * n));
    }
    Junk(b, "        ", 6 + 3 * count);
    // The report descriptor is the interface's to give: lsusb claims the
    // interface to ask for it, which fails while a kernel driver holds it.
    // busctl never claims, so never has it.
    const unsigned unavailable = answers_.opened ? reports : 1;
    for (unsigned n = 0; n < unavailable; ++n) {
      text_ += "         Report Descriptors: \n           ** UNAVAILABLE **\n";
    }
  }

  void Junk(const std::vector<uint8_t>& b, const char* indent, size_t length) {
    if (b[0] <= length) return;
    text_ += std::string(indent) + "junk at descriptor end:" +
             Bytes(std::span(b).subspan(std::min(length, b.size())));
  }

  // CDC 1.2 functional descriptors, lsusb's way; a subtype udrv does not
  // decode is shown raw.
  void Cdc(const std::vector<uint8_t>& b, const std::string& indent) {
    const char* in = indent.c_str();
    const auto bad = [&](const char* type) {
      text_ += Format("%sINVALID CDC (%s): ", in, type) + Bytes(b);
    };
    if (b.size() < 3) {
      text_ += Format("%sUNRECOGNIZED CDC: ", in) + Bytes(b);
      return;
    }
    switch (b[2]) {
      case 0x00:
        if (b[0] != 5) return bad("Header");
        text_ += Format("%sCDC Header:\n%s  bcdCDC               %x.%02x\n", in, in, b[4], b[3]);
        return;
      case 0x01:
        if (b[0] != 5) return bad("Call Management");
        text_ += Format("%sCDC Call Management:\n%s  bmCapabilities       0x%02x\n", in, in, b[3]);
        if (b[3] & 0x01) text_ += Format("%s    call management\n", in);
        if (b[3] & 0x02) text_ += Format("%s    use DataInterface\n", in);
        text_ += Format("%s  bDataInterface          %d\n", in, b[4]);
        return;
      case 0x02:
        if (b[0] != 4) return bad("ACM");
        text_ += Format("%sCDC ACM:\n%s  bmCapabilities       0x%02x\n", in, in, b[3]);
        if (b[3] & 0x08) text_ += Format("%s    connection notifications\n", in);
        if (b[3] & 0x04) text_ += Format("%s    sends break\n", in);
        if (b[3] & 0x02) text_ += Format("%s    line coding and serial state\n", in);
        if (b[3] & 0x01) text_ += Format("%s    get/set/clear comm features\n", in);
        return;
      case 0x06: {
        if (b[0] < 5) return bad("Union");
        text_ += Format("%sCDC Union:\n%s  bMasterInterface        %d\n%s  bSlaveInterface         ", in, in,
                        b[3], in);
        for (size_t n = 4; n < b.size(); ++n) text_ += Format("%d ", b[n]);
        text_ += "\n";
        return;
      }
      case 0x0f: {
        if (b[0] != 13) return bad("Ethernet");
        const std::string mac = String(b[3], std::nullopt);
        text_ += Format("%sCDC Ethernet:\n%s  iMacAddress             %10d %s\n", in, in, b[3],
                        b[3] != 0 && !mac.empty() ? mac.c_str() : "(?\?)");
        text_ += Format("%s  bmEthernetStatistics    0x%08x\n", in, Le32(b, 4));
        text_ += Format("%s  wMaxSegmentSize         %10d\n", in, Le16(b, 8));
        text_ += Format("%s  wNumberMCFilters            0x%04x\n", in, Le16(b, 10));
        text_ += Format("%s  bNumberPowerFilters     %10d\n", in, b[12]);
        return;
      }
      default:
        text_ += Format("%sUNRECOGNIZED CDC: ", in) + Bytes(b);
        return;
    }
  }

  void Endpoint(const usb::InterfaceDescriptor& i, const usb::EndpointDescriptor& e) {
    static constexpr const char* kTypes[] = {"Control", "Isochronous", "Bulk", "Interrupt"};
    static constexpr const char* kSyncs[] = {"None", "Asynchronous", "Adaptive", "Synchronous"};
    static constexpr const char* kUsages[] = {"Data", "Feedback", "Implicit feedback Data", "(reserved)"};
    static constexpr const char* kTransactions[] = {"1x", "2x", "3x", "(?\?)"};
    const unsigned packet = e.max_packet_size;
    text_ += "      Endpoint Descriptor:\n";
    text_ += Format("        bLength             %5u\n        bDescriptorType     %5u\n", 7u, 5u);
    text_ += Format("        bEndpointAddress     0x%02x  EP %u %s\n", e.address, e.address & 0x0fu,
                    e.is_in() ? "IN" : "OUT");
    text_ += Format("        bmAttributes        %5u\n", e.attributes);
    text_ += Format("          Transfer Type            %s\n", kTypes[e.attributes & 3]);
    text_ += Format("          Synch Type               %s\n", kSyncs[(e.attributes >> 2) & 3]);
    text_ += Format("          Usage Type               %s\n", kUsages[(e.attributes >> 4) & 3]);
    text_ += Format("        wMaxPacketSize     0x%04x  %s %u bytes\n", packet, kTransactions[(packet >> 11) & 3],
                    packet & 0x7ffu);
    text_ += Format("        bInterval           %5u\n", e.interval);
    if (e.companion) {
      text_ += Format("        bMaxBurst %15u\n", e.companion->max_burst);
      const uint8_t attributes = e.companion->attributes;
      if (e.type() == usb::EndpointDescriptor::Type::BULK && (attributes & 0x1f)) {
        text_ += Format("        MaxStreams %14u\n", 1u << (attributes & 0x1f));
      }
      if (e.type() == usb::EndpointDescriptor::Type::ISOCHRONOUS && (attributes & 0x3)) {
        text_ += Format("        Mult %20u\n", attributes & 0x3u);
      }
    }
    for (const usb::ClassDescriptor& extra : e.extra) EndpointExtra(i, extra);
  }

  void EndpointExtra(const usb::InterfaceDescriptor& i, const usb::ClassDescriptor& extra) {
    const std::vector<uint8_t>& b = extra.raw.bytes;
    switch (b[1]) {
      case usb::kDescCsEndpoint:
        return;  // lsusb decodes audio's only, and shows others' not at all
      case usb::kDescCsInterface:
        if (i.interface_class == usb::kClassCdc || i.interface_class == usb::kClassCdcData) {
          return Cdc(b, "      ");
        }
        if (i.interface_class == usb::kClassMassStorage && b[0] == 4) {
          // UAS pipe usage.
          const uint8_t pipe = b[2];
          const char* name = "Reserved";
          if (pipe >= 1 && pipe <= 4) {
            static constexpr const char* kPipes[] = {"Command pipe", "Status pipe", "Data-in pipe", "Data-out pipe"};
            name = kPipes[pipe - 1];
          } else if (pipe >= 0xe0 && pipe <= 0xef) {
            name = "Vendor specific";
          }
          text_ += Format("        %s (0x%02x)\n", name, pipe);
          return;
        }
        text_ += "        INTERFACE CLASS: " + Bytes(b);
        return;
      case 0x21:  // CS_DEVICE
        text_ += "        DEVICE CLASS: " + Bytes(b);
        return;
      case usb::kDescOtg:
        return;  // printed before the configurations
      default:
        text_ += "        ** UNRECOGNIZED: " + Bytes(b);
        return;
    }
  }

  void Hub() {
    if (!answers_.hub || answers_.hub->size() < 9) return;
    std::vector<uint8_t> p = *answers_.hub;
    p.resize(13, 0);
    const unsigned tt_type = device_.descriptors.device.device_protocol;
    const uint16_t version = device_.descriptors.device.usb_version;
    const unsigned characteristics = static_cast<unsigned>(p[4] << 8 | p[3]);
    text_ += "Hub Descriptor:\n";
    text_ += Format("  bLength             %3u\n  bDescriptorType     %3u\n  nNbrPorts           %3u\n", p[0],
                    p[1], p[2]);
    text_ += Format("  wHubCharacteristic 0x%04x\n", characteristics);
    switch (characteristics & 0x03) {
      case 0: text_ += "    Ganged power switching\n"; break;
      case 1: text_ += "    Per-port power switching\n"; break;
      default: text_ += "    No power switching (usb 1.0)\n"; break;
    }
    if (characteristics & 0x04) text_ += "    Compound device\n";
    switch ((characteristics >> 3) & 0x03) {
      case 0: text_ += "    Ganged overcurrent protection\n"; break;
      case 1: text_ += "    Per-port overcurrent protection\n"; break;
      default: text_ += "    No overcurrent protection\n"; break;
    }
    if (tt_type >= 1 && tt_type < 3) {
      text_ += Format("    TT think time %u FS bits\n", (((characteristics >> 5) & 0x03) + 1) * 8);
    }
    if (tt_type != 3 && (characteristics & 0x80)) text_ += "    Port indicators\n";
    text_ += Format("  bPwrOn2PwrGood      %3u * 2 milli seconds\n", p[5]);
    size_t offset = 7;
    if (tt_type == 3) {
      text_ += Format("  bHubContrCurrent   %4u milli Ampere\n", p[6] * 4u);
      text_ += Format("  bHubDecLat          0.%1u micro seconds\n", p[7]);
      text_ += Format("  wHubDelay          %4u nano seconds\n", (p[8] << 4) + p[7]);
      offset = 10;
    } else {
      text_ += Format("  bHubContrCurrent    %3u milli Ampere\n", p[6]);
    }
    const size_t bytes = std::min<size_t>((p[2] >> 3) + 1, 3);
    text_ += "  DeviceRemovable   ";
    for (size_t n = 0; n < bytes; ++n) text_ += Format(" 0x%02x", p[offset + n]);
    if (tt_type != 3) {
      text_ += "\n  PortPwrCtrlMask   ";
      for (size_t n = 0; n < bytes; ++n) text_ += Format(" 0x%02x", p[offset + bytes + n]);
    }
    text_ += "\n";
    text_ += " Hub Port Status:\n";
    static constexpr const char* kLinkStates[] = {"U0",        "U1",          "U2",      "suspend",
                                                  "SS.disabled", "Rx.Detect", "SS.Inactive", "Polling",
                                                  "Recovery",  "Hot Reset",   "Compliance", "Loopback"};
    for (size_t port = 0; port < answers_.port_status.size(); ++port) {
      const std::array<uint8_t, 4>& s = answers_.port_status[port];
      text_ += Format("   Port %zu: %02x%02x.%02x%02x", port + 1, s[3], s[2], s[1], s[0]);
      // lsusb decodes a USB 3.0 hub's status the SuperSpeed way, every other one's as USB 2.
      struct Bit {
        size_t byte;
        uint8_t mask;
        const char* name;
      };
      const auto bits = [&](std::initializer_list<Bit> list) {
        for (const Bit& bit : list) {
          if (s[bit.byte] & bit.mask) text_ += bit.name;
        }
      };
      if (version != 0x0300) {
        bits({{2, 0x10, " C_RESET"}, {2, 0x08, " C_OC"}, {2, 0x04, " C_SUSPEND"}, {2, 0x02, " C_ENABLE"},
              {2, 0x01, " C_CONNECT"}, {1, 0x10, " indicator"}, {1, 0x08, " test"}, {1, 0x04, " highspeed"},
              {1, 0x02, " lowspeed"}, {1, 0x01, " power"}, {0, 0x20, " L1"}, {0, 0x10, " RESET"},
              {0, 0x08, " oc"}, {0, 0x04, " suspend"}, {0, 0x02, " enable"}, {0, 0x01, " connect"}});
      } else {
        bits({{2, 0x80, " C_CONFIG_ERROR"}, {2, 0x40, " C_LINK_STATE"}, {2, 0x20, " C_BH_RESET"},
              {2, 0x10, " C_RESET"}, {2, 0x08, " C_OC"}, {2, 0x01, " C_CONNECT"}});
        text_ += (s[1] & 0x1c) == 0 ? " 5Gbps" : " Unknown Speed";
        bits({{1, 0x02, " power"}});
        const unsigned link_state = ((s[0] & 0xe0u) >> 5) + ((s[1] & 0x1u) << 3);
        if (link_state < std::size(kLinkStates)) text_ += std::string(" ") + kLinkStates[link_state];
        bits({{0, 0x10, " RESET"}, {0, 0x08, " oc"}, {0, 0x02, " enable"}, {0, 0x01, " connect"}});
      }
      text_ += "\n";
    }
  }

  void Bos() {
    if (!answers_.bos || answers_.bos->size() < 5) return;
    const std::vector<uint8_t>& b = *answers_.bos;
    text_ += "Binary Object Store Descriptor:\n";
    text_ += Format("  bLength             %5u\n  bDescriptorType     %5u\n", b[0], b[1]);
    text_ += Format("  wTotalLength       0x%04x\n  bNumDeviceCaps      %5u\n", Le16(b, 2), b[4]);
    auto bos = usb::ParseBos(b, device_.name);
    if (!bos) {
      text_ += "  ** " + Printable(bos.error().ToString()) + "\n";
      return;
    }
    for (const usb::DeviceCapability& capability : bos->capabilities) Capability(capability.raw.bytes);
  }

  void Capability(const std::vector<uint8_t>& b) {
    const auto header = [&](const char* name) {
      text_ += Format("  %s:\n    bLength             %5u\n    bDescriptorType     %5u\n"
                      "    bDevCapabilityType  %5u\n",
                      name, b[0], b[1], b[2]);
    };
    switch (b[2]) {
      case 0x01:
        return;  // Wireless USB: lsusb shows nothing of it
      case 0x02: {
        if (b.size() < 7) break;
        const uint32_t attributes = Le32(b, 3);
        header("USB 2.0 Extension Device Capability");
        text_ += Format("    bmAttributes   0x%08x\n", attributes);
        if (!(attributes & 0x02)) {
          text_ += "      (Missing must-be-set LPM bit!)\n";
        } else if (!(attributes & 0x04)) {
          text_ += "      HIRD Link Power Management (LPM) Supported\n";
        } else {
          text_ += "      BESL Link Power Management (LPM) Supported\n";
          if (attributes & 0x08) text_ += Format("    BESL value    %5u us \n", attributes & 0xf00);
          if (attributes & 0x10) text_ += Format("    Deep BESL value    %5u us \n", attributes & 0xf000);
        }
        return;
      }
      case 0x03: {
        if (b.size() < 10) return;  // lsusb says so on stderr
        header("SuperSpeed USB Device Capability");
        text_ += Format("    bmAttributes         0x%02x\n", b[3]);
        if (b[3] & 0x02) text_ += "      Latency Tolerance Messages (LTM) Supported\n";
        text_ += Format("    wSpeedsSupported   0x%02x%02x\n", b[5], b[4]);
        if (b[4] & 0x01) text_ += "      Device can operate at Low Speed (1Mbps)\n";
        if (b[4] & 0x02) text_ += "      Device can operate at Full Speed (12Mbps)\n";
        if (b[4] & 0x04) text_ += "      Device can operate at High Speed (480Mbps)\n";
        if (b[4] & 0x08) text_ += "      Device can operate at SuperSpeed (5Gbps)\n";
        text_ += Format("    bFunctionalitySupport %3u\n", b[6]);
        static constexpr const char* kLowest[] = {"Low Speed (1Mbps)", "Full Speed (12Mbps)",
                                                  "High Speed (480Mbps)", "SuperSpeed (5Gbps)"};
        if (b[6] < std::size(kLowest)) {
          text_ += std::string("      Lowest fully-functional device speed is ") + kLowest[b[6]] + "\n";
        } else {
          text_ += "      Lowest fully-functional device speed is at an unknown speed!\n";
        }
        text_ += Format("    bU1DevExitLat        %4u micro seconds\n", b[7]);
        text_ += Format("    bU2DevExitLat    %8u micro seconds\n", Le16(b, 8));
        return;
      }
      case 0x04: {
        if (b.size() < 20) return;  // lsusb says so on stderr
        text_ += Format("  Container ID Device Capability:\n    bLength             %5u\n"
                        "    bDescriptorType     %5u\n    bDevCapabilityType  %5u\n    bReserved           %5u\n",
                        b[0], b[1], b[2], b[3]);
        text_ += "    ContainerID             " + Guid(std::span(b).subspan(4, 16)) + "\n";
        return;
      }
      case 0x0a: {
        if (b.size() < 12) return;  // lsusb says so on stderr
        const uint32_t attributes = Le32(b, 4);
        text_ += Format("  SuperSpeedPlus USB Device Capability:\n    bLength             %5u\n"
                        "    bDescriptorType     %5u\n    bDevCapabilityType  %5u\n    bmAttributes         0x%08x\n",
                        b[0], b[1], b[2], attributes);
        text_ += Format("      Sublink Speed Attribute count %u\n", b[4] & 0x1fu);
        text_ += Format("      Sublink Speed ID count %u\n", (attributes >> 5) & 0xfu);
        text_ += Format("    wFunctionalitySupport   0x%02x%02x\n", b[9], b[8]);
        static constexpr char kPrefixes[] = " KMG";
        for (size_t n = 0; n <= (b[4] & 0x1fu) && 16 + 4 * n <= b.size(); ++n) {
          const uint32_t speed = Le32(b, 12 + 4 * n);
          text_ += Format("    bmSublinkSpeedAttr[%zu]   0x%08x\n", n, speed);
          text_ += Format("      Speed Attribute ID: %u %u%cb/s %s %s SuperSpeed%s\n", speed & 0x0f, speed >> 16,
                          kPrefixes[(speed >> 4) & 0x3], (speed & 0x40) ? "Asymmetric" : "Symmetric",
                          (speed & 0x80) ? "TX" : "RX", (speed & 0x4000) ? "Plus" : "");
        }
        return;
      }
      default:
        break;
    }
    text_ += "  ** UNRECOGNIZED: " + Bytes(b);
  }

  void Qualifier() {
    if (!answers_.qualifier || answers_.qualifier->size() != 10) return;
    const std::vector<uint8_t>& b = *answers_.qualifier;
    if (b[0] != 10 || b[1] != usb::kDescDeviceQualifier) return;
    text_ += "Device Qualifier (for other device speed):\n";
    text_ += Format("  bLength             %5u\n  bDescriptorType     %5u\n", b[0], b[1]);
    text_ += Format("  bcdUSB              %2x.%02x\n", b[3], b[2]);
    text_ += Format("  bDeviceClass        %5u %s\n", b[4], Printable(view_.ClassName(b[4])).c_str());
    text_ += Format("  bDeviceSubClass     %5u %s\n", b[5], Printable(view_.SubclassName(b[4], b[5])).c_str());
    text_ += Format("  bDeviceProtocol     %5u %s\n", b[6], Printable(view_.ProtocolName(b[4], b[5], b[6])).c_str());
    text_ += Format("  bMaxPacketSize0     %5u\n  bNumConfigurations  %5u\n", b[7], b[8]);
  }

  void Debug() {
    if (!answers_.debug || answers_.debug->size() != 4) return;
    const std::vector<uint8_t>& b = *answers_.debug;
    if (b[0] != 4 || b[1] != usb::kDescDebug) return;
    text_ += Format("Debug descriptor:\n  bLength              %4u\n  bDescriptorType      %4u\n"
                    "  bDebugInEndpoint     0x%02x\n  bDebugOutEndpoint    0x%02x\n",
                    b[0], b[1], b[2], b[3]);
  }

  void Status() {
    if (!answers_.status) return;
    const unsigned status = *answers_.status;
    const bool super_speed = device_.descriptors.device.usb_version >= 0x0300;
    text_ += Format("Device Status:     0x%04x\n", status);
    text_ += (status & 0x01) ? "  Self Powered\n" : "  (Bus Powered)\n";
    if (status & 0x02) text_ += "  Remote Wakeup Enabled\n";
    if ((status & 0x04) && !super_speed) text_ += "  Test Mode\n";
    if (super_speed) {
      if (status & 0x04) text_ += "  U1 Enabled\n";
      if (status & 0x08) text_ += "  U2 Enabled\n";
      if (status & 0x10) text_ += "  Latency Tolerance Messaging (LTM) Enabled\n";
    }
    if (otg_) {
      if (status & 0x08) text_ += "  HNP Enabled\n";
      if (status & 0x10) text_ += "  HNP Capable\n";
      if (status & 0x20) text_ += "  ALT port is HNP Capable\n";
    }
    if (status & 0x40) text_ += "  Debug Mode\n";
  }

  const UsbView& view_;
  const usb::KernelUsbDevice& device_;
  const UsbSysfsStrings& sysfs_;
  const UsbDeviceAnswers& answers_;
  bool otg_ = false;
  std::string text_;
};

Json RawToJson(const usb::RawDescriptor& raw) {
  Json bytes = Json::array();
  for (const uint8_t byte : raw.bytes) bytes.push_back(byte);
  return {{"type", raw.type}, {"offset", raw.offset}, {"bytes", std::move(bytes)}};
}

Json ClassDescriptorToJson(const usb::ClassDescriptor& descriptor) {
  Json json = RawToJson(descriptor.raw);
  json["decoded"] = std::visit(
      [&descriptor](const auto& decoded) -> Json {
        using T = std::decay_t<decltype(decoded)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return Json();
        } else if constexpr (std::is_same_v<T, usb::HidDescriptor>) {
          Json list = Json::array();
          for (const auto& entry : decoded.descriptors) list.push_back({{"type", entry.type}, {"length", entry.length}});
          return {{"kind", "hid"}, {"hid_version", decoded.hid_version}, {"country_code", decoded.country_code},
                  {"descriptors", std::move(list)}};
        } else if constexpr (std::is_same_v<T, usb::CdcHeader>) {
          return {{"kind", "cdc_header"}, {"cdc_version", decoded.cdc_version}};
        } else if constexpr (std::is_same_v<T, usb::CdcCallManagement>) {
          return {{"kind", "cdc_call_management"}, {"capabilities", decoded.capabilities},
                  {"data_interface", decoded.data_interface}};
        } else if constexpr (std::is_same_v<T, usb::CdcAcm>) {
          return {{"kind", "cdc_acm"}, {"capabilities", decoded.capabilities}};
        } else if constexpr (std::is_same_v<T, usb::CdcUnion>) {
          return {{"kind", "cdc_union"}, {"control_interface", decoded.control_interface},
                  {"subordinate_interfaces", decoded.subordinate_interfaces}};
        } else if constexpr (std::is_same_v<T, usb::CdcEthernet>) {
          return {{"kind", "cdc_ethernet"}, {"mac_address_index", decoded.mac_address_index},
                  {"statistics", decoded.statistics}, {"max_segment_size", decoded.max_segment_size},
                  {"num_mc_filters", decoded.num_mc_filters}, {"num_power_filters", decoded.num_power_filters}};
        } else {
          static_assert(std::is_same_v<T, usb::UasPipeUsage>);
          (void)descriptor;
          return {{"kind", "uas_pipe_usage"}, {"pipe_id", decoded.pipe_id}};
        }
      },
      descriptor.decoded);
  return json;
}

Json ExtraToJson(const std::vector<usb::ClassDescriptor>& extra) {
  Json list = Json::array();
  for (const usb::ClassDescriptor& descriptor : extra) list.push_back(ClassDescriptorToJson(descriptor));
  return list;
}

Json EndpointToJson(const usb::EndpointDescriptor& e) {
  static constexpr const char* kTypes[] = {"control", "isochronous", "bulk", "interrupt"};
  Json json = {{"address", e.address},
               {"direction", e.is_in() ? "in" : "out"},
               {"number", e.number()},
               {"attributes", e.attributes},
               {"type", kTypes[e.attributes & 3]},
               {"max_packet_size", e.max_packet_size},
               {"interval", e.interval}};
  json["ss_companion"] = e.companion ? Json{{"max_burst", e.companion->max_burst},
                                            {"attributes", e.companion->attributes},
                                            {"bytes_per_interval", e.companion->bytes_per_interval}}
                                     : Json();
  json["extra"] = ExtraToJson(e.extra);
  return json;
}

}  // namespace

std::string DescribeUsbDevice(const UsbView& view, const usb::KernelUsbDevice& device,
                              const UsbSysfsStrings& sysfs_strings, const UsbDeviceAnswers& answers) {
  return Describer(view, device, sysfs_strings, answers).Run();
}

Json UsbDescriptorsToJson(const usb::Descriptors& descriptors) {
  const usb::DeviceDescriptor& d = descriptors.device;
  Json json = Json::object();
  json["device"] = {{"usb_version", d.usb_version},
                    {"device_class", d.device_class},
                    {"device_subclass", d.device_subclass},
                    {"device_protocol", d.device_protocol},
                    {"max_packet_size0", d.max_packet_size0},
                    {"vendor_id", d.vendor_id},
                    {"product_id", d.product_id},
                    {"device_version", d.device_version},
                    {"manufacturer_index", d.manufacturer_index},
                    {"product_index", d.product_index},
                    {"serial_index", d.serial_index},
                    {"num_configurations", d.num_configurations}};
  Json configurations = Json::array();
  for (const usb::ConfigurationDescriptor& c : descriptors.configurations) {
    Json associations = Json::array();
    for (const usb::InterfaceAssociation& a : c.associations) {
      associations.push_back({{"first_interface", a.first_interface},
                              {"interface_count", a.interface_count},
                              {"function_class", a.function_class},
                              {"function_subclass", a.function_subclass},
                              {"function_protocol", a.function_protocol},
                              {"function_index", a.function_index}});
    }
    Json interfaces = Json::array();
    for (const usb::Interface& interface : c.interfaces) {
      Json alternates = Json::array();
      for (const usb::InterfaceDescriptor& i : interface.alternates) {
        Json endpoints = Json::array();
        for (const usb::EndpointDescriptor& e : i.endpoints) endpoints.push_back(EndpointToJson(e));
        alternates.push_back({{"alternate_setting", i.alternate_setting},
                              {"num_endpoints", i.num_endpoints},
                              {"interface_class", i.interface_class},
                              {"interface_subclass", i.interface_subclass},
                              {"interface_protocol", i.interface_protocol},
                              {"interface_index", i.interface_index},
                              {"extra", ExtraToJson(i.extra)},
                              {"endpoints", std::move(endpoints)}});
      }
      interfaces.push_back({{"number", interface.number}, {"alternates", std::move(alternates)}});
    }
    configurations.push_back({{"total_length", c.total_length},
                              {"num_interfaces", c.num_interfaces},
                              {"value", c.value},
                              {"configuration_index", c.configuration_index},
                              {"attributes", c.attributes},
                              {"max_power", c.max_power},
                              {"associations", std::move(associations)},
                              {"extra", ExtraToJson(c.extra)},
                              {"interfaces", std::move(interfaces)}});
  }
  json["configurations"] = std::move(configurations);
  json["notes"] = descriptors.notes;
  return json;
}

Json UsbBosToJson(const usb::BosDescriptor& bos) {
  Json capabilities = Json::array();
  for (const usb::DeviceCapability& capability : bos.capabilities) {
    Json json = RawToJson(capability.raw);
    json["capability_type"] = capability.capability_type;
    capabilities.push_back(std::move(json));
  }
  return {{"total_length", bos.total_length}, {"capabilities", std::move(capabilities)}};
}

}  // namespace udrv::busctl
