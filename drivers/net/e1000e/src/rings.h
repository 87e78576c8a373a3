// What the e1000e driver computes without touching the device: descriptor
// ring index arithmetic and what a receive descriptor's status says. Kept
// apart so that host tests cover it.
#pragma once

#include <cstdint>

#include "registers.h"
#include "udrv/drivers/e1000e/e1000e.h"
#include "udrv/net/device.h"

namespace udrv::drivers::e1000e {

// The slot after `index` in a ring of `size` descriptors.
constexpr uint32_t RingNext(uint32_t index, uint32_t size) {
  return index + 1 == size ? 0 : index + 1;
}

// Descriptors the driver handed to the NIC and has not taken back, with
// `tail` the next one it fills and `clean` the oldest it has not taken back.
constexpr uint32_t RingInFlight(uint32_t tail, uint32_t clean, uint32_t size) {
  return tail >= clean ? tail - clean : size - (clean - tail);
}

// Descriptors the driver may still fill: one slot stays empty, or a full
// ring (tail == head) would read as an empty one.
constexpr uint32_t RingSpace(uint32_t tail, uint32_t clean, uint32_t size) {
  return size - 1 - RingInFlight(tail, clean, size);
}

// A written-back receive descriptor, decoded: what the device wrote is
// outside input, the length included.
struct RxVerdict {
  bool done = false;        // DD: the NIC wrote it back
  bool end_of_packet = false;
  bool fatal_error = false;  // CRC, symbol, sequence, carrier extension or data error
  bool bad_length = false;   // 0, or more than a pool buffer holds
  uint16_t length = 0;
  net::ChecksumStatus ip_checksum = net::ChecksumStatus::NOT_CHECKED;
  net::ChecksumStatus l4_checksum = net::ChecksumStatus::NOT_CHECKED;

  // A whole, good frame that fits its buffer: the only kind handed out.
  bool deliverable() const { return done && end_of_packet && !fatal_error && !bad_length; }
};

// `writeback` is the descriptor's second 64-bit word (length, checksum,
// status, errors, VLAN tag: registers::RxDescriptor's layout).
constexpr RxVerdict DecodeRxDescriptor(uint64_t writeback) {
  const auto length = static_cast<uint16_t>(writeback);
  const auto status = static_cast<uint8_t>(writeback >> 32);
  const auto errors = static_cast<uint8_t>(writeback >> 40);
  RxVerdict verdict;
  verdict.done = (status & registers::kRxStatusDone) != 0;
  verdict.end_of_packet = (status & registers::kRxStatusEndOfPacket) != 0;
  verdict.fatal_error = (errors & registers::kRxErrorsFatal) != 0;
  verdict.length = length;
  verdict.bad_length = length == 0 || length > kBufferSize;
  // IXSM: the NIC did not look at the checksums at all.
  if ((status & registers::kRxStatusIgnoreChecksum) != 0) return verdict;
  if ((status & registers::kRxStatusIpChecksummed) != 0) {
    verdict.ip_checksum = (errors & registers::kRxErrorIpChecksum) != 0
                              ? net::ChecksumStatus::BAD
                              : net::ChecksumStatus::GOOD;
  }
  if ((status & (registers::kRxStatusTcpChecksummed | registers::kRxStatusUdpChecksummed)) != 0) {
    verdict.l4_checksum = (errors & registers::kRxErrorL4Checksum) != 0
                              ? net::ChecksumStatus::BAD
                              : net::ChecksumStatus::GOOD;
  }
  return verdict;
}

// The write-back word a descriptor with these fields holds (tests, fuzzing).
constexpr uint64_t RxWriteback(uint16_t length, uint8_t status, uint8_t errors) {
  return uint64_t{length} | uint64_t{status} << 32 | uint64_t{errors} << 40;
}

}  // namespace udrv::drivers::e1000e
