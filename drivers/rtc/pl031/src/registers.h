// The PL031's registers (ARM PrimeCell Real Time Clock Technical Reference
// Manual, DDI 0224): all 32 bits wide, in one 4 KiB region.
#pragma once

#include <cstdint>

#include "udrv/mmio/hwreg.h"

namespace udrv::drivers::pl031::registers {

// 0x00, read only: the counter, seconds since whatever the clock was loaded with.
class Data : public hwreg::RegisterBase<Data, uint32_t> {
 public:
  DEF_FIELD(31, 0, seconds);
  static auto Get() { return hwreg::RegisterAddr<Data>(0x00); }
};

// 0x04: the interrupt fires when the counter reaches this.
class Match : public hwreg::RegisterBase<Match, uint32_t> {
 public:
  DEF_FIELD(31, 0, seconds);
  static auto Get() { return hwreg::RegisterAddr<Match>(0x04); }
};

// 0x10 mask (1: enabled), 0x14 raw status, 0x18 masked status, 0x1C clear
// (write only): bit 0 is the match interrupt in each.
class Interrupt : public hwreg::RegisterBase<Interrupt, uint32_t> {
 public:
  DEF_BIT(0, match);
  static auto GetMask() { return hwreg::RegisterAddr<Interrupt>(0x10); }
  static auto GetRawStatus() { return hwreg::RegisterAddr<Interrupt>(0x14); }
  static auto GetMaskedStatus() { return hwreg::RegisterAddr<Interrupt>(0x18); }
  static auto GetClear() { return hwreg::RegisterAddr<Interrupt>(0x1c); }
};

// 0xFE0 + 4 * n: one byte of the peripheral ID each (PrimeCell convention),
// 0xFF0 + 4 * n: one byte of the PrimeCell ID.
class IdByte : public hwreg::RegisterBase<IdByte, uint32_t> {
 public:
  DEF_FIELD(7, 0, value);
  static auto GetPeripheral(uint32_t n) { return hwreg::RegisterAddr<IdByte>(0xfe0 + 4 * n); }
  static auto GetPrimeCell(uint32_t n) { return hwreg::RegisterAddr<IdByte>(0xff0 + 4 * n); }
};

// Peripheral ID 0x00141031: part 0x031, designer 0x41 (ARM), revision 0.
inline constexpr uint32_t kPeripheralId = 0x00141031;
inline constexpr uint32_t kPeripheralIdPartMask = 0x000fffff;
inline constexpr uint32_t kPrimeCellId = 0xb105f00d;
inline constexpr uint64_t kRegistersEnd = 0x1000;

}  // namespace udrv::drivers::pl031::registers
