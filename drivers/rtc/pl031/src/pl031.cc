#include <ctime>

#include "registers.h"
#include "udrv/drivers/pl031/pl031.h"

namespace udrv::drivers::pl031 {

namespace {

// Four ID bytes at consecutive registers, least significant first.
uint32_t ReadIdWord(const mmio::MmioBuffer& registers, bool primecell) {
  uint32_t word = 0;
  for (uint32_t n = 0; n < 4; ++n) {
    auto reg = primecell ? registers::IdByte::GetPrimeCell(n) : registers::IdByte::GetPeripheral(n);
    word |= reg.ReadFrom(&registers).value() << (8 * n);
  }
  return word;
}

}  // namespace

Result<Pl031> Pl031::Create(platform::Device& device) {
  const std::string name = device.GetNode().id;
  UDRV_TRY_ASSIGN(platform::Mmio mmio, device.GetMmio(0u));
  if (mmio.size < registers::kRegistersEnd) {
    return Fail(Status::NOT_SUPPORTED,
                "map region 0: " + Hex(mmio.size) + " bytes, a PL031 has " + Hex(registers::kRegistersEnd),
                name);
  }
  const uint64_t phys = mmio.phys;
  UDRV_TRY_ASSIGN(const uint64_t vmo_size, mmio.vmo.GetSize());
  UDRV_TRY_ASSIGN(Vmar vmar, Vmar::Create(vmo_size, "pl031"));
  UDRV_TRY_ASSIGN(mmio::MmioBuffer registers,
                  mmio::MmioBuffer::Create(vmar, mmio.offset, registers::kRegistersEnd,
                                           std::move(mmio.vmo), CachePolicy::UNCACHED_DEVICE));
  const uint32_t peripheral = ReadIdWord(registers, false);
  const uint32_t primecell = ReadIdWord(registers, true);
  if ((peripheral & registers::kPeripheralIdPartMask) != (registers::kPeripheralId & registers::kPeripheralIdPartMask) ||
      primecell != registers::kPrimeCellId) {
    return Fail(Status::NOT_SUPPORTED,
                "check the IDs: peripheral " + Hex(peripheral) + ", PrimeCell " + Hex(primecell) +
                    ", not a PL031's (" + Hex(registers::kPeripheralId) + ", " +
                    Hex(registers::kPrimeCellId) + ")",
                name);
  }
  return Pl031(std::move(vmar), std::move(registers), peripheral, phys);
}

uint32_t Pl031::ReadSeconds() const { return registers::Data::Get().ReadFrom(&registers_).seconds(); }

void Pl031::ArmMatch(uint32_t seconds) const {
  registers::Interrupt::GetClear().FromValue(0).set_match(1).WriteTo(&registers_);
  registers::Match::Get().FromValue(0).set_seconds(seconds).WriteTo(&registers_);
  registers::Interrupt::GetMask().FromValue(0).set_match(1).WriteTo(&registers_);
}

bool Pl031::MatchRaised() const {
  return registers::Interrupt::GetRawStatus().ReadFrom(&registers_).match() != 0;
}

void Pl031::DisarmMatch() const {
  registers::Interrupt::GetMask().FromValue(0).set_match(0).WriteTo(&registers_);
  registers::Interrupt::GetClear().FromValue(0).set_match(1).WriteTo(&registers_);
}

Result<void> SelfTest(const Pl031& clock, const Interrupt& interrupt, const SelfTestOptions& options,
                      const std::function<void(const std::string&)>& log) {
  const uint32_t seconds = clock.ReadSeconds();
  const auto now = static_cast<int64_t>(::time(nullptr));
  const int64_t skew = static_cast<int64_t>(seconds) - now;
  log("time: the clock reads " + std::to_string(seconds) + ", this machine " + std::to_string(now) +
      " (" + std::to_string(skew) + " s apart)");
  if (skew > options.clock_tolerance_seconds || -skew > options.clock_tolerance_seconds) {
    return Fail(Status::BAD_STATE,
                "the clock is " + std::to_string(skew) + " s from this machine's, more than " +
                    std::to_string(options.clock_tolerance_seconds));
  }
  for (uint32_t alarm = 1; alarm <= options.alarms; ++alarm) {
    // Two seconds ahead: the next tick may be a moment away.
    const uint32_t match = clock.ReadSeconds() + 2;
    clock.ArmMatch(match);
    const Time armed = Now();
    auto fired = interrupt.Wait(DeadlineAfter(options.alarm_timeout));
    if (!fired) {
      clock.DisarmMatch();
      return Wrap(fired.error(), "alarm " + std::to_string(alarm) + " at " + std::to_string(match) +
                                     (clock.MatchRaised() ? " (the clock raised it: the interrupt did not arrive)"
                                                          : " (the clock never raised it)"));
    }
    const uint32_t at = clock.ReadSeconds();
    const bool raised = clock.MatchRaised();
    clock.DisarmMatch();
    if (!raised) return Fail(Status::BAD_STATE, "alarm " + std::to_string(alarm) + ": an interrupt, but no match raised");
    if (at < match) {
      return Fail(Status::BAD_STATE, "alarm " + std::to_string(alarm) + ": the interrupt came at " +
                                         std::to_string(at) + ", before the match " + std::to_string(match));
    }
    if (clock.MatchRaised()) return Fail(Status::BAD_STATE, "alarm " + std::to_string(alarm) + ": clearing it left it raised");
    log("alarm " + std::to_string(alarm) + ": the match interrupt for " + std::to_string(match) +
        " arrived after " + std::to_string((Now() - armed) / 1'000'000) + " ms (counter " + std::to_string(at) + ")");
  }
  return {};
}

}  // namespace udrv::drivers::pl031
