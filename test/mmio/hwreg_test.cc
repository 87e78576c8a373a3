#include "udrv/mmio/hwreg.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "udrv/mmio/fake_mmio_reg.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/mmio/mock_mmio_reg.h"

namespace udrv::mmio {
namespace {

enum class Speed : uint32_t { SLOW = 0, FAST = 1, TURBO = 2 };

// Bits 2:1 belong to no field.
class Ctrl : public hwreg::RegisterBase<Ctrl, uint32_t, hwreg::EnablePrinter> {
 public:
  DEF_RSVDZ_FIELD(31, 10);
  DEF_ENUM_FIELD(Speed, 9, 8, speed);
  DEF_FIELD(7, 4, mode);
  DEF_RSVDZ_BIT(3);
  DEF_BIT(0, enable);
  static auto Get() { return hwreg::RegisterAddr<Ctrl>(0x10); }
};

// The same layout without the printer.
class PlainCtrl : public hwreg::RegisterBase<PlainCtrl, uint32_t> {
 public:
  DEF_RSVDZ_FIELD(31, 10);
  DEF_ENUM_FIELD(Speed, 9, 8, speed);
  DEF_FIELD(7, 4, mode);
  DEF_RSVDZ_BIT(3);
  DEF_BIT(0, enable);
  static auto Get() { return hwreg::RegisterAddr<PlainCtrl>(0x10); }
};

// Field declarations take no space: a register without the printer is its
// value, its address and the two masks.
static_assert(sizeof(PlainCtrl) == sizeof(hwreg::RegisterBase<PlainCtrl, uint32_t>));
static_assert(sizeof(PlainCtrl) == 4 * sizeof(uint32_t));

// A register family as a class template, one instance per channel.
template <uint32_t kChannel>
class ChannelStatus
    : public hwreg::RegisterBase<ChannelStatus<kChannel>, uint16_t, hwreg::EnablePrinter> {
 public:
  DEF_FIELD(15, 8, count);
  DEF_RSVDZ_FIELD(7, 1);
  DEF_BIT(0, busy);
  static auto Get() { return hwreg::RegisterAddr<ChannelStatus>(0x20 + 2 * kChannel); }
};

class Wide : public hwreg::RegisterBase<Wide, uint64_t, hwreg::EnablePrinter> {
 public:
  DEF_FIELD(63, 32, high);
  DEF_FIELD(31, 0, low);
  static auto Get() { return hwreg::RegisterAddr<Wide>(0x8); }
};

class Whole : public hwreg::RegisterBase<Whole, uint64_t> {
 public:
  DEF_FIELD(63, 0, value);
};

class Byte : public hwreg::RegisterBase<Byte, uint8_t, hwreg::EnablePrinter> {
 public:
  DEF_FIELD(7, 6, top);
  DEF_FIELD(3, 0, nibble);
};

TEST_CASE("fields read and set without shifting by hand", "[hwreg]") {
  auto ctrl = Ctrl::Get().FromValue(0x0000'0261);
  CHECK(ctrl.reg_addr() == 0x10);
  CHECK(ctrl.enable() == 1);
  CHECK(ctrl.mode() == 6);
  CHECK(ctrl.speed() == Speed::TURBO);

  ctrl.set_mode(0xa).set_enable(0).set_speed(Speed::FAST);
  CHECK(ctrl.reg_value() == 0x0000'01a0);
  CHECK(ctrl.mode() == 0xa);

  // Too wide for the field: only the field's bits are kept.
  ctrl.set_mode(0x13);
  CHECK(ctrl.mode() == 0x3);
  CHECK(ctrl.reg_value() == 0x0000'0130);

  CHECK(ctrl.fields_mask() == 0xffff'fff9u);
  CHECK(ctrl.rsvdz_mask() == 0xffff'fc08u);
  CHECK(Ctrl::Get().addr() == 0x10);
}

TEST_CASE("read-modify-write reaches the register with exact values", "[hwreg][fake]") {
  FakeMmioRegRegion regs(sizeof(uint32_t), 8);
  uint32_t device_value = 0x0000'0406;  // a reserved bit set, bits 2:1 set
  std::vector<uint64_t> written;
  regs[0x10].SetReadCallback([&] { return device_value; });
  regs[0x10].SetWriteCallback([&](uint64_t value) { written.push_back(value); });
  MmioBuffer mmio = regs.GetMmioBuffer();

  auto ctrl = Ctrl::Get().ReadFrom(&mmio);
  CHECK(ctrl.reg_value() == 0x0000'0406);
  ctrl.set_mode(3).set_enable(1).WriteTo(&mmio);
  // Uncovered bits 2:1 kept as read; RsvdZ bit 10 written as zero.
  REQUIRE(written == std::vector<uint64_t>{0x0000'0037});
  CHECK(ctrl.reg_value() == 0x0000'0437);  // the object keeps what it had

  // Every reserved-zero bit is cleared on the way out.
  written.clear();
  Ctrl::Get().FromValue(0xffff'ffff).WriteTo(&mmio);
  REQUIRE(written == std::vector<uint64_t>{0x0000'03f7});

  // Through a view: the register offset is relative to the view.
  written.clear();
  MmioView view = mmio.View(0x8);
  hwreg::RegisterAddr<Ctrl>(0x8).FromValue(0x1).WriteTo(&view);
  REQUIRE(written == std::vector<uint64_t>{0x1});

  PlainCtrl::Get().ReadFrom(&mmio).set_speed(Speed::TURBO).WriteTo(&mmio);
  CHECK(written.back() == 0x0000'0206);
}

TEST_CASE("read-modify-write against a mock checks each access", "[hwreg][mock]") {
  MockMmioRegRegion regs(sizeof(uint32_t), 8);
  MmioBuffer mmio = regs.GetMmioBuffer();
  regs[0x10].ExpectRead(0x0000'0401).ExpectWrite(0x0000'0031);
  Ctrl::Get().ReadFrom(&mmio).set_mode(3).WriteTo(&mmio);
  CHECK(regs.VerifyAll());
}

TEST_CASE("registers of other widths and class templates", "[hwreg]") {
  FakeMmioRegRegion regs(sizeof(uint16_t), 32);
  uint64_t last = 0;
  regs[0x24].SetWriteCallback([&](uint64_t value) { last = value; });
  regs[0x24].SetReadCallback([] { return 0xffff; });
  MmioBuffer mmio = regs.GetMmioBuffer();

  auto status = ChannelStatus<2>::Get().ReadFrom(&mmio);
  CHECK(status.reg_addr() == 0x24);
  CHECK(status.count() == 0xff);
  CHECK(status.busy() == 1);
  status.set_count(0x12).WriteTo(&mmio);
  CHECK(last == 0x1201);
  CHECK(status.ToString() == "count[15:8]: 0x12 (18)\nRsvdZ[7:1]: 0x7f (127)\nbusy[0]: 0x1 (1)");

  auto wide = Wide::Get().FromValue(0x1234'5678'9abc'def0u);
  CHECK(wide.high() == 0x1234'5678u);
  CHECK(wide.low() == 0x9abc'def0u);
  wide.set_high(0xffff'ffff'0000'0001u);
  CHECK(wide.reg_value() == 0x0000'0001'9abc'def0u);
  CHECK(wide.ToString() == "high[63:32]: 0x00000001 (1)\nlow[31:0]: 0x9abcdef0 (2596069104)");

  Whole whole;
  whole.set_value(~uint64_t{0});
  CHECK(whole.value() == ~uint64_t{0});
  CHECK(whole.fields_mask() == ~uint64_t{0});

  Byte byte;
  byte.set_reg_value(0xff);
  CHECK(byte.top() == 3);
  CHECK(byte.nibble() == 0xf);
  CHECK(byte.ToString() == "top[7:6]: 0x3 (3)\nnibble[3:0]: 0xf (15)\nunknown set bits: 0x30");
}

TEST_CASE("printing lists every field, then unknown set bits", "[hwreg]") {
  auto ctrl = Ctrl::Get().FromValue(0x0400'0267);
  const std::string expected =
      "RsvdZ[31:10]: 0x010000 (65536)\n"
      "speed[9:8]: 0x2 (2)\n"
      "mode[7:4]: 0x6 (6)\n"
      "RsvdZ[3]: 0x0 (0)\n"
      "enable[0]: 0x1 (1)\n"
      "unknown set bits: 0x00000006";
  CHECK(ctrl.ToString() == expected);

  std::vector<std::string> lines;
  ctrl.Print([&](const char* line) { lines.emplace_back(line); });
  REQUIRE(lines.size() == 6);
  CHECK(lines[1] == "speed[9:8]: 0x2 (2)");
  CHECK(lines[5] == "unknown set bits: 0x00000006");

  // No unknown line when those bits are clear.
  CHECK(Ctrl::Get().FromValue(0).ToString() ==
        "RsvdZ[31:10]: 0x000000 (0)\nspeed[9:8]: 0x0 (0)\nmode[7:4]: 0x0 (0)\nRsvdZ[3]: 0x0 (0)\n"
        "enable[0]: 0x0 (0)");

  // Metadata, in declaration order.
  auto fields = ctrl.fields();
  REQUIRE(fields.size() == 5);
  CHECK(std::string(fields[1].name) == "speed");
  CHECK(fields[1].hi == 9);
  CHECK(fields[1].lo == 8);
  CHECK(fields[1].kind == hwreg::FieldKind::ENUM);
  CHECK(fields[0].kind == hwreg::FieldKind::RSVDZ);
  CHECK(fields[4].kind == hwreg::FieldKind::FIELD);

  // A copy carries the same table, not a doubled one.
  Ctrl copy = ctrl;
  CHECK(copy.fields().size() == 5);
  CHECK(copy.ToString() == expected);
  Ctrl assigned;
  assigned = ctrl;
  CHECK(assigned.fields().size() == 5);
  CHECK(assigned.ToString() == expected);
}

TEST_CASE("Diff names each field that changed", "[hwreg]") {
  auto before = Ctrl::Get().FromValue(0x0000'0061);
  auto after = before;
  after.set_mode(3).set_enable(0);
  after.set_reg_value(after.reg_value() | 0x2);

  auto changes = hwreg::Diff(before, after);
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].name == "mode");
  CHECK(changes[0].hi == 7);
  CHECK(changes[0].lo == 4);
  CHECK(changes[0].before == 6);
  CHECK(changes[0].after == 3);
  CHECK(changes[1].name == "enable");
  CHECK(changes[2].name == "unknown");
  CHECK(changes[2].before == 0);
  CHECK(changes[2].after == 2);
  CHECK(hwreg::ToString(changes) ==
        "mode[7:4]: 0x6 -> 0x3; enable[0]: 0x1 -> 0x0; unknown[31:0]: 0x00000000 -> 0x00000002");

  CHECK(hwreg::Diff(before, before).empty());
  CHECK(hwreg::ToString(hwreg::Diff(before, before)).empty());

  auto speed_up = before;
  speed_up.set_speed(Speed::TURBO);
  CHECK(hwreg::ToString(hwreg::Diff(before, speed_up)) == "speed[9:8]: 0x0 -> 0x2");
}

}  // namespace
}  // namespace udrv::mmio
