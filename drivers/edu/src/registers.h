// edu's registers in BAR 0 (QEMU docs/specs/edu.rst). Registers below 0x80
// take 32-bit accesses only; the DMA registers take 32 or 64 bits.
#pragma once

#include <cstdint>

#include "udrv/mmio/hwreg.h"

namespace udrv::drivers::edu::registers {

// 0x00, read only: 0xRRrr00ed, RR the major and rr the minor version.
class Identification : public hwreg::RegisterBase<Identification, uint32_t> {
 public:
  static constexpr uint32_t kMagic = 0x00ed;
  DEF_FIELD(31, 24, major_version);
  DEF_FIELD(23, 16, minor_version);
  DEF_FIELD(15, 0, magic);
  static auto Get() { return hwreg::RegisterAddr<Identification>(0x00); }
};

// 0x04: reads back the bitwise inverse of the last value written.
class Liveness : public hwreg::RegisterBase<Liveness, uint32_t> {
 public:
  DEF_FIELD(31, 0, value);
  static auto Get() { return hwreg::RegisterAddr<Liveness>(0x04); }
};

// 0x08: write n to start computing n!; read the result once `computing`
// clears. Writes while computing are ignored.
class Factorial : public hwreg::RegisterBase<Factorial, uint32_t> {
 public:
  DEF_FIELD(31, 0, value);
  static auto Get() { return hwreg::RegisterAddr<Factorial>(0x08); }
};

// 0x20. `computing` is read only.
class Status : public hwreg::RegisterBase<Status, uint32_t> {
 public:
  DEF_BIT(7, interrupt_on_factorial);
  DEF_BIT(0, computing);
  static auto Get() { return hwreg::RegisterAddr<Status>(0x20); }
};

// One layout, three registers: the interrupt status (0x24, read only), raise
// (0x60: sets the bits written) and acknowledge (0x64: clears them; the INTx
// line drops when none is left). Bits edu does not raise itself are free
// for software.
class Interrupts : public hwreg::RegisterBase<Interrupts, uint32_t> {
 public:
  DEF_BIT(8, dma_done);
  DEF_BIT(0, factorial_done);
  static auto GetStatus() { return hwreg::RegisterAddr<Interrupts>(0x24); }
  static auto GetAcknowledge() { return hwreg::RegisterAddr<Interrupts>(0x64); }
};

// 0x80 source and 0x88 destination of a DMA. edu masks them to 28 bits.
class DmaAddress : public hwreg::RegisterBase<DmaAddress, uint64_t> {
 public:
  DEF_FIELD(63, 0, address);
  static auto GetSource() { return hwreg::RegisterAddr<DmaAddress>(0x80); }
  static auto GetDestination() { return hwreg::RegisterAddr<DmaAddress>(0x88); }
};

// 0x90: bytes to copy.
class DmaCount : public hwreg::RegisterBase<DmaCount, uint64_t> {
 public:
  DEF_FIELD(63, 0, count);
  static auto Get() { return hwreg::RegisterAddr<DmaCount>(0x90); }
};

enum class DmaDirection : uint64_t {
  RAM_TO_EDU = 0,
  EDU_TO_RAM = 1,
};

// 0x98: a write with `start` set starts a DMA (writes without it are
// ignored); `start` reads 1 until the DMA is done.
class DmaCommand : public hwreg::RegisterBase<DmaCommand, uint64_t> {
 public:
  DEF_BIT(2, interrupt_when_done);  // raises Interrupts::dma_done
  DEF_ENUM_FIELD(DmaDirection, 1, 1, direction);
  DEF_BIT(0, start);
  static auto Get() { return hwreg::RegisterAddr<DmaCommand>(0x98); }
};

// The registers the driver touches end here: BAR 0 must reach this far.
inline constexpr uint64_t kRegistersEnd = 0xa0;

}  // namespace udrv::drivers::edu::registers
