#include <algorithm>
#include <cstdio>
#include <utility>

#include "udrv/drivers/usb_mass_storage/usb_mass_storage.h"

namespace udrv::drivers::usb_mass_storage {

namespace {

// The most a 10-byte READ or WRITE moves: its transfer length is 16 bits.
constexpr uint64_t kMaxBlocksPer10 = 0xFFFF;

// Text from the disk, quoted for a message: printable ASCII kept.
std::string Quote(std::span<const std::byte> bytes) {
  std::string text = "\"";
  for (const std::byte b : bytes) {
    const auto c = static_cast<uint8_t>(b);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      text.push_back(static_cast<char>(c));
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      text += escaped;
    }
  }
  return text + "\"";
}

// Blocks per command: as many as `max_transfer` bytes hold, at least one.
uint64_t BlocksPerCommand(size_t max_transfer, uint32_t block_size) {
  return std::clamp<uint64_t>(max_transfer / block_size, 1, kMaxBlocksPer10);
}

}  // namespace

Result<MassStorage> MassStorage::Open(usb::Device& device, Duration timeout, Duration ready_retry_delay) {
  UDRV_TRY_ASSIGN(BulkOnlyTransport transport, BulkOnlyTransport::Create(device, timeout));
  UDRV_TRY_ASSIGN(const uint8_t max_lun, transport.GetMaxLun());
  MassStorage disk(std::move(transport), max_lun);
  UDRV_TRY_ASSIGN(disk.inquiry_, disk.Disk().Inquiry());
  UDRV_TRY(disk.Disk().TestUnitReady(10, ready_retry_delay));
  UDRV_TRY_ASSIGN(disk.capacity_, disk.Disk().ReadCapacity());
  return disk;
}

Result<void> MassStorage::CheckRange(std::string_view what, uint64_t lba, uint64_t blocks,
                                     size_t bytes) const {
  if (blocks > capacity_.blocks || lba > capacity_.blocks - blocks) {
    return Fail(Status::OUT_OF_RANGE,
                std::string(what) + " of " + std::to_string(blocks) + " blocks at LBA " +
                    std::to_string(lba) + " past the disk's " + std::to_string(capacity_.blocks) + " blocks",
                object());
  }
  if (lba + blocks > uint64_t{UINT32_MAX} + 1) {
    return Fail(Status::OUT_OF_RANGE, std::string(what) + " past LBA 2^32 - 1: the 10-byte commands' reach",
                object());
  }
  if (bytes / capacity_.block_size != blocks || bytes % capacity_.block_size != 0) {
    return Fail(Status::INVALID_ARGS,
                std::string(what) + ": a buffer of " + std::to_string(bytes) + " bytes for " +
                    std::to_string(blocks) + " blocks of " + std::to_string(capacity_.block_size),
                object());
  }
  return {};
}

Result<void> MassStorage::Read(uint64_t lba, uint64_t blocks, std::span<std::byte> data,
                               size_t max_transfer) {
  UDRV_TRY(CheckRange("read", lba, blocks, data.size()));
  return InCommands(lba, blocks, max_transfer, [&](uint32_t first, uint16_t count, size_t offset) {
    const uint32_t block_size = capacity_.block_size;
    return Disk().Read(first, count, block_size, data.subspan(offset, size_t{count} * block_size));
  });
}

Result<void> MassStorage::Write(uint64_t lba, uint64_t blocks, std::span<const std::byte> data,
                                size_t max_transfer) {
  UDRV_TRY(CheckRange("write", lba, blocks, data.size()));
  return InCommands(lba, blocks, max_transfer, [&](uint32_t first, uint16_t count, size_t offset) {
    const uint32_t block_size = capacity_.block_size;
    return Disk().Write(first, count, block_size, data.subspan(offset, size_t{count} * block_size));
  });
}

Result<void> MassStorage::InCommands(
    uint64_t lba, uint64_t blocks, size_t max_transfer,
    const std::function<Result<void>(uint32_t lba, uint16_t count, size_t offset)>& command) const {
  const uint32_t block_size = capacity_.block_size;
  const uint64_t step = BlocksPerCommand(max_transfer, block_size);
  for (uint64_t done = 0; done < blocks;) {
    const auto count = static_cast<uint16_t>(std::min(step, blocks - done));
    UDRV_TRY(command(static_cast<uint32_t>(lba + done), count, done * block_size));
    done += count;
  }
  return {};
}

Result<void> CheckText(MassStorage& disk, std::string_view text) {
  std::vector<std::byte> block(disk.capacity().block_size);
  UDRV_TRY(disk.Read(0, 1, block));
  const auto expected = std::as_bytes(std::span(text.data(), text.size()));
  const size_t compared = std::min(expected.size(), block.size());
  if (text.size() > block.size() || !std::equal(expected.begin(), expected.end(), block.begin())) {
    return Fail(Status::IO_DATA_INTEGRITY,
                "LBA 0 starts with " + Quote(std::span(block).first(compared)) + ", not " + Quote(expected),
                disk.object());
  }
  return {};
}

std::vector<std::byte> WriteTestPattern(uint64_t lba, uint32_t block_size) {
  const std::string line = "udrv usb-mass-storage write-test LBA " + std::to_string(lba) + "\n";
  std::vector<std::byte> block(block_size);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<std::byte>(line[i % line.size()]);
  return block;
}

Result<void> WriteTest(MassStorage& disk, uint64_t lba, const LogLine& log) {
  if (lba == 0) return Fail(Status::INVALID_ARGS, "the write test does not write LBA 0", disk.object());
  const uint32_t block_size = disk.capacity().block_size;
  const std::vector<std::byte> pattern = WriteTestPattern(lba, block_size);
  UDRV_TRY(disk.Write(lba, 1, pattern));
  std::vector<std::byte> read_back(block_size);
  UDRV_TRY(disk.Read(lba, 1, read_back));
  const auto differs = std::mismatch(pattern.begin(), pattern.end(), read_back.begin());
  if (differs.first != pattern.end()) {
    const auto offset = static_cast<size_t>(differs.first - pattern.begin());
    return Fail(
        Status::IO_DATA_INTEGRITY,
        "write test: LBA " + std::to_string(lba) + " read back differs at byte " + std::to_string(offset),
        disk.object());
  }
  log("write test: LBA " + std::to_string(lba) + " written and read back (" + std::to_string(block_size) +
      " bytes)");
  return {};
}

Result<ReadBenchmarkResult> ReadBenchmark(MassStorage& disk, uint64_t bytes, size_t transfer,
                                          const LogLine& log) {
  const uint32_t block_size = disk.capacity().block_size;
  const uint64_t disk_blocks = disk.capacity().blocks;
  if (transfer == 0 || transfer % block_size != 0 || transfer / block_size > kMaxBlocksPer10) {
    return Fail(Status::INVALID_ARGS,
                "read benchmark: a transfer of " + std::to_string(transfer) +
                    " bytes is not 1 to 65535 blocks of " + std::to_string(block_size),
                disk.object());
  }
  const uint64_t per_transfer = transfer / block_size;
  std::vector<std::byte> buffer(transfer);
  ReadBenchmarkResult result;
  uint64_t lba = 0;
  const Time start = Now();
  while (result.bytes < bytes) {
    if (lba >= disk_blocks) lba = 0;
    const uint64_t blocks = std::min(per_transfer, disk_blocks - lba);
    UDRV_TRY(disk.Read(lba, blocks, std::span(buffer).first(blocks * block_size), transfer));
    lba += blocks;
    result.bytes += blocks * block_size;
  }
  result.elapsed = Now() - start;
  result.megabytes_per_s =
      result.elapsed > 0 ? static_cast<double>(result.bytes) * 1e3 / static_cast<double>(result.elapsed) : 0;
  char line[160];
  std::snprintf(line, sizeof(line), "read benchmark: %llu bytes in %.3f s, %.1f MB/s, %zu KiB per READ(10)",
                static_cast<unsigned long long>(result.bytes), static_cast<double>(result.elapsed) / 1e9,
                result.megabytes_per_s, transfer / 1024);
  log(line);
  return result;
}

}  // namespace udrv::drivers::usb_mass_storage
