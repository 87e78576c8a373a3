// libFuzzer target: the mass-storage driver's reading of what a USB disk
// sends (drivers/usb/mass-storage), bytes a broken or hostile device
// controls. The first byte picks the parser: a CSW, INQUIRY data, READ
// CAPACITY(10) or (16) data, sense data; or (any other value) a whole
// MassStorage::Open and a read over a device whose every IN transfer
// answers with the next bytes of the input, length first. Whatever comes,
// what the parsers accept keeps their promises (a CSW's residue within its
// length, a capacity that does not wrap, a block size within bounds), and
// the driver neither crashes nor reads past its buffers (ASan).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "udrv/drivers/usb_mass_storage/usb_mass_storage.h"

namespace msc = udrv::drivers::usb_mass_storage;
namespace usb = udrv::usb;
using udrv::Fail;
using udrv::Result;
using udrv::Status;

namespace {

usb::Descriptors DiskDescriptors() {
  usb::EndpointDescriptor in;
  in.address = 0x81;
  in.attributes = 0x02;
  in.max_packet_size = 512;
  usb::EndpointDescriptor out = in;
  out.address = 0x02;
  usb::InterfaceDescriptor setting;
  setting.endpoints = {in, out};
  usb::ConfigurationDescriptor config;
  config.value = 1;
  config.interfaces = {usb::Interface{.number = 0, .alternates = {setting}}};
  usb::Descriptors descriptors;
  descriptors.configurations = {config};
  return descriptors;
}

// A device that takes every OUT transfer and answers each IN transfer (and
// GET MAX LUN) from the input: a length byte, then that many bytes (cut at
// the buffer); a length byte of 0xFF is a stall. Out of input, it times out.
class InputDevice final : public usb::Device {
 public:
  explicit InputDevice(std::span<const uint8_t> input) : input_(input), descriptors_(DiskDescriptors()) {
    node_.bus = "usb";
    node_.id = "usb/usb2/2-1/2-1:1.0";
  }

  const udrv::bus::DeviceNode& GetNode() const override { return node_; }
  std::string_view route() const override { return "fuzz"; }
  const usb::Descriptors& GetDescriptors() const override { return descriptors_; }
  uint8_t configuration() const override { return 1; }
  uint8_t interface_number() const override { return 0; }
  Result<void> ClaimInterface(uint8_t) override { return Fail(Status::NOT_SUPPORTED, "fuzz"); }
  Result<void> ReleaseInterface(uint8_t) override { return Fail(Status::NOT_SUPPORTED, "fuzz"); }
  Result<void> SetConfiguration(uint8_t) override { return Fail(Status::NOT_SUPPORTED, "fuzz"); }
  Result<void> SetInterface(uint8_t, uint8_t) override { return Fail(Status::NOT_SUPPORTED, "fuzz"); }
  Result<size_t> InterruptTransfer(uint8_t, std::span<std::byte>, udrv::Duration) override {
    return Fail(Status::NOT_SUPPORTED, "fuzz");
  }
  Result<void> Submit(const usb::AsyncTransfer&, const udrv::Port&) override {
    return Fail(Status::NOT_SUPPORTED, "fuzz");
  }
  Result<void> Cancel(uint64_t) override { return Fail(Status::NOT_SUPPORTED, "fuzz"); }
  Result<void> ClearHalt(uint8_t) override { return {}; }
  Result<void> Reset() override { return {}; }

  Result<size_t> Control(const usb::ControlSetup& setup, std::span<std::byte> data, udrv::Duration) override {
    if ((setup.request_type & usb::kRequestTypeIn) == 0) return size_t{0};
    return Answer(data);
  }
  Result<size_t> Bulk(uint8_t endpoint, std::span<std::byte> data, udrv::Duration) override {
    if ((endpoint & 0x80) == 0) return data.size();
    return Answer(data);
  }

 private:
  Result<size_t> Answer(std::span<std::byte> data) {
    if (input_.empty()) return Fail(Status::TIMED_OUT, "fuzz: out of input");
    const uint8_t length = input_[0];
    input_ = input_.subspan(1);
    if (length == 0xFF) return Fail(Status::IO_REFUSED, "fuzz: stall");
    const size_t n = std::min({size_t{length}, input_.size(), data.size()});
    std::memcpy(data.data(), input_.data(), n);
    input_ = input_.subspan(std::min(size_t{length}, input_.size()));
    return n;
  }

  std::span<const uint8_t> input_;
  udrv::bus::DeviceNode node_;
  usb::Descriptors descriptors_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const std::span<const std::byte> bytes = std::as_bytes(rest);
  switch (mode) {
    case 0: {
      if (auto csw = msc::ParseCsw(bytes, 0x1234, 512, "fuzz")) {
        if (csw->tag != 0x1234) std::abort();
        if (csw->status != msc::CswStatus::PHASE_ERROR && csw->residue > 512) std::abort();
      }
      return 0;
    }
    case 1:
      (void)msc::ParseInquiry(bytes, "fuzz");
      return 0;
    case 2:
      if (auto capacity = msc::ParseCapacity10(bytes, "fuzz")) {
        const uint32_t block_size = capacity->capacity.block_size;
        if (block_size == 0 || block_size > msc::kMaxBlockSize) std::abort();
      }
      return 0;
    case 3:
      if (auto capacity = msc::ParseCapacity16(bytes, "fuzz")) {
        if (capacity->blocks == 0 || capacity->block_size == 0 || capacity->block_size > msc::kMaxBlockSize) {
          std::abort();
        }
        if (capacity->bytes() / capacity->block_size != capacity->blocks) std::abort();
      }
      return 0;
    case 4:
      if (auto sense = msc::ParseSense(bytes, "fuzz")) {
        if (sense->key > 0xF) std::abort();
        (void)sense->ToString();
      }
      return 0;
    default: {
      InputDevice device(rest);
      auto disk = msc::MassStorage::Open(device, 1'000'000, 0);
      if (!disk) return 0;
      if (disk->capacity().blocks == 0 || disk->capacity().block_size > msc::kMaxBlockSize) std::abort();
      (void)msc::CheckText(*disk, "UDRV-TESTBED-usb-DISK");
      return 0;
    }
  }
}
