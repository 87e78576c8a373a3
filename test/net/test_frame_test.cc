#include "udrv/net/test_frame.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "result_helpers.h"

namespace net = udrv::net;
using udrv::Status;
using Catch::Matchers::Contains;

namespace {

using Bytes = std::vector<std::byte>;

Bytes Build(uint32_t length, uint64_t sequence = 7, uint32_t stream = 3) {
  Bytes frame(length);
  net::TestFrameSpec spec;
  spec.dst = net::MacAddress::Parse("52:54:00:00:00:02").value();
  spec.src = net::MacAddress::Parse("52:54:00:00:00:01").value();
  spec.stream = stream;
  spec.sequence = sequence;
  spec.length = length;
  REQUIRE_OK(net::BuildTestFrame(frame, spec));
  return frame;
}

// Recomputes the checksum after a change, so that only the change is wrong.
void Reseal(Bytes& frame) {
  const size_t at = frame.size() - 4;
  const uint32_t crc = net::Crc32(std::span(frame).first(at));
  for (size_t i = 0; i < 4; ++i) frame[at + i] = static_cast<std::byte>(crc >> (24 - 8 * i));
}

std::string ErrorOf(const Bytes& frame) {
  auto verified = net::VerifyTestFrame(frame);
  REQUIRE_FALSE(verified.has_value());
  return verified.error().ToString();
}

}  // namespace

TEST_CASE("Crc32 is IEEE 802.3's (zlib's crc32)", "[net][test-frame]") {
  const std::string check = "123456789";
  CHECK(net::Crc32(std::as_bytes(std::span(check))) == 0xCBF43926u);
  CHECK(net::Crc32({}) == 0u);
  // Longer than one slice of eight, with a tail: zlib.crc32(bytes(range(100))).
  Bytes hundred(100);
  for (size_t i = 0; i < hundred.size(); ++i) hundred[i] = static_cast<std::byte>(i);
  CHECK(net::Crc32(hundred) == 0x58C932F5u);
}

TEST_CASE("every size 60..1514 builds and verifies with its fields", "[net][test-frame]") {
  for (uint32_t length = 60; length <= 1514; ++length) {
    const Bytes frame = Build(length, uint64_t{length} * 1'000'003, length % 5);
    auto info = net::VerifyTestFrame(frame);
    INFO("length " << length);
    REQUIRE_OK(info);
    CHECK(info->length == length);
    CHECK(info->sequence == uint64_t{length} * 1'000'003);
    CHECK(info->stream == length % 5);
    CHECK(info->src.ToString() == "52:54:00:00:00:01");
    CHECK(info->dst.ToString() == "52:54:00:00:00:02");
  }
}

TEST_CASE("the layout is the documented one", "[net][test-frame]") {
  const Bytes frame = Build(64, 0x0102030405060708, 0xa0b0c0d0);
  const auto byte = [&](size_t i) { return std::to_integer<unsigned>(frame[i]); };
  CHECK(byte(12) == 0x88);
  CHECK(byte(13) == 0xb5);
  CHECK(std::memcmp(frame.data() + 14, "UDRV", 4) == 0);
  CHECK(byte(18) == 0xa0);
  CHECK(byte(21) == 0xd0);
  CHECK(byte(22) == 0x01);
  CHECK(byte(29) == 0x08);
  CHECK(byte(30) == 0x00);
  CHECK(byte(31) == 64);
  CHECK(net::HasTestFrameEtherType(frame));
}

TEST_CASE("payloads differ by sequence and stream", "[net][test-frame]") {
  CHECK(Build(100, 1, 0) != Build(100, 2, 0));
  const Bytes a = Build(100, 1, 0);
  const Bytes b = Build(100, 1, 1);
  CHECK(!std::equal(a.begin() + 32, a.end() - 4, b.begin() + 32));
}

TEST_CASE("BuildTestFrame refuses sizes outside 60..1514 and short buffers", "[net][test-frame]") {
  Bytes out(2000);
  net::TestFrameSpec spec;
  spec.length = 59;
  auto small = net::BuildTestFrame(out, spec);
  CHECK(udrv::testing::StatusOf(small) == "INVALID_ARGS");
  CHECK_THAT(small.error().what, Contains("59 bytes, not 60..1514"));
  spec.length = 1515;
  CHECK(udrv::testing::StatusOf(net::BuildTestFrame(out, spec)) == "INVALID_ARGS");
  spec.length = 100;
  auto tight = net::BuildTestFrame(std::span(out).first(99), spec);
  CHECK_THAT(tight.error().what, Contains("100 bytes in a buffer of 99"));
}

TEST_CASE("VerifyTestFrame says what is wrong and where", "[net][test-frame]") {
  SECTION("too short, too long") {
    Bytes frame = Build(60);
    frame.pop_back();
    CHECK_THAT(ErrorOf(frame), Contains("IO_INVALID") && Contains("too short") &&
                                   Contains("frame of 59 bytes"));
    CHECK_THAT(ErrorOf(Bytes(1515)), Contains("too long"));
    CHECK_THAT(ErrorOf(Bytes()), Contains("too short"));
  }
  SECTION("another EtherType") {
    Bytes frame = Build(60);
    frame[13] = std::byte{0x00};
    CHECK_THAT(ErrorOf(frame), Contains("EtherType at offset 12 is 0x8800, not 0x88b5"));
  }
  SECTION("wrong magic") {
    Bytes frame = Build(60);
    frame[14] = std::byte{'X'};
    CHECK_THAT(ErrorOf(frame), Contains("wrong magic at offset 14: 0x58445256"));
  }
  SECTION("a length field that is not the frame's") {
    Bytes frame = Build(100);
    frame.resize(99);
    CHECK_THAT(ErrorOf(frame), Contains("length mismatch: the length field at offset 30 says 100 "
                                        "bytes [frame of 99 bytes]"));
  }
  SECTION("a payload byte changed: the checksum names it") {
    Bytes frame = Build(200);
    frame[32 + 17] ^= std::byte{0x40};
    const std::string error = ErrorOf(frame);
    CHECK_THAT(error, Contains("IO_DATA_INTEGRITY") && Contains("checksum mismatch at offset 196") &&
                          Contains("payload byte 17 (offset 49) wrong"));
  }
  SECTION("a header byte changed: a checksum mismatch, the payload intact") {
    Bytes frame = Build(200);
    frame[0] ^= std::byte{1};
    CHECK_THAT(ErrorOf(frame), Contains("checksum mismatch") &&
                                   Contains("the payload is the pattern's"));
  }
  SECTION("the checksum itself changed") {
    Bytes frame = Build(60);
    frame[59] ^= std::byte{1};
    CHECK_THAT(ErrorOf(frame), Contains("checksum mismatch at offset 56"));
  }
  SECTION("a payload byte wrong under a checksum that matches") {
    Bytes frame = Build(1514);
    frame[1509] = ~frame[1509];
    Reseal(frame);
    const std::string error = ErrorOf(frame);
    CHECK_THAT(error, Contains("payload byte 1477 (offset 1509) wrong"));
    CHECK_THAT(error, !Contains("checksum"));
  }
}

TEST_CASE("StreamVerifier: in order, gaps, duplicates, other frames", "[net][test-frame]") {
  net::StreamVerifier verifier(3, 10);
  using Verdict = net::StreamVerifier::Verdict;
  CHECK(verifier.Check(Build(60, 10)) == Verdict::GOOD);
  CHECK(verifier.Check(Build(61, 11)) == Verdict::GOOD);
  CHECK(verifier.tally().ok());

  Bytes arp(60);
  arp[12] = std::byte{0x08};
  arp[13] = std::byte{0x06};
  CHECK(verifier.Check(arp) == Verdict::OTHER);
  CHECK(verifier.tally().other == 1);
  CHECK(verifier.tally().frames == 2);
  CHECK(verifier.tally().ok());

  CHECK(verifier.Check(Build(60, 14)) == Verdict::BAD);  // 12 and 13 missing
  CHECK(verifier.tally().missing == 2);
  CHECK(verifier.tally().good == 3);
  CHECK(verifier.next_sequence() == 15);
  CHECK_THAT(verifier.tally().first_error,
             Contains("test frame 3 received: sequence 14, expected 12 (2 missing)"));

  CHECK(verifier.Check(Build(60, 14)) == Verdict::BAD);
  CHECK(verifier.tally().duplicates == 1);
  CHECK_THAT(verifier.tally().first_error, Contains("2 missing"));  // the first problem stays
  CHECK(verifier.Check(Build(60, 12)) == Verdict::BAD);  // late: the gap shrinks
  CHECK(verifier.tally().late == 1);
  CHECK(verifier.tally().missing == 1);
  CHECK(verifier.tally().good == 4);
  CHECK(verifier.Check(Build(60, 12)) == Verdict::BAD);  // and now a duplicate
  CHECK(verifier.tally().duplicates == 2);
  CHECK(verifier.Check(Build(60, 15, 4)) == Verdict::BAD);
  CHECK(verifier.tally().wrong_stream == 1);
  CHECK(verifier.Check(Build(60, 9)) == Verdict::BAD);  // before the first
  CHECK(verifier.tally().out_of_range == 1);
  Bytes broken = Build(60, 15);
  broken[40] ^= std::byte{1};
  CHECK(verifier.Check(broken) == Verdict::BAD);
  CHECK(verifier.tally().corrupt == 1);
  CHECK(verifier.Check(Build(60, 15)) == Verdict::GOOD);
  CHECK(verifier.Check(Build(60, 13)) == Verdict::BAD);  // late, the last gap closed
  CHECK(verifier.tally().missing == 0);
  CHECK(verifier.tally().late == 2);

  const net::StreamTally& tally = verifier.tally();
  CHECK(tally.frames == 11);
  CHECK(tally.bytes == 60 * 10 + 61);
  CHECK(tally.good == 6);  // 10, 11, 14, 12, 15, 13
  CHECK(tally.good + tally.duplicates + tally.wrong_stream + tally.out_of_range + tally.corrupt ==
        tally.frames);
  CHECK_FALSE(tally.ok());
  // The first problem stays the one reported.
  CHECK_THAT(tally.first_error, Contains("2 missing"));

  // Reports print the counts by name, every one of them.
  const std::vector<net::NamedCounter> counts = net::TallyCounts(tally);
  std::string names;
  uint64_t named_total = 0;
  for (const net::NamedCounter& count : counts) {
    names += count.name + " ";
    named_total += count.value;
  }
  CHECK(names == "frames bytes good other corrupt wrong_stream out_of_range late duplicates missing ");
  CHECK(named_total == tally.frames + tally.bytes + tally.good + tally.other + tally.corrupt +
                           tally.wrong_stream + tally.out_of_range + tally.late +
                           tally.duplicates + tally.missing);
}
