#include "udrv/drivers/usb_mass_storage/scsi.h"

#include <time.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "byte_order.h"

namespace udrv::drivers::usb_mass_storage {

namespace {

// A T10 text field: printable ASCII kept, anything else '?', trailing
// spaces (the padding) dropped.
std::string TextField(std::span<const std::byte> bytes, size_t offset, size_t length) {
  std::string text;
  for (size_t i = offset; i < offset + length && i < bytes.size(); ++i) {
    const auto c = static_cast<uint8_t>(bytes[i]);
    text.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// The additional sense codes a USB disk is likely to report (SPC-4 Annex F).
struct AdditionalSense {
  uint8_t asc;
  uint8_t ascq;
  std::string_view text;
};
constexpr AdditionalSense kAdditionalSense[] = {
    {0x00, 0x00, "no additional sense information"},
    {0x04, 0x00, "logical unit not ready, cause not reportable"},
    {0x04, 0x01, "logical unit is in process of becoming ready"},
    {0x04, 0x02, "logical unit not ready, initializing command required"},
    {0x04, 0x03, "logical unit not ready, manual intervention required"},
    {0x0C, 0x00, "write error"},
    {0x11, 0x00, "unrecovered read error"},
    {0x1A, 0x00, "parameter list length error"},
    {0x20, 0x00, "invalid command operation code"},
    {0x21, 0x00, "logical block address out of range"},
    {0x24, 0x00, "invalid field in CDB"},
    {0x25, 0x00, "logical unit not supported"},
    {0x26, 0x00, "invalid field in parameter list"},
    {0x27, 0x00, "write protected"},
    {0x28, 0x00, "not ready to ready change, medium may have changed"},
    {0x29, 0x00, "power on, reset, or bus device reset occurred"},
    {0x3A, 0x00, "medium not present"},
    {0x44, 0x00, "internal target failure"},
};

std::string_view AdditionalSenseText(uint8_t asc, uint8_t ascq) {
  for (const AdditionalSense& entry : kAdditionalSense) {
    if (entry.asc == asc && entry.ascq == ascq) return entry.text;
  }
  return {};
}

void Sleep(Duration duration) {
  const timespec pause{.tv_sec = duration / 1'000'000'000, .tv_nsec = duration % 1'000'000'000};
  nanosleep(&pause, nullptr);
}

std::array<std::byte, 10> ReadWrite10(uint8_t opcode, uint32_t lba, uint16_t blocks) {
  std::array<std::byte, 10> command{};
  command[0] = std::byte{opcode};
  StoreBig<uint32_t>(command, 2, lba);
  StoreBig<uint16_t>(command, 7, blocks);
  return command;
}

// A block size a capacity answer may state: IO_INVALID for 0 or past kMaxBlockSize.
Result<void> CheckBlockSize(std::string_view command, uint32_t block_size, std::string_view object) {
  if (block_size != 0 && block_size <= kMaxBlockSize) return {};
  return Fail(Status::IO_INVALID,
              std::string(command) + ": block size " + std::to_string(block_size) + " is 0 or past " +
                  std::to_string(kMaxBlockSize),
              std::string(object));
}

}  // namespace

Result<InquiryData> ParseInquiry(std::span<const std::byte> bytes, std::string_view object) {
  if (bytes.size() < 5) {
    return Fail(Status::IO_INVALID, "INQUIRY data of " + std::to_string(bytes.size()) + " bytes, under 5",
                std::string(object));
  }
  // ADDITIONAL LENGTH counts the bytes after byte 4: a device may send
  // fewer than it says (the allocation length cut it) but not more than it
  // says, and not a standard answer shorter than 36 bytes with fewer sent.
  const size_t stated = size_t{static_cast<uint8_t>(bytes[4])} + 5;
  if (bytes.size() > stated) bytes = bytes.first(stated);
  InquiryData data;
  data.peripheral_qualifier = static_cast<uint8_t>(static_cast<uint8_t>(bytes[0]) >> 5);
  data.device_type = static_cast<uint8_t>(bytes[0]) & 0x1F;
  data.removable = (static_cast<uint8_t>(bytes[1]) & 0x80) != 0;
  data.version = static_cast<uint8_t>(bytes[2]);
  data.vendor = TextField(bytes, 8, 8);
  data.product = TextField(bytes, 16, 16);
  data.revision = TextField(bytes, 32, 4);
  return data;
}

Result<Capacity10> ParseCapacity10(std::span<const std::byte> bytes, std::string_view object) {
  if (bytes.size() < kCapacity10Length) {
    return Fail(Status::IO_INVALID,
                "READ CAPACITY(10) data of " + std::to_string(bytes.size()) + " bytes, not 8",
                std::string(object));
  }
  const uint32_t last_lba = LoadBig<uint32_t>(bytes, 0);
  const uint32_t block_size = LoadBig<uint32_t>(bytes, 4);
  UDRV_TRY(CheckBlockSize("READ CAPACITY(10)", block_size, object));
  Capacity10 result;
  result.capacity.block_size = block_size;
  if (last_lba == 0xFFFFFFFF) {
    result.needs_16 = true;
  } else {
    result.capacity.blocks = uint64_t{last_lba} + 1;
  }
  return result;
}

Result<Capacity> ParseCapacity16(std::span<const std::byte> bytes, std::string_view object) {
  if (bytes.size() < 12) {
    return Fail(Status::IO_INVALID,
                "READ CAPACITY(16) data of " + std::to_string(bytes.size()) + " bytes, under 12",
                std::string(object));
  }
  const uint64_t last_lba = LoadBig<uint64_t>(bytes, 0);
  const uint32_t block_size = LoadBig<uint32_t>(bytes, 8);
  UDRV_TRY(CheckBlockSize("READ CAPACITY(16)", block_size, object));
  if (last_lba >= std::numeric_limits<uint64_t>::max() / block_size) {
    return Fail(Status::IO_INVALID,
                "READ CAPACITY(16): last LBA " + Hex(last_lba) + " of " + std::to_string(block_size) +
                    "-byte blocks is past 2^64 bytes",
                std::string(object));
  }
  return Capacity{.blocks = last_lba + 1, .block_size = block_size};
}

std::string SenseKeyName(uint8_t key) {
  static constexpr std::string_view kNames[] = {"NO SENSE",
                                                "RECOVERED ERROR",
                                                "NOT READY",
                                                "MEDIUM ERROR",
                                                "HARDWARE ERROR",
                                                "ILLEGAL REQUEST",
                                                "UNIT ATTENTION",
                                                "DATA PROTECT",
                                                "BLANK CHECK",
                                                "VENDOR SPECIFIC",
                                                "COPY ABORTED",
                                                "ABORTED COMMAND",
                                                "",
                                                "VOLUME OVERFLOW",
                                                "MISCOMPARE",
                                                "COMPLETED"};
  if (key < std::size(kNames) && !kNames[key].empty()) return std::string(kNames[key]);
  return "sense key " + Hex(key);
}

std::string Sense::ToString() const {
  std::string text = SenseKeyName(key) + ", ASC/ASCQ " + Hex(asc, 2) + "/" + Hex(ascq, 2);
  if (const std::string_view meaning = AdditionalSenseText(asc, ascq); !meaning.empty()) {
    text += ": " + std::string(meaning);
  }
  return text;
}

Result<Sense> ParseSense(std::span<const std::byte> bytes, std::string_view object) {
  if (bytes.empty()) return Fail(Status::IO_INVALID, "sense data of 0 bytes", std::string(object));
  const uint8_t response_code = static_cast<uint8_t>(bytes[0]) & 0x7F;
  Sense sense;
  switch (response_code) {
    case 0x70:
    case 0x71:  // fixed format: key in byte 2, ASC and ASCQ in 12 and 13
      if (bytes.size() < 3) break;
      sense.key = static_cast<uint8_t>(bytes[2]) & 0x0F;
      if (bytes.size() >= 14) {
        sense.asc = static_cast<uint8_t>(bytes[12]);
        sense.ascq = static_cast<uint8_t>(bytes[13]);
      }
      return sense;
    case 0x72:
    case 0x73:  // descriptor format: key, ASC, ASCQ in bytes 1 to 3
      if (bytes.size() < 4) break;
      sense.key = static_cast<uint8_t>(bytes[1]) & 0x0F;
      sense.asc = static_cast<uint8_t>(bytes[2]);
      sense.ascq = static_cast<uint8_t>(bytes[3]);
      return sense;
    default:
      return Fail(Status::IO_INVALID,
                  "sense data with response code " + Hex(response_code) + ", none of 0x70 to 0x73",
                  std::string(object));
  }
  return Fail(Status::IO_INVALID,
              "sense data of " + std::to_string(bytes.size()) + " bytes, too few for response code " +
                  Hex(response_code),
              std::string(object));
}

std::array<std::byte, 6> InquiryCommand(uint8_t allocation_length) {
  return {std::byte{kInquiry},          std::byte{0}, std::byte{0}, std::byte{0},
          std::byte{allocation_length}, std::byte{0}};
}

std::array<std::byte, 6> TestUnitReadyCommand() { return {std::byte{kTestUnitReady}}; }

std::array<std::byte, 6> RequestSenseCommand(uint8_t allocation_length) {
  return {std::byte{kRequestSense},     std::byte{0}, std::byte{0}, std::byte{0},
          std::byte{allocation_length}, std::byte{0}};
}

std::array<std::byte, 10> ReadCapacity10Command() { return {std::byte{kReadCapacity10}}; }

std::array<std::byte, 16> ReadCapacity16Command(uint32_t allocation_length) {
  std::array<std::byte, 16> command{};
  command[0] = std::byte{kServiceActionIn16};
  command[1] = std::byte{kReadCapacity16ServiceAction};
  StoreBig<uint32_t>(command, 10, allocation_length);
  return command;
}

std::array<std::byte, 10> Read10Command(uint32_t lba, uint16_t blocks) {
  return ReadWrite10(kRead10, lba, blocks);
}

std::array<std::byte, 10> Write10Command(uint32_t lba, uint16_t blocks) {
  return ReadWrite10(kWrite10, lba, blocks);
}

Result<ScsiDisk::Outcome> ScsiDisk::Issue(std::span<const std::byte> command_block, Direction direction,
                                          std::span<std::byte> data) {
  UDRV_TRY_ASSIGN(const CommandResult result, transport_->Execute(lun_, command_block, direction, data));
  // The device's residue bounds what counts as moved (BOT §6.7: it may
  // have filled less of the buffer than the transfer's length says).
  Outcome outcome;
  outcome.transferred = std::min<size_t>(result.transferred, data.size() - result.residue);
  if (result.status == CswStatus::PASSED) return outcome;

  std::array<std::byte, kSenseLength> sense_bytes{};
  const auto request = RequestSenseCommand(static_cast<uint8_t>(sense_bytes.size()));
  UDRV_TRY_ASSIGN(const CommandResult sensed, transport_->Execute(lun_, request, Direction::IN, sense_bytes));
  if (sensed.status != CswStatus::PASSED) {
    return Fail(Status::IO, "REQUEST SENSE after CHECK CONDITION failed too", object());
  }
  const size_t sense_length = std::min<size_t>(sensed.transferred, sense_bytes.size() - sensed.residue);
  UDRV_TRY_ASSIGN(outcome.sense, ParseSense(std::span(sense_bytes).first(sense_length), object()));
  return outcome;
}

Result<size_t> ScsiDisk::Run(std::string_view name, std::span<const std::byte> command_block,
                             Direction direction, std::span<std::byte> data) {
  auto outcome = Issue(command_block, direction, data);
  if (!outcome) return Wrap(std::move(outcome).error(), name);
  if (outcome->sense) {
    return Fail(Status::IO, std::string(name) + ": CHECK CONDITION, " + outcome->sense->ToString(), object());
  }
  return outcome->transferred;
}

Result<InquiryData> ScsiDisk::Inquiry() {
  std::array<std::byte, kInquiryLength> answer{};
  const auto command = InquiryCommand(static_cast<uint8_t>(answer.size()));
  UDRV_TRY_ASSIGN(const size_t length, Run("INQUIRY", command, Direction::IN, answer));
  return ParseInquiry(std::span(answer).first(length), object());
}

Result<void> ScsiDisk::TestUnitReady(int attempts, Duration retry_delay) {
  const auto command = TestUnitReadyCommand();
  std::string last;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    UDRV_TRY_ASSIGN(const Outcome outcome, Issue(command, Direction::NONE, {}));
    if (!outcome.sense) return {};
    const Sense& sense = *outcome.sense;
    const bool becoming_ready = sense.key == kSenseNotReady && sense.asc == 0x04 && sense.ascq == 0x01;
    if (sense.key != kSenseUnitAttention && !becoming_ready) {
      return Fail(Status::IO, "TEST UNIT READY: CHECK CONDITION, " + sense.ToString(), object());
    }
    last = sense.ToString();
    if (becoming_ready) Sleep(retry_delay);
  }
  return Fail(Status::TIMED_OUT,
              "TEST UNIT READY: not ready after " + std::to_string(attempts) + " attempts, last " + last,
              object());
}

Result<Capacity> ScsiDisk::ReadCapacity() {
  std::array<std::byte, kCapacity10Length> answer10{};
  UDRV_TRY_ASSIGN(const size_t length10,
                  Run("READ CAPACITY(10)", ReadCapacity10Command(), Direction::IN, answer10));
  UDRV_TRY_ASSIGN(const Capacity10 capacity10,
                  ParseCapacity10(std::span(answer10).first(length10), object()));
  if (!capacity10.needs_16) return capacity10.capacity;
  std::array<std::byte, kCapacity16Length> answer16{};
  const auto command = ReadCapacity16Command(static_cast<uint32_t>(answer16.size()));
  UDRV_TRY_ASSIGN(const size_t length16, Run("READ CAPACITY(16)", command, Direction::IN, answer16));
  return ParseCapacity16(std::span(answer16).first(length16), object());
}

Result<void> ScsiDisk::Transfer10(uint8_t opcode, uint32_t lba, uint16_t blocks, uint32_t block_size,
                                  Direction direction, std::span<std::byte> data) {
  const std::string name =
      std::string(opcode == kRead10 ? "READ(10)" : "WRITE(10)") + " at LBA " + std::to_string(lba);
  if (data.size() != size_t{blocks} * block_size) {
    return Fail(Status::INVALID_ARGS,
                name + ": a buffer of " + std::to_string(data.size()) + " bytes for " +
                    std::to_string(blocks) + " blocks",
                object());
  }
  UDRV_TRY_ASSIGN(const size_t moved, Run(name, ReadWrite10(opcode, lba, blocks), direction, data));
  if (moved != data.size()) {
    return Fail(Status::IO_DATA_LOSS,
                name + ": " + std::to_string(moved) + " of " + std::to_string(data.size()) + " bytes",
                object());
  }
  return {};
}

Result<void> ScsiDisk::Read(uint32_t lba, uint16_t blocks, uint32_t block_size, std::span<std::byte> data) {
  return Transfer10(kRead10, lba, blocks, block_size, Direction::IN, data);
}

Result<void> ScsiDisk::Write(uint32_t lba, uint16_t blocks, uint32_t block_size,
                             std::span<const std::byte> data) {
  // An OUT transfer only reads its buffer; usb::Device takes one span type
  // for both directions.
  const std::span<std::byte> out(const_cast<std::byte*>(data.data()), data.size());
  return Transfer10(kWrite10, lba, blocks, block_size, Direction::OUT, out);
}

}  // namespace udrv::drivers::usb_mass_storage
