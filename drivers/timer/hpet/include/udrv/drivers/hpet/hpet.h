// A driver for the High Precision Event Timer (IA-PC HPET specification
// 1.0a), on acpi::Device alone: it maps the timer block (memory range 0 of
// the ACPI device PNP0103), reads the capabilities, runs the main counter
// and measures it against CLOCK_MONOTONIC.
//
// The driver manager binds it to nodes whose acpi.hid is "PNP0103"
// (MakeBusDriver); as it starts it runs the self test unless told
// otherwise (`--driver-option hpet.self-test=false`):
//   1. the counter period (the upper half of the capabilities register, in
//      femtoseconds) is nonzero and at most 100 ns, as the specification
//      requires;
//   2. with the main counter enabled, it advances over `interval` at the
//      rate the period states, within `tolerance-ppm` of CLOCK_MONOTONIC.
// Linux must not be using the timer (boot with hpet=disable): the driver
// enables the counter and, as it stops, puts the enable bit back as it was.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "udrv/acpi/device.h"
#include "udrv/bus/driver.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/mmio_buffer.h"

namespace udrv::drivers::hpet {

inline constexpr std::string_view kDriverName = "hpet";
inline constexpr std::string_view kHid = "PNP0103";

// Registers (HPET 1.0a §2.3).
inline constexpr uint64_t kCapabilities = 0x000;   // GCAP_ID, 64-bit
inline constexpr uint64_t kConfiguration = 0x010;  // GEN_CONF
inline constexpr uint64_t kMainCounter = 0x0F0;    // MAIN_COUNTER_VAL, 64-bit
inline constexpr uint64_t kRegistersEnd = 0x100;   // the general registers; timers follow
inline constexpr uint32_t kEnable = 1u << 0;       // GEN_CONF ENABLE_CNF
// The longest period the specification allows: 100 ns in femtoseconds.
inline constexpr uint32_t kMaxPeriodFs = 0x05F5E100;

struct Capabilities {
  uint32_t period_fs = 0;      // COUNTER_CLK_PERIOD
  uint16_t vendor = 0;         // VENDOR_ID
  uint8_t revision = 0;        // REV_ID
  uint32_t timers = 0;         // NUM_TIM_CAP + 1
  bool counter_64bit = false;  // COUNT_SIZE_CAP
  bool legacy_route = false;   // LEG_RT_CAP

  // 1e15 / period: the counter's rate the capabilities state.
  double Hz() const { return 1e15 / period_fs; }
  static Capabilities FromRegister(uint64_t value);
};

struct Measurement {
  uint64_t ticks = 0;    // the counter's advance
  Duration elapsed = 0;  // CLOCK_MONOTONIC's, in ns
  double hz = 0;         // ticks per second
  double error_ppm = 0;  // against Capabilities::Hz
};

class Hpet {
 public:
  // Maps memory range 0 and reads the capabilities: NOT_SUPPORTED naming
  // what was read when the period is zero or past 100 ns (no HPET there,
  // or all-ones from a bus that did not answer).
  static Result<Hpet> Create(acpi::Device& device);
  // Over registers already mapped (a test's fake); `vmar` may be empty.
  static Result<Hpet> FromRegisters(mmio::MmioBuffer registers, uint64_t phys, std::string name,
                                    Vmar vmar = {});

  const Capabilities& capabilities() const { return capabilities_; }
  uint64_t phys() const { return phys_; }
  bool enabled_before() const { return enabled_before_; }

  // Sets ENABLE_CNF (the counter runs); Restore puts it back as Create found it.
  void Enable() const;
  void Restore() const;
  uint64_t ReadCounter() const;

  // The counter against CLOCK_MONOTONIC over `interval`. Each end is read
  // between two clock reads; an end whose bracket is wider than 1/1000th
  // of the interval (the reader was descheduled) is read again, up to 10
  // times, so the measurement's own error stays far below the tolerance.
  // BAD_STATE when the counter does not advance or no tight bracket came.
  Result<Measurement> Measure(Duration interval) const;

 private:
  Hpet(Vmar vmar, mmio::MmioBuffer registers, Capabilities capabilities, uint64_t phys, bool enabled_before,
       std::string name)
      : vmar_(std::move(vmar)),
        registers_(std::move(registers)),
        capabilities_(capabilities),
        phys_(phys),
        enabled_before_(enabled_before),
        name_(std::move(name)) {}

  Vmar vmar_;
  mmio::MmioBuffer registers_;
  Capabilities capabilities_;
  uint64_t phys_ = 0;
  bool enabled_before_ = false;
  std::string name_;
};

// Step 2 above on an enabled HPET: the measurement, logged, and
// OUT_OF_RANGE when it is off by more than `tolerance_ppm`.
Result<Measurement> SelfTest(const Hpet& hpet, Duration interval, uint32_t tolerance_ppm,
                             const std::function<void(const std::string&)>& log);

// The registration with the driver manager: rule acpi.hid == "PNP0103";
// options self-test (bool, true), interval (duration, 1s), tolerance-ppm
// (number, 10000: 1%).
bus::Driver MakeBusDriver();

}  // namespace udrv::drivers::hpet
