#include "udrv/net/test_frame.h"

#include <array>
#include <cstring>
#include <utility>

namespace udrv::net {
namespace {

constexpr size_t kMagicOffset = 14;
constexpr size_t kStreamOffset = 18;
constexpr size_t kSequenceOffset = 22;
constexpr size_t kLengthOffset = 30;
constexpr size_t kEtherTypeOffset = 12;

// Slicing-by-8 tables: a frame is checksummed once per send and once per
// receive, under TCG too, so eight bytes a step rather than one.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeCrcTables() {
  std::array<std::array<uint32_t, 256>, 8> tables{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    tables[0][i] = crc;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t t = 1; t < 8; ++t) {
      tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][tables[t - 1][i] & 0xff];
    }
  }
  return tables;
}
constexpr auto kCrcTables = MakeCrcTables();

uint8_t U8(std::span<const std::byte> bytes, size_t offset) {
  return std::to_integer<uint8_t>(bytes[offset]);
}

uint64_t ReadBig(std::span<const std::byte> bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value = (value << 8) | U8(bytes, offset + i);
  return value;
}

void WriteBig(std::span<std::byte> bytes, size_t offset, size_t width, uint64_t value) {
  for (size_t i = 0; i < width; ++i) {
    bytes[offset + width - 1 - i] = static_cast<std::byte>(value & 0xff);
    value >>= 8;
  }
}

// The payload is 64-bit words, little-endian, word k = seed + k * golden:
// every byte depends on stream, sequence and position, and building or
// checking it takes a multiply-free add per eight bytes.
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
uint64_t PayloadSeed(uint32_t stream, uint64_t sequence) {
  return sequence * kGolden ^ (uint64_t{stream} << 32 | 0x5bd1e995u);
}

void FillPayload(std::span<std::byte> payload, uint32_t stream, uint64_t sequence) {
  uint64_t word = PayloadSeed(stream, sequence);
  size_t i = 0;
  for (; i + 8 <= payload.size(); i += 8, word += kGolden) {
    for (size_t b = 0; b < 8; ++b) payload[i + b] = static_cast<std::byte>(word >> (8 * b));
  }
  for (size_t b = 0; i + b < payload.size(); ++b) {
    payload[i + b] = static_cast<std::byte>(word >> (8 * b));
  }
}

// The index of the first payload byte that differs from the pattern, or
// payload.size() when none does; `expected` gets the pattern's byte there.
size_t FirstPayloadMismatch(std::span<const std::byte> payload, uint32_t stream, uint64_t sequence,
                            uint8_t& expected) {
  uint64_t word = PayloadSeed(stream, sequence);
  for (size_t i = 0; i < payload.size(); i += 8, word += kGolden) {
    for (size_t b = 0; b < 8 && i + b < payload.size(); ++b) {
      const auto want = static_cast<uint8_t>(word >> (8 * b));
      if (std::to_integer<uint8_t>(payload[i + b]) != want) {
        expected = want;
        return i + b;
      }
    }
  }
  return payload.size();
}

std::string Byte(uint8_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string{'0', 'x', kDigits[value >> 4], kDigits[value & 0xf]};
}

std::unexpected<Error> Refuse(Status status, std::string what, size_t size) {
  return Fail(status, "test frame: " + std::move(what),
              "frame of " + std::to_string(size) + " bytes");
}

}  // namespace

uint32_t Crc32(std::span<const std::byte> bytes) {
  uint32_t crc = 0xffffffffu;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    const uint32_t low = crc ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                                uint32_t{p[3]} << 24);
    crc = kCrcTables[7][low & 0xff] ^ kCrcTables[6][(low >> 8) & 0xff] ^
          kCrcTables[5][(low >> 16) & 0xff] ^ kCrcTables[4][low >> 24] ^ kCrcTables[3][p[4]] ^
          kCrcTables[2][p[5]] ^ kCrcTables[1][p[6]] ^ kCrcTables[0][p[7]];
  }
  for (; n > 0; ++p, --n) crc = (crc >> 8) ^ kCrcTables[0][(crc ^ *p) & 0xff];
  return ~crc;
}

Result<void> BuildTestFrame(std::span<std::byte> out, const TestFrameSpec& spec) {
  if (spec.length < kMinTestFrameSize || spec.length > kMaxTestFrameSize) {
    return Fail(Status::INVALID_ARGS, "build a test frame: its length is " +
                                          std::to_string(spec.length) + " bytes, not " +
                                          std::to_string(kMinTestFrameSize) + ".." +
                                          std::to_string(kMaxTestFrameSize));
  }
  if (out.size() < spec.length) {
    return Fail(Status::INVALID_ARGS, "build a test frame of " + std::to_string(spec.length) +
                                          " bytes in a buffer of " + std::to_string(out.size()));
  }
  const std::span<std::byte> frame = out.first(spec.length);
  std::memcpy(frame.data(), spec.dst.bytes.data(), 6);
  std::memcpy(frame.data() + 6, spec.src.bytes.data(), 6);
  WriteBig(frame, kEtherTypeOffset, 2, kTestFrameEtherType);
  WriteBig(frame, kMagicOffset, 4, kTestFrameMagic);
  WriteBig(frame, kStreamOffset, 4, spec.stream);
  WriteBig(frame, kSequenceOffset, 8, spec.sequence);
  WriteBig(frame, kLengthOffset, 2, spec.length);
  const size_t checksum_offset = spec.length - kTestFrameChecksumSize;
  FillPayload(frame.subspan(kTestFrameHeaderSize, checksum_offset - kTestFrameHeaderSize),
              spec.stream, spec.sequence);
  WriteBig(frame, checksum_offset, 4, Crc32(frame.first(checksum_offset)));
  return {};
}

bool HasTestFrameEtherType(std::span<const std::byte> bytes) {
  return bytes.size() >= kEtherTypeOffset + 2 &&
         ReadBig(bytes, kEtherTypeOffset, 2) == kTestFrameEtherType;
}

Result<TestFrameInfo> VerifyTestFrame(std::span<const std::byte> bytes) {
  const size_t size = bytes.size();
  if (size < kMinTestFrameSize) {
    return Refuse(Status::IO_INVALID,
                  "too short (a test frame has at least " + std::to_string(kMinTestFrameSize) +
                      " bytes)",
                  size);
  }
  if (size > kMaxTestFrameSize) {
    return Refuse(Status::IO_INVALID,
                  "too long (a test frame has at most " + std::to_string(kMaxTestFrameSize) +
                      " bytes)",
                  size);
  }
  if (!HasTestFrameEtherType(bytes)) {
    return Refuse(Status::IO_INVALID,
                  "EtherType at offset 12 is " + Hex(ReadBig(bytes, kEtherTypeOffset, 2)) +
                      ", not " + Hex(kTestFrameEtherType),
                  size);
  }
  if (const uint64_t magic = ReadBig(bytes, kMagicOffset, 4); magic != kTestFrameMagic) {
    return Refuse(Status::IO_INVALID,
                  "wrong magic at offset 14: " + Hex(magic) + ", not " + Hex(kTestFrameMagic),
                  size);
  }
  TestFrameInfo info;
  std::memcpy(info.dst.bytes.data(), bytes.data(), 6);
  std::memcpy(info.src.bytes.data(), bytes.data() + 6, 6);
  info.stream = static_cast<uint32_t>(ReadBig(bytes, kStreamOffset, 4));
  info.sequence = ReadBig(bytes, kSequenceOffset, 8);
  info.length = static_cast<uint32_t>(ReadBig(bytes, kLengthOffset, 2));
  if (info.length != size) {
    return Refuse(Status::IO_INVALID,
                  "length mismatch: the length field at offset 30 says " +
                      std::to_string(info.length) + " bytes",
                  size);
  }

  const size_t checksum_offset = size - kTestFrameChecksumSize;
  const std::span<const std::byte> payload =
      bytes.subspan(kTestFrameHeaderSize, checksum_offset - kTestFrameHeaderSize);
  uint8_t expected = 0;
  const size_t mismatch = FirstPayloadMismatch(payload, info.stream, info.sequence, expected);
  const std::string where =
      mismatch < payload.size()
          ? "payload byte " + std::to_string(mismatch) + " (offset " +
                std::to_string(kTestFrameHeaderSize + mismatch) + ") wrong: " +
                Byte(U8(payload, mismatch)) + ", expected " + Byte(expected)
          : std::string();
  const auto stored = static_cast<uint32_t>(ReadBig(bytes, checksum_offset, 4));
  const uint32_t computed = Crc32(bytes.first(checksum_offset));
  if (stored != computed) {
    return Refuse(Status::IO_DATA_INTEGRITY,
                  "checksum mismatch at offset " + std::to_string(checksum_offset) + ": stored " +
                      Hex(stored) + ", computed " + Hex(computed) +
                      (where.empty() ? " (the payload is the pattern's: the header or the "
                                       "checksum changed)"
                                     : "; " + where),
                  size);
  }
  if (!where.empty()) return Refuse(Status::IO_DATA_INTEGRITY, where, size);
  return info;
}

std::vector<NamedCounter> TallyCounts(const StreamTally& tally) {
  return {{"frames", tally.frames},         {"bytes", tally.bytes},
          {"good", tally.good},             {"other", tally.other},
          {"corrupt", tally.corrupt},       {"wrong_stream", tally.wrong_stream},
          {"out_of_range", tally.out_of_range}, {"late", tally.late},
          {"duplicates", tally.duplicates}, {"missing", tally.missing}};
}

std::string DescribeShortfall(const StreamTally& tally, uint64_t count) {
  std::string text = std::to_string(tally.good) + " of " + std::to_string(count) +
                     " test frames verified";
  const std::pair<const char*, uint64_t> problems[] = {
      {"corrupt", tally.corrupt},           {"wrong stream", tally.wrong_stream},
      {"out of range", tally.out_of_range}, {"late", tally.late},
      {"duplicates", tally.duplicates},     {"missing", tally.missing}};
  std::string listed;
  for (const auto& [name, value] : problems) {
    if (value == 0) continue;
    listed += (listed.empty() ? "" : ", ") + std::string(name) + " " + std::to_string(value);
  }
  if (!listed.empty()) text += "; " + listed;
  if (!tally.first_error.empty()) text += "; first problem: " + tally.first_error;
  return text;
}

void StreamVerifier::Note(std::string problem) {
  if (tally_.first_error.empty()) tally_.first_error = std::move(problem);
}

StreamVerifier::Verdict StreamVerifier::Check(std::span<const std::byte> frame) {
  if (!HasTestFrameEtherType(frame)) {
    ++tally_.other;
    return Verdict::OTHER;
  }
  ++tally_.frames;
  tally_.bytes += frame.size();
  const auto position = [&] { return "test frame " + std::to_string(tally_.frames) + " received"; };
  auto info = VerifyTestFrame(frame);
  if (!info) {
    ++tally_.corrupt;
    Note(position() + " (expected sequence " + std::to_string(next_sequence()) +
         "): " + info.error().ToString());
    return Verdict::BAD;
  }
  if (info->stream != stream_) {
    ++tally_.wrong_stream;
    Note(position() + ": stream " + std::to_string(info->stream) + ", expected " +
         std::to_string(stream_));
    return Verdict::BAD;
  }
  const uint64_t next = next_sequence();
  if (info->sequence < first_sequence_ ||
      info->sequence - first_sequence_ >= kMaxTrackedSequences) {
    ++tally_.out_of_range;
    Note(position() + ": sequence " + std::to_string(info->sequence) + " is outside " +
         std::to_string(first_sequence_) + ".." +
         std::to_string(first_sequence_ + kMaxTrackedSequences - 1));
    return Verdict::BAD;
  }
  const auto index = static_cast<size_t>(info->sequence - first_sequence_);
  if (info->sequence == next) {
    seen_.push_back(true);
    ++tally_.good;
    return Verdict::GOOD;
  }
  if (info->sequence > next) {
    const uint64_t gap = info->sequence - next;
    seen_.resize(index + 1, false);
    seen_[index] = true;
    tally_.missing += gap;
    ++tally_.good;
    Note(position() + ": sequence " + std::to_string(info->sequence) + ", expected " +
         std::to_string(next) + " (" + std::to_string(gap) + " missing)");
    return Verdict::BAD;
  }
  if (seen_[index]) {
    ++tally_.duplicates;
    Note(position() + ": sequence " + std::to_string(info->sequence) + " again (a duplicate)");
    return Verdict::BAD;
  }
  seen_[index] = true;
  --tally_.missing;
  ++tally_.late;
  ++tally_.good;
  Note(position() + ": sequence " + std::to_string(info->sequence) + " late, after " +
       std::to_string(next - 1) + " (reordered)");
  return Verdict::BAD;
}

}  // namespace udrv::net
