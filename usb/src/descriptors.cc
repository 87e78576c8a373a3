#include "udrv/usb/descriptors.h"

#include <algorithm>
#include <utility>

namespace udrv::usb {
namespace {

// Minimum bLength of each type this parser reads fields of.
constexpr size_t kDeviceLength = 18;
constexpr size_t kConfigurationLength = 9;
constexpr size_t kInterfaceLength = 9;
constexpr size_t kEndpointLength = 7;  // audio's are 9: the extra two bytes are kept raw
constexpr size_t kAssociationLength = 8;
constexpr size_t kCompanionLength = 6;
constexpr size_t kHidLength = 9;  // one class descriptor at least (HID 1.11 §6.2.1)
constexpr size_t kBosLength = 5;
constexpr size_t kCapabilityLength = 3;

// UAS: mass storage, SCSI, UAS protocol (UAS 1.0 §4.2).
constexpr uint8_t kSubclassScsi = 0x06;
constexpr uint8_t kProtocolUas = 0x62;

uint16_t Le16(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint16_t>(bytes[at] | bytes[at + 1] << 8);
}
uint32_t Le32(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint32_t>(bytes[at]) | static_cast<uint32_t>(bytes[at + 1]) << 8 |
         static_cast<uint32_t>(bytes[at + 2]) << 16 | static_cast<uint32_t>(bytes[at + 3]) << 24;
}

// Byte `index` of `descriptor` as "0x81", or "?" past its end (for names in
// errors about a descriptor too short to hold it).
std::string FieldOr(std::span<const uint8_t> descriptor, size_t index) {
  return index < descriptor.size() ? Hex(descriptor[index], 2) : std::string("?");
}

std::unexpected<Error> Malformed(std::string_view object, const std::string& where,
                                 const std::string& problem, size_t offset) {
  return Fail(Status::IO_INVALID,
              where + ": " + problem + " (at byte offset " + std::to_string(offset) + ")",
              std::string(object));
}

// The descriptor at `offset` in `bytes`, up to `end`: its bLength checked
// against `minimum` and the bytes left. `where` names it in errors.
Result<std::span<const uint8_t>> TakeDescriptor(std::span<const uint8_t> bytes, size_t offset,
                                                size_t end, size_t minimum, std::string_view object,
                                                const std::string& where) {
  if (end - offset < 2) {
    return Malformed(object, where, std::to_string(end - offset) + " byte(s) left, a descriptor needs 2",
                     offset);
  }
  const size_t length = bytes[offset];
  if (length == 0) return Malformed(object, where, "bLength 0", offset);
  if (length < std::max<size_t>(minimum, 2)) {
    return Malformed(object, where,
                     "bLength " + std::to_string(length) + " under the type's minimum of " +
                         std::to_string(std::max<size_t>(minimum, 2)),
                     offset);
  }
  if (length > end - offset) {
    return Malformed(object, where,
                     "bLength " + std::to_string(length) + " past the end (" +
                         std::to_string(end - offset) + " byte(s) left)",
                     offset);
  }
  return bytes.subspan(offset, length);
}

RawDescriptor RawOf(std::span<const uint8_t> descriptor, size_t offset) {
  return RawDescriptor{descriptor[1], offset, {descriptor.begin(), descriptor.end()}};
}

// Parses one configuration's descriptors: bytes[start, start + wTotalLength).
// `class_descriptors` counts those kept from the whole file (kMaxClassDescriptors).
class ConfigurationParser {
 public:
  ConfigurationParser(std::span<const uint8_t> bytes, std::string_view object, size_t& class_descriptors)
      : bytes_(bytes), object_(object), class_descriptors_(class_descriptors) {}

  // `notes` gets what the bytes disagree on without being malformed.
  Result<ConfigurationDescriptor> Parse(size_t start, size_t index, DescriptorLayout layout,
                                        std::vector<std::string>& notes) {
    const std::string header_where = "configuration #" + std::to_string(index + 1);
    UDRV_TRY_ASSIGN(const auto header, TakeDescriptor(bytes_, start, bytes_.size(), kConfigurationLength,
                                                      object_, header_where));
    if (header[1] != kDescConfiguration) {
      return Malformed(object_, header_where,
                       "bDescriptorType " + Hex(header[1], 2) + ", not a configuration (0x02)", start);
    }
    config_.total_length = Le16(header, 2);
    config_.num_interfaces = header[4];
    config_.value = header[5];
    config_.configuration_index = header[6];
    config_.attributes = header[7];
    config_.max_power = header[8];
    where_ = "configuration " + std::to_string(config_.value);
    const size_t end = layout == DescriptorLayout::SYSFS ? NextConfiguration(start + header.size())
                                                         : start + config_.total_length;
    if (layout == DescriptorLayout::USBFS) {
      if (config_.total_length < header.size()) {
        return Malformed(object_, where_,
                         "wTotalLength " + std::to_string(config_.total_length) + " under its bLength " +
                             std::to_string(header.size()),
                         start);
      }
      if (config_.total_length > bytes_.size() - start) {
        return Malformed(object_, where_,
                         "wTotalLength " + std::to_string(config_.total_length) + " past the end (" +
                             std::to_string(bytes_.size() - start) + " byte(s) left)",
                         start);
      }
    }
    size_t offset = start + header.size();
    while (offset < end) {
      if (layout == DescriptorLayout::USBFS && UnwrittenFrom(offset, end)) break;
      UDRV_TRY_ASSIGN(const auto descriptor,
                      TakeDescriptor(bytes_, offset, end, 2, object_, WhereNext(offset, end)));
      UDRV_TRY(Add(descriptor, offset));
      offset += descriptor.size();
    }
    config_.length = offset - start;
    if (config_.length != config_.total_length) {
      notes.push_back(where_ + ": wTotalLength " + std::to_string(config_.total_length) + " but " +
                      std::to_string(config_.length) +
                      " bytes of descriptors (the kernel cuts excess bytes and a descriptor with an "
                      "invalid bLength)");
    }
    if (layout == DescriptorLayout::USBFS) config_.length = config_.total_length;
    return std::move(config_);
  }

 private:
  // Where the configuration whose descriptors begin at `offset` ends in a
  // sysfs file: at the next configuration descriptor, or the end. A
  // descriptor's length is checked when it is parsed; one past the end
  // ends the search here.
  size_t NextConfiguration(size_t offset) const {
    while (bytes_.size() - offset >= 2 && bytes_[offset + 1] != kDescConfiguration && bytes_[offset] >= 2 &&
           bytes_[offset] <= bytes_.size() - offset) {
      offset += bytes_[offset];
    }
    return bytes_.size() - offset >= 2 && bytes_[offset + 1] == kDescConfiguration ? offset : bytes_.size();
  }
  // In a usbfs read, whether bytes_[offset, end) is what the kernel did not
  // keep: zeros where a descriptor should be (its bLength would be 0).
  bool UnwrittenFrom(size_t offset, size_t end) const {
    return std::all_of(bytes_.begin() + static_cast<ptrdiff_t>(offset),
                       bytes_.begin() + static_cast<ptrdiff_t>(end), [](uint8_t byte) { return byte == 0; });
  }

  // What the descriptor at `offset` is, for errors before its length is known.
  std::string WhereNext(size_t offset, size_t end) const {
    if (end - offset < 2) return Where();
    return Where() + ", descriptor " + Hex(bytes_[offset + 1], 2);
  }
  // The innermost open descriptor: "configuration 1, interface 0 alt 0, endpoint 0x81".
  std::string Where() const {
    const InterfaceDescriptor* alternate = CurrentAlternate();
    if (alternate == nullptr || !endpoint_open_) return WhereInterface();
    return WhereInterface() + ", endpoint " + Hex(alternate->endpoints.back().address, 2);
  }
  // The open interface: "configuration 1, interface 0 alt 0".
  std::string WhereInterface() const {
    const InterfaceDescriptor* alternate = CurrentAlternate();
    if (alternate == nullptr) return where_;
    return where_ + ", interface " + std::to_string(alternate->number) + " alt " +
           std::to_string(alternate->alternate_setting);
  }

  InterfaceDescriptor* CurrentAlternate() {
    return interface_ == SIZE_MAX ? nullptr : &config_.interfaces[interface_].alternates.back();
  }
  const InterfaceDescriptor* CurrentAlternate() const {
    return interface_ == SIZE_MAX ? nullptr : &config_.interfaces[interface_].alternates.back();
  }

  Result<void> Add(std::span<const uint8_t> descriptor, size_t offset) {
    switch (descriptor[1]) {
      case kDescInterface: return AddInterface(descriptor, offset);
      case kDescEndpoint: return AddEndpoint(descriptor, offset);
      case kDescSsEndpointCompanion: return AddCompanion(descriptor, offset);
      case kDescInterfaceAssociation: return AddAssociation(descriptor, offset);
      case kDescDevice:
      case kDescConfiguration:
      case kDescString:
      case kDescBos:
        return Malformed(object_, Where() + ", descriptor " + Hex(descriptor[1], 2),
                         "a descriptor of type " + Hex(descriptor[1], 2) + " inside a configuration",
                         offset);
      default: return AddClassSpecific(descriptor, offset);
    }
  }

  Result<void> AddInterface(std::span<const uint8_t> descriptor, size_t offset) {
    const std::string where =
        where_ + ", interface " + (descriptor.size() > 2 ? std::to_string(descriptor[2]) : "?") + " alt " +
        (descriptor.size() > 3 ? std::to_string(descriptor[3]) : "?");
    if (descriptor.size() < kInterfaceLength) {
      return Malformed(object_, where,
                       "bLength " + std::to_string(descriptor.size()) + " under the type's minimum of " +
                           std::to_string(kInterfaceLength),
                       offset);
    }
    InterfaceDescriptor alternate;
    alternate.number = descriptor[2];
    alternate.alternate_setting = descriptor[3];
    alternate.num_endpoints = descriptor[4];
    alternate.interface_class = descriptor[5];
    alternate.interface_subclass = descriptor[6];
    alternate.interface_protocol = descriptor[7];
    alternate.interface_index = descriptor[8];
    if (alternate.num_endpoints > kMaxEndpointsPerInterface) {
      return Malformed(object_, where,
                       "bNumEndpoints " + std::to_string(alternate.num_endpoints) + " past the bound of " +
                           std::to_string(kMaxEndpointsPerInterface),
                       offset);
    }
    auto found = std::ranges::find(config_.interfaces, alternate.number, &Interface::number);
    if (found == config_.interfaces.end()) {
      if (config_.interfaces.size() >= std::min<size_t>(config_.num_interfaces, kMaxInterfaces)) {
        return Malformed(object_, where,
                         "more interfaces than the configuration's bNumInterfaces of " +
                             std::to_string(config_.num_interfaces) +
                             (config_.num_interfaces > kMaxInterfaces
                                  ? " (bound " + std::to_string(kMaxInterfaces) + ")"
                                  : std::string()),
                         offset);
      }
      config_.interfaces.push_back(Interface{alternate.number, {}});
      found = config_.interfaces.end() - 1;
    } else {
      if (found->alternates.size() >= kMaxAlternateSettings) {
        return Malformed(object_, where,
                         "more than " + std::to_string(kMaxAlternateSettings) + " alternate settings",
                         offset);
      }
      if (std::ranges::find(found->alternates, alternate.alternate_setting,
                            &InterfaceDescriptor::alternate_setting) != found->alternates.end()) {
        return Malformed(object_, where, "a second alternate setting " +
                                             std::to_string(alternate.alternate_setting),
                         offset);
      }
    }
    found->alternates.push_back(std::move(alternate));
    interface_ = static_cast<size_t>(found - config_.interfaces.begin());
    endpoint_open_ = false;
    return {};
  }

  Result<void> AddEndpoint(std::span<const uint8_t> descriptor, size_t offset) {
    InterfaceDescriptor* alternate = CurrentAlternate();
    const std::string where = WhereInterface() + ", endpoint " + FieldOr(descriptor, 2);
    if (alternate == nullptr) return Malformed(object_, where, "an endpoint outside any interface", offset);
    if (descriptor.size() < kEndpointLength) {
      return Malformed(object_, where,
                       "bLength " + std::to_string(descriptor.size()) + " under the type's minimum of " +
                           std::to_string(kEndpointLength),
                       offset);
    }
    if (alternate->endpoints.size() >= alternate->num_endpoints) {
      return Malformed(object_, where,
                       "more endpoints than the interface's bNumEndpoints of " +
                           std::to_string(alternate->num_endpoints),
                       offset);
    }
    EndpointDescriptor endpoint;
    endpoint.address = descriptor[2];
    endpoint.attributes = descriptor[3];
    endpoint.max_packet_size = Le16(descriptor, 4);
    endpoint.interval = descriptor[6];
    if (endpoint.number() == 0) {
      return Malformed(object_, where, "endpoint number 0 (the default control pipe has no descriptor)",
                       offset);
    }
    for (const EndpointDescriptor& other : alternate->endpoints) {
      if (other.address == endpoint.address) {
        return Malformed(object_, where, "a second endpoint of that address", offset);
      }
    }
    alternate->endpoints.push_back(std::move(endpoint));
    endpoint_open_ = true;
    return {};
  }

  Result<void> AddCompanion(std::span<const uint8_t> descriptor, size_t offset) {
    const std::string where = Where() + ", SuperSpeed endpoint companion";
    InterfaceDescriptor* alternate = CurrentAlternate();
    if (alternate == nullptr || !endpoint_open_ || alternate->endpoints.back().companion ||
        !alternate->endpoints.back().extra.empty()) {
      return Malformed(object_, where, "a companion that does not follow an endpoint", offset);
    }
    if (descriptor.size() < kCompanionLength) {
      return Malformed(object_, where,
                       "bLength " + std::to_string(descriptor.size()) + " under the type's minimum of " +
                           std::to_string(kCompanionLength),
                       offset);
    }
    alternate->endpoints.back().companion =
        SsEndpointCompanion{descriptor[2], descriptor[3], Le16(descriptor, 4)};
    return {};
  }

  Result<void> AddAssociation(std::span<const uint8_t> descriptor, size_t offset) {
    const std::string where = where_ + ", interface association";
    if (descriptor.size() < kAssociationLength) {
      return Malformed(object_, where,
                       "bLength " + std::to_string(descriptor.size()) + " under the type's minimum of " +
                           std::to_string(kAssociationLength),
                       offset);
    }
    if (config_.associations.size() >= kMaxInterfaces) {
      return Malformed(object_, where, "more than " + std::to_string(kMaxInterfaces) + " associations",
                       offset);
    }
    config_.associations.push_back(InterfaceAssociation{descriptor[2], descriptor[3], descriptor[4],
                                                        descriptor[5], descriptor[6], descriptor[7]});
    // What follows belongs to the function's interfaces, not to the last one.
    interface_ = SIZE_MAX;
    endpoint_open_ = false;
    return {};
  }

  Result<void> AddClassSpecific(std::span<const uint8_t> descriptor, size_t offset) {
    const std::string where = Where() + ", descriptor " + Hex(descriptor[1], 2);
    if (class_descriptors_ >= kMaxClassDescriptors) {
      return Malformed(object_, where,
                       "more than " + std::to_string(kMaxClassDescriptors) + " class-specific descriptors",
                       offset);
    }
    ++class_descriptors_;
    ClassDescriptor added{RawOf(descriptor, offset), std::monostate{}, 0};
    InterfaceDescriptor* alternate = CurrentAlternate();
    if (alternate != nullptr) UDRV_TRY(Decode(*alternate, descriptor, offset, where, added));
    if (alternate == nullptr) {
      config_.extra.push_back(std::move(added));
    } else if (endpoint_open_) {
      alternate->endpoints.back().extra.push_back(std::move(added));
    } else {
      alternate->extra.push_back(std::move(added));
    }
    return {};
  }

  Result<void> Decode(const InterfaceDescriptor& alternate, std::span<const uint8_t> descriptor,
                      size_t offset, const std::string& where, ClassDescriptor& out) {
    const auto too_short = [&](size_t minimum) {
      return Malformed(object_, where,
                       "bLength " + std::to_string(descriptor.size()) + " under the type's minimum of " +
                           std::to_string(minimum),
                       offset);
    };
    if (descriptor[1] == kDescHid && alternate.interface_class == kClassHid) {
      if (descriptor.size() < kHidLength) return too_short(kHidLength);
      HidDescriptor hid{Le16(descriptor, 2), descriptor[4], {}};
      const size_t count = descriptor[5];
      if (count == 0) return Malformed(object_, where, "bNumDescriptors 0 (a report descriptor is required)", offset);
      if (6 + 3 * count > descriptor.size()) {
        return Malformed(object_, where,
                         "bNumDescriptors " + std::to_string(count) + " past its bLength " +
                             std::to_string(descriptor.size()),
                         offset);
      }
      for (size_t i = 0; i < count; ++i) {
        hid.descriptors.push_back({descriptor[6 + 3 * i], Le16(descriptor, 7 + 3 * i)});
      }
      out.decoded = std::move(hid);
      return {};
    }
    if (descriptor[1] != kDescCsInterface) return {};
    if (alternate.interface_class == kClassCdc) {
      if (descriptor.size() < 3) return too_short(3);
      out.cdc_subtype = descriptor[2];
      switch (descriptor[2]) {
        case 0x00:  // Header
          if (descriptor.size() < 5) return too_short(5);
          out.decoded = CdcHeader{Le16(descriptor, 3)};
          break;
        case 0x01:  // Call Management
          if (descriptor.size() < 5) return too_short(5);
          out.decoded = CdcCallManagement{descriptor[3], descriptor[4]};
          break;
        case 0x02:  // Abstract Control Management
          if (descriptor.size() < 4) return too_short(4);
          out.decoded = CdcAcm{descriptor[3]};
          break;
        case 0x06:  // Union: the control interface, then one subordinate at least
          if (descriptor.size() < 5) return too_short(5);
          out.decoded = CdcUnion{descriptor[3], {descriptor.begin() + 4, descriptor.end()}};
          break;
        case 0x0F:  // Ethernet Networking
          if (descriptor.size() < 13) return too_short(13);
          out.decoded = CdcEthernet{descriptor[3], Le32(descriptor, 4), Le16(descriptor, 8),
                                    Le16(descriptor, 10), descriptor[12]};
          break;
        default: break;
      }
      return {};
    }
    if (alternate.interface_class == kClassMassStorage && alternate.interface_subclass == kSubclassScsi &&
        alternate.interface_protocol == kProtocolUas) {
      if (descriptor.size() < 4) return too_short(4);
      out.decoded = UasPipeUsage{descriptor[2]};
    }
    return {};
  }

  std::span<const uint8_t> bytes_;
  std::string_view object_;
  size_t& class_descriptors_;
  std::string where_;
  ConfigurationDescriptor config_;
  size_t interface_ = SIZE_MAX;  // index into config_.interfaces of the open interface
  bool endpoint_open_ = false;   // descriptors now follow the open interface's last endpoint
};

}  // namespace

const ConfigurationDescriptor* Descriptors::FindConfiguration(uint8_t value) const {
  const auto found = std::ranges::find(configurations, value, &ConfigurationDescriptor::value);
  return found == configurations.end() ? nullptr : &*found;
}

Result<Descriptors> ParseDescriptors(std::span<const uint8_t> bytes, std::string_view object,
                                     DescriptorLayout layout) {
  if (bytes.size() > kMaxDescriptorsFileSize) {
    return Fail(Status::OUT_OF_RANGE,
                "descriptors: " + std::to_string(bytes.size()) + " bytes, past the bound of " +
                    std::to_string(kMaxDescriptorsFileSize),
                std::string(object));
  }
  UDRV_TRY_ASSIGN(const auto device,
                  TakeDescriptor(bytes, 0, bytes.size(), kDeviceLength, object, "device descriptor"));
  if (device.size() != kDeviceLength) {
    // sysfs writes 18 bytes whatever bLength says; configurations follow them.
    return Malformed(object, "device descriptor",
                     "bLength " + std::to_string(device.size()) + ", not 18", 0);
  }
  if (device[1] != kDescDevice) {
    return Malformed(object, "device descriptor", "bDescriptorType " + Hex(device[1], 2) + ", not a device (0x01)", 0);
  }
  Descriptors descriptors;
  size_t class_descriptors = 0;
  descriptors.device = DeviceDescriptor{
      .usb_version = Le16(device, 2),
      .device_class = device[4],
      .device_subclass = device[5],
      .device_protocol = device[6],
      .max_packet_size0 = device[7],
      .vendor_id = Le16(device, 8),
      .product_id = Le16(device, 10),
      .device_version = Le16(device, 12),
      .manufacturer_index = device[14],
      .product_index = device[15],
      .serial_index = device[16],
      .num_configurations = device[17],
  };
  for (size_t offset = device.size(); offset < bytes.size();) {
    const size_t index = descriptors.configurations.size();
    if (index >= std::min<size_t>(descriptors.device.num_configurations, kMaxConfigurations)) {
      return Malformed(object, "configuration #" + std::to_string(index + 1),
                       "more configurations than the device's bNumConfigurations of " +
                           std::to_string(descriptors.device.num_configurations),
                       offset);
    }
    UDRV_TRY_ASSIGN(ConfigurationDescriptor configuration,
                    ConfigurationParser(bytes, object, class_descriptors)
                        .Parse(offset, index, layout, descriptors.notes));
    offset += configuration.length;
    descriptors.configurations.push_back(std::move(configuration));
  }
  return descriptors;
}

Result<BosDescriptor> ParseBos(std::span<const uint8_t> bytes, std::string_view object) {
  UDRV_TRY_ASSIGN(const auto header, TakeDescriptor(bytes, 0, bytes.size(), kBosLength, object, "BOS"));
  if (header[1] != kDescBos) {
    return Malformed(object, "BOS", "bDescriptorType " + Hex(header[1], 2) + ", not a BOS (0x0f)", 0);
  }
  BosDescriptor bos;
  bos.total_length = Le16(header, 2);
  const size_t count = header[4];
  if (bos.total_length != bytes.size()) {
    return Malformed(object, "BOS",
                     "wTotalLength " + std::to_string(bos.total_length) + " but " +
                         std::to_string(bytes.size()) + " bytes",
                     0);
  }
  for (size_t offset = header.size(); offset < bytes.size();) {
    const std::string where = "BOS, capability #" + std::to_string(bos.capabilities.size() + 1);
    UDRV_TRY_ASSIGN(const auto descriptor,
                    TakeDescriptor(bytes, offset, bytes.size(), kCapabilityLength, object, where));
    if (descriptor[1] != kDescDeviceCapability) {
      return Malformed(object, where,
                       "bDescriptorType " + Hex(descriptor[1], 2) + ", not a device capability (0x10)", offset);
    }
    if (bos.capabilities.size() >= count) {
      return Malformed(object, where,
                       "more capabilities than the BOS's bNumDeviceCaps of " + std::to_string(count), offset);
    }
    DeviceCapability capability{descriptor[2], RawOf(descriptor, offset), std::monostate{}};
    const std::string capability_where = "BOS, capability " + Hex(descriptor[2], 2);
    const auto too_short = [&](size_t minimum) {
      return Malformed(object, capability_where,
                       "bLength " + std::to_string(descriptor.size()) + " under the type's minimum of " +
                           std::to_string(minimum),
                       offset);
    };
    switch (descriptor[2]) {
      case 0x02:  // USB 2.0 Extension
        if (descriptor.size() < 7) return too_short(7);
        capability.decoded = Usb2ExtensionCapability{Le32(descriptor, 3)};
        break;
      case 0x03:  // SuperSpeed USB
        if (descriptor.size() < 10) return too_short(10);
        capability.decoded = SuperSpeedCapability{descriptor[3], Le16(descriptor, 4), descriptor[6],
                                                  descriptor[7], Le16(descriptor, 8)};
        break;
      case 0x04: {  // Container ID
        if (descriptor.size() < 20) return too_short(20);
        ContainerIdCapability container;
        std::copy_n(descriptor.begin() + 4, 16, container.container_id);
        capability.decoded = container;
        break;
      }
      case 0x0A: {  // SuperSpeedPlus: SSAC + 1 sublink speed attributes
        if (descriptor.size() < 12) return too_short(12);
        SuperSpeedPlusCapability plus{Le32(descriptor, 4), Le16(descriptor, 8), {}};
        const size_t sublinks = (plus.attributes & 0x1F) + 1;
        if (12 + 4 * sublinks > descriptor.size()) {
          return Malformed(object, capability_where,
                           std::to_string(sublinks) + " sublink speed attributes past its bLength " +
                               std::to_string(descriptor.size()),
                           offset);
        }
        for (size_t i = 0; i < sublinks; ++i) plus.sublink_speed_attributes.push_back(Le32(descriptor, 12 + 4 * i));
        capability.decoded = std::move(plus);
        break;
      }
      default: break;
    }
    bos.capabilities.push_back(std::move(capability));
    offset += descriptor.size();
  }
  return bos;
}

Result<std::string> ParseStringDescriptor(std::span<const uint8_t> bytes, std::string_view object) {
  UDRV_TRY_ASSIGN(const auto descriptor, TakeDescriptor(bytes, 0, bytes.size(), 2, object, "string descriptor"));
  if (descriptor[1] != kDescString) {
    return Malformed(object, "string descriptor",
                     "bDescriptorType " + Hex(descriptor[1], 2) + ", not a string (0x03)", 0);
  }
  if (descriptor.size() % 2 != 0) {
    return Malformed(object, "string descriptor",
                     "bLength " + std::to_string(descriptor.size()) + " is odd (UTF-16 code units are 2 bytes)", 0);
  }
  std::string text;
  for (size_t at = 2; at < descriptor.size(); at += 2) {
    uint32_t code = Le16(descriptor, at);
    if (code >= 0xDC00 && code <= 0xDFFF) {
      return Malformed(object, "string descriptor", "a lone low surrogate", at);
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
      const uint32_t low = at + 4 <= descriptor.size() ? Le16(descriptor, at + 2) : 0;
      if (low < 0xDC00 || low > 0xDFFF) {
        return Malformed(object, "string descriptor", "a lone high surrogate", at);
      }
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      at += 2;
    }
    if (code < 0x80) {
      text += static_cast<char>(code);
    } else if (code < 0x800) {
      text += static_cast<char>(0xC0 | code >> 6);
      text += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      text += static_cast<char>(0xE0 | code >> 12);
      text += static_cast<char>(0x80 | (code >> 6 & 0x3F));
      text += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      text += static_cast<char>(0xF0 | code >> 18);
      text += static_cast<char>(0x80 | (code >> 12 & 0x3F));
      text += static_cast<char>(0x80 | (code >> 6 & 0x3F));
      text += static_cast<char>(0x80 | (code & 0x3F));
    }
  }
  return text;
}

std::string_view EndpointTypeName(EndpointDescriptor::Type type) {
  switch (type) {
    case EndpointDescriptor::Type::CONTROL: return "Control";
    case EndpointDescriptor::Type::ISOCHRONOUS: return "Isochronous";
    case EndpointDescriptor::Type::BULK: return "Bulk";
    case EndpointDescriptor::Type::INTERRUPT: return "Interrupt";
  }
  return "Control";
}

}  // namespace udrv::usb
