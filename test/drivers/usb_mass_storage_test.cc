// The mass-storage driver over a scripted usb::Device: a small Bulk-Only
// SCSI disk in memory answers what no test step overrides, and a test
// queues steps (a stall, a CSW with a bad signature, a wrong tag, a
// residue past the length, a phase error) in place of the disk's next bulk
// transfers. Every call the driver makes is recorded, so the BOT rules
// (BOT 1.0 §5.3.4, §6.3, §6.7) are checked as the sequence on the wire.
#include "udrv/drivers/usb_mass_storage/usb_mass_storage.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "result_helpers.h"
#include "udrv/bus/bind_rules.h"
#include "udrv/drivers/registry.h"
#include "udrv/usb/usb_bus.h"

using udrv::Duration;
using udrv::Fail;
using udrv::Result;
using udrv::Status;
using udrv::testing::StatusOf;
namespace usb = udrv::usb;
namespace bus = udrv::bus;
namespace msc = udrv::drivers::usb_mass_storage;

namespace {

constexpr uint8_t kBulkIn = 0x81;
constexpr uint8_t kBulkOut = 0x02;
constexpr uint8_t kInterface = 0;
constexpr uint32_t kBlockSize = 512;

std::vector<std::byte> Bytes(std::initializer_list<int> values) {
  std::vector<std::byte> bytes;
  for (const int v : values) bytes.push_back(static_cast<std::byte>(v));
  return bytes;
}

void PutLe32(std::span<std::byte> bytes, size_t offset, uint32_t value) {
  for (size_t i = 0; i < 4; ++i) bytes[offset + i] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
}
uint32_t GetLe32(std::span<const std::byte> bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value |= uint32_t{static_cast<uint8_t>(bytes[offset + i])} << (8 * i);
  return value;
}
uint32_t GetBe32(std::span<const std::byte> bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return value;
}

std::vector<std::byte> Csw(uint32_t tag, uint32_t residue, uint8_t status,
                           uint32_t signature = msc::kCswSignature) {
  std::vector<std::byte> csw(msc::kCswSize);
  PutLe32(csw, 0, signature);
  PutLe32(csw, 4, tag);
  PutLe32(csw, 8, residue);
  csw[12] = std::byte{status};
  return csw;
}

// Descriptors of a disk: configuration 1, interface 0 (08/06/50) with a
// bulk IN and a bulk OUT endpoint of 512 bytes, unless told otherwise.
usb::Descriptors DiskDescriptors(bool with_out = true) {
  usb::EndpointDescriptor in;
  in.address = kBulkIn;
  in.attributes = 0x02;
  in.max_packet_size = 512;
  usb::EndpointDescriptor out = in;
  out.address = kBulkOut;
  usb::InterfaceDescriptor setting;
  setting.number = kInterface;
  setting.interface_class = 0x08;
  setting.interface_subclass = 0x06;
  setting.interface_protocol = 0x50;
  setting.endpoints = {in};
  if (with_out) setting.endpoints.push_back(out);
  setting.num_endpoints = static_cast<uint8_t>(setting.endpoints.size());
  usb::ConfigurationDescriptor config;
  config.value = 1;
  config.num_interfaces = 1;
  config.interfaces = {usb::Interface{.number = kInterface, .alternates = {setting}}};
  usb::Descriptors descriptors;
  descriptors.configurations = {config};
  return descriptors;
}

bus::DeviceNode DiskNode() {
  bus::DeviceNode node;
  node.bus = "usb";
  node.id = "usb/usb2/2-1/2-1:1.0";
  node.parent = "usb/usb2/2-1";
  node.properties.Set(std::string(usb::kPropClass), 0x08);
  node.properties.Set(std::string(usb::kPropSubclass), 0x06);
  node.properties.Set(std::string(usb::kPropProtocol), 0x50);
  node.properties.Set(std::string(usb::kPropInterface), 0);
  return node;
}

// A usb::Device playing a Bulk-Only SCSI disk of `blocks` 512-byte blocks.
class ScriptedDisk final : public usb::Device {
 public:
  // A step replaces the disk's answer to one bulk transfer; `tag` is the
  // last CBW's.
  using Step = std::function<Result<size_t>(uint8_t endpoint, std::span<std::byte> data, uint32_t tag)>;

  explicit ScriptedDisk(uint32_t blocks = 64, usb::Descriptors descriptors = DiskDescriptors())
      : disk_(size_t{blocks} * kBlockSize), node_(DiskNode()), descriptors_(std::move(descriptors)) {
    for (size_t i = 0; i < disk_.size(); ++i) disk_[i] = static_cast<std::byte>(i * 7);
    const char label[] = "UDRV-TESTBED-usb-DISK";
    std::memcpy(disk_.data(), label, sizeof(label) - 1);
  }

  // What the driver did, in order: "bulk 0x02 31", "clear-halt 0x81",
  // "control 0x21 0xff index 0", and each CBW's opcode as "cbw 0x28".
  std::vector<std::string> calls;
  std::deque<Step> steps;
  // Answered by GET MAX LUN; nullopt: a stall.
  std::optional<std::vector<std::byte>> max_lun_answer = Bytes({0});
  // TEST UNIT READY answers CHECK CONDITION with this sense this many times.
  int unit_attentions = 0;
  // READ CAPACITY(10) says 0xFFFFFFFF: the host must ask (16).
  bool huge = false;
  std::vector<std::byte> disk_;
  std::string route_name = "fake";

  std::vector<std::string> CallsAfter(size_t start) const {
    return std::vector<std::string>(calls.begin() + static_cast<std::ptrdiff_t>(start), calls.end());
  }

  const bus::DeviceNode& GetNode() const override { return node_; }
  std::string_view route() const override { return route_name; }
  const usb::Descriptors& GetDescriptors() const override { return descriptors_; }
  uint8_t configuration() const override { return 1; }
  uint8_t interface_number() const override { return kInterface; }
  Result<void> ClaimInterface(uint8_t) override { return Fail(Status::NOT_SUPPORTED, "fake"); }
  Result<void> ReleaseInterface(uint8_t) override { return Fail(Status::NOT_SUPPORTED, "fake"); }
  Result<void> SetConfiguration(uint8_t) override { return Fail(Status::NOT_SUPPORTED, "fake"); }
  Result<void> SetInterface(uint8_t, uint8_t) override { return Fail(Status::NOT_SUPPORTED, "fake"); }
  Result<size_t> InterruptTransfer(uint8_t, std::span<std::byte>, Duration) override {
    return Fail(Status::NOT_SUPPORTED, "fake");
  }
  Result<void> Submit(const usb::AsyncTransfer&, const udrv::Port&) override {
    return Fail(Status::NOT_SUPPORTED, "fake");
  }
  Result<void> Cancel(uint64_t) override { return Fail(Status::NOT_SUPPORTED, "fake"); }
  Result<void> Reset() override {
    calls.push_back("reset");
    return {};
  }

  Result<void> ClearHalt(uint8_t endpoint) override {
    calls.push_back("clear-halt " + udrv::Hex(endpoint));
    return {};
  }

  Result<size_t> Control(const usb::ControlSetup& setup, std::span<std::byte> data, Duration) override {
    calls.push_back("control " + udrv::Hex(setup.request_type) + " " + udrv::Hex(setup.request) + " index " +
                    std::to_string(setup.index) + " length " + std::to_string(data.size()));
    if (setup.request == msc::kRequestGetMaxLun) {
      if (!max_lun_answer) return Fail(Status::IO_REFUSED, "endpoint 0x00 stalled");
      const size_t n = std::min(data.size(), max_lun_answer->size());
      std::memcpy(data.data(), max_lun_answer->data(), n);
      return n;
    }
    if (setup.request == msc::kRequestMassStorageReset) stage_ = Stage::CBW;
    return size_t{0};
  }

  Result<size_t> Bulk(uint8_t endpoint, std::span<std::byte> data, Duration) override {
    calls.push_back("bulk " + udrv::Hex(endpoint) + " " + std::to_string(data.size()));
    if (endpoint == kBulkOut && stage_ == Stage::CBW && data.size() == msc::kCbwSize &&
        GetLe32(data, 0) == msc::kCbwSignature) {
      tag_ = GetLe32(data, 4);
      calls.push_back("cbw " + udrv::Hex(static_cast<uint8_t>(data[15])));
    }
    if (!steps.empty()) {
      Step step = std::move(steps.front());
      steps.pop_front();
      auto result = step(endpoint, data, tag_);
      // A step that read a CSW leaves the disk waiting for the next CBW.
      if (endpoint == kBulkIn && data.size() == msc::kCswSize) stage_ = Stage::CBW;
      return result;
    }
    return Play(endpoint, data);
  }

 private:
  enum class Stage { CBW, DATA, CSW };

  // The disk's own Bulk-Only behaviour.
  Result<size_t> Play(uint8_t endpoint, std::span<std::byte> data) {
    switch (stage_) {
      case Stage::CBW:
        if (endpoint != kBulkOut || data.size() != msc::kCbwSize)
          return Fail(Status::IO, "fake: expected a CBW");
        Command(data);
        return data.size();
      case Stage::DATA:
        if (direction_in_) {
          if (endpoint != kBulkIn) return Fail(Status::IO, "fake: expected data IN");
          const size_t n = std::min(data.size(), answer_.size());
          std::memcpy(data.data(), answer_.data(), n);
          residue_ = static_cast<uint32_t>(length_ - n);
          stage_ = Stage::CSW;
          return n;
        }
        if (endpoint != kBulkOut) return Fail(Status::IO, "fake: expected data OUT");
        if (write_lba_ * kBlockSize + data.size() <= disk_.size()) {
          std::memcpy(disk_.data() + write_lba_ * kBlockSize, data.data(), data.size());
        }
        stage_ = Stage::CSW;
        return data.size();
      case Stage::CSW: {
        if (endpoint != kBulkIn || data.size() < msc::kCswSize)
          return Fail(Status::IO, "fake: expected a CSW");
        const auto csw = Csw(tag_, residue_, status_);
        std::memcpy(data.data(), csw.data(), csw.size());
        stage_ = Stage::CBW;
        return csw.size();
      }
    }
    return Fail(Status::INTERNAL, "fake: no stage");
  }

  void Fixed(uint8_t key, uint8_t asc, uint8_t ascq) {
    sense_ = std::vector<std::byte>(18);
    sense_[0] = std::byte{0x70};
    sense_[2] = std::byte{key};
    sense_[7] = std::byte{10};
    sense_[12] = std::byte{asc};
    sense_[13] = std::byte{ascq};
  }

  void Command(std::span<const std::byte> cbw) {
    length_ = GetLe32(cbw, 8);
    direction_in_ = (static_cast<uint8_t>(cbw[12]) & 0x80) != 0;
    const auto cb = cbw.subspan(15, 16);
    status_ = 0;
    residue_ = 0;
    answer_.clear();
    switch (static_cast<uint8_t>(cb[0])) {
      case msc::kInquiry:
        answer_ = Bytes({0x00, 0x00, 0x05, 0x02, 31, 0, 0, 0});
        for (const char c : std::string("QEMU    QEMU HARDDISK   2.5+"))
          answer_.push_back(static_cast<std::byte>(c));
        break;
      case msc::kTestUnitReady:
        if (unit_attentions > 0) {
          --unit_attentions;
          status_ = 1;
          Fixed(0x6, 0x29, 0x00);
        }
        break;
      case msc::kRequestSense:
        answer_ = sense_;
        Fixed(0, 0, 0);
        break;
      case msc::kReadCapacity10:
        answer_ = std::vector<std::byte>(8);
        PutBe(answer_, 0, huge ? 0xFFFFFFFF : static_cast<uint32_t>(disk_.size() / kBlockSize - 1));
        PutBe(answer_, 4, kBlockSize);
        break;
      case msc::kServiceActionIn16:
        answer_ = std::vector<std::byte>(32);
        PutBe(answer_, 0, 1);  // last LBA 2^32: 0x0000000100000000
        PutBe(answer_, 4, 0);
        PutBe(answer_, 8, kBlockSize);
        break;
      case msc::kRead10: {
        const uint32_t lba = GetBe32(cb, 2);
        const size_t blocks = (size_t{static_cast<uint8_t>(cb[7])} << 8) | static_cast<uint8_t>(cb[8]);
        const auto from = disk_.begin() + static_cast<std::ptrdiff_t>(lba * kBlockSize);
        answer_.assign(from, from + static_cast<std::ptrdiff_t>(blocks * kBlockSize));
        break;
      }
      case msc::kWrite10:
        write_lba_ = GetBe32(cb, 2);
        break;
      default:
        status_ = 1;
        residue_ = length_;
        Fixed(0x5, 0x20, 0x00);
        stage_ = Stage::CSW;
        return;
    }
    stage_ = length_ == 0 ? Stage::CSW : Stage::DATA;
  }

  static void PutBe(std::span<std::byte> bytes, size_t offset, uint32_t value) {
    for (size_t i = 0; i < 4; ++i)
      bytes[offset + i] = static_cast<std::byte>((value >> (8 * (3 - i))) & 0xFF);
  }

  bus::DeviceNode node_;
  usb::Descriptors descriptors_;
  Stage stage_ = Stage::CBW;
  uint32_t tag_ = 0;
  uint32_t length_ = 0;
  bool direction_in_ = false;
  uint8_t status_ = 0;
  uint32_t residue_ = 0;
  uint32_t write_lba_ = 0;
  std::vector<std::byte> answer_;
  std::vector<std::byte> sense_ = std::vector<std::byte>(18);
};

// Steps.
ScriptedDisk::Step TakeCbw() {
  return [](uint8_t, std::span<std::byte> data, uint32_t) -> Result<size_t> { return data.size(); };
}
ScriptedDisk::Step Stall(uint8_t endpoint) {
  return [endpoint](uint8_t, std::span<std::byte>, uint32_t) -> Result<size_t> {
    return Fail(Status::IO_REFUSED, "endpoint " + udrv::Hex(endpoint) + " stalled");
  };
}
ScriptedDisk::Step Answer(std::vector<std::byte> bytes) {
  return [bytes](uint8_t, std::span<std::byte> data, uint32_t) -> Result<size_t> {
    const size_t n = std::min(data.size(), bytes.size());
    std::memcpy(data.data(), bytes.data(), n);
    return n;
  };
}
// A CSW for the last CBW, its tag moved by `tag_delta`.
ScriptedDisk::Step CswStep(uint32_t residue, uint8_t status, uint32_t signature = msc::kCswSignature,
                           uint32_t tag_delta = 0) {
  return [=](uint8_t, std::span<std::byte> data, uint32_t tag) -> Result<size_t> {
    const auto csw = Csw(tag + tag_delta, residue, status, signature);
    const size_t n = std::min(data.size(), csw.size());
    std::memcpy(data.data(), csw.data(), n);
    return n;
  };
}

std::vector<std::string> ResetRecoveryCalls() {
  return {"control 0x21 0xff index 0 length 0", "clear-halt 0x81", "clear-halt 0x2"};
}

msc::BulkOnlyTransport Transport(ScriptedDisk& device) {
  auto transport = msc::BulkOnlyTransport::Create(device, 1'000'000'000);
  REQUIRE_OK(transport);
  return std::move(*transport);
}

// INQUIRY's command block, for Execute.
const auto kInquiryCommand = msc::InquiryCommand(36);

}  // namespace

TEST_CASE("a CBW is 31 little-endian bytes with the direction, LUN and command block", "[usb-mass-storage]") {
  const auto command = msc::Read10Command(0x01020304, 0x0506);
  auto cbw = msc::EncodeCbw({.tag = 0xAABBCCDD,
                             .data_transfer_length = 0x1000,
                             .direction = msc::Direction::IN,
                             .lun = 3,
                             .command_block = command});
  REQUIRE_OK(cbw);
  const auto& b = *cbw;
  CHECK(GetLe32(b, 0) == 0x43425355);
  CHECK(GetLe32(b, 4) == 0xAABBCCDD);
  CHECK(GetLe32(b, 8) == 0x1000);
  CHECK(b[12] == std::byte{0x80});
  CHECK(b[13] == std::byte{3});
  CHECK(b[14] == std::byte{10});
  CHECK(b[15] == std::byte{0x28});
  CHECK(GetBe32(b, 17) == 0x01020304);
  CHECK(b[22] == std::byte{0x05});
  CHECK(b[23] == std::byte{0x06});
  CHECK(b[25] == std::byte{0});

  CHECK(StatusOf(msc::EncodeCbw({.command_block = {}})) == "INVALID_ARGS");
  const std::vector<std::byte> seventeen(17);
  CHECK(StatusOf(msc::EncodeCbw({.command_block = seventeen})) == "INVALID_ARGS");
  CHECK(StatusOf(msc::EncodeCbw({.lun = 16, .command_block = command})) == "INVALID_ARGS");
}

TEST_CASE("a CSW is valid and meaningful or refused with the rule it broke", "[usb-mass-storage]") {
  auto good = msc::ParseCsw(Csw(7, 12, 1), 7, 512, "disk");
  REQUIRE_OK(good);
  CHECK(good->tag == 7);
  CHECK(good->residue == 12);
  CHECK(good->status == msc::CswStatus::FAILED);

  const auto twelve = Csw(7, 0, 0);
  auto wrong_size = msc::ParseCsw(std::span(twelve).first(12), 7, 0, "disk");
  CHECK(StatusOf(wrong_size) == "IO_INVALID");
  CHECK_THAT(wrong_size.error().what, Catch::Contains("12 bytes, not 13"));
  CHECK(wrong_size.error().object == "disk");

  auto signature = msc::ParseCsw(Csw(7, 0, 0, 0x43425355), 7, 0, "disk");
  CHECK(StatusOf(signature) == "IO_INVALID");
  CHECK_THAT(signature.error().what, Catch::Contains("signature 0x43425355"));

  auto tag = msc::ParseCsw(Csw(8, 0, 0), 7, 0, "disk");
  CHECK(StatusOf(tag) == "IO_INVALID");
  CHECK_THAT(tag.error().what, Catch::Contains("tag 0x8 does not echo the CBW's 0x7"));

  auto residue = msc::ParseCsw(Csw(7, 513, 0), 7, 512, "disk");
  CHECK(StatusOf(residue) == "IO_INVALID");
  CHECK_THAT(residue.error().what, Catch::Contains("residue 513 past the CBW's transfer length 512"));

  auto status = msc::ParseCsw(Csw(7, 0, 3), 7, 0, "disk");
  CHECK(StatusOf(status) == "IO_INVALID");
  CHECK_THAT(status.error().what, Catch::Contains("not meaningful"));

  // A phase error is meaningful whatever its residue (BOT §6.3.2).
  auto phase = msc::ParseCsw(Csw(7, 0xFFFFFFFF, 2), 7, 0, "disk");
  REQUIRE_OK(phase);
  CHECK(phase->status == msc::CswStatus::PHASE_ERROR);
}

TEST_CASE("bulk endpoints come from the interface's descriptors", "[usb-mass-storage]") {
  auto found = msc::FindBulkEndpoints(DiskDescriptors(), 1, 0, "disk");
  REQUIRE_OK(found);
  CHECK(found->in == 0x81);
  CHECK(found->out == 0x02);
  CHECK(found->in_max_packet == 512);
  CHECK(found->out_max_packet == 512);

  auto no_out = msc::FindBulkEndpoints(DiskDescriptors(false), 1, 0, "disk");
  CHECK(StatusOf(no_out) == "NOT_FOUND");
  CHECK_THAT(no_out.error().what, Catch::Contains("lacks a bulk OUT endpoint"));
  CHECK(StatusOf(msc::FindBulkEndpoints(DiskDescriptors(), 2, 0, "disk")) == "NOT_FOUND");
  CHECK(StatusOf(msc::FindBulkEndpoints(DiskDescriptors(), 1, 1, "disk")) == "NOT_FOUND");

  ScriptedDisk no_out_disk(64, DiskDescriptors(false));
  CHECK(StatusOf(msc::BulkOnlyTransport::Create(no_out_disk, 1'000'000'000)) == "NOT_FOUND");
}

TEST_CASE("a command is CBW, data, CSW on the interface's endpoints", "[usb-mass-storage]") {
  ScriptedDisk device;
  auto transport = Transport(device);
  std::vector<std::byte> data(36);
  auto result = transport.Execute(0, kInquiryCommand, msc::Direction::IN, data);
  REQUIRE_OK(result);
  CHECK(result->status == msc::CswStatus::PASSED);
  CHECK(result->transferred == 36);
  CHECK(device.calls == std::vector<std::string>{"bulk 0x2 31", "cbw 0x12", "bulk 0x81 36", "bulk 0x81 13"});

  // Tags differ from command to command.
  std::vector<std::string> before = device.calls;
  REQUIRE_OK(transport.Execute(0, msc::TestUnitReadyCommand(), msc::Direction::NONE, {}));
  CHECK(device.CallsAfter(before.size()) ==
        std::vector<std::string>{"bulk 0x2 31", "cbw 0x0", "bulk 0x81 13"});
}

TEST_CASE("an invalid or not meaningful CSW ends in reset recovery", "[usb-mass-storage]") {
  struct Case {
    const char* name;
    ScriptedDisk::Step csw;
    const char* message;
  };
  const Case cases[] = {
      {"bad signature", CswStep(0, 0, 0xDEADBEEF), "CSW signature 0xdeadbeef"},
      {"wrong tag", CswStep(0, 0, msc::kCswSignature, 1), "does not echo the CBW's"},
      {"residue past the length", CswStep(37, 0), "residue 37 past the CBW's transfer length 36"},
      {"short CSW", Answer(Bytes({0x55, 0x53, 0x42, 0x53})), "CSW of 4 bytes, not 13"},
      {"phase error", CswStep(0, 2), "phase error"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      ScriptedDisk device;
      auto transport = Transport(device);
      device.steps = {TakeCbw(), Answer(std::vector<std::byte>(36)), c.csw};
      std::vector<std::byte> data(36);
      auto result = transport.Execute(0, kInquiryCommand, msc::Direction::IN, data);
      REQUIRE_FALSE(result);
      CHECK_THAT(result.error().what, Catch::Contains(c.message));
      CHECK_THAT(result.error().what, Catch::Contains("SCSI opcode 0x12"));
      CHECK_THAT(result.error().what, Catch::Contains("reset recovery done"));
      CHECK(result.error().object == "usb/usb2/2-1/2-1:1.0");
      std::vector<std::string> expected = {"bulk 0x2 31", "cbw 0x12", "bulk 0x81 36", "bulk 0x81 13"};
      for (const std::string& call : ResetRecoveryCalls()) expected.push_back(call);
      CHECK(device.calls == expected);

      // After recovery the device answers the next command.
      std::vector<std::byte> again(36);
      auto next = transport.Execute(0, kInquiryCommand, msc::Direction::IN, again);
      REQUIRE_OK(next);
      CHECK(next->status == msc::CswStatus::PASSED);
    }
  }
}

TEST_CASE("a stalled CBW or a failed data stage ends in reset recovery", "[usb-mass-storage]") {
  ScriptedDisk device;
  auto transport = Transport(device);
  SECTION("CBW stalled") {
    device.steps = {Stall(kBulkOut)};
    auto result = transport.Execute(0, msc::TestUnitReadyCommand(), msc::Direction::NONE, {});
    REQUIRE_FALSE(result);
    CHECK(result.error().status == Status::IO_REFUSED);
    std::vector<std::string> expected = {"bulk 0x2 31", "cbw 0x0"};
    for (const std::string& call : ResetRecoveryCalls()) expected.push_back(call);
    CHECK(device.calls == expected);
  }
  SECTION("data stage timed out") {
    device.steps = {TakeCbw(), [](uint8_t, std::span<std::byte>, uint32_t) -> Result<size_t> {
                      return Fail(Status::TIMED_OUT, "endpoint 0x81 timed out");
                    }};
    std::vector<std::byte> data(36);
    auto result = transport.Execute(0, kInquiryCommand, msc::Direction::IN, data);
    REQUIRE_FALSE(result);
    CHECK(result.error().status == Status::TIMED_OUT);
    CHECK_THAT(result.error().what, Catch::Contains("data stage"));
    std::vector<std::string> expected = {"bulk 0x2 31", "cbw 0x12", "bulk 0x81 36"};
    for (const std::string& call : ResetRecoveryCalls()) expected.push_back(call);
    CHECK(device.calls == expected);
  }
}

TEST_CASE("a stall in the data stage is cleared and the CSW read", "[usb-mass-storage]") {
  ScriptedDisk device;
  auto transport = Transport(device);
  SECTION("IN") {
    device.steps = {TakeCbw(), Stall(kBulkIn), CswStep(36, 1)};
    std::vector<std::byte> data(36);
    auto result = transport.Execute(0, kInquiryCommand, msc::Direction::IN, data);
    REQUIRE_OK(result);
    CHECK(result->status == msc::CswStatus::FAILED);
    CHECK(result->residue == 36);
    CHECK(result->transferred == 0);
    CHECK(device.calls == std::vector<std::string>{"bulk 0x2 31", "cbw 0x12", "bulk 0x81 36",
                                                   "clear-halt 0x81", "bulk 0x81 13"});
  }
  SECTION("OUT") {
    device.steps = {TakeCbw(), Stall(kBulkOut), CswStep(512, 1)};
    std::vector<std::byte> block(512);
    const auto command = msc::Write10Command(1, 1);
    auto result = transport.Execute(0, command, msc::Direction::OUT, block);
    REQUIRE_OK(result);
    CHECK(result->status == msc::CswStatus::FAILED);
    CHECK(device.calls == std::vector<std::string>{"bulk 0x2 31", "cbw 0x2a", "bulk 0x2 512",
                                                   "clear-halt 0x2", "bulk 0x81 13"});
  }
}

TEST_CASE("a stalled CSW is cleared and read once more, then reset recovery", "[usb-mass-storage]") {
  ScriptedDisk device;
  auto transport = Transport(device);
  SECTION("the second read succeeds") {
    device.steps = {TakeCbw(), Stall(kBulkIn), CswStep(0, 0)};
    auto result = transport.Execute(0, msc::TestUnitReadyCommand(), msc::Direction::NONE, {});
    REQUIRE_OK(result);
    CHECK(result->status == msc::CswStatus::PASSED);
    CHECK(device.calls == std::vector<std::string>{"bulk 0x2 31", "cbw 0x0", "bulk 0x81 13",
                                                   "clear-halt 0x81", "bulk 0x81 13"});
  }
  SECTION("the second read stalls too") {
    device.steps = {TakeCbw(), Stall(kBulkIn), Stall(kBulkIn)};
    auto result = transport.Execute(0, msc::TestUnitReadyCommand(), msc::Direction::NONE, {});
    REQUIRE_FALSE(result);
    CHECK(result.error().status == Status::IO_REFUSED);
    std::vector<std::string> expected = {"bulk 0x2 31", "cbw 0x0", "bulk 0x81 13", "clear-halt 0x81",
                                         "bulk 0x81 13"};
    for (const std::string& call : ResetRecoveryCalls()) expected.push_back(call);
    CHECK(device.calls == expected);
  }
}

TEST_CASE("GET MAX LUN: a stall is LUN 0 only, past 15 is refused", "[usb-mass-storage]") {
  ScriptedDisk device;
  auto transport = Transport(device);
  device.max_lun_answer = Bytes({3});
  auto three = transport.GetMaxLun();
  REQUIRE_OK(three);
  CHECK(*three == 3);
  CHECK(device.calls == std::vector<std::string>{"control 0xa1 0xfe index 0 length 1"});
  device.max_lun_answer.reset();
  auto stalled = transport.GetMaxLun();
  REQUIRE_OK(stalled);
  CHECK(*stalled == 0);
  device.max_lun_answer = Bytes({16});
  CHECK(StatusOf(transport.GetMaxLun()) == "IO_INVALID");
  device.max_lun_answer = std::vector<std::byte>{};
  CHECK(StatusOf(transport.GetMaxLun()) == "IO_INVALID");
}

TEST_CASE("sense data decodes into the error's text", "[usb-mass-storage]") {
  auto fixed = msc::ParseSense(Bytes({0xF0, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00}), "disk");
  REQUIRE_OK(fixed);
  CHECK(fixed->key == 0x3);
  CHECK(fixed->ToString() == "MEDIUM ERROR, ASC/ASCQ 0x11/0x00: unrecovered read error");

  auto descriptor = msc::ParseSense(Bytes({0x72, 0x02, 0x3A, 0x00, 0, 0, 0, 0}), "disk");
  REQUIRE_OK(descriptor);
  CHECK(descriptor->ToString() == "NOT READY, ASC/ASCQ 0x3a/0x00: medium not present");

  auto unknown = msc::ParseSense(Bytes({0x70, 0, 0x0C, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x99, 0x42}), "disk");
  REQUIRE_OK(unknown);
  CHECK(unknown->ToString() == "sense key 0xc, ASC/ASCQ 0x99/0x42");

  // A fixed-format answer cut before ASC and ASCQ still gives its key.
  auto short_fixed = msc::ParseSense(Bytes({0x70, 0, 0x06}), "disk");
  REQUIRE_OK(short_fixed);
  CHECK(short_fixed->key == 0x6);

  CHECK(StatusOf(msc::ParseSense({}, "disk")) == "IO_INVALID");
  CHECK(StatusOf(msc::ParseSense(Bytes({0x70, 0}), "disk")) == "IO_INVALID");
  CHECK(StatusOf(msc::ParseSense(Bytes({0x72, 0, 0}), "disk")) == "IO_INVALID");
  CHECK(StatusOf(msc::ParseSense(Bytes({0x7F, 0, 0, 0}), "disk")) == "IO_INVALID");
}

TEST_CASE("CHECK CONDITION reads the sense and names it", "[usb-mass-storage]") {
  ScriptedDisk device;
  auto transport = Transport(device);
  msc::ScsiDisk disk(transport, 0);
  std::vector<std::byte> data(512);
  // A READ(10) whose data stage stalls and whose CSW says FAILED; REQUEST
  // SENSE then says MEDIUM ERROR.
  device.steps = {TakeCbw(),
                  Stall(kBulkIn),
                  CswStep(512, 1),
                  TakeCbw(),
                  Answer(Bytes({0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00, 0, 0, 0, 0})),
                  CswStep(0, 0)};
  auto read = disk.Read(5, 1, 512, data);
  REQUIRE_FALSE(read);
  CHECK(read.error().status == Status::IO);
  CHECK(read.error().what ==
        "READ(10) at LBA 5: CHECK CONDITION, MEDIUM ERROR, ASC/ASCQ 0x11/0x00: unrecovered read error");
  CHECK(device.calls == std::vector<std::string>{"bulk 0x2 31", "cbw 0x28", "bulk 0x81 512",
                                                 "clear-halt 0x81", "bulk 0x81 13", "bulk 0x2 31", "cbw 0x3",
                                                 "bulk 0x81 18", "bulk 0x81 13"});

  // An opcode the disk does not know: ILLEGAL REQUEST, invalid command operation code.
  const std::array<std::byte, 6> unknown = {std::byte{0xC0}};
  auto refused = disk.Run("VENDOR 0xc0", unknown, msc::Direction::NONE, {});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().what ==
        "VENDOR 0xc0: CHECK CONDITION, ILLEGAL REQUEST, ASC/ASCQ 0x20/0x00: invalid command operation code");
}

TEST_CASE("TEST UNIT READY asks again after UNIT ATTENTION", "[usb-mass-storage]") {
  ScriptedDisk device;
  auto transport = Transport(device);
  msc::ScsiDisk disk(transport, 0);
  device.unit_attentions = 2;
  REQUIRE_OK(disk.TestUnitReady());
  CHECK(std::count(device.calls.begin(), device.calls.end(), "cbw 0x0") == 3);
  CHECK(std::count(device.calls.begin(), device.calls.end(), "cbw 0x3") == 2);

  device.unit_attentions = 5;
  auto tired = disk.TestUnitReady(3, 0);
  REQUIRE_FALSE(tired);
  CHECK(tired.error().status == Status::TIMED_OUT);
  CHECK_THAT(tired.error().what, Catch::Contains("UNIT ATTENTION, ASC/ASCQ 0x29/0x00"));
}

TEST_CASE("INQUIRY data is parsed as hostile bytes", "[usb-mass-storage]") {
  std::vector<std::byte> answer = Bytes({0x00, 0x80, 0x05, 0x02, 31, 0, 0, 0});
  // Vendor 8 bytes, product 16 (a control character and a tab in it), revision 4.
  const std::string texts = std::string("ACME    ") + "Disk\x01" + "     " + "\t" + "     " + "1.0 ";
  REQUIRE(texts.size() == 28);
  for (const char c : texts) answer.push_back(static_cast<std::byte>(c));
  auto parsed = msc::ParseInquiry(answer, "disk");
  REQUIRE_OK(parsed);
  CHECK(parsed->device_type == 0);
  CHECK(parsed->removable);
  CHECK(parsed->version == 5);
  CHECK(parsed->vendor == "ACME");
  CHECK(parsed->product == "Disk?     ?");
  CHECK(parsed->revision == "1.0");

  // An additional length of 3: only bytes 0 to 7, no texts.
  answer[4] = std::byte{3};
  auto cut = msc::ParseInquiry(answer, "disk");
  REQUIRE_OK(cut);
  CHECK(cut->vendor.empty());
  CHECK(cut->product.empty());
  CHECK(StatusOf(msc::ParseInquiry(std::span(answer).first(4), "disk")) == "IO_INVALID");
}

TEST_CASE("the capacity: (10), then (16) when (10) says 0xFFFFFFFF", "[usb-mass-storage]") {
  auto ten = msc::ParseCapacity10(Bytes({0, 0, 0x3F, 0xFF, 0, 0, 2, 0}), "disk");
  REQUIRE_OK(ten);
  CHECK_FALSE(ten->needs_16);
  CHECK(ten->capacity.blocks == 0x4000);
  CHECK(ten->capacity.bytes() == 8 * 1024 * 1024);
  CHECK(msc::ParseCapacity10(Bytes({0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 2, 0}), "disk")->needs_16);
  CHECK(StatusOf(msc::ParseCapacity10(Bytes({0, 0, 0, 1, 0, 0, 0, 0}), "disk")) == "IO_INVALID");
  CHECK(StatusOf(msc::ParseCapacity10(Bytes({0, 0, 0, 1, 0, 2, 0, 0}), "disk")) == "IO_INVALID");
  CHECK(StatusOf(msc::ParseCapacity10(Bytes({0, 0, 0, 1, 0, 0, 2}), "disk")) == "IO_INVALID");
  CHECK(StatusOf(msc::ParseCapacity16(Bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 2, 0}),
                                      "disk")) == "IO_INVALID");
  CHECK(StatusOf(msc::ParseCapacity16(Bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2}), "disk")) == "IO_INVALID");

  ScriptedDisk device;
  device.huge = true;
  auto transport = Transport(device);
  msc::ScsiDisk disk(transport, 0);
  auto capacity = disk.ReadCapacity();
  REQUIRE_OK(capacity);
  CHECK(capacity->blocks == 0x100000001);
  CHECK(capacity->block_size == 512);
  CHECK(std::count(device.calls.begin(), device.calls.end(), "cbw 0x25") == 1);
  CHECK(std::count(device.calls.begin(), device.calls.end(), "cbw 0x9e") == 1);
}

TEST_CASE("the disk opens, reads LBA 0, writes and reads back a block", "[usb-mass-storage]") {
  ScriptedDisk device;
  device.unit_attentions = 1;
  auto disk = msc::MassStorage::Open(device, 1'000'000'000);
  REQUIRE_OK(disk);
  CHECK(disk->inquiry().vendor == "QEMU");
  CHECK(disk->inquiry().product == "QEMU HARDDISK");
  CHECK(disk->capacity().blocks == 64);
  CHECK(disk->max_lun() == 0);
  REQUIRE_OK(msc::CheckText(*disk, "UDRV-TESTBED-usb-DISK"));
  auto wrong = msc::CheckText(*disk, "UDRV-TESTBED-usb-DISC");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().status == Status::IO_DATA_INTEGRITY);
  CHECK(wrong.error().what == "LBA 0 starts with \"UDRV-TESTBED-usb-DISK\", not \"UDRV-TESTBED-usb-DISC\"");

  std::vector<std::string> log;
  REQUIRE_OK(msc::WriteTest(*disk, 9, [&log](const std::string& line) { log.push_back(line); }));
  const auto pattern = msc::WriteTestPattern(9, 512);
  CHECK(std::equal(pattern.begin(), pattern.end(), device.disk_.begin() + 9 * 512));
  const std::string line = "udrv usb-mass-storage write-test LBA 9\n";
  CHECK(std::memcmp(pattern.data(), line.data(), line.size()) == 0);
  CHECK(std::memcmp(pattern.data() + line.size(), line.data(), line.size()) == 0);
  CHECK(log == std::vector<std::string>{"write test: LBA 9 written and read back (512 bytes)"});
  CHECK(StatusOf(msc::WriteTest(*disk, 0, [](const std::string&) {})) == "INVALID_ARGS");
  CHECK(StatusOf(msc::WriteTest(*disk, 64, [](const std::string&) {})) == "OUT_OF_RANGE");

  // Reads split into READ(10)s of the transfer size; 40 blocks of 512 in 8 KiB commands: 3.
  std::vector<std::byte> many(40 * 512);
  const size_t before = static_cast<size_t>(std::count(device.calls.begin(), device.calls.end(), "cbw 0x28"));
  REQUIRE_OK(disk->Read(10, 40, many, 8192));
  CHECK(static_cast<size_t>(std::count(device.calls.begin(), device.calls.end(), "cbw 0x28")) == before + 3);
  CHECK(std::equal(many.begin(), many.end(), device.disk_.begin() + 10 * 512));
  CHECK(StatusOf(disk->Read(30, 40, many)) == "OUT_OF_RANGE");

  auto bench =
      msc::ReadBenchmark(*disk, 100 * 1024, 4096, [&log](const std::string& l) { log.push_back(l); });
  REQUIRE_OK(bench);
  CHECK(bench->bytes == 100 * 1024);
  CHECK_THAT(log.back(), Catch::StartsWith("read benchmark: 102400 bytes in "));
  CHECK(StatusOf(msc::ReadBenchmark(*disk, 1024, 1000, [](const std::string&) {})) == "INVALID_ARGS");
}

TEST_CASE("usb-mass-storage binds 08/06/50 interfaces and runs its checks as it starts",
          "[usb-mass-storage]") {
  const std::vector<bus::Driver> drivers = udrv::drivers::AllDrivers();
  const auto driver = std::find_if(drivers.begin(), drivers.end(),
                                   [](const bus::Driver& d) { return d.name == "usb-mass-storage"; });
  REQUIRE(driver != drivers.end());
  const bus::DeviceNode node = DiskNode();
  for (const bus::BindRule& rule : driver->rules) CHECK_FALSE(rule.Mismatch(node.properties));
  // The device node (no usb.interface) and a UAS interface (protocol 0x62) are not its.
  bus::Properties device_node;
  device_node.Set(std::string(usb::kPropClass), 0x08);
  device_node.Set(std::string(usb::kPropSubclass), 0x06);
  device_node.Set(std::string(usb::kPropProtocol), 0x50);
  bus::Properties uas = node.properties;
  uas.Set(std::string(usb::kPropProtocol), 0x62);
  for (const bus::Properties* other : {&device_node, &uas}) {
    bool any_mismatch = false;
    for (const bus::BindRule& rule : driver->rules)
      any_mismatch = any_mismatch || rule.Mismatch(*other).has_value();
    CHECK(any_mismatch);
  }

  const std::vector<std::string> assignments = {
      "usb-mass-storage.check-text=UDRV-TESTBED-usb-DISK", "usb-mass-storage.write-test-lba=7",
      "usb-mass-storage.read-benchmark-mib=1", "usb-mass-storage.read-transfer-kib=16"};
  auto settings = bus::ParseDriverOptions(drivers, assignments);
  REQUIRE_OK(settings);
  ScriptedDisk device;
  bus::ProtocolSet protocols;
  protocols.Add<usb::Device>(&device);
  std::vector<std::string> log;
  bus::DriverContext context(
      "usb-mass-storage", node, protocols, [&log](std::string_view line) { log.emplace_back(line); },
      settings->at("usb-mass-storage"));
  auto instance = driver->start(context);
  REQUIRE_OK(instance);
  REQUIRE(log.size() == 4);
  CHECK(log[0] ==
        "usb-mass-storage usb/usb2/2-1/2-1:1.0: disk over fake: \"QEMU\" \"QEMU HARDDISK\" rev \"2.5+\", "
        "type 0x0; "
        "64 blocks of 512 bytes (0 MiB); max LUN 0; bulk IN 0x81 (512 bytes), OUT 0x2 (512 bytes)");
  CHECK(log[1] == "usb-mass-storage usb/usb2/2-1/2-1:1.0: LBA 0 starts with \"UDRV-TESTBED-usb-DISK\"");
  CHECK(log[2] ==
        "usb-mass-storage usb/usb2/2-1/2-1:1.0: write test: LBA 7 written and read back (512 bytes)");
  CHECK_THAT(log[3], Catch::Contains("read benchmark: 1048576 bytes in "));
  CHECK_THAT(log[3], Catch::EndsWith("MB/s, 16 KiB per READ(10)"));
  REQUIRE_OK((*instance)->Stop());

  // A disk whose LBA 0 says something else fails the start.
  auto other = bus::ParseDriverOptions(drivers, std::vector<std::string>{"usb-mass-storage.check-text=NOPE"});
  REQUIRE_OK(other);
  bus::DriverContext failing("usb-mass-storage", node, protocols, {}, other->at("usb-mass-storage"));
  auto refused = driver->start(failing);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().status == Status::IO_DATA_INTEGRITY);
}
