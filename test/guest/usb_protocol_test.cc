// The usb::Device protocol over usbfs (UsbBus::Open) on the x86_64 guests'
// qemu-xhci devices, with Linux as the oracle: the usb-storage disk at 2-1
// (interface 08/06/50, bulk 0x81/0x02, LBA 0 starts with
// UDRV-TESTBED-usb-DISK) for "[usb-protocol]", usb-kbd at 1-2 and usb-tablet
// at 1-3 (usbhid) for "[usb-protocol-hid]", the refusals for
// "[usb-protocol-refused]", and the controller taken away under an open
// device for "[usb-protocol-gone]" (its devices come back afterwards).
//
// The disk is spoken to in raw Bulk-Only Transport: each test builds its
// 31-byte CBWs itself. QEMU's usb-storage stalls what BOT does not allow
// (a bad CBW, an IN with no command) rather than NAKing it.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "result_helpers.h"
#include "udrv/core/port.h"
#include "udrv/usb/usb_bus.h"
#include "usb_guest.h"

namespace {

using udrv::Status;
using udrv::bus::DeviceNode;
using udrv::usb::Device;
using udrv::usb::UsbBus;
using udrv::testing::UsbDriverOf;
using udrv::testing::WaitFor;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kDisk[] = "2-1";
constexpr char kDiskInterface[] = "2-1:1.0";
constexpr char kKeyboard[] = "1-2";
constexpr char kTablet[] = "1-3";
constexpr uint8_t kBulkIn = 0x81;
constexpr uint8_t kBulkOut = 0x02;
constexpr char kDiskMarker[] = "UDRV-TESTBED-usb-DISK";
constexpr udrv::Duration kSecond = 1'000'000'000;

std::vector<uint8_t> ReadBytes(const std::string& path, size_t limit) {
  std::ifstream file(path, std::ios::binary);
  std::vector<uint8_t> bytes(limit);
  file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(limit));
  bytes.resize(static_cast<size_t>(file.gcount()));
  return bytes;
}

std::unique_ptr<UsbBus> LiveBus() {
  auto bus = UsbBus::Create();
  if (!bus) FAIL("the USB bus on this guest: " << bus.error().ToString());
  return std::move(*bus);
}

// The node of `device` ("2-1"), or of its interface `interface`.
DeviceNode NodeOf(const UsbBus& bus, const std::string& device, std::optional<uint32_t> interface) {
  auto nodes = bus.Enumerate();
  REQUIRE_OK(nodes);
  for (const DeviceNode& node : *nodes) {
    if (node.properties.FindString(udrv::usb::kPropDevice) != device) continue;
    if (node.properties.FindNumber(udrv::usb::kPropInterface) == interface) return node;
  }
  FAIL("no node for " << device << (interface ? " interface " + std::to_string(*interface) : ""));
  return {};
}

// A device opened for a test: the bound device and its protocol. A test
// that stops early still gives the device back to Linux for the next.
struct Opened {
  std::unique_ptr<udrv::bus::BoundDevice> bound;
  Device* device = nullptr;
  ~Opened() {
    if (bound) (void)bound->Release({.restore_kernel_driver = true});
  }
};

Opened Open(UsbBus& bus, const std::string& device, uint32_t interface) {
  auto bound = bus.Open(NodeOf(bus, device, interface));
  REQUIRE_OK(bound);
  auto protocol = (*bound)->protocols().Get<Device>();
  REQUIRE_OK(protocol);
  return {std::move(*bound), *protocol};
}

void ReleaseRestoring(Opened& opened) {
  auto report = opened.bound->Release({.restore_kernel_driver = true});
  REQUIRE_OK(report);
  INFO(report->ToString());
  CHECK(report->ok());
}

// A Bulk-Only Transport command block wrapper (BOT 1.0 §5.1).
std::array<std::byte, 31> Cbw(uint32_t tag, uint32_t data_length, bool in,
                              std::initializer_list<uint8_t> command, uint32_t signature = 0x43425355) {
  std::array<std::byte, 31> cbw{};
  const auto put32 = [&cbw](size_t offset, uint32_t value) {
    for (size_t i = 0; i < 4; ++i) cbw[offset + i] = std::byte(static_cast<uint8_t>(value >> (8 * i)));
  };
  put32(0, signature);
  put32(4, tag);
  put32(8, data_length);
  cbw[12] = std::byte(in ? 0x80 : 0x00);
  cbw[13] = std::byte(0);  // LUN
  cbw[14] = std::byte(static_cast<uint8_t>(command.size()));
  size_t i = 15;
  for (uint8_t byte : command) cbw[i++] = std::byte(byte);
  return cbw;
}

uint32_t Le32(std::span<const std::byte> bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value |= std::to_integer<uint32_t>(bytes[offset + i]) << (8 * i);
  return value;
}

void SendCbw(Device& device, std::array<std::byte, 31> cbw) {
  auto sent = device.Bulk(kBulkOut, cbw, kSecond);
  REQUIRE_OK(sent);
  REQUIRE(*sent == cbw.size());
}

// Reads the command status wrapper of `tag`: good, nothing left over.
void ExpectGoodCsw(Device& device, uint32_t tag) {
  std::array<std::byte, 13> csw{};
  auto read = device.Bulk(kBulkIn, csw, kSecond);
  REQUIRE_OK(read);
  REQUIRE(*read == csw.size());
  CHECK(Le32(csw, 0) == 0x53425355);  // "USBS"
  CHECK(Le32(csw, 4) == tag);
  CHECK(Le32(csw, 8) == 0);           // residue
  CHECK(std::to_integer<int>(csw[12]) == 0);
}

// INQUIRY's 36 bytes of standard data, over raw BOT.
std::string Inquiry(Device& device, uint32_t tag) {
  SendCbw(device, Cbw(tag, 36, true, {0x12, 0, 0, 0, 36, 0}));
  std::array<std::byte, 36> data{};
  auto read = device.Bulk(kBulkIn, data, kSecond);
  REQUIRE_OK(read);
  REQUIRE(*read == data.size());
  ExpectGoodCsw(device, tag);
  return std::string(reinterpret_cast<const char*>(data.data()), data.size());
}

void CheckInquiry(Device& device, uint32_t tag) {
  const std::string inquiry = Inquiry(device, tag);
  CHECK(inquiry.substr(8, 8) == "QEMU    ");
  CHECK(inquiry.substr(16, 13) == "QEMU HARDDISK");
}

// BOT reset recovery (BOT 1.0 §5.3.4): Bulk-Only Mass Storage Reset, then
// both endpoints' halts cleared. usb-storage may have been mid-command
// (its scan of a disk just given back) when the claim detached it.
void BotReset(Device& device) {
  auto reset = device.Control({.request_type = 0x21, .request = 0xFF, .value = 0, .index = 0}, {}, kSecond);
  REQUIRE_OK(reset);
  REQUIRE_OK(device.ClearHalt(kBulkIn));
  REQUIRE_OK(device.ClearHalt(kBulkOut));
}

bool DiskPresent() { return fs::exists("/dev/sda"); }

// Where every test starts and ends: the disk with usb-storage, /dev/sda there.
void ExpectDiskWithLinux() {
  CHECK(UsbDriverOf(kDiskInterface) == "usb-storage");
  CHECK(WaitFor(DiskPresent, 20s));
}

TEST_CASE("Open takes the disk from usb-storage; Release with restore gives it back", "[usb-protocol]") {
  ExpectDiskWithLinux();
  auto bus = LiveBus();
  Opened disk = Open(*bus, kDisk, 0);
  BotReset(*disk.device);
  CHECK(disk.bound->Describe() == "interface 2-1:1.0 claimed over usbfs (was: usb-storage)");
  // usbfs holds the interface now (its claim is a driver binding), and the
  // SCSI disk usb-storage made went with it.
  CHECK(UsbDriverOf(kDiskInterface) == "usbfs");
  CHECK(WaitFor([] { return !DiskPresent(); }, 10s));
  CHECK(disk.device->route() == "usbfs");
  CHECK(disk.device->interface_number() == 0);
  CHECK(disk.device->configuration() == 1);
  CHECK(disk.device->GetNode().properties.FindNumber(udrv::usb::kPropInterface) == 0u);

  auto report = disk.bound->Release({.restore_kernel_driver = true});
  REQUIRE_OK(report);
  INFO(report->ToString());
  CHECK(report->ok());
  CHECK(report->ToString().find("back to usb-storage") != std::string::npos);
  CHECK(disk.bound->Release({}).error().status == Status::BAD_STATE);
  CHECK(disk.bound->Describe() == "interface 2-1:1.0 released over usbfs (was: usb-storage)");

  CHECK(UsbDriverOf(kDiskInterface) == "usb-storage");
  REQUIRE(WaitFor(DiskPresent, 20s));
  // The kernel reads the disk again: its first sector is the testbed's.
  std::vector<uint8_t> sector;
  REQUIRE(WaitFor([&] { return (sector = ReadBytes("/dev/sda", 512)).size() == 512; }, 10s));
  CHECK(std::string(sector.begin(), sector.begin() + std::strlen(kDiskMarker)) == kDiskMarker);
}

TEST_CASE("GET_DESCRIPTOR(device) over Control is what sysfs read", "[usb-protocol]") {
  auto bus = LiveBus();
  Opened disk = Open(*bus, kDisk, 0);
  BotReset(*disk.device);
  const std::vector<uint8_t> sysfs = ReadBytes(std::string("/sys/bus/usb/devices/") + kDisk + "/descriptors", 18);
  REQUIRE(sysfs.size() == 18);
  std::array<std::byte, 18> answer{};
  auto read = disk.device->Control(
      {.request_type = udrv::usb::kRequestTypeIn, .request = udrv::usb::kRequestGetDescriptor,
       .value = udrv::usb::kDescDevice << 8, .index = 0},
      answer, kSecond);
  REQUIRE_OK(read);
  CHECK(*read == 18);
  CHECK(std::memcmp(answer.data(), sysfs.data(), 18) == 0);
  CHECK(disk.device->GetDescriptors().device.vendor_id == 0x46f4);
  // More than one synchronous control transfer carries is refused, not cut.
  std::vector<std::byte> big(64 * 1024 - 1);
  auto refused = disk.device->Control({.request_type = udrv::usb::kRequestTypeIn,
                                       .request = udrv::usb::kRequestGetDescriptor,
                                       .value = udrv::usb::kDescConfiguration << 8},
                                      big, kSecond);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().status == Status::OUT_OF_RANGE);
  // A request to an endpoint the device has not: usbfs's ENOENT is no such
  // endpoint (NOT_FOUND), not a cancel. GET_STATUS of endpoint 0x85.
  std::array<std::byte, 2> status{};
  auto no_endpoint = disk.device->Control({.request_type = udrv::usb::kRequestTypeIn | 0x02, .request = 0x00,
                                           .value = 0, .index = 0x85},
                                          status, kSecond);
  REQUIRE_FALSE(no_endpoint);
  CHECK(no_endpoint.error().status == Status::NOT_FOUND);
  CHECK(no_endpoint.error().err_no == ENOENT);
  CHECK(no_endpoint.error().what.find("no such endpoint or interface") != std::string::npos);
  // GET_CONFIGURATION, as the take-back after a driver host asks it.
  std::array<std::byte, 1> configuration{};
  auto active = disk.device->Control({.request_type = udrv::usb::kRequestTypeIn,
                                      .request = udrv::usb::kRequestGetConfiguration},
                                     configuration, kSecond);
  REQUIRE_OK(active);
  CHECK(*active == 1);
  CHECK(std::to_integer<int>(configuration[0]) == 1);
  ReleaseRestoring(disk);
  ExpectDiskWithLinux();
}

TEST_CASE("raw BOT over Bulk: INQUIRY answers QEMU; stalls are named and ClearHalt recovers",
          "[usb-protocol]") {
  auto bus = LiveBus();
  Opened disk = Open(*bus, kDisk, 0);
  BotReset(*disk.device);
  Device& device = *disk.device;
  CheckInquiry(device, 1);

  // A CBW with a bad signature: the device stalls the OUT endpoint.
  auto bad = Cbw(2, 36, true, {0x12, 0, 0, 0, 36, 0}, 0x12345678);
  auto refused = device.Bulk(kBulkOut, bad, kSecond);
  REQUIRE_FALSE(refused);
  INFO(refused.error().ToString());
  CHECK(refused.error().status == Status::IO_REFUSED);
  CHECK(refused.error().what == "Bulk OUT endpoint 0x02 stalled");
  CHECK(refused.error().object == kDiskInterface);
  CHECK(refused.error().err_no == EPIPE);
  // Halted until cleared, on the host side too.
  REQUIRE_OK(device.ClearHalt(kBulkOut));
  CheckInquiry(device, 3);

  // A bulk IN with no command pending: QEMU's usb-storage stalls it too.
  std::array<std::byte, 13> csw{};
  auto unexpected = device.Bulk(kBulkIn, csw, kSecond);
  REQUIRE_FALSE(unexpected);
  CHECK(unexpected.error().status == Status::IO_REFUSED);
  CHECK(unexpected.error().what == "Bulk IN endpoint 0x81 stalled");
  REQUIRE_OK(device.ClearHalt(kBulkIn));
  CheckInquiry(device, 4);

  // Endpoints the claimed interface lacks, or of another type, are refused
  // before usbfs sees them.
  auto absent = device.Bulk(0x83, csw, kSecond);
  REQUIRE_FALSE(absent);
  CHECK(absent.error().status == Status::NOT_FOUND);
  CHECK(absent.error().what.find("endpoint 0x83 is in none of the claimed interfaces") == 0);
  CHECK(absent.error().what.find("interface 0 alt 0: 0x81 0x02") != std::string::npos);
  auto wrong = device.InterruptTransfer(kBulkIn, csw, kSecond);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().status == Status::WRONG_TYPE);
  CHECK(device.ClearHalt(0x83).error().status == Status::NOT_FOUND);
  ReleaseRestoring(disk);
  ExpectDiskWithLinux();
}

TEST_CASE("claims: release reattaches the kernel driver, claim detaches it again; settings checked",
          "[usb-protocol]") {
  auto bus = LiveBus();
  Opened disk = Open(*bus, kDisk, 0);
  BotReset(*disk.device);
  Device& device = *disk.device;
  CHECK(device.ClaimInterface(0).error().status == Status::ALREADY_EXISTS);
  CHECK(device.ClaimInterface(5).error().status == Status::NOT_FOUND);
  CHECK(device.ReleaseInterface(3).error().status == Status::NOT_FOUND);
  CHECK(device.SetInterface(0, 1).error().status == Status::NOT_FOUND);  // no alternate setting 1
  CHECK(device.SetInterface(2, 0).error().status == Status::NOT_FOUND);  // not claimed
  REQUIRE_OK(device.SetInterface(0, 0));
  // usbfs refuses SET_CONFIGURATION while an interface is claimed, ours included.
  auto configured = device.SetConfiguration(1);
  REQUIRE_FALSE(configured);
  CHECK(configured.error().status == Status::UNAVAILABLE);
  CHECK(device.SetConfiguration(7).error().status == Status::NOT_FOUND);

  REQUIRE_OK(device.ReleaseInterface(0));
  CHECK(UsbDriverOf(kDiskInterface) == "usb-storage");
  std::array<std::byte, 13> csw{};
  CHECK(device.Bulk(kBulkIn, csw, kSecond).error().status == Status::NOT_FOUND);  // no claim, no endpoints
  REQUIRE_OK(device.ClaimInterface(0));
  CHECK(UsbDriverOf(kDiskInterface) == "usbfs");
  BotReset(device);
  CheckInquiry(device, 40);

  // A second opener finds the interface held.
  auto second = bus->Open(NodeOf(*bus, kDisk, 0));
  REQUIRE_FALSE(second);
  INFO(second.error().ToString());
  CHECK(second.error().status == Status::UNAVAILABLE);
  CHECK(second.error().what.find("another process holds the interface over usbfs") != std::string::npos);
  CHECK(UsbDriverOf(kDiskInterface) == "usbfs");
  CheckInquiry(device, 41);
  ReleaseRestoring(disk);
  ExpectDiskWithLinux();
}

TEST_CASE("a bulk transfer longer than one usbfs call carries goes in pieces: 1 MiB as Linux reads it",
          "[usb-protocol]") {
  ExpectDiskWithLinux();
  constexpr size_t kBytes = 1 << 20;
  static_assert(kBytes > 3 * 256 * 1024, "more than three of UsbfsDevice's 256 KiB pieces");
  const std::vector<uint8_t> linux_read = ReadBytes("/dev/sda", kBytes);
  REQUIRE(linux_read.size() == kBytes);
  auto bus = LiveBus();
  Opened disk = Open(*bus, kDisk, 0);
  BotReset(*disk.device);
  // READ(10) of LBA 0, 2048 blocks, in one Bulk call.
  SendCbw(*disk.device, Cbw(30, kBytes, true, {0x28, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0}));
  std::vector<std::byte> data(kBytes);
  auto read = disk.device->Bulk(kBulkIn, data, 10 * kSecond);
  REQUIRE_OK(read);
  CHECK(*read == kBytes);
  CHECK(std::memcmp(data.data(), linux_read.data(), kBytes) == 0);
  ExpectGoodCsw(*disk.device, 30);
  ReleaseRestoring(disk);
  ExpectDiskWithLinux();
}

TEST_CASE("async READ(10) data transfers complete on a Port with their keys and lengths",
          "[usb-protocol]") {
  auto bus = LiveBus();
  Opened disk = Open(*bus, kDisk, 0);
  BotReset(*disk.device);
  Device& device = *disk.device;
  auto port = udrv::Port::Create("usb test");
  REQUIRE_OK(port);
  // READ(10) of LBA 0, 4 blocks: the data phase as four 512-byte transfers.
  constexpr size_t kBlocks = 4;
  SendCbw(device, Cbw(10, kBlocks * 512, true, {0x28, 0, 0, 0, 0, 0, 0, 0, kBlocks, 0}));
  std::array<std::array<std::byte, 512>, kBlocks> blocks{};
  for (size_t i = 0; i < kBlocks; ++i) {
    REQUIRE_OK(device.Submit({.type = udrv::usb::AsyncTransfer::Type::BULK, .endpoint = kBulkIn,
                              .buffer = blocks[i], .key = 100 + i},
                             *port));
  }
  for (size_t i = 0; i < kBlocks; ++i) {
    auto packet = port->Wait(udrv::DeadlineAfter(5 * kSecond));
    REQUIRE_OK(packet);
    CHECK(packet->type == udrv::PacketType::USER);
    const udrv::usb::TransferCompletion completion = udrv::usb::CompletionOf(*packet);
    CHECK(completion.key == 100 + i);
    CHECK(completion.status == Status::OK);
    CHECK(completion.actual_length == 512);
    CHECK(completion.err_no == 0);
  }
  CHECK(std::memcmp(blocks[0].data(), kDiskMarker, std::strlen(kDiskMarker)) == 0);
  ExpectGoodCsw(device, 10);
  // Nothing more arrives.
  CHECK(port->Wait(udrv::DeadlineAfter(100'000'000)).error().status == Status::TIMED_OUT);
  CHECK(device.Cancel(100).error().status == Status::NOT_FOUND);
  ReleaseRestoring(disk);
  ExpectDiskWithLinux();
}

TEST_CASE("Reset keeps the claim: the disk answers afterwards and usb-storage stays off",
          "[usb-protocol]") {
  auto bus = LiveBus();
  Opened disk = Open(*bus, kDisk, 0);
  BotReset(*disk.device);
  CheckInquiry(*disk.device, 20);
  REQUIRE_OK(disk.device->Reset());
  CHECK(UsbDriverOf(kDiskInterface) == "usbfs");
  CheckInquiry(*disk.device, 21);
  ReleaseRestoring(disk);
  ExpectDiskWithLinux();
}

TEST_CASE("the keyboard's interrupt IN: nothing typed times out, a pending one cancels, usbhid comes back",
          "[usb-protocol-hid]") {
  const std::string interface = std::string(kKeyboard) + ":1.0";
  REQUIRE(UsbDriverOf(interface) == "usbhid");
  auto bus = LiveBus();
  Opened keyboard = Open(*bus, kKeyboard, 0);
  CHECK(keyboard.bound->Describe() == "interface 1-2:1.0 claimed over usbfs (was: usbhid)");
  CHECK(UsbDriverOf(interface) == "usbfs");
  Device& device = *keyboard.device;

  // No keys: the device NAKs until the deadline.
  std::array<std::byte, 8> report{};
  const auto start = std::chrono::steady_clock::now();
  auto nothing = device.InterruptTransfer(0x81, report, 300'000'000);
  const auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(nothing);
  INFO(nothing.error().ToString());
  CHECK(nothing.error().status == Status::TIMED_OUT);
  CHECK(nothing.error().what == "Interrupt IN endpoint 0x81 timed out");
  CHECK(waited >= 300ms);
  // The device still answers.
  std::array<std::byte, 18> descriptor{};
  auto read = device.Control({.request_type = udrv::usb::kRequestTypeIn,
                              .request = udrv::usb::kRequestGetDescriptor,
                              .value = udrv::usb::kDescDevice << 8},
                             descriptor, kSecond);
  REQUIRE_OK(read);
  CHECK(*read == 18);

  // A pending IN, cancelled.
  auto port = udrv::Port::Create("usb test");
  REQUIRE_OK(port);
  REQUIRE_OK(device.Submit({.type = udrv::usb::AsyncTransfer::Type::INTERRUPT, .endpoint = 0x81,
                            .buffer = report, .key = 7},
                           *port));
  CHECK(port->Wait(udrv::DeadlineAfter(200'000'000)).error().status == Status::TIMED_OUT);
  REQUIRE_OK(device.Cancel(7));
  auto packet = port->Wait(udrv::DeadlineAfter(5 * kSecond));
  REQUIRE_OK(packet);
  udrv::usb::TransferCompletion completion = udrv::usb::CompletionOf(*packet);
  CHECK(completion.key == 7);
  CHECK(completion.status == Status::CANCELED);
  CHECK((completion.err_no == -ECONNRESET || completion.err_no == -ENOENT));
  CHECK(completion.actual_length == 0);
  CHECK(device.Cancel(7).error().status == Status::NOT_FOUND);

  // As many in flight as allowed, then one more; a key in flight twice.
  constexpr size_t kMax = udrv::usb::kMaxTransfersInFlight;
  std::vector<std::array<std::byte, 8>> reports(kMax + 1);
  for (size_t i = 0; i < kMax; ++i) {
    REQUIRE_OK(device.Submit({.type = udrv::usb::AsyncTransfer::Type::INTERRUPT, .endpoint = 0x81,
                              .buffer = reports[i], .key = 1000 + i},
                             *port));
  }
  auto twice = device.Submit({.type = udrv::usb::AsyncTransfer::Type::INTERRUPT, .endpoint = 0x81,
                              .buffer = reports[kMax], .key = 1000},
                             *port);
  CHECK(twice.error().status == Status::ALREADY_EXISTS);
  auto more = device.Submit({.type = udrv::usb::AsyncTransfer::Type::INTERRUPT, .endpoint = 0x81,
                             .buffer = reports[kMax], .key = 1000 + kMax},
                            *port);
  CHECK(more.error().status == Status::SHOULD_WAIT);

  // Those left in flight at release are cancelled and delivered before Release returns.
  auto released = keyboard.bound->Release({.restore_kernel_driver = true});
  REQUIRE_OK(released);
  INFO(released->ToString());
  CHECK(released->ok());
  CHECK(released->ToString().find("cancel transfers: done (" + std::to_string(kMax) + " cancelled)") !=
        std::string::npos);
  for (size_t i = 0; i < kMax; ++i) {
    packet = port->Wait(udrv::DeadlineAfter(0));
    REQUIRE_OK(packet);
    completion = udrv::usb::CompletionOf(*packet);
    CHECK(completion.key == 1000 + i);
    CHECK(completion.status == Status::CANCELED);
  }
  CHECK(UsbDriverOf(interface) == "usbhid");
}

TEST_CASE("Release without restore leaves the interface unbound (the tablet)", "[usb-protocol-hid]") {
  const std::string interface = std::string(kTablet) + ":1.0";
  REQUIRE(UsbDriverOf(interface) == "usbhid");
  auto bus = LiveBus();
  Opened tablet = Open(*bus, kTablet, 0);
  auto report = tablet.bound->Release({});
  REQUIRE_OK(report);
  INFO(report->ToString());
  CHECK(report->ok());
  CHECK(report->ToString().find("kernel driver of interface 0: skipped (left unbound)") != std::string::npos);
  CHECK(UsbDriverOf(interface).empty());
  // Linux takes it back when asked.
  std::ofstream("/sys/bus/usb/drivers_probe") << interface;
  CHECK(WaitFor([&] { return UsbDriverOf(interface) == "usbhid"; }, 5s));
}

// Writes `text` to a sysfs file; false when the kernel refused it.
bool WriteSysfs(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  file.flush();
  return file.good();
}

TEST_CASE("a device that goes away: its transfers end IO_NOT_PRESENT and release says so",
          "[usb-protocol-gone]") {
  // The controller's PCI function, found from the root hub; unbinding
  // xhci_hcd from it makes every USB device on it vanish.
  const fs::path controller = fs::canonical("/sys/bus/usb/devices/usb1").parent_path();
  const std::string function = controller.filename().string();
  REQUIRE(fs::read_symlink(controller / "driver").filename() == "xhci_hcd");
  const std::string interface = std::string(kKeyboard) + ":1.0";
  auto bus = LiveBus();
  Opened keyboard = Open(*bus, kKeyboard, 0);
  Device& device = *keyboard.device;
  auto port = udrv::Port::Create("usb test");
  REQUIRE_OK(port);
  std::array<std::byte, 8> report{};
  REQUIRE_OK(device.Submit({.type = udrv::usb::AsyncTransfer::Type::INTERRUPT, .endpoint = 0x81,
                            .buffer = report, .key = 1},
                           *port));

  REQUIRE(WriteSysfs("/sys/bus/pci/drivers/xhci_hcd/unbind", function));
  auto packet = port->Wait(udrv::DeadlineAfter(10 * kSecond));
  // Give the controller back to Linux whatever happened.
  const bool rebound = WriteSysfs("/sys/bus/pci/drivers/xhci_hcd/bind", function);
  REQUIRE_OK(packet);
  const udrv::usb::TransferCompletion completion = udrv::usb::CompletionOf(*packet);
  CHECK(completion.key == 1);
  CHECK(completion.status == Status::IO_NOT_PRESENT);
  CHECK(completion.err_no < 0);
  auto submitted = device.Submit({.type = udrv::usb::AsyncTransfer::Type::INTERRUPT, .endpoint = 0x81,
                                  .buffer = report, .key = 2},
                                 *port);
  CHECK(submitted.error().status == Status::IO_NOT_PRESENT);
  std::array<std::byte, 18> descriptor{};
  auto read = device.Control({.request_type = udrv::usb::kRequestTypeIn,
                              .request = udrv::usb::kRequestGetDescriptor,
                              .value = udrv::usb::kDescDevice << 8},
                             descriptor, kSecond);
  CHECK(read.error().status == Status::IO_NOT_PRESENT);
  auto released = keyboard.bound->Release({.restore_kernel_driver = true});
  REQUIRE_OK(released);
  INFO(released->ToString());
  CHECK(released->ok());
  CHECK(released->ToString().find("release interface 0: not supported (the device is gone)") !=
        std::string::npos);

  // The controller back, its devices come back with their drivers.
  REQUIRE(rebound);
  CHECK(WaitFor([&] { return UsbDriverOf(interface) == "usbhid"; }, 30s));
  CHECK(WaitFor([] { return UsbDriverOf(std::string(kTablet) + ":1.0") == "usbhid"; }, 30s));
  CHECK(WaitFor([] { return UsbDriverOf(kDiskInterface) == "usb-storage"; }, 30s));
  ExpectDiskWithLinux();
}

TEST_CASE("a device node does not open: drivers bind to interfaces", "[usb-protocol-refused]") {
  auto bus = LiveBus();
  auto opened = bus->Open(NodeOf(*bus, kDisk, std::nullopt));
  REQUIRE_FALSE(opened);
  CHECK(opened.error().status == Status::NOT_SUPPORTED);
  CHECK(UsbDriverOf(kDiskInterface) == "usb-storage");
}

TEST_CASE("a process that is not root cannot open an interface", "[usb-protocol-refused]") {
  auto bus = LiveBus();
  const DeviceNode node = NodeOf(*bus, kDisk, 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // nobody: the usbfs node is root's, mode 0600.
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    auto opened = bus->Open(node);
    if (opened) ::_exit(3);
    const bool named = opened.error().what.find("root") != std::string::npos;
    ::_exit(opened.error().status == Status::ACCESS_DENIED && named ? 0 : 4);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(UsbDriverOf(kDiskInterface) == "usb-storage");
}

}  // namespace
