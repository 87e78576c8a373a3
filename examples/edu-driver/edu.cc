// The edu driver (see edu.h).
#include "edu.h"

#include <array>
#include <string>
#include <utility>

#include "udrv/mmio/hwreg.h"
#include "udrv/pci/driver_support.h"

namespace edu_example {

namespace {

namespace hwreg = udrv::hwreg;

// edu's registers in BAR 0 that this driver touches (QEMU docs/specs/edu.rst).
// They take 32-bit accesses only, which hwreg does for a uint32_t register.

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
// clears. edu ignores writes while it computes.
class Factorial : public hwreg::RegisterBase<Factorial, uint32_t> {
 public:
  DEF_FIELD(31, 0, value);
  static auto Get() { return hwreg::RegisterAddr<Factorial>(0x08); }
};

// 0x20: bit 0 reads 1 while a factorial is being computed.
class Status : public hwreg::RegisterBase<Status, uint32_t> {
 public:
  DEF_BIT(0, computing);
  static auto Get() { return hwreg::RegisterAddr<Status>(0x20); }
};

// BAR 0 is 1 MiB; the registers above end at 0x24.
constexpr uint64_t kBar0Size = 1 << 20;
constexpr uint64_t kRegistersEnd = 0x24;

// Every bit both ways, and two mixed patterns.
constexpr std::array<uint32_t, 4> kLivenessPatterns = {0x00000000, 0xffffffff, 0x12345678,
                                                       0xa5a55a5a};

}  // namespace

udrv::Result<Edu> Edu::Create(udrv::mmio::MmioBuffer registers) {
  return Create(udrv::Vmar(), std::move(registers));
}

udrv::Result<Edu> Edu::Create(udrv::Vmar vmar, udrv::mmio::MmioBuffer registers) {
  const auto id = Identification::Get().ReadFrom(&registers);
  // All ones is what a read from a device that is gone (or not edu's BAR)
  // returns; the message says so because that is the common case.
  if (id.magic() != Identification::kMagic || id.major_version() != 1) {
    return udrv::Fail(udrv::Status::NOT_SUPPORTED,
                      "check the ID register: it reads " + udrv::Hex(id.reg_value()) +
                          ", edu 1.x reads 0x01rr00ed (all ones: the device does not answer)",
                      "edu");
  }
  return Edu(std::move(vmar), std::move(registers), static_cast<uint32_t>(id.major_version()),
             static_cast<uint32_t>(id.minor_version()));
}

udrv::Result<Edu> Edu::Open(udrv::pci::Device& device) {
  // Config space first: never map and poke the BAR of another device.
  UDRV_TRY(udrv::pci::CheckDeviceIds(device, kVendorId, kDeviceId, "edu"));
  UDRV_TRY_ASSIGN(udrv::pci::MappedRegisters mapped,
                  udrv::pci::MapRegisters(device, 0, kBar0Size, kRegistersEnd, "edu"));
  return Create(std::move(mapped.vmar), std::move(mapped.mmio));
}

Edu::Edu(udrv::Vmar vmar, udrv::mmio::MmioBuffer registers, uint32_t major_version,
         uint32_t minor_version)
    : vmar_(std::move(vmar)),
      registers_(std::move(registers)),
      major_version_(major_version),
      minor_version_(minor_version) {}

udrv::Result<void> Edu::CheckLiveness() {
  for (const uint32_t pattern : kLivenessPatterns) {
    Liveness::Get().FromValue(pattern).WriteTo(&registers_);
    const auto answer = static_cast<uint32_t>(Liveness::Get().ReadFrom(&registers_).value());
    if (answer != ~pattern) {
      return udrv::Fail(udrv::Status::IO,
                        "liveness check: wrote " + udrv::Hex(pattern) + ", read back " +
                            udrv::Hex(answer) + " instead of " + udrv::Hex(~pattern),
                        "edu");
    }
  }
  return {};
}

udrv::Result<uint32_t> Edu::Factorial(uint32_t n, udrv::Duration timeout) {
  const std::string step = "factorial of " + std::to_string(n);
  if (n > kMaxFactorialInput) {
    return udrv::Fail(udrv::Status::OUT_OF_RANGE,
                      step + ": does not fit edu's 32-bit register (at most " +
                          std::to_string(kMaxFactorialInput) + "!)",
                      "edu");
  }
  // edu would ignore our write while it computes an earlier one.
  if (Status::Get().ReadFrom(&registers_).computing()) {
    return udrv::Fail(udrv::Status::BAD_STATE, step + ": edu is still computing an earlier one",
                      "edu");
  }
  const udrv::Time deadline = udrv::DeadlineAfter(timeout);
  Factorial::Get().FromValue(n).WriteTo(&registers_);
  // QEMU computes on a thread of its own: `computing` may read 1 for a while.
  while (Status::Get().ReadFrom(&registers_).computing()) {
    if (udrv::Now() >= deadline) {
      return udrv::Fail(udrv::Status::TIMED_OUT,
                        step + ": edu still computes after " +
                            std::to_string(timeout / 1'000'000) + " ms",
                        "edu");
    }
  }
  return static_cast<uint32_t>(Factorial::Get().ReadFrom(&registers_).value());
}

}  // namespace edu_example
