#include "udrv/mmio/fake_mmio_reg.h"

#include <array>
#include <catch2/catch.hpp>
#include <csignal>
#include <vector>

#include "child_process.h"

namespace udrv::mmio {
namespace {

TEST_CASE("callbacks model a device", "[fake]") {
  FakeMmioRegRegion regs(sizeof(uint32_t), 4);
  MmioBuffer mmio = regs.GetMmioBuffer();

  // A command register and a status register that reflects the last command.
  uint32_t status = 0;
  std::vector<uint64_t> commands;
  regs[0x0].SetWriteCallback([&](uint64_t command) {
    commands.push_back(command);
    status = command == 0x1 ? 0x80 : 0x0;
  });
  regs[0x4].SetReadCallback([&] { return status; });

  mmio.Write32(0x1, 0x0);
  CHECK(mmio.Read32(0x4) == 0x80);
  mmio.Write32Relaxed(0x2, 0x0);
  CHECK(mmio.Read32Relaxed(0x4) == 0x0);
  CHECK(commands == std::vector<uint64_t>{0x1, 0x2});

  // No callbacks: reads are 0, writes vanish.
  mmio.Write32(0xffff, 0x8);
  CHECK(mmio.Read32(0x8) == 0);
  // A write-only register reads 0; a read-only one ignores writes.
  CHECK(mmio.Read32(0x0) == 0);
  mmio.Write32(0x1234, 0x4);
  CHECK(mmio.Read32(0x4) == 0x0);
}

TEST_CASE("accesses of every width and through views reach the register", "[fake]") {
  FakeMmioRegRegion regs(sizeof(uint64_t), 4);
  MmioBuffer mmio = regs.GetMmioBuffer();
  uint64_t value = 0x0102'0304'0506'0708u;
  regs[0x10].SetReadCallback([&] { return value; });
  regs[0x10].SetWriteCallback([&](uint64_t written) { value = written; });

  CHECK(mmio.Read8(0x10) == 0x08);
  CHECK(mmio.Read16(0x10) == 0x0708);
  CHECK(mmio.Read32(0x10) == 0x0506'0708u);
  CHECK(mmio.Read64(0x10) == 0x0102'0304'0506'0708u);
  mmio.Write16(0xbeef, 0x10);
  CHECK(value == 0xbeef);
  mmio.Write8(0x7, 0x10);
  CHECK(value == 0x7);

  MmioView view = mmio.View(0x8, 0x10);
  view.Write64(0xfeed'face'cafe'beefu, 0x8);
  CHECK(value == 0xfeed'face'cafe'beefu);
  view.ClearBits32(0xffff'0000u, 0x8);
  CHECK(value == 0xbeefu);
}

TEST_CASE("block transfers go register by register", "[fake]") {
  FakeMmioRegRegion regs(sizeof(uint16_t), 4);
  MmioBuffer mmio = regs.GetMmioBuffer();
  std::array<uint16_t, 4> backing{0x1100, 0x3322, 0x5544, 0x7766};
  int reads = 0;
  for (size_t i = 0; i < backing.size(); i++) {
    regs[2 * i].SetReadCallback([&, i] {
      ++reads;
      return backing[i];
    });
    regs[2 * i].SetWriteCallback([&, i](uint64_t v) { backing[i] = static_cast<uint16_t>(v); });
  }

  std::array<uint8_t, 8> out{};
  mmio.ReadBuffer(0, out.data(), out.size());
  CHECK(out == std::array<uint8_t, 8>{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77});
  CHECK(reads == 4);

  // Starts and ends inside registers 0 and 2: those are read and merged.
  reads = 0;
  const std::array<uint8_t, 4> in{0xa1, 0xa2, 0xa3, 0xa4};
  mmio.WriteBuffer(1, in.data(), in.size());
  CHECK(backing == std::array<uint16_t, 4>{0xa100, 0xa3a2, 0x55a4, 0x7766});
  CHECK(reads == 2);
}

TEST_CASE("misuse of the fake region itself aborts with a message", "[fake]") {
  auto past = testing::RunInChild([] {
    FakeMmioRegRegion regs(sizeof(uint32_t), 2);
    regs[0x8].SetReadCallback([] { return 0; });
  });
  CHECK(past.signal == SIGABRT);
  CHECK_THAT(past.stderr_text,
             Catch::Contains("udrv FakeMmioRegRegion: offset 0x8 past the 2 registers of 4 bytes"));
  auto bad_size = testing::RunInChild([] { FakeMmioRegRegion regs(16, 1); });
  CHECK(bad_size.signal == SIGABRT);
}

}  // namespace
}  // namespace udrv::mmio
