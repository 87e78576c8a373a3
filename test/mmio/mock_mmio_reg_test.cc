#include "udrv/mmio/mock_mmio_reg.h"

#include <array>
#include <catch2/catch.hpp>
#include <csignal>
#include <string>

#include "child_process.h"

namespace udrv::mmio {
namespace {

TEST_CASE("accesses that match the expectations verify", "[mock]") {
  MockMmioRegRegion regs(sizeof(uint32_t), 4);
  MmioBuffer mmio = regs.GetMmioBuffer();
  CHECK(mmio.get_size() == 16);
  CHECK(mmio.get_vmo() == nullptr);

  regs[0x4].ExpectRead(0x10).ExpectWrite(0x11).ExpectRead();
  regs[0xc].ExpectWrite().ExpectWrite(0xff);

  CHECK(mmio.Read32(0x4) == 0x10);
  mmio.Write32(0x11, 0x4);
  CHECK(mmio.Read32Relaxed(0x4) == 0x11);  // ExpectRead(): the last value
  mmio.Write32Relaxed(0x1234, 0xc);
  mmio.SetBits32(0, 0x4);  // one read and one write more than expected
  auto result = regs.VerifyAll();
  REQUIRE_FALSE(result);
  CHECK(result.error().status == Status::BAD_STATE);
  CHECK(result.error().what ==
        "3 mock mmio failures: Read32 at 0x4: no access expected; Write32 of 0x11 at 0x4: no "
        "access expected; 0xc: expected write of 0xff did not happen");

  // VerifyAll cleared everything: the region starts over.
  regs[0x0].ExpectWrite(0x1);
  mmio.Write32(0x1, 0x0);
  CHECK(regs.VerifyAll());
  CHECK(regs.VerifyAll());
}

TEST_CASE("mismatches are recorded, not fatal, and listed by VerifyAll", "[mock]") {
  MockMmioRegRegion regs(sizeof(uint32_t), 4);
  MmioBuffer mmio = regs.GetMmioBuffer();

  SECTION("wrong value written") {
    regs[0x8].ExpectWrite(0x3);
    mmio.Write32(0x5, 0x8);
    auto result = regs.VerifyAll();
    REQUIRE_FALSE(result);
    CHECK(result.error().what ==
          "1 mock mmio failure: Write32 of 0x5 at 0x8: expected a write of 0x3");
  }
  SECTION("a read where a write was expected, and the other way round") {
    regs[0x0].ExpectWrite(0x7).ExpectRead(0x9);
    regs[0x4].ExpectWrite();
    CHECK(mmio.Read32(0x0) == 0);  // the register's last value
    mmio.Write32(0x1, 0x0);
    CHECK(mmio.Read32(0x4) == 0);
    auto result = regs.VerifyAll();
    REQUIRE_FALSE(result);
    CHECK(result.error().what ==
          "3 mock mmio failures: Read32 at 0x0: expected a write of 0x7; Write32 of 0x1 at 0x0: "
          "expected a read; Read32 at 0x4: expected a write");
  }
  SECTION("expectations that never happened") {
    regs[0x4].ExpectRead(0x1).ExpectRead().ExpectWrite(0x2).ExpectWrite();
    auto result = regs.VerifyAll();
    REQUIRE_FALSE(result);
    CHECK(result.error().what ==
          "4 mock mmio failures: 0x4: expected read returning 0x1 did not happen; 0x4: expected "
          "read did not happen; 0x4: expected write of 0x2 did not happen; 0x4: expected write "
          "did not happen");
  }
  SECTION("an access inside a register") {
    (void)mmio.Read8(0x5);
    mmio.Write16(0x1, 0x6);
    auto result = regs.VerifyAll();
    REQUIRE_FALSE(result);
    CHECK(result.error().what ==
          "2 mock mmio failures: Read8 at 0x5: not at a register boundary (registers are 4 "
          "bytes); Write16 of 0x1 at 0x6: not at a register boundary (registers are 4 bytes)");
  }
}

TEST_CASE("reads return expected values at every width", "[mock]") {
  MockMmioRegRegion regs(sizeof(uint64_t), 2);
  MmioBuffer mmio = regs.GetMmioBuffer();
  regs[0x8]
      .ExpectRead(0x1122'3344'5566'7788u)
      .ExpectRead(0x1122'3344'5566'7788u)
      .ExpectRead(0x1122'3344'5566'7788u)
      .ExpectRead(0x1122'3344'5566'7788u)
      .ExpectWrite(0xab)
      .ExpectWrite(0xabcd)
      .ExpectWrite(0xabcd'ef01)
      .ExpectWrite(0xabcd'ef01'2345'6789u);
  CHECK(mmio.Read64(0x8) == 0x1122'3344'5566'7788u);
  CHECK(mmio.Read32(0x8) == 0x5566'7788u);
  CHECK(mmio.Read16(0x8) == 0x7788u);
  CHECK(mmio.Read8(0x8) == 0x88u);
  mmio.Write8(0xab, 0x8);
  mmio.Write16(0xabcd, 0x8);
  mmio.Write32(0xabcd'ef01, 0x8);
  mmio.Write64(0xabcd'ef01'2345'6789u, 0x8);
  CHECK(regs.VerifyAll());
}

TEST_CASE("views and block transfers reach the right registers", "[mock]") {
  MockMmioRegRegion regs(sizeof(uint32_t), 8);
  MmioBuffer mmio = regs.GetMmioBuffer();

  MmioView view = mmio.View(0x10, 0x8);
  regs[0x14].ExpectWrite(0x42);
  view.Write32(0x42, 0x4);
  CHECK(regs.VerifyAll());

  // 6 bytes from 0x2: register 0x0 partly (read, merge, write), 0x4 whole.
  regs[0x0].ExpectRead(0xaabb'ccdd).ExpectWrite(0x0201'ccdd);
  regs[0x4].ExpectWrite(0x0605'0403);
  const std::array<uint8_t, 6> bytes{1, 2, 3, 4, 5, 6};
  mmio.WriteBuffer(0x2, bytes.data(), bytes.size());
  CHECK(regs.VerifyAll());

  regs[0x8].ExpectRead(0x4433'2211);
  regs[0xc].ExpectRead(0x8877'6655);
  std::array<uint8_t, 5> out{};
  mmio.ReadBuffer(0x9, out.data(), out.size());
  CHECK(out == std::array<uint8_t, 5>{0x22, 0x33, 0x44, 0x55, 0x66});
  CHECK(regs.VerifyAll());
}

TEST_CASE("misuse of the mock region itself aborts with a message", "[mock]") {
  auto past = testing::RunInChild([] {
    MockMmioRegRegion regs(sizeof(uint32_t), 4);
    regs[0x10].ExpectRead(0);
  });
  CHECK(past.signal == SIGABRT);
  CHECK_THAT(
      past.stderr_text,
      Catch::Contains("udrv MockMmioRegRegion: offset 0x10 past the 4 registers of 4 bytes"));
  auto bad_size = testing::RunInChild([] { MockMmioRegRegion regs(3, 4); });
  CHECK(bad_size.signal == SIGABRT);
  CHECK_THAT(bad_size.stderr_text, Catch::Contains("4 registers of 3 bytes"));
  auto empty = testing::RunInChild([] { MockMmioRegRegion regs(4, 0); });
  CHECK(empty.signal == SIGABRT);
}

}  // namespace
}  // namespace udrv::mmio
