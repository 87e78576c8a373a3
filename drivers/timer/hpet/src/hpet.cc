#include "udrv/drivers/hpet/hpet.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

namespace udrv::drivers::hpet {
namespace {

// CLOCK_MONOTONIC in ns, as the measurement's reference (Now() is the same
// clock; this names it where the comparison is made).
Duration Monotonic() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<Duration>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// A counter value and the clock's time at its read: the middle of two
// clock reads around it.
struct Sample {
  uint64_t counter = 0;
  Duration time = 0;
  Duration bracket = 0;  // the clock's advance across the read
};

std::string Mhz(double hz) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6f MHz", hz / 1e6);
  return text;
}

}  // namespace

Capabilities Capabilities::FromRegister(uint64_t value) {
  Capabilities caps;
  caps.period_fs = static_cast<uint32_t>(value >> 32);
  caps.vendor = static_cast<uint16_t>(value >> 16);
  caps.legacy_route = (value & (1u << 15)) != 0;
  caps.counter_64bit = (value & (1u << 13)) != 0;
  caps.timers = static_cast<uint32_t>((value >> 8) & 0x1f) + 1;
  caps.revision = static_cast<uint8_t>(value);
  return caps;
}

Result<Hpet> Hpet::Create(acpi::Device& device) {
  const std::string name = device.GetNode().id;
  UDRV_TRY_ASSIGN(acpi::Mmio mmio, device.GetMmio(0u));
  if (mmio.size < kRegistersEnd) {
    return Fail(
        Status::NOT_SUPPORTED,
        "map memory range 0: " + Hex(mmio.size) + " bytes, an HPET's registers take " + Hex(kRegistersEnd),
        name);
  }
  const uint64_t phys = mmio.phys;
  UDRV_TRY_ASSIGN(const uint64_t vmo_size, mmio.vmo.GetSize());
  UDRV_TRY_ASSIGN(Vmar vmar, Vmar::Create(vmo_size, "hpet"));
  UDRV_TRY_ASSIGN(mmio::MmioBuffer registers,
                  mmio::MmioBuffer::Create(vmar, mmio.offset, kRegistersEnd, std::move(mmio.vmo),
                                           CachePolicy::UNCACHED_DEVICE));
  return FromRegisters(std::move(registers), phys, name, std::move(vmar));
}

Result<Hpet> Hpet::FromRegisters(mmio::MmioBuffer registers, uint64_t phys, std::string name, Vmar vmar) {
  const uint64_t raw = registers.Read64(kCapabilities);
  const Capabilities caps = Capabilities::FromRegister(raw);
  if (caps.period_fs == 0 || caps.period_fs > kMaxPeriodFs) {
    return Fail(Status::NOT_SUPPORTED,
                "read the capabilities: " + Hex(raw) + " states a counter period of " +
                    std::to_string(caps.period_fs) + " fs; an HPET's is nonzero and at most " +
                    std::to_string(kMaxPeriodFs) + " fs (100 ns)",
                name);
  }
  const bool enabled = (registers.Read32(kConfiguration) & kEnable) != 0;
  return Hpet(std::move(vmar), std::move(registers), caps, phys, enabled, std::move(name));
}

void Hpet::Enable() const { registers_.Write32(registers_.Read32(kConfiguration) | kEnable, kConfiguration); }

void Hpet::Restore() const {
  const uint32_t config = registers_.Read32(kConfiguration);
  registers_.Write32(enabled_before_ ? config | kEnable : config & ~kEnable, kConfiguration);
}

uint64_t Hpet::ReadCounter() const {
  if (capabilities_.counter_64bit) return registers_.Read64(kMainCounter);
  return registers_.Read32(kMainCounter);
}

Result<Measurement> Hpet::Measure(Duration interval) const {
  if (interval <= 0) return Fail(Status::INVALID_ARGS, "measure: the interval must be positive", name_);
  const Duration widest = std::max<Duration>(interval / 1000, 1000);
  const auto sample = [this, widest]() -> std::optional<Sample> {
    for (int attempt = 0; attempt < 10; ++attempt) {
      const Duration before = Monotonic();
      const uint64_t counter = ReadCounter();
      const Duration after = Monotonic();
      if (after - before <= widest) return Sample{counter, before + (after - before) / 2, after - before};
    }
    return std::nullopt;
  };
  const auto first = sample();
  if (!first) {
    return Fail(Status::BAD_STATE,
                "measure: 10 reads of the counter each took longer than " + std::to_string(widest) + " ns",
                name_);
  }
  ::timespec pause{static_cast<time_t>(interval / 1'000'000'000),
                   static_cast<long>(interval % 1'000'000'000)};
  while (::nanosleep(&pause, &pause) != 0) {
  }
  const auto last = sample();
  if (!last) {
    return Fail(Status::BAD_STATE,
                "measure: 10 reads of the counter each took longer than " + std::to_string(widest) + " ns",
                name_);
  }
  Measurement measured;
  // A 32-bit counter wraps: its advance is taken modulo 2^32 (an interval
  // shorter than a wrap, 42 s at 100 MHz).
  measured.ticks = capabilities_.counter_64bit ? last->counter - first->counter
                                               : static_cast<uint32_t>(last->counter - first->counter);
  measured.elapsed = last->time - first->time;
  if (measured.ticks == 0 || measured.elapsed <= 0) {
    return Fail(Status::BAD_STATE,
                "measure: the main counter did not advance (" + Hex(first->counter) + " then " +
                    Hex(last->counter) + ") over " + std::to_string(measured.elapsed) + " ns",
                name_);
  }
  measured.hz = static_cast<double>(measured.ticks) * 1e9 / static_cast<double>(measured.elapsed);
  measured.error_ppm = (measured.hz - capabilities_.Hz()) / capabilities_.Hz() * 1e6;
  return measured;
}

Result<Measurement> SelfTest(const Hpet& hpet, Duration interval, uint32_t tolerance_ppm,
                             const std::function<void(const std::string&)>& log) {
  const Capabilities& caps = hpet.capabilities();
  log("capabilities: period " + std::to_string(caps.period_fs) + " fs (" + Mhz(caps.Hz()) + "), " +
      std::to_string(caps.timers) + " timer(s), " + (caps.counter_64bit ? "64" : "32") +
      "-bit counter, vendor " + Hex(caps.vendor) + ", revision " + std::to_string(caps.revision));
  UDRV_TRY_ASSIGN(const Measurement measured, hpet.Measure(interval));
  char error[32];
  std::snprintf(error, sizeof(error), "%+.1f ppm", measured.error_ppm);
  log("main counter: " + std::to_string(measured.ticks) + " ticks in " + std::to_string(measured.elapsed) +
      " ns of CLOCK_MONOTONIC: " + Mhz(measured.hz) + ", the capabilities state " + Mhz(caps.Hz()) + " (" +
      error + ", tolerance " + std::to_string(tolerance_ppm) + " ppm)");
  if (std::fabs(measured.error_ppm) > tolerance_ppm) {
    return Fail(Status::OUT_OF_RANGE, "the main counter runs at " + Mhz(measured.hz) + ", " + error +
                                          " from the " + Mhz(caps.Hz()) + " its period states, more than " +
                                          std::to_string(tolerance_ppm) + " ppm");
  }
  return measured;
}

}  // namespace udrv::drivers::hpet
