// The SCSI commands a USB disk (subclass 06, SCSI transparent) needs, over
// Bulk-Only Transport (bot.h): INQUIRY, TEST UNIT READY, READ CAPACITY(10)
// and (16), READ(10), WRITE(10), and REQUEST SENSE after a command ends in
// CHECK CONDITION (CSW status 1), its sense key, ASC and ASCQ decoded into
// the error's text (SPC-4 §4.5).
//
// The answers are the device's bytes: every parser checks lengths and
// values before using them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/drivers/usb_mass_storage/bot.h"

namespace udrv::drivers::usb_mass_storage {

// Operation codes (SPC-4, SBC-3).
inline constexpr uint8_t kTestUnitReady = 0x00;
inline constexpr uint8_t kRequestSense = 0x03;
inline constexpr uint8_t kInquiry = 0x12;
inline constexpr uint8_t kReadCapacity10 = 0x25;
inline constexpr uint8_t kRead10 = 0x28;
inline constexpr uint8_t kWrite10 = 0x2A;
inline constexpr uint8_t kServiceActionIn16 = 0x9E;
inline constexpr uint8_t kReadCapacity16ServiceAction = 0x10;

inline constexpr size_t kInquiryLength = 36;  // standard INQUIRY data
inline constexpr size_t kSenseLength = 18;    // fixed-format sense data
inline constexpr size_t kCapacity10Length = 8;
inline constexpr size_t kCapacity16Length = 32;
// The largest block a disk may claim; a larger one is taken as garbage (it
// sizes the driver's buffers).
inline constexpr uint32_t kMaxBlockSize = 64 * 1024;

// Standard INQUIRY data (SPC-4 §6.4.2).
struct InquiryData {
  uint8_t peripheral_qualifier = 0;
  uint8_t device_type = 0;  // 0x00: direct access block device
  bool removable = false;
  uint8_t version = 0;
  std::string vendor;  // T10 vendor identification, trailing spaces trimmed
  std::string product;
  std::string revision;
};
// IO_INVALID naming `object` for fewer than 5 bytes. Bytes past those the
// ADDITIONAL LENGTH counts are ignored; texts the answer does not reach are
// empty or cut; bytes outside printable ASCII in them become '?'.
Result<InquiryData> ParseInquiry(std::span<const std::byte> bytes, std::string_view object);

struct Capacity {
  uint64_t blocks = 0;  // the last LBA + 1
  uint32_t block_size = 0;
  uint64_t bytes() const { return blocks * block_size; }
};
// READ CAPACITY(10) data: 8 bytes. Its last LBA 0xFFFFFFFF means "ask READ
// CAPACITY(16)": `needs_16` set, blocks 0. IO_INVALID for a short answer, a
// block size of 0 or past kMaxBlockSize.
struct Capacity10 {
  Capacity capacity;
  bool needs_16 = false;
};
Result<Capacity10> ParseCapacity10(std::span<const std::byte> bytes, std::string_view object);
// READ CAPACITY(16) data: at least 12 bytes; IO_INVALID as above, and for a
// last LBA of 2^64 - 1 (the count would wrap) or a capacity past 2^64 bytes.
Result<Capacity> ParseCapacity16(std::span<const std::byte> bytes, std::string_view object);

// Sense keys (SPC-4 Table 51).
inline constexpr uint8_t kSenseNoSense = 0x0;
inline constexpr uint8_t kSenseNotReady = 0x2;
inline constexpr uint8_t kSenseUnitAttention = 0x6;

struct Sense {
  uint8_t key = 0;
  uint8_t asc = 0;   // additional sense code
  uint8_t ascq = 0;  // its qualifier
  // "NOT READY, ASC/ASCQ 0x3a/0x00: medium not present".
  std::string ToString() const;
};
// Sense data in fixed (0x70, 0x71) or descriptor (0x72, 0x73) format.
// IO_INVALID for another response code or too few bytes for the key (a
// fixed-format answer without ASC and ASCQ gives them as 0).
Result<Sense> ParseSense(std::span<const std::byte> bytes, std::string_view object);
// "UNIT ATTENTION", or "sense key 0xc" for the reserved ones.
std::string SenseKeyName(uint8_t key);

// Command blocks.
std::array<std::byte, 6> InquiryCommand(uint8_t allocation_length);
std::array<std::byte, 6> TestUnitReadyCommand();
std::array<std::byte, 6> RequestSenseCommand(uint8_t allocation_length);
std::array<std::byte, 10> ReadCapacity10Command();
std::array<std::byte, 16> ReadCapacity16Command(uint32_t allocation_length);
std::array<std::byte, 10> Read10Command(uint32_t lba, uint16_t blocks);
std::array<std::byte, 10> Write10Command(uint32_t lba, uint16_t blocks);

// One logical unit of a Bulk-Only device.
class ScsiDisk {
 public:
  ScsiDisk(BulkOnlyTransport& transport, uint8_t lun) : transport_(&transport), lun_(lun) {}

  // A command's outcome: the bytes moved and, when it ended in CHECK
  // CONDITION, the sense REQUEST SENSE read.
  struct Outcome {
    size_t transferred = 0;
    std::optional<Sense> sense;
  };
  // Runs `command_block`; transport errors are errors.
  Result<Outcome> Issue(std::span<const std::byte> command_block, Direction direction,
                        std::span<std::byte> data);
  // As Issue, but CHECK CONDITION is IO naming `name` and the decoded sense.
  Result<size_t> Run(std::string_view name, std::span<const std::byte> command_block, Direction direction,
                     std::span<std::byte> data);

  Result<InquiryData> Inquiry();
  // TEST UNIT READY, asked again (up to `attempts` times, `retry_delay`
  // apart) while the unit answers UNIT ATTENTION (a reset or a medium
  // change it reports once) or NOT READY, becoming ready (ASC/ASCQ 04/01).
  Result<void> TestUnitReady(int attempts = 10, Duration retry_delay = 100'000'000);
  // READ CAPACITY(10), then (16) when (10) says the disk is too large for it.
  Result<Capacity> ReadCapacity();
  // READ(10) and WRITE(10) of `blocks` blocks of `block_size` at `lba`:
  // `data` is exactly blocks * block_size bytes. A short transfer is
  // IO_DATA_LOSS.
  Result<void> Read(uint32_t lba, uint16_t blocks, uint32_t block_size, std::span<std::byte> data);
  Result<void> Write(uint32_t lba, uint16_t blocks, uint32_t block_size, std::span<const std::byte> data);

  const std::string& object() const { return transport_->object(); }

 private:
  // READ(10) or WRITE(10) (`opcode`) of `blocks` at `lba` on `data`.
  Result<void> Transfer10(uint8_t opcode, uint32_t lba, uint16_t blocks, uint32_t block_size,
                          Direction direction, std::span<std::byte> data);

  BulkOnlyTransport* transport_;
  uint8_t lun_ = 0;
};

}  // namespace udrv::drivers::usb_mass_storage
