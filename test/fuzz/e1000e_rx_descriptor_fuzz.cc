// libFuzzer target: the e1000e driver's reading of a receive descriptor the
// NIC wrote back (drivers/net/e1000e/src/rings.h), outside bytes a broken
// or hostile device controls. Whatever the word says, a frame handed out
// fits its buffer and has bytes; checksum verdicts only come from bits
// that claim them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "registers.h"
#include "rings.h"

namespace e1000e = udrv::drivers::e1000e;
namespace reg = udrv::drivers::e1000e::registers;
using udrv::net::ChecksumStatus;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t word = 0;
  std::memcpy(&word, data, size < sizeof(word) ? size : sizeof(word));
  const e1000e::RxVerdict verdict = e1000e::DecodeRxDescriptor(word);
  const auto status = static_cast<uint8_t>(word >> 32);
  const auto errors = static_cast<uint8_t>(word >> 40);

  if (verdict.deliverable()) {
    if (verdict.length == 0 || verdict.length > e1000e::kBufferSize) std::abort();
    if ((errors & reg::kRxErrorsFatal) != 0) std::abort();
    if ((status & reg::kRxStatusDone) == 0 || (status & reg::kRxStatusEndOfPacket) == 0) std::abort();
  }
  if (verdict.length != static_cast<uint16_t>(word)) std::abort();
  const bool ignored = (status & reg::kRxStatusIgnoreChecksum) != 0;
  if ((ignored || (status & reg::kRxStatusIpChecksummed) == 0) &&
      verdict.ip_checksum != ChecksumStatus::NOT_CHECKED) {
    std::abort();
  }
  if ((ignored ||
       (status & (reg::kRxStatusTcpChecksummed | reg::kRxStatusUdpChecksummed)) == 0) &&
      verdict.l4_checksum != ChecksumStatus::NOT_CHECKED) {
    std::abort();
  }
  // Encoding the fields read back gives the same verdict.
  const e1000e::RxVerdict again =
      e1000e::DecodeRxDescriptor(e1000e::RxWriteback(verdict.length, status, errors));
  if (again.deliverable() != verdict.deliverable() || again.ip_checksum != verdict.ip_checksum ||
      again.l4_checksum != verdict.l4_checksum) {
    std::abort();
  }
  return 0;
}
