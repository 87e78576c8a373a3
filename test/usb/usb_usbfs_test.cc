// The parts of the usb::Device over usbfs (usb/src/usbfs_device.cc) that
// need no device: TransferError's USB meaning of each usbfs errno
// (Documentation/driver-api/usb/error-codes.rst), the completion packet's
// layout both ways, and UsbfsControl's refusals before and at the ioctl.
// No usbfs node is opened: this machine has no USB, and none is touched.
#include <cerrno>
#include <catch2/catch.hpp>
#include <cstddef>
#include <string>
#include <vector>

#include "udrv/usb/usbfs_control.h"
#include "usbfs_device.h"

namespace udrv::usb {
namespace {

TEST_CASE("TransferError gives each usbfs errno its USB meaning, naming the transfer", "[usb-usbfs]") {
  struct Case {
    int err;
    Status status;
    std::string text;
  };
  const std::vector<Case> cases = {
      {EPIPE, Status::IO_REFUSED, "Bulk IN endpoint 0x81 stalled"},
      {ETIMEDOUT, Status::TIMED_OUT, "Bulk IN endpoint 0x81 timed out"},
      {ENODEV, Status::IO_NOT_PRESENT, "Bulk IN endpoint 0x81 failed: the device is gone"},
      {ESHUTDOWN, Status::IO_NOT_PRESENT, "Bulk IN endpoint 0x81 failed: the device is gone"},
      // A synchronous call's ENOENT is no such endpoint or interface: usbfs
      // turns a synchronous transfer it cancels into ETIMEDOUT.
      {ENOENT, Status::NOT_FOUND, "Bulk IN endpoint 0x81 failed: usbfs knows no such endpoint or interface"},
      {ECONNRESET, Status::CANCELED, "Bulk IN endpoint 0x81 was cancelled"},
      {EPROTO, Status::IO,
       "Bulk IN endpoint 0x81 failed: protocol error (bit stuffing, or no response in time)"},
      {EILSEQ, Status::IO, "Bulk IN endpoint 0x81 failed: CRC mismatch or no response"},
      {ETIME, Status::IO, "Bulk IN endpoint 0x81 failed: no response in time"},
      {EOVERFLOW, Status::IO_OVERRUN,
       "Bulk IN endpoint 0x81 failed: babble (the device sent more than the max packet or the buffer)"},
      {ECOMM, Status::IO_OVERRUN,
       "Bulk IN endpoint 0x81 failed: the controller could not store IN data fast enough"},
      {ENOSR, Status::IO, "Bulk IN endpoint 0x81 failed: the controller could not fetch OUT data fast enough"},
      {EREMOTEIO, Status::IO, "Bulk IN endpoint 0x81 failed: short where a full transfer was required"},
      {EXDEV, Status::IO, "Bulk IN endpoint 0x81 failed: isochronous transfer only partly done"},
      {EMSGSIZE, Status::INVALID_ARGS,
       "Bulk IN endpoint 0x81 failed: the endpoint's max packet size is unusable"},
      {EBUSY, Status::UNAVAILABLE, "Bulk IN endpoint 0x81 failed: busy"},
      {EACCES, Status::ACCESS_DENIED, "Bulk IN endpoint 0x81 was refused by usbfs: not this fd's to use"},
      {EPERM, Status::ACCESS_DENIED, "Bulk IN endpoint 0x81 was refused by usbfs: not this fd's to use"},
      {ENOMEM, Status::NO_MEMORY,
       "Bulk IN endpoint 0x81 failed: usbfs is out of memory (its limit is usbfs_memory_mb)"},
      {EINVAL, Status::INVALID_ARGS, "Bulk IN endpoint 0x81 was refused by usbfs as invalid"},
      // Anything else: the errno's general meaning.
      {EBADF, Status::BAD_HANDLE, "Bulk IN endpoint 0x81 failed"},
      {EIO, Status::IO, "Bulk IN endpoint 0x81 failed"},
  };
  for (const Case& c : cases) {
    INFO("errno " << c.err);
    const Error error = TransferError(c.err, "Bulk IN endpoint 0x81", "usb/usb2/2-1");
    CHECK(error.status == c.status);
    CHECK(error.what == c.text);
    CHECK(error.object == "usb/usb2/2-1");
    CHECK(error.err_no == c.err);
  }
}

TEST_CASE("a reaped URB's ENOENT is a cancel; the rest mean what they mean synchronously", "[usb-usbfs]") {
  CHECK(ReapedStatus(0) == Status::OK);
  CHECK(ReapedStatus(ENOENT) == Status::CANCELED);
  CHECK(ReapedStatus(ECONNRESET) == Status::CANCELED);
  CHECK(ReapedStatus(EPIPE) == Status::IO_REFUSED);
  CHECK(ReapedStatus(ESHUTDOWN) == Status::IO_NOT_PRESENT);
  CHECK(ReapedStatus(ETIMEDOUT) == Status::TIMED_OUT);
}

TEST_CASE("a completion comes back from its packet as it went in", "[usb-usbfs]") {
  const std::vector<TransferCompletion> completions = {
      {.key = 0, .status = Status::OK, .actual_length = 0, .err_no = 0},
      {.key = 7, .status = Status::OK, .actual_length = 31, .err_no = 0},
      {.key = 0xFFFF'FFFF'FFFF'FFFF, .status = Status::IO_REFUSED, .actual_length = 0, .err_no = -EPIPE},
      {.key = 1ull << 40, .status = Status::CANCELED, .actual_length = 0xFFFF'FFFF, .err_no = -ENOENT},
      {.key = 3, .status = Status::IO_NOT_PRESENT, .actual_length = 512, .err_no = -ESHUTDOWN},
  };
  for (const TransferCompletion& sent : completions) {
    INFO("key " << sent.key);
    const PortPacket packet = CompletionPacket(sent);
    CHECK(packet.type == PacketType::USER);
    CHECK(packet.key == sent.key);
    CHECK(packet.status == sent.status);
    const TransferCompletion got = CompletionOf(packet);
    CHECK(got.key == sent.key);
    CHECK(got.status == sent.status);
    CHECK(got.actual_length == sent.actual_length);
    CHECK(got.err_no == sent.err_no);
  }
}

TEST_CASE("UsbfsControl refuses more than usbfs carries before asking, and names the request",
          "[usb-usbfs]") {
  const ControlSetup get_descriptor{.request_type = kRequestTypeIn, .request = kRequestGetDescriptor,
                                    .value = 0x0F00, .index = 0};
  std::vector<std::byte> data(MaxSyncControlData() + 1);
  // fd -1: no ioctl reaches anything, and the size is refused before one.
  const auto too_long = UsbfsControl(-1, get_descriptor, data, 1'000'000'000, "usb/usb2/2-1");
  REQUIRE_FALSE(too_long.has_value());
  CHECK(too_long.error().status == Status::OUT_OF_RANGE);
  CHECK(too_long.error().what.starts_with("control request 0x06 (type 0x80): " +
                                          std::to_string(data.size()) + " bytes, and usbfs carries at most " +
                                          std::to_string(MaxSyncControlData())));
  CHECK(too_long.error().object == "usb/usb2/2-1");

  data.resize(5);
  const auto no_fd = UsbfsControl(-1, get_descriptor, data, 1'000'000'000, "usb/usb2/2-1");
  REQUIRE_FALSE(no_fd.has_value());
  CHECK(no_fd.error().status == Status::BAD_HANDLE);
  CHECK(no_fd.error().what == "control request 0x06 (type 0x80) failed");
  CHECK(no_fd.error().err_no == EBADF);
}

}  // namespace
}  // namespace udrv::usb
