// The descriptor parser against the testbed's recorded devices (their
// sysfs `descriptors` files, test/usb/sysfs/x86_64-q35), descriptors built
// here byte by byte from the USB, CDC, HID and UAS specifications, and
// every malformed case the parser must refuse with the descriptor and the
// byte offset named.
#include "udrv/usb/descriptors.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace udrv::usb {
namespace {

using Bytes = std::vector<uint8_t>;

const std::string kDevices = std::string(UDRV_USB_SYSFS) + "/x86_64-q35/sys/devices/pci0000:00/0000:00:05.0/";

Bytes ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  REQUIRE(file);
  return Bytes(std::istreambuf_iterator<char>(file), {});
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const Bytes& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

// A device descriptor (USB 2.0 Table 9-8) with one configuration.
Bytes DeviceDescriptorBytes(uint8_t device_class = 0xEF, uint8_t num_configurations = 1) {
  return {18, 0x01, 0x00, 0x02, device_class, 0x02, 0x01, 64, 0x34, 0x12, 0x78, 0x56, 0x00, 0x01, 1, 2, 3,
          num_configurations};
}

// A configuration header (Table 9-10) before `body`, wTotalLength computed.
Bytes Configuration(uint8_t num_interfaces, const Bytes& body, uint8_t value = 1) {
  const size_t total = 9 + body.size();
  return Cat({{9, 0x02, static_cast<uint8_t>(total & 0xFF), static_cast<uint8_t>(total >> 8), num_interfaces,
               value, 0, 0x80, 50},
              body});
}

Bytes InterfaceBytes(uint8_t number, uint8_t alternate, uint8_t endpoints, uint8_t cls, uint8_t sub, uint8_t prot) {
  return {9, 0x04, number, alternate, endpoints, cls, sub, prot, 0};
}
Bytes EndpointBytes(uint8_t address, uint8_t attributes, uint16_t max_packet, uint8_t interval) {
  return {7, 0x05, address, attributes, static_cast<uint8_t>(max_packet & 0xFF), static_cast<uint8_t>(max_packet >> 8),
          interval};
}

std::string ErrorOf(const Bytes& bytes, DescriptorLayout layout = DescriptorLayout::SYSFS) {
  const auto parsed = ParseDescriptors(bytes, "9-9", layout);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().status == Status::IO_INVALID);
  CHECK(parsed.error().object == "9-9");
  return parsed.error().what;
}

// The notes of a sysfs file that parses.
std::vector<std::string> NotesOf(const Bytes& bytes) {
  const auto parsed = ParseDescriptors(bytes, "9-9");
  REQUIRE(parsed.has_value());
  return parsed->notes;
}

TEST_CASE("the recorded usb-storage disk: SuperSpeed, bulk endpoints with their companions", "[descriptors]") {
  const auto parsed = ParseDescriptors(ReadBytes(kDevices + "usb2/2-1/descriptors"), "2-1");
  REQUIRE(parsed.has_value());
  const DeviceDescriptor& device = parsed->device;
  CHECK(device.usb_version == 0x0300);
  CHECK(device.vendor_id == 0x46f4);
  CHECK(device.product_id == 0x0001);
  CHECK(device.max_packet_size0 == 9);
  CHECK(device.num_configurations == 1);
  REQUIRE(parsed->configurations.size() == 1);
  const ConfigurationDescriptor& config = parsed->configurations[0];
  CHECK(config.total_length == 44);
  CHECK(config.value == 1);
  CHECK(config.attributes == 0xC0);
  REQUIRE(config.interfaces.size() == 1);
  REQUIRE(config.interfaces[0].alternates.size() == 1);
  const InterfaceDescriptor& storage = config.interfaces[0].alternates[0];
  CHECK(storage.interface_class == 0x08);
  CHECK(storage.interface_subclass == 0x06);
  CHECK(storage.interface_protocol == 0x50);
  REQUIRE(storage.endpoints.size() == 2);
  CHECK(storage.endpoints[0].address == 0x81);
  CHECK(storage.endpoints[0].is_in());
  CHECK(storage.endpoints[0].type() == EndpointDescriptor::Type::BULK);
  CHECK(storage.endpoints[0].max_packet_size == 1024);
  CHECK(storage.endpoints[1].address == 0x02);
  CHECK_FALSE(storage.endpoints[1].is_in());
  for (const EndpointDescriptor& endpoint : storage.endpoints) {
    REQUIRE(endpoint.companion.has_value());
    CHECK(endpoint.companion->max_burst == 15);
    CHECK(endpoint.companion->attributes == 0);
    CHECK(endpoint.extra.empty());
  }
  CHECK(parsed->FindConfiguration(1) == &config);
  CHECK(parsed->FindConfiguration(2) == nullptr);
}

TEST_CASE("the recorded keyboard and tablet: their HID descriptors decoded", "[descriptors]") {
  struct Hid {
    const char* path;
    uint8_t protocol;
    uint16_t hid_version;
    uint16_t report_length;
    uint8_t interval;
  };
  for (const Hid& expected : {Hid{"usb1/1-2/descriptors", 1, 0x0111, 63, 7},
                              Hid{"usb1/1-3/descriptors", 0, 0x0001, 74, 4}}) {
    INFO(expected.path);
    const auto parsed = ParseDescriptors(ReadBytes(kDevices + expected.path), "1-x");
    REQUIRE(parsed.has_value());
    CHECK(parsed->device.vendor_id == 0x0627);
    CHECK(parsed->device.usb_version == 0x0200);
    REQUIRE(parsed->configurations.size() == 1);
    const InterfaceDescriptor& hid = parsed->configurations[0].interfaces.at(0).alternates.at(0);
    CHECK(hid.interface_class == kClassHid);
    CHECK(hid.interface_protocol == expected.protocol);
    REQUIRE(hid.extra.size() == 1);
    CHECK(hid.extra[0].raw.type == kDescHid);
    CHECK(hid.extra[0].raw.offset == 36);
    CHECK(hid.extra[0].raw.bytes.size() == 9);
    const auto* decoded = std::get_if<HidDescriptor>(&hid.extra[0].decoded);
    REQUIRE(decoded != nullptr);
    CHECK(decoded->hid_version == expected.hid_version);
    REQUIRE(decoded->descriptors.size() == 1);
    CHECK(decoded->descriptors[0].type == kDescHidReport);
    CHECK(decoded->descriptors[0].length == expected.report_length);
    REQUIRE(hid.endpoints.size() == 1);
    CHECK(hid.endpoints[0].type() == EndpointDescriptor::Type::INTERRUPT);
    CHECK(hid.endpoints[0].interval == expected.interval);
    CHECK_FALSE(hid.endpoints[0].companion.has_value());
  }
}

TEST_CASE("the recorded root hubs: USB 2 and USB 3 with its companion", "[descriptors]") {
  const auto usb1 = ParseDescriptors(ReadBytes(kDevices + "usb1/descriptors"), "usb1");
  REQUIRE(usb1.has_value());
  CHECK(usb1->device.device_class == kClassHub);
  CHECK(usb1->device.vendor_id == 0x1d6b);
  CHECK(usb1->device.product_id == 0x0002);
  const EndpointDescriptor& hub1 = usb1->configurations.at(0).interfaces.at(0).alternates.at(0).endpoints.at(0);
  CHECK(hub1.address == 0x81);
  CHECK(hub1.max_packet_size == 4);
  CHECK_FALSE(hub1.companion.has_value());

  const auto usb2 = ParseDescriptors(ReadBytes(kDevices + "usb2/descriptors"), "usb2");
  REQUIRE(usb2.has_value());
  CHECK(usb2->device.product_id == 0x0003);
  CHECK(usb2->device.usb_version == 0x0300);
  const EndpointDescriptor& hub2 = usb2->configurations.at(0).interfaces.at(0).alternates.at(0).endpoints.at(0);
  REQUIRE(hub2.companion.has_value());
  CHECK(hub2.companion->bytes_per_interval == 2);
  CHECK(EndpointTypeName(hub2.type()) == "Interrupt");
}

// A CDC ACM function as gadgets and modems describe it (CDC 1.2 PSTN §5.3):
// an association over a communications interface with its functional
// descriptors and notification endpoint, and a data interface with two
// bulk endpoints; then a CDC ECM function's Ethernet descriptor.
TEST_CASE("CDC ACM and ECM functional descriptors and an interface association", "[descriptors]") {
  const Bytes body = Cat({
      {8, 0x0B, 0, 2, 0x02, 0x02, 0x01, 4},  // IAD: interfaces 0-1, CDC ACM
      InterfaceBytes(0, 0, 1, 0x02, 0x02, 0x01),
      {5, 0x24, 0x00, 0x20, 0x01},  // header, CDC 1.20
      {5, 0x24, 0x01, 0x03, 1},     // call management: data interface 1
      {4, 0x24, 0x02, 0x06},        // ACM capabilities
      {5, 0x24, 0x06, 0, 1},        // union: control 0, subordinate 1
      EndpointBytes(0x83, 0x03, 16, 9),
      InterfaceBytes(1, 0, 2, 0x0A, 0x00, 0x00),
      EndpointBytes(0x81, 0x02, 512, 0),
      EndpointBytes(0x02, 0x02, 512, 0),
      InterfaceBytes(2, 0, 0, 0x02, 0x06, 0x00),
      {13, 0x24, 0x0F, 5, 0x01, 0x00, 0x00, 0x00, 0xEA, 0x05, 0x00, 0x00, 0x00},  // Ethernet: iMAC 5, MTU 1514
      {7, 0x24, 0x1A, 1, 2, 3, 4},  // an undecoded subtype kept raw
  });
  const auto parsed = ParseDescriptors(Cat({DeviceDescriptorBytes(), Configuration(3, body)}), "cdc");
  REQUIRE(parsed.has_value());
  const ConfigurationDescriptor& config = parsed->configurations.at(0);
  REQUIRE(config.associations.size() == 1);
  CHECK(config.associations[0].first_interface == 0);
  CHECK(config.associations[0].interface_count == 2);
  CHECK(config.associations[0].function_class == 0x02);
  CHECK(config.associations[0].function_index == 4);
  REQUIRE(config.interfaces.size() == 3);

  const InterfaceDescriptor& control = config.interfaces[0].alternates.at(0);
  REQUIRE(control.extra.size() == 4);
  CHECK(control.extra[0].cdc_subtype == 0x00);
  CHECK(std::get<CdcHeader>(control.extra[0].decoded).cdc_version == 0x0120);
  CHECK(std::get<CdcCallManagement>(control.extra[1].decoded).capabilities == 0x03);
  CHECK(std::get<CdcCallManagement>(control.extra[1].decoded).data_interface == 1);
  CHECK(std::get<CdcAcm>(control.extra[2].decoded).capabilities == 0x06);
  const auto& cdc_union = std::get<CdcUnion>(control.extra[3].decoded);
  CHECK(cdc_union.control_interface == 0);
  CHECK(cdc_union.subordinate_interfaces == std::vector<uint8_t>{1});
  REQUIRE(control.endpoints.size() == 1);
  CHECK(control.endpoints[0].address == 0x83);

  const InterfaceDescriptor& data = config.interfaces[1].alternates.at(0);
  CHECK(data.interface_class == kClassCdcData);
  REQUIRE(data.endpoints.size() == 2);
  CHECK(EndpointTypeName(data.endpoints[1].type()) == "Bulk");

  const InterfaceDescriptor& ecm = config.interfaces[2].alternates.at(0);
  REQUIRE(ecm.extra.size() == 2);
  const auto& ethernet = std::get<CdcEthernet>(ecm.extra[0].decoded);
  CHECK(ethernet.mac_address_index == 5);
  CHECK(ethernet.statistics == 1);
  CHECK(ethernet.max_segment_size == 1514);
  CHECK(ecm.extra[1].cdc_subtype == 0x1A);
  CHECK(std::holds_alternative<std::monostate>(ecm.extra[1].decoded));
  CHECK(ecm.extra[1].raw.bytes == Bytes{7, 0x24, 0x1A, 1, 2, 3, 4});
}

// UAS 1.0 §5.3: alternate 1 of a mass-storage interface speaks UAS, each
// endpoint followed by its companion and its pipe usage descriptor.
TEST_CASE("a UAS alternate setting: pipe usage descriptors after SuperSpeed companions", "[descriptors]") {
  Bytes body = Cat({InterfaceBytes(0, 0, 2, 0x08, 0x06, 0x50), EndpointBytes(0x81, 0x02, 1024, 0),
                    {6, 0x30, 0, 0, 0, 0}, EndpointBytes(0x02, 0x02, 1024, 0), {6, 0x30, 0, 0, 0, 0},
                    InterfaceBytes(0, 1, 4, 0x08, 0x06, 0x62)});
  const uint8_t pipes[][2] = {{0x01, 1}, {0x82, 2}, {0x83, 3}, {0x04, 4}};
  for (const auto& [address, pipe] : pipes) {
    body = Cat({body, EndpointBytes(address, 0x02, 1024, 0), {6, 0x30, 0, 4, 0, 0}, {4, 0x24, pipe, 0}});
  }
  const auto parsed = ParseDescriptors(Cat({DeviceDescriptorBytes(0), Configuration(1, body)}), "uas");
  REQUIRE(parsed.has_value());
  const Interface& interface = parsed->configurations.at(0).interfaces.at(0);
  REQUIRE(interface.alternates.size() == 2);
  CHECK(interface.alternates[0].endpoints[0].extra.empty());
  const InterfaceDescriptor& uas = interface.alternates[1];
  REQUIRE(uas.endpoints.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(uas.endpoints[i].companion->attributes == 4);  // MaxStreams: 16
    REQUIRE(uas.endpoints[i].extra.size() == 1);
    CHECK(std::get<UasPipeUsage>(uas.endpoints[i].extra[0].decoded).pipe_id == pipes[i][1]);
  }
}

TEST_CASE("class descriptors udrv does not decode stay raw where they appear", "[descriptors]") {
  const Bytes body = Cat({
      {4, 0x44, 0xAA, 0xBB},  // before any interface: the configuration's
      InterfaceBytes(0, 0, 1, 0xFE, 0x01, 0x01),
      {9, 0x21, 0x0B, 0xFF, 0x00, 0x00, 0x10, 0x10, 0x01},  // DFU functional: 0x21 outside HID
      EndpointBytes(0x81, 0x01, 192, 1),
      {9, 0x25, 0x01, 0, 0, 0, 0, 0, 0},  // a class endpoint descriptor
  });
  const auto parsed = ParseDescriptors(Cat({DeviceDescriptorBytes(0), Configuration(1, body)}), "raw");
  REQUIRE(parsed.has_value());
  const ConfigurationDescriptor& config = parsed->configurations.at(0);
  REQUIRE(config.extra.size() == 1);
  CHECK(config.extra[0].raw.offset == 27);
  const InterfaceDescriptor& dfu = config.interfaces.at(0).alternates.at(0);
  REQUIRE(dfu.extra.size() == 1);
  CHECK(std::holds_alternative<std::monostate>(dfu.extra[0].decoded));
  REQUIRE(dfu.endpoints.at(0).extra.size() == 1);
  CHECK(dfu.endpoints[0].extra[0].raw.type == kDescCsEndpoint);
  CHECK(EndpointTypeName(dfu.endpoints[0].type()) == "Isochronous");
}

TEST_CASE("BOS: USB 2.0 extension, SuperSpeed, container ID and SuperSpeedPlus capabilities", "[descriptors]") {
  const Bytes capabilities = Cat({
      {7, 0x10, 0x02, 0x06, 0x00, 0x00, 0x00},                    // LPM
      {10, 0x10, 0x03, 0x00, 0x0E, 0x00, 0x01, 0x0A, 0xFF, 0x07},  // FS|HS|SS, U1 10 us, U2 2047 us
      {20, 0x10, 0x04, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
      {20, 0x10, 0x0A, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00,  // SSAC 1: two sublinks
       0x30, 0x40, 0x0A, 0x00, 0xB0, 0x40, 0x0A, 0x00},
      {5, 0x10, 0x05, 0xAB, 0xCD},  // platform capability (too short for its fields): raw
  });
  const size_t total = 5 + capabilities.size();
  const Bytes bos = Cat({{5, 0x0F, static_cast<uint8_t>(total), 0, 5}, capabilities});
  const auto parsed = ParseBos(bos, "2-1");
  REQUIRE(parsed.has_value());
  CHECK(parsed->total_length == total);
  REQUIRE(parsed->capabilities.size() == 5);
  CHECK(std::get<Usb2ExtensionCapability>(parsed->capabilities[0].decoded).attributes == 0x06);
  const auto& ss = std::get<SuperSpeedCapability>(parsed->capabilities[1].decoded);
  CHECK(ss.speeds_supported == 0x000E);
  CHECK(ss.u1_exit_latency == 0x0A);
  CHECK(ss.u2_exit_latency == 0x07FF);
  CHECK(std::get<ContainerIdCapability>(parsed->capabilities[2].decoded).container_id[15] == 16);
  const auto& plus = std::get<SuperSpeedPlusCapability>(parsed->capabilities[3].decoded);
  CHECK(plus.attributes == 1);
  CHECK(plus.functionality_support == 0x1100);
  CHECK(plus.sublink_speed_attributes == std::vector<uint32_t>{0x000A4030, 0x000A40B0});
  CHECK(parsed->capabilities[4].capability_type == 0x05);
  CHECK(std::holds_alternative<std::monostate>(parsed->capabilities[4].decoded));
  CHECK(parsed->capabilities[4].raw.offset == total - 5);
}

TEST_CASE("malformed BOS descriptors name the capability and the offset", "[descriptors]") {
  const auto error = [](const Bytes& bytes) {
    const auto parsed = ParseBos(bytes, "2-1");
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().status == Status::IO_INVALID);
    return parsed.error().what;
  };
  CHECK(error({5, 0x02, 5, 0, 0}) == "BOS: bDescriptorType 0x02, not a BOS (0x0f) (at byte offset 0)");
  CHECK(error({5, 0x0F, 9, 0, 1}) == "BOS: wTotalLength 9 but 5 bytes (at byte offset 0)");
  CHECK(error({5, 0x0F, 8, 0, 1, 0, 0x10, 2}) ==
        "BOS, capability #1: bLength 0 (at byte offset 5)");
  CHECK(error({5, 0x0F, 10, 0, 0, 3, 0x10, 0x02, 0, 0}) ==
        "BOS, capability #1: more capabilities than the BOS's bNumDeviceCaps of 0 (at byte offset 5)");
  CHECK(error({5, 0x0F, 10, 0, 1, 5, 0x10, 0x02, 0, 0}) ==
        "BOS, capability 0x02: bLength 5 under the type's minimum of 7 (at byte offset 5)");
  CHECK(error({5, 0x0F, 8, 0, 1, 3, 0x04, 0x02}) ==
        "BOS, capability #1: bDescriptorType 0x04, not a device capability (0x10) (at byte offset 5)");
  CHECK(error({5, 0x0F, 17, 0, 1, 12, 0x10, 0x0A, 0, 0x01, 0, 0, 0, 0, 0, 0, 0}) ==
        "BOS, capability 0x0a: 2 sublink speed attributes past its bLength 12 (at byte offset 5)");
}

TEST_CASE("string descriptors: UTF-16LE to UTF-8, surrogate pairs, refusals", "[descriptors]") {
  CHECK(ParseStringDescriptor(Bytes{10, 0x03, 'Q', 0, 'E', 0, 'M', 0, 'U', 0}, "s").value() == "QEMU");
  // "é€😀": two-, three- and four-byte UTF-8.
  CHECK(ParseStringDescriptor(Bytes{10, 0x03, 0xE9, 0x00, 0xAC, 0x20, 0x3D, 0xD8, 0x00, 0xDE}, "s").value() ==
        "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  // Bytes past bLength are not the string's.
  CHECK(ParseStringDescriptor(Bytes{4, 0x03, 'h', 0, 'i', 0}, "s").value() == "h");
  const auto error = [](const Bytes& bytes) {
    const auto parsed = ParseStringDescriptor(bytes, "1-2");
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().status == Status::IO_INVALID);
    CHECK(parsed.error().object == "1-2");
    return parsed.error().what;
  };
  CHECK(error({}) == "string descriptor: 0 byte(s) left, a descriptor needs 2 (at byte offset 0)");
  CHECK(error({0, 0x03}) == "string descriptor: bLength 0 (at byte offset 0)");
  CHECK(error({8, 0x03, 'a', 0}) == "string descriptor: bLength 8 past the end (4 byte(s) left) (at byte offset 0)");
  CHECK(error({3, 0x03, 'a'}) ==
        "string descriptor: bLength 3 is odd (UTF-16 code units are 2 bytes) (at byte offset 0)");
  CHECK(error({4, 0x02, 'a', 0}) == "string descriptor: bDescriptorType 0x02, not a string (0x03) (at byte offset 0)");
  CHECK(error({6, 0x03, 'a', 0, 0x00, 0xDC}) == "string descriptor: a lone low surrogate (at byte offset 4)");
  CHECK(error({6, 0x03, 0x00, 0xD8, 'a', 0}) == "string descriptor: a lone high surrogate (at byte offset 2)");
  CHECK(error({4, 0x03, 0x00, 0xD8}) == "string descriptor: a lone high surrogate (at byte offset 2)");
}

TEST_CASE("malformed descriptors name the device, the descriptor and the byte offset", "[descriptors]") {
  const Bytes device = DeviceDescriptorBytes(0);
  const Bytes storage = Cat({InterfaceBytes(0, 0, 2, 0x08, 0x06, 0x50), EndpointBytes(0x81, 0x02, 512, 0),
                             EndpointBytes(0x02, 0x02, 512, 0)});
  // A good file, then each way of breaking it.
  REQUIRE(ParseDescriptors(Cat({device, Configuration(1, storage)}), "9-9").has_value());

  SECTION("the device descriptor") {
    CHECK(ErrorOf({}) == "device descriptor: 0 byte(s) left, a descriptor needs 2 (at byte offset 0)");
    CHECK(ErrorOf({0, 1}) == "device descriptor: bLength 0 (at byte offset 0)");
    CHECK(ErrorOf({8, 1, 0, 2, 0, 0, 0, 64}) ==
          "device descriptor: bLength 8 under the type's minimum of 18 (at byte offset 0)");
    CHECK(ErrorOf({18, 1, 0, 2}) == "device descriptor: bLength 18 past the end (4 byte(s) left) (at byte offset 0)");
    Bytes wrong_type = device;
    wrong_type[1] = 0x02;
    CHECK(ErrorOf(wrong_type) == "device descriptor: bDescriptorType 0x02, not a device (0x01) (at byte offset 0)");
    Bytes longer = Cat({device, {0, 0}});
    longer[0] = 20;
    CHECK(ErrorOf(longer) == "device descriptor: bLength 20, not 18 (at byte offset 0)");
  }
  SECTION("configurations") {
    CHECK(ErrorOf(Cat({device, {9, 0x02, 9}})) ==
          "configuration #1: bLength 9 past the end (3 byte(s) left) (at byte offset 18)");
    CHECK(ErrorOf(Cat({device, {9, 0x04, 9, 0, 0, 1, 0, 0x80, 50}})) ==
          "configuration #1: bDescriptorType 0x04, not a configuration (0x02) (at byte offset 18)");
    // In a sysfs file a configuration runs to the next one, whatever its
    // wTotalLength says (the kernel cut what it did not parse): a note. A
    // usbfs read keeps wTotalLength bytes, so there it must fit.
    const Bytes past = Cat({device, {9, 0x02, 200, 0, 0, 1, 0, 0x80, 50}});
    CHECK(NotesOf(past) == std::vector<std::string>{"configuration 1: wTotalLength 200 but 9 bytes of descriptors "
                                                    "(the kernel cuts excess bytes and a descriptor with an "
                                                    "invalid bLength)"});
    CHECK(ErrorOf(past, DescriptorLayout::USBFS) ==
          "configuration 1: wTotalLength 200 past the end (9 byte(s) left) (at byte offset 18)");
    const Bytes under = Cat({device, {9, 0x02, 4, 0, 0, 1, 0, 0x80, 50}});
    CHECK(NotesOf(under).size() == 1);
    CHECK(ErrorOf(under, DescriptorLayout::USBFS) ==
          "configuration 1: wTotalLength 4 under its bLength 9 (at byte offset 18)");
    // wTotalLength short of the descriptors: in usbfs's layout what is left is no configuration.
    Bytes short_total = Cat({device, Configuration(1, storage)});
    short_total[20] = static_cast<uint8_t>(short_total[20] - 7);
    CHECK(NotesOf(short_total).size() == 1);
    CHECK(ErrorOf(short_total, DescriptorLayout::USBFS) ==
          "configuration #2: more configurations than the device's bNumConfigurations of 1 (at byte offset 43)");
    Bytes two = DeviceDescriptorBytes(0, 2);
    short_total = Cat({two, Configuration(1, storage)});
    short_total[20] = static_cast<uint8_t>(short_total[20] - 7);
    CHECK(ErrorOf(short_total, DescriptorLayout::USBFS) ==
          "configuration #2: bLength 7 under the type's minimum of 9 (at byte offset 43)");
    // wTotalLength cutting a descriptor in two.
    Bytes cut = Cat({device, Configuration(1, storage)});
    cut[20] = static_cast<uint8_t>(cut[20] - 3);
    CHECK(NotesOf(cut).size() == 1);
    CHECK(ErrorOf(cut, DescriptorLayout::USBFS) ==
          "configuration 1, interface 0 alt 0, endpoint 0x81, descriptor 0x05: bLength 7 past "
          "the end (4 byte(s) left) (at byte offset 43)");
    for (const DescriptorLayout layout : {DescriptorLayout::SYSFS, DescriptorLayout::USBFS}) {
      CHECK(ErrorOf(Cat({device, Configuration(1, storage), Configuration(1, storage, 2)}), layout) ==
            "configuration #2: more configurations than the device's bNumConfigurations of 1 (at byte offset 50)");
    }
    // The kernel cuts excess bytes under 2: in a sysfs file they are malformed.
    CHECK(ErrorOf(Cat({device, Configuration(1, storage), {1}})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x02: 1 byte(s) left, a descriptor needs 2 (at byte "
          "offset 50)");
    CHECK(ErrorOf(Cat({device, Configuration(1, storage), {1}}), DescriptorLayout::USBFS) ==
          "configuration #2: more configurations than the device's bNumConfigurations of 1 (at byte offset 50)");
  }
  SECTION("descriptors inside a configuration") {
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, {0, 0x24}}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x02, descriptor 0x24: bLength 0 (at byte offset 50)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, {1}}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x02: 1 byte(s) left, a descriptor needs 2 (at byte "
          "offset 50)");
    CHECK(ErrorOf(Cat({device, Configuration(1, {5, 0x04, 0, 0, 0})})) ==
          "configuration 1, interface 0 alt 0: bLength 5 under the type's minimum of 9 (at byte offset 27)");
    CHECK(ErrorOf(Cat({device, Configuration(1, {2, 0x04})})) ==
          "configuration 1, interface ? alt ?: bLength 2 under the type's minimum of 9 (at byte offset 27)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({InterfaceBytes(0, 0, 1, 8, 6, 0x50),
                                                    {6, 0x05, 0x81, 2, 0, 2}}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x81: bLength 6 under the type's minimum of 7 (at byte "
          "offset 36)");
    CHECK(ErrorOf(Cat({device, Configuration(1, EndpointBytes(0x81, 2, 512, 0))})) ==
          "configuration 1, endpoint 0x81: an endpoint outside any interface (at byte offset 27)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({InterfaceBytes(0, 0, 1, 8, 6, 0x50),
                                                    EndpointBytes(0x00, 2, 512, 0)}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x00: endpoint number 0 (the default control pipe has no "
          "descriptor) (at byte offset 36)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({InterfaceBytes(0, 0, 2, 8, 6, 0x50),
                                                    EndpointBytes(0x81, 2, 512, 0),
                                                    EndpointBytes(0x81, 2, 512, 0)}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x81: a second endpoint of that address "
          "(at byte offset 43)");
    // A configuration descriptor ends the configuration in a sysfs file, not in usbfs's layout.
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, {9, 0x02, 9, 0, 0, 1, 0, 0, 0}}))})) ==
          "configuration #2: more configurations than the device's bNumConfigurations of 1 (at byte offset 50)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, {9, 0x02, 9, 0, 0, 1, 0, 0, 0}}))}),
                  DescriptorLayout::USBFS) ==
          "configuration 1, interface 0 alt 0, endpoint 0x02, descriptor 0x02: a descriptor of type 0x02 inside "
          "a configuration (at byte offset 50)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, DeviceDescriptorBytes()}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x02, descriptor 0x01: a descriptor of type 0x01 inside "
          "a configuration (at byte offset 50)");
  }
  SECTION("more interfaces, alternates or endpoints than said or bounded") {
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, InterfaceBytes(1, 0, 0, 0xFF, 0, 0)}))})) ==
          "configuration 1, interface 1 alt 0: more interfaces than the configuration's bNumInterfaces of 1 (at "
          "byte offset 50)");
    Bytes many;
    for (uint8_t i = 0; i <= kMaxInterfaces; ++i) many = Cat({many, InterfaceBytes(i, 0, 0, 0xFF, 0, 0)});
    CHECK(ErrorOf(Cat({device, Configuration(255, many)})) ==
          "configuration 1, interface 32 alt 0: more interfaces than the configuration's bNumInterfaces of 255 "
          "(bound 32) (at byte offset 315)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({InterfaceBytes(0, 0, 1, 8, 6, 0x50),
                                                    EndpointBytes(0x81, 2, 512, 0),
                                                    EndpointBytes(0x02, 2, 512, 0)}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x02: more endpoints than the interface's "
          "bNumEndpoints of 1 (at byte offset 43)");
    CHECK(ErrorOf(Cat({device, Configuration(1, InterfaceBytes(0, 0, 31, 0xFF, 0, 0))})) ==
          "configuration 1, interface 0 alt 0: bNumEndpoints 31 past the bound of 30 (at byte offset 27)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, InterfaceBytes(0, 0, 0, 8, 6, 0x50)}))})) ==
          "configuration 1, interface 0 alt 0: a second alternate setting 0 (at byte offset 50)");
    Bytes alternates;
    for (size_t i = 0; i <= kMaxAlternateSettings; ++i) {
      alternates = Cat({alternates, InterfaceBytes(0, static_cast<uint8_t>(i), 0, 0xFF, 0, 0)});
    }
    CHECK(ErrorOf(Cat({device, Configuration(1, alternates)})) ==
          "configuration 1, interface 0 alt 0: more than 256 alternate settings (at byte offset 2331)");
  }
  SECTION("companions and class descriptors") {
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({InterfaceBytes(0, 0, 0, 8, 6, 0x50), {6, 0x30, 0, 0, 0, 0}}))})) ==
          "configuration 1, interface 0 alt 0, SuperSpeed endpoint companion: a companion that does not follow "
          "an endpoint (at byte offset 36)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, {6, 0x30, 0, 0, 0, 0}, {6, 0x30, 0, 0, 0, 0}}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x02, SuperSpeed endpoint companion: a companion that "
          "does not follow an endpoint (at byte offset 56)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({storage, {4, 0x30, 0, 0}}))})) ==
          "configuration 1, interface 0 alt 0, endpoint 0x02, SuperSpeed endpoint companion: bLength 4 under "
          "the type's minimum of 6 (at byte offset 50)");
    CHECK(ErrorOf(Cat({device, Configuration(1, {4, 0x0B, 0, 2})})) ==
          "configuration 1, interface association: bLength 4 under the type's minimum of 8 (at byte offset 27)");
    const Bytes hid_interface = InterfaceBytes(0, 0, 0, 0x03, 0, 0);
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({hid_interface, {6, 0x21, 0x11, 0x01, 0, 1}}))})) ==
          "configuration 1, interface 0 alt 0, descriptor 0x21: bLength 6 under the type's minimum of 9 (at byte "
          "offset 36)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({hid_interface, {9, 0x21, 0x11, 0x01, 0, 2, 0x22, 63, 0}}))})) ==
          "configuration 1, interface 0 alt 0, descriptor 0x21: bNumDescriptors 2 past its bLength 9 (at byte "
          "offset 36)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({hid_interface, {9, 0x21, 0x11, 0x01, 0, 0, 0x22, 63, 0}}))})) ==
          "configuration 1, interface 0 alt 0, descriptor 0x21: bNumDescriptors 0 (a report descriptor is "
          "required) (at byte offset 36)");
    const Bytes cdc_interface = InterfaceBytes(0, 0, 0, 0x02, 0x02, 0x01);
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({cdc_interface, {2, 0x24}}))})) ==
          "configuration 1, interface 0 alt 0, descriptor 0x24: bLength 2 under the type's minimum of 3 (at byte "
          "offset 36)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({cdc_interface, {4, 0x24, 0x06, 0}}))})) ==
          "configuration 1, interface 0 alt 0, descriptor 0x24: bLength 4 under the type's minimum of 5 (at byte "
          "offset 36)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({cdc_interface, {12, 0x24, 0x0F, 0, 0, 0, 0, 0, 0, 0, 0, 0}}))})) ==
          "configuration 1, interface 0 alt 0, descriptor 0x24: bLength 12 under the type's minimum of 13 (at "
          "byte offset 36)");
    CHECK(ErrorOf(Cat({device, Configuration(1, Cat({InterfaceBytes(0, 0, 0, 0x08, 0x06, 0x62), {3, 0x24, 1}}))})) ==
          "configuration 1, interface 0 alt 0, descriptor 0x24: bLength 3 under the type's minimum of 4 (at byte "
          "offset 36)");
  }
}

// What the kernel leaves of a device whose first configuration says more
// than it holds ("config 1 descriptor has 1 excess byte, ignoring") and whose
// second came short ("descriptor too short"): each configuration as parsed,
// the header as sent.
TEST_CASE("a configuration whose wTotalLength says more than the kernel kept: a note, and the next is found",
          "[descriptors]") {
  const Bytes storage = Cat({InterfaceBytes(0, 0, 2, 0x08, 0x06, 0x50), EndpointBytes(0x81, 0x02, 512, 0),
                             EndpointBytes(0x02, 0x02, 512, 0)});
  Bytes first = Configuration(1, storage, 1);
  first[2] = static_cast<uint8_t>(first[2] + 1);  // 33 said, 32 kept
  Bytes second = Configuration(1, InterfaceBytes(0, 0, 0, 0xFF, 0, 0), 2);
  second[2] = 64;  // 64 said, 18 kept
  const Bytes sysfs = Cat({DeviceDescriptorBytes(0, 2), first, second});

  const auto parsed = ParseDescriptors(sysfs, "9-9");
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->configurations.size() == 2);
  CHECK(parsed->configurations[0].total_length == 33);
  CHECK(parsed->configurations[0].length == 32);
  CHECK(parsed->configurations[0].interfaces.at(0).alternates.at(0).endpoints.size() == 2);
  const ConfigurationDescriptor* found = parsed->FindConfiguration(2);
  REQUIRE(found != nullptr);
  CHECK(found->total_length == 64);
  CHECK(found->length == 18);
  CHECK(found->interfaces.at(0).alternates.at(0).interface_class == 0xFF);
  CHECK(parsed->notes ==
        std::vector<std::string>{
            "configuration 1: wTotalLength 33 but 32 bytes of descriptors (the kernel cuts excess bytes and a "
            "descriptor with an invalid bLength)",
            "configuration 2: wTotalLength 64 but 18 bytes of descriptors (the kernel cuts excess bytes and a "
            "descriptor with an invalid bLength)"});

  // The same device read from its usbfs node: each configuration wTotalLength
  // bytes, what the kernel did not keep left as the reader's zeros.
  const Bytes usbfs = Cat({DeviceDescriptorBytes(0, 2), first, Bytes(1, 0), second, Bytes(64 - 18, 0)});
  const auto read = ParseDescriptors(usbfs, "9-9", DescriptorLayout::USBFS);
  REQUIRE(read.has_value());
  REQUIRE(read->configurations.size() == 2);
  CHECK(read->configurations[1].value == 2);
  CHECK(read->configurations[1].interfaces.size() == 1);
  CHECK(read->notes == parsed->notes);
  // Bytes that are not zeros there are no cut: malformed.
  Bytes garbage = usbfs;
  garbage[18 + 33 + 18 + 5] = 0x24;
  CHECK(ErrorOf(garbage, DescriptorLayout::USBFS) ==
        "configuration 2, interface 0 alt 0, descriptor 0x00: bLength 0 (at byte offset 69)");
}

TEST_CASE("class-specific descriptors are bounded across the file, not only by its size", "[descriptors]") {
  // 2-byte class descriptors cost ~50 times their bytes once kept: the
  // bound counts them over every configuration.
  const auto config_of = [](uint8_t value, size_t count) {
    Bytes body = InterfaceBytes(0, 0, 0, 0xFF, 0, 0);
    for (size_t i = 0; i < count; ++i) body.insert(body.end(), {2, 0x24});
    return Configuration(1, body, value);
  };
  const size_t half = kMaxClassDescriptors / 2;
  const auto at_bound = ParseDescriptors(
      Cat({DeviceDescriptorBytes(0, 2), config_of(1, half), config_of(2, kMaxClassDescriptors - half)}), "9-9");
  REQUIRE(at_bound.has_value());
  CHECK(at_bound->configurations[1].interfaces[0].alternates[0].extra.size() == kMaxClassDescriptors - half);

  const Bytes past = Cat({DeviceDescriptorBytes(0, 2), config_of(1, half), config_of(2, kMaxClassDescriptors - half + 1)});
  const size_t last = past.size() - 2;
  CHECK(ErrorOf(past) == "configuration 2, interface 0 alt 0, descriptor 0x24: more than " +
                             std::to_string(kMaxClassDescriptors) + " class-specific descriptors (at byte offset " +
                             std::to_string(last) + ")");
}

TEST_CASE("more bytes than any descriptors file holds are OUT_OF_RANGE", "[descriptors]") {
  const Bytes huge(kMaxDescriptorsFileSize + 1, 0);
  const auto parsed = ParseDescriptors(huge, "9-9");
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().status == Status::OUT_OF_RANGE);
}

}  // namespace
}  // namespace udrv::usb
