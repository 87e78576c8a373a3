// USB descriptors (USB 3.2 §9.6, USB 2.0 §9.6), parsed from bytes a device
// sent: sysfs's `descriptors` file (the device descriptor, then every
// configuration's full set as the device returned it) or a GET_DESCRIPTOR
// answer (BOS). The bytes are hostile: every length is checked against the
// descriptor's type and the bytes left, and an error names the object (the
// device, "2-1"), the descriptor and the byte offset.
//
// Class-specific descriptors are kept raw where they appear (after the
// interface or endpoint they follow) and decoded where udrv knows the
// class: HID (0x21), CDC functional descriptors (0x24 in a CDC interface),
// mass storage's UAS pipe usage (0x24 in an 08/06/62 interface).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::usb {

// bDescriptorType values (USB 3.2 Table 9-6; class-specific from their specs).
inline constexpr uint8_t kDescDevice = 0x01;
inline constexpr uint8_t kDescConfiguration = 0x02;
inline constexpr uint8_t kDescString = 0x03;
inline constexpr uint8_t kDescInterface = 0x04;
inline constexpr uint8_t kDescEndpoint = 0x05;
inline constexpr uint8_t kDescDeviceQualifier = 0x06;
inline constexpr uint8_t kDescOtherSpeed = 0x07;
inline constexpr uint8_t kDescInterfacePower = 0x08;
inline constexpr uint8_t kDescOtg = 0x09;
inline constexpr uint8_t kDescDebug = 0x0A;
inline constexpr uint8_t kDescInterfaceAssociation = 0x0B;
inline constexpr uint8_t kDescBos = 0x0F;
inline constexpr uint8_t kDescDeviceCapability = 0x10;
inline constexpr uint8_t kDescHid = 0x21;
inline constexpr uint8_t kDescHidReport = 0x22;
inline constexpr uint8_t kDescCsInterface = 0x24;
inline constexpr uint8_t kDescCsEndpoint = 0x25;
inline constexpr uint8_t kDescHub = 0x29;
inline constexpr uint8_t kDescSuperSpeedHub = 0x2A;
inline constexpr uint8_t kDescSsEndpointCompanion = 0x30;
inline constexpr uint8_t kDescSspIsocEndpointCompanion = 0x31;

// Class codes (usb.org "Defined Class Codes").
inline constexpr uint8_t kClassPerInterface = 0x00;
inline constexpr uint8_t kClassCdc = 0x02;
inline constexpr uint8_t kClassHid = 0x03;
inline constexpr uint8_t kClassMassStorage = 0x08;
inline constexpr uint8_t kClassHub = 0x09;
inline constexpr uint8_t kClassCdcData = 0x0A;
inline constexpr uint8_t kClassVendor = 0xFF;

// Bounds on what a device may make a parser hold (a configuration's
// wTotalLength is at most 65535 bytes, so these are generous).
inline constexpr size_t kMaxConfigurations = 32;
inline constexpr size_t kMaxInterfaces = 32;           // USB 2.0 §9.6.5: bNumInterfaces
inline constexpr size_t kMaxAlternateSettings = 256;
inline constexpr size_t kMaxEndpointsPerInterface = 30;  // 15 IN + 15 OUT
inline constexpr size_t kMaxDescriptorsFileSize = 1 + 18 + kMaxConfigurations * 65535;
// Class-specific descriptors kept from one file, all configurations
// together: each costs ~100 bytes held for as few as 2 read, so a file of
// 2-byte ones would cost 50 times its size (UVC cameras, the richest in
// them, send a few hundred).
inline constexpr size_t kMaxClassDescriptors = 4096;

// A descriptor kept as it came: its type and every byte, bLength and
// bDescriptorType included. `offset` is where it began in the parsed bytes.
struct RawDescriptor {
  uint8_t type = 0;
  size_t offset = 0;
  std::vector<uint8_t> bytes;
};

struct DeviceDescriptor {
  uint16_t usb_version = 0;  // bcdUSB, BCD: 0x0320
  uint8_t device_class = 0;
  uint8_t device_subclass = 0;
  uint8_t device_protocol = 0;
  uint8_t max_packet_size0 = 0;  // the exponent form (9: 512) for USB 3, as sent
  uint16_t vendor_id = 0;
  uint16_t product_id = 0;
  uint16_t device_version = 0;  // bcdDevice
  uint8_t manufacturer_index = 0;
  uint8_t product_index = 0;
  uint8_t serial_index = 0;
  uint8_t num_configurations = 0;
};

struct SsEndpointCompanion {
  uint8_t max_burst = 0;
  uint8_t attributes = 0;  // bulk: MaxStreams in bits 4:0; isoc: Mult in 1:0
  uint16_t bytes_per_interval = 0;
};

// HID 1.11 §6.2.1.
struct HidDescriptor {
  uint16_t hid_version = 0;  // bcdHID
  uint8_t country_code = 0;
  struct ClassDescriptor {
    uint8_t type = 0;  // 0x22: report
    uint16_t length = 0;
  };
  std::vector<ClassDescriptor> descriptors;
};

// CDC 1.2 §5.2.3 functional descriptors (bDescriptorType 0x24).
struct CdcHeader {
  uint16_t cdc_version = 0;
};
struct CdcCallManagement {
  uint8_t capabilities = 0;
  uint8_t data_interface = 0;
};
struct CdcAcm {
  uint8_t capabilities = 0;
};
struct CdcUnion {
  uint8_t control_interface = 0;
  std::vector<uint8_t> subordinate_interfaces;
};
struct CdcEthernet {
  uint8_t mac_address_index = 0;
  uint32_t statistics = 0;
  uint16_t max_segment_size = 0;
  uint16_t num_mc_filters = 0;
  uint8_t num_power_filters = 0;
};
// UAS (mass storage 08/06/62) pipe usage, UAS 1.0 §5.3.3.1.
struct UasPipeUsage {
  uint8_t pipe_id = 0;  // 1 command, 2 status, 3 data-in, 4 data-out
};

// A class-specific descriptor: decoded where udrv knows it, raw always.
struct ClassDescriptor {
  RawDescriptor raw;
  std::variant<std::monostate, HidDescriptor, CdcHeader, CdcCallManagement, CdcAcm, CdcUnion,
               CdcEthernet, UasPipeUsage>
      decoded;
  uint8_t cdc_subtype = 0;  // bDescriptorSubtype of a 0x24 in a CDC interface
};

struct EndpointDescriptor {
  uint8_t address = 0;     // bit 7: IN
  uint8_t attributes = 0;  // bits 1:0 transfer type; isoc: sync and usage
  uint16_t max_packet_size = 0;  // wMaxPacketSize as sent (bits 12:11: extra transactions)
  uint8_t interval = 0;
  std::optional<SsEndpointCompanion> companion;
  std::vector<ClassDescriptor> extra;  // what followed before the next endpoint or interface

  bool is_in() const { return (address & 0x80) != 0; }
  uint8_t number() const { return address & 0x0F; }
  enum class Type : uint8_t { CONTROL = 0, ISOCHRONOUS = 1, BULK = 2, INTERRUPT = 3 };
  Type type() const { return static_cast<Type>(attributes & 0x03); }
};

// One alternate setting of an interface.
struct InterfaceDescriptor {
  uint8_t number = 0;
  uint8_t alternate_setting = 0;
  uint8_t num_endpoints = 0;  // bNumEndpoints as sent; endpoints.size() may be less (an error)
  uint8_t interface_class = 0;
  uint8_t interface_subclass = 0;
  uint8_t interface_protocol = 0;
  uint8_t interface_index = 0;  // iInterface
  std::vector<ClassDescriptor> extra;  // between this and its first endpoint
  std::vector<EndpointDescriptor> endpoints;
};

// Every alternate setting of one interface number, in the order sent.
struct Interface {
  uint8_t number = 0;
  std::vector<InterfaceDescriptor> alternates;
};

struct InterfaceAssociation {
  uint8_t first_interface = 0;
  uint8_t interface_count = 0;
  uint8_t function_class = 0;
  uint8_t function_subclass = 0;
  uint8_t function_protocol = 0;
  uint8_t function_index = 0;  // iFunction
};

struct ConfigurationDescriptor {
  uint16_t total_length = 0;  // wTotalLength as the device sent it (lsusb -v prints it)
  // The bytes this configuration took in what was parsed: wTotalLength,
  // unless the kernel kept fewer (see DescriptorLayout; Descriptors::notes).
  size_t length = 0;
  uint8_t num_interfaces = 0;
  uint8_t value = 0;  // bConfigurationValue
  uint8_t configuration_index = 0;
  uint8_t attributes = 0;  // bit 6 self powered, bit 5 remote wakeup
  uint8_t max_power = 0;   // bMaxPower as sent: 2 mA units (USB 2), 8 mA (SuperSpeed)
  std::vector<InterfaceAssociation> associations;
  std::vector<Interface> interfaces;  // by interface number, in the order first seen
  std::vector<ClassDescriptor> extra;  // class descriptors before the first interface
};

// BOS device capabilities (USB 3.2 §9.6.2).
struct Usb2ExtensionCapability {
  uint32_t attributes = 0;  // bit 1: LPM
};
struct SuperSpeedCapability {
  uint8_t attributes = 0;
  uint16_t speeds_supported = 0;
  uint8_t functionality_support = 0;
  uint8_t u1_exit_latency = 0;
  uint16_t u2_exit_latency = 0;
};
struct ContainerIdCapability {
  uint8_t container_id[16] = {};
};
struct SuperSpeedPlusCapability {
  uint32_t attributes = 0;
  uint16_t functionality_support = 0;
  std::vector<uint32_t> sublink_speed_attributes;
};
struct DeviceCapability {
  uint8_t capability_type = 0;  // bDevCapabilityType
  RawDescriptor raw;
  std::variant<std::monostate, Usb2ExtensionCapability, SuperSpeedCapability, ContainerIdCapability,
               SuperSpeedPlusCapability>
      decoded;
};
struct BosDescriptor {
  uint16_t total_length = 0;
  std::vector<DeviceCapability> capabilities;
};

// What sysfs's `descriptors` file holds: the device descriptor and each
// configuration the kernel read (USB 3.2 §9.4.3).
struct Descriptors {
  DeviceDescriptor device;
  std::vector<ConfigurationDescriptor> configurations;
  // What the bytes disagree on without being malformed, for a caller to
  // show: "configuration 1: wTotalLength 60, but the kernel kept 56 bytes".
  std::vector<std::string> notes;
  // The configuration with bConfigurationValue `value`; nullptr when none.
  const ConfigurationDescriptor* FindConfiguration(uint8_t value) const;
};

// Where a configuration's bytes end. Linux keeps of each configuration only
// what it parsed (drivers/usb/core/config.c: excess bytes under 2, or a
// descriptor with an invalid bLength, cut the rest), but the configuration
// header keeps the device's wTotalLength.
enum class DescriptorLayout : uint8_t {
  // sysfs's `descriptors` file: each configuration as the kernel kept it, so
  // it runs to the next configuration descriptor or the end, whatever
  // wTotalLength says (as libusb reads sysfs). A disagreement is a note.
  SYSFS,
  // A usbfs node's read (or a GET_DESCRIPTOR answer): each configuration
  // wTotalLength bytes, of which the kernel wrote only what it kept. The
  // reader zeroes its buffer, so a cut reads as zeros to the configuration's
  // end: a note, not an error.
  USBFS,
};

// Parses a `descriptors` file. IO_INVALID naming `object` (the device:
// "2-1"), the descriptor ("configuration 1, interface 0 alt 0, endpoint
// 0x81") and the byte offset in `bytes` for: a bLength of 0 or under its
// type's minimum, a descriptor past the end, (USBFS) a wTotalLength past the
// bytes, a device descriptor of the wrong type, more configurations,
// interfaces, alternates or endpoints than the bounds above or than the
// descriptor said, more class-specific descriptors than
// kMaxClassDescriptors. OUT_OF_RANGE for more bytes than
// kMaxDescriptorsFileSize.
Result<Descriptors> ParseDescriptors(std::span<const uint8_t> bytes, std::string_view object,
                                     DescriptorLayout layout = DescriptorLayout::SYSFS);

// Parses a BOS descriptor and its capabilities (a GET_DESCRIPTOR(BOS)
// answer), with the same checks.
Result<BosDescriptor> ParseBos(std::span<const uint8_t> bytes, std::string_view object);

// A string descriptor's UTF-16LE text as UTF-8; IO_INVALID naming `object`
// and the offset for a bad length or a lone surrogate.
Result<std::string> ParseStringDescriptor(std::span<const uint8_t> bytes, std::string_view object);

// "Bulk", "Interrupt", "Isochronous", "Control".
std::string_view EndpointTypeName(EndpointDescriptor::Type type);

}  // namespace udrv::usb
