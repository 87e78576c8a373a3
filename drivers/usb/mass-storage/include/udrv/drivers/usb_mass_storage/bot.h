// USB Mass Storage Class Bulk-Only Transport 1.0 ("BOT"), on usb::Device:
// each command is a Command Block Wrapper (31 bytes) on the bulk OUT
// endpoint, an optional data stage, and a Command Status Wrapper (13 bytes)
// on the bulk IN endpoint.
//
// The device's bytes are hostile. A CSW is valid (BOT §6.3.1) when it is 13
// bytes long, carries the "USBS" signature and echoes the CBW's tag; it is
// meaningful (§6.3.2) when its status is 0 or 1 and its residue is at most
// the CBW's dCBWDataTransferLength, or its status is 2 (phase error). What
// is not valid or not meaningful, and every phase error, ends in reset
// recovery (§5.3.4): the Bulk-Only Mass Storage Reset class request, then
// CLEAR_FEATURE(ENDPOINT_HALT) on the bulk IN and the bulk OUT endpoint.
// A stall in the data stage is cleared and the CSW read (§6.7.2, §6.7.3);
// a stall on the CSW is cleared and the CSW read once more (§6.7.2 host
// case).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/usb/descriptors.h"
#include "udrv/usb/device.h"

namespace udrv::drivers::usb_mass_storage {

inline constexpr uint32_t kCbwSignature = 0x43425355;  // "USBC", little endian
inline constexpr uint32_t kCswSignature = 0x53425355;  // "USBS"
inline constexpr size_t kCbwSize = 31;
inline constexpr size_t kCswSize = 13;
inline constexpr size_t kMaxCommandBlock = 16;  // bCBWCBLength is 1..16
inline constexpr uint8_t kMaxLun = 15;          // bCBWLUN has 4 bits

// Class requests to the interface (BOT §3.1, §3.2).
inline constexpr uint8_t kRequestMassStorageReset = 0xFF;
inline constexpr uint8_t kRequestGetMaxLun = 0xFE;

// Which way a command's data stage moves, as the host sees it.
enum class Direction : uint8_t { NONE, IN, OUT };

struct CommandBlockWrapper {
  uint32_t tag = 0;
  uint32_t data_transfer_length = 0;
  Direction direction = Direction::NONE;  // NONE and OUT both send bit 7 clear
  uint8_t lun = 0;
  std::span<const std::byte> command_block;  // 1..16 bytes
};
// The 31 bytes of a CBW. INVALID_ARGS for a command block of 0 or more than
// 16 bytes, or a LUN past 15.
Result<std::array<std::byte, kCbwSize>> EncodeCbw(const CommandBlockWrapper& cbw);

enum class CswStatus : uint8_t { PASSED = 0, FAILED = 1, PHASE_ERROR = 2 };

struct CommandStatusWrapper {
  uint32_t tag = 0;
  uint32_t residue = 0;  // dCSWDataResidue
  CswStatus status = CswStatus::PASSED;
};
// A CSW the device sent in answer to the CBW of `expected_tag` with
// `data_transfer_length`: IO_INVALID naming `object` and what was wrong when
// it is not valid or not meaningful (above).
Result<CommandStatusWrapper> ParseCsw(std::span<const std::byte> bytes, uint32_t expected_tag,
                                      uint32_t data_transfer_length, std::string_view object);

// The interface's bulk endpoints, from its descriptors.
struct BulkEndpoints {
  uint8_t in = 0;              // address, bit 7 set
  uint8_t out = 0;             // address
  uint16_t in_max_packet = 0;  // wMaxPacketSize's size bits (10:0)
  uint16_t out_max_packet = 0;
};
// The first bulk IN and bulk OUT endpoint of interface `interface_number`'s
// alternate setting 0 in configuration `configuration`. NOT_FOUND naming
// `object` when the configuration or interface is missing or lacks either.
Result<BulkEndpoints> FindBulkEndpoints(const usb::Descriptors& descriptors, uint8_t configuration,
                                        uint8_t interface_number, std::string_view object);

// What one command came to: its CSW's status and residue, and the bytes the
// data stage moved.
struct CommandResult {
  CswStatus status = CswStatus::PASSED;  // PASSED or FAILED: a phase error is an error
  uint32_t residue = 0;
  size_t transferred = 0;
};

class BulkOnlyTransport {
 public:
  // Over the device's claimed interface: its bulk endpoints from the
  // descriptors. `timeout` bounds each transfer. The device outlives the
  // transport.
  static Result<BulkOnlyTransport> Create(usb::Device& device, Duration timeout);

  const BulkEndpoints& endpoints() const { return endpoints_; }
  const std::string& object() const { return object_; }

  // GET MAX LUN: the highest LUN. A stall means the device has only LUN 0
  // (BOT §3.2); an answer past 15 or of the wrong length is IO_INVALID.
  Result<uint8_t> GetMaxLun();

  // Runs one command: the CBW, the data stage on `data` (IN or OUT, none
  // when `data` is empty) and the CSW. The command's own failure (CSW
  // status 1) is a result, not an error. Errors: a phase error, an invalid
  // or not meaningful CSW, or a failed transfer, each after reset recovery
  // (IO, IO_INVALID, TIMED_OUT, ... naming the command's opcode); the
  // recovery's own failure is added to the message.
  Result<CommandResult> Execute(uint8_t lun, std::span<const std::byte> command_block, Direction direction,
                                std::span<std::byte> data);

  // Reset recovery (BOT §5.3.4): the Bulk-Only Mass Storage Reset, then
  // ClearHalt on bulk IN and bulk OUT.
  Result<void> ResetRecovery();

 private:
  BulkOnlyTransport(usb::Device* device, BulkEndpoints endpoints, Duration timeout, std::string object)
      : device_(device), endpoints_(endpoints), timeout_(timeout), object_(std::move(object)) {}

  // The CSW of the command of `tag`: a stall is cleared and the read tried
  // once more.
  Result<CommandStatusWrapper> ReadCsw(uint32_t tag, uint32_t data_transfer_length);
  // `error` (from the command whose opcode is `opcode`) after reset recovery.
  std::unexpected<Error> FailAfterRecovery(Error error, uint8_t opcode);

  usb::Device* device_;
  BulkEndpoints endpoints_;
  Duration timeout_ = 0;
  std::string object_;
  uint32_t next_tag_ = 1;
};

}  // namespace udrv::drivers::usb_mass_storage
