// udrv's test frames: Ethernet frames whose every byte a receiver can check,
// sent and verified by udrv-net (on any net::Device) and by the Linux-side
// peer of the guest tests (AF_PACKET), so either end can be the other's
// oracle.
//
// Layout, multi-byte fields big-endian (network order):
//   0   destination MAC (6)
//   6   source MAC (6)
//   12  EtherType 0x88B5 (IEEE local experimental) (2)
//   14  magic "UDRV" (4)
//   18  stream id (4)
//   22  sequence number (8)
//   30  frame length, these bytes to the checksum's end (2)
//   32  payload: a pattern derived from stream and sequence (length - 36)
//   L-4 CRC-32 (IEEE 802.3, as zlib's crc32) of bytes 0..L-4 (4)
// Sizes are 60..1514 bytes: an Ethernet frame without its FCS, so a NIC
// neither pads nor splits one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/net/device.h"

namespace udrv::net {

inline constexpr uint16_t kTestFrameEtherType = 0x88B5;
inline constexpr uint32_t kTestFrameMagic = 0x55445256;  // "UDRV"
inline constexpr size_t kTestFrameHeaderSize = 32;       // Ethernet and udrv's header
inline constexpr size_t kTestFrameChecksumSize = 4;
inline constexpr size_t kMinTestFrameSize = 60;
inline constexpr size_t kMaxTestFrameSize = 1514;

inline constexpr MacAddress kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

// CRC-32 (IEEE 802.3, reflected, as zlib's crc32(0, bytes)).
uint32_t Crc32(std::span<const std::byte> bytes);

struct TestFrameSpec {
  MacAddress dst = kBroadcastMac;
  MacAddress src;
  uint32_t stream = 0;
  uint64_t sequence = 0;
  uint32_t length = kMinTestFrameSize;  // the whole frame, kMinTestFrameSize..kMaxTestFrameSize
};

// Writes the test frame `spec` describes to out[0, spec.length).
// INVALID_ARGS for a length outside 60..1514 or an `out` shorter than it.
Result<void> BuildTestFrame(std::span<std::byte> out, const TestFrameSpec& spec);

// Whether `bytes` claims to be a test frame (its EtherType is 0x88B5):
// receivers count other frames apart and ignore them.
bool HasTestFrameEtherType(std::span<const std::byte> bytes);

struct TestFrameInfo {
  MacAddress dst;
  MacAddress src;
  uint32_t stream = 0;
  uint64_t sequence = 0;
  uint32_t length = 0;
};

// Checks `bytes`, a whole received frame, byte for byte. Refuses, saying
// what and at which offset:
//   IO_INVALID         too short or too long for a test frame, not EtherType
//                      0x88B5, wrong magic, a length field outside 60..1514
//                      or not the frame's length
//   IO_DATA_INTEGRITY  a checksum mismatch (naming the first payload byte
//                      that differs from the pattern, where one does), or a
//                      payload byte that is not the pattern's under a
//                      matching checksum
Result<TestFrameInfo> VerifyTestFrame(std::span<const std::byte> bytes);

// What a receiver saw of one stream of test frames.
struct StreamTally {
  uint64_t frames = 0;        // test frames, good or not
  uint64_t bytes = 0;         // of those
  uint64_t good = 0;          // verified, of this stream, each sequence number's first
  uint64_t other = 0;         // frames of another EtherType, ignored
  uint64_t corrupt = 0;       // VerifyTestFrame refused them
  uint64_t wrong_stream = 0;  // verified, of another stream id
  uint64_t out_of_range = 0;  // verified, a sequence number before the first or far past it
  uint64_t late = 0;          // good, but after a later sequence number (reordered)
  uint64_t duplicates = 0;    // verified, a sequence number that came before
  // Sequence numbers below the highest seen that have not come (yet).
  uint64_t missing = 0;
  std::string first_error;    // the first problem, in words; empty when none

  // Every test frame verified and in order, none missing.
  bool ok() const {
    return corrupt == 0 && wrong_stream == 0 && out_of_range == 0 && late == 0 &&
           duplicates == 0 && missing == 0;
  }
};

// The tally's counts by their field names ("frames", "good", ... "missing"),
// in declaration order: how reports print them (first_error aside).
std::vector<NamedCounter> TallyCounts(const StreamTally& tally);

// Why `tally` is not `count` test frames verified in order, in words: "2998
// of 3000 test frames verified; late 815, missing 2; first problem: ...".
std::string DescribeShortfall(const StreamTally& tally, uint64_t count);

// The receiving side's check of one stream: each frame verified byte for
// byte, the sequence numbers consecutive from `first_sequence`. It
// remembers which sequence numbers came (up to kMaxTrackedSequences past
// the first), so that a frame arriving late is told from a duplicate.
class StreamVerifier {
 public:
  static constexpr uint64_t kMaxTrackedSequences = uint64_t{1} << 26;

  enum class Verdict : uint8_t {
    GOOD,   // the next test frame, verified
    OTHER,  // not a test frame (another EtherType): ignored
    BAD,    // a test frame with a problem, out of order, or the first after a gap
            // (tally().first_error has the first problem)
  };

  explicit StreamVerifier(uint32_t stream = 0, uint64_t first_sequence = 0)
      : stream_(stream), first_sequence_(first_sequence) {}

  Verdict Check(std::span<const std::byte> frame);

  const StreamTally& tally() const { return tally_; }
  // The sequence number the next frame should carry: one past the highest seen.
  uint64_t next_sequence() const { return first_sequence_ + seen_.size(); }

 private:
  void Note(std::string problem);

  uint32_t stream_;
  uint64_t first_sequence_;
  std::vector<bool> seen_;  // by sequence - first_sequence_, up to the highest seen
  StreamTally tally_;
};

}  // namespace udrv::net
