// A driver for USB mass storage disks speaking SCSI over Bulk-Only
// Transport (interface class 08, subclass 06, protocol 50), on usb::Device
// alone: bot.h moves the commands, scsi.h speaks SCSI.
//
// The driver manager binds it to interface nodes (usb.interface present)
// with usb.class 0x08, usb.subclass 0x06 and usb.protocol 0x50
// (MakeBusDriver). As it starts it asks GET MAX LUN, INQUIRY, TEST UNIT
// READY and the capacity of LUN 0 and logs them; then, as its options say
// (`--driver-option usb-mass-storage.NAME=VALUE`):
//   check-text=TEXT      LBA 0 must start with TEXT (a testbed disk's label);
//   write-test-lba=N     writes WriteTestPattern(N) to LBA N and reads it
//                        back; the block keeps the pattern (0: no write);
//   read-benchmark-mib=M reads M MiB from LBA 0 on, wrapping at the disk's
//                        end, read-transfer-kib KiB per READ(10), and logs
//                        "read benchmark: ... MB/s".
// The disk goes back to the bus when the driver stops (the manager's
// --restore-kernel-driver gives it back to usb-storage).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/bus/driver.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/drivers/usb_mass_storage/bot.h"
#include "udrv/drivers/usb_mass_storage/scsi.h"
#include "udrv/usb/device.h"

namespace udrv::drivers::usb_mass_storage {

inline constexpr std::string_view kDriverName = "usb-mass-storage";
inline constexpr uint8_t kSubclassScsi = 0x06;      // SCSI transparent command set
inline constexpr uint8_t kProtocolBulkOnly = 0x50;  // Bulk-Only Transport

// LUN 0 of a Bulk-Only SCSI disk, identified and ready.
class MassStorage {
 public:
  // Finds the bulk endpoints, then GET MAX LUN, INQUIRY, TEST UNIT READY
  // (`ready_retry_delay` apart while the unit is becoming ready) and the
  // capacity. `timeout` bounds each transfer. The device outlives the
  // object.
  static Result<MassStorage> Open(usb::Device& device, Duration timeout,
                                  Duration ready_retry_delay = 100'000'000);

  const BulkEndpoints& endpoints() const { return transport_.endpoints(); }
  uint8_t max_lun() const { return max_lun_; }
  const InquiryData& inquiry() const { return inquiry_; }
  const Capacity& capacity() const { return capacity_; }
  const std::string& object() const { return transport_.object(); }

  // `blocks` blocks at `lba` into or from `data` (blocks * block size
  // bytes), in READ(10)/WRITE(10) commands of at most `max_transfer` bytes
  // (at least one block). OUT_OF_RANGE past the disk's end or past LBA
  // 2^32 - 1 (the 10-byte commands' reach).
  Result<void> Read(uint64_t lba, uint64_t blocks, std::span<std::byte> data,
                    size_t max_transfer = 64 * 1024);
  Result<void> Write(uint64_t lba, uint64_t blocks, std::span<const std::byte> data,
                     size_t max_transfer = 64 * 1024);

 private:
  MassStorage(BulkOnlyTransport transport, uint8_t max_lun)
      : transport_(std::move(transport)), max_lun_(max_lun) {}
  ScsiDisk Disk() { return ScsiDisk(transport_, 0); }
  Result<void> CheckRange(std::string_view what, uint64_t lba, uint64_t blocks, size_t bytes) const;
  // Calls `command` for each READ(10)/WRITE(10) of a transfer checked by
  // CheckRange: its first LBA, block count and offset in the buffer.
  Result<void> InCommands(
      uint64_t lba, uint64_t blocks, size_t max_transfer,
      const std::function<Result<void>(uint32_t lba, uint16_t count, size_t offset)>& command) const;

  BulkOnlyTransport transport_;
  uint8_t max_lun_ = 0;
  InquiryData inquiry_;
  Capacity capacity_;
};

using LogLine = std::function<void(const std::string&)>;

// LBA 0 starts with `text`: IO_DATA_INTEGRITY quoting what it starts with
// otherwise.
Result<void> CheckText(MassStorage& disk, std::string_view text);

// A block of the write test: the line "udrv usb-mass-storage write-test
// LBA <lba>\n" repeated and cut at `block_size` bytes (what
// `yes "udrv usb-mass-storage write-test LBA <lba>" | head -c <block_size>`
// prints).
std::vector<std::byte> WriteTestPattern(uint64_t lba, uint32_t block_size);
// Writes WriteTestPattern(lba) to `lba`, reads it back and compares:
// IO_DATA_INTEGRITY naming the first differing byte. INVALID_ARGS for LBA 0.
Result<void> WriteTest(MassStorage& disk, uint64_t lba, const LogLine& log);

struct ReadBenchmarkResult {
  uint64_t bytes = 0;
  Duration elapsed = 0;
  double megabytes_per_s = 0;  // 10^6 bytes per second
};
// Reads `bytes` (rounded up to whole transfers) from LBA 0 on, wrapping at
// the disk's end, `transfer` bytes per READ(10) (a whole number of blocks),
// and logs the rate.
Result<ReadBenchmarkResult> ReadBenchmark(MassStorage& disk, uint64_t bytes, size_t transfer,
                                          const LogLine& log);

// The registration with the driver manager: the rules above; options
// timeout (duration, 5s), check-text (string, empty: none),
// write-test-lba (number, 0: none), read-benchmark-mib (number, 0: none),
// read-transfer-kib (number, 64).
bus::Driver MakeBusDriver();

}  // namespace udrv::drivers::usb_mass_storage
