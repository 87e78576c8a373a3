// A driver for ARM's PL031 real-time clock, on platform::Device alone: the
// same code runs in the driver manager's process and in an isolated driver
// host. It maps region 0, checks the PrimeCell IDs, reads the time and
// raises the match interrupt.
//
// The driver manager binds it to nodes whose fdt.compatible holds
// "arm,pl031" (MakeBusDriver); as it starts it runs the self test unless
// told otherwise (`--driver-option pl031.self-test=false`):
//   1. the peripheral and PrimeCell IDs read as a PL031's;
//   2. the counter agrees with this machine's clock within `clock-tolerance`
//      seconds (QEMU starts it from the host's time, which Linux also set
//      its clock from) and advances;
//   3. `alarms` times: the match register set a second or two ahead, the
//      interrupt arrives through GetInterrupt(0) within `alarm-timeout`, the
//      raw status says it was the match, and clearing it lowers the line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "udrv/bus/driver.h"
#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/platform/device.h"

namespace udrv::drivers::pl031 {

inline constexpr std::string_view kDriverName = "pl031";
inline constexpr std::string_view kCompatible = "arm,pl031";

class Pl031 {
 public:
  // Maps region 0 ("reg" of the node) and checks the IDs: NOT_SUPPORTED
  // naming what was read when they are not a PL031's.
  static Result<Pl031> Create(platform::Device& device);

  uint32_t peripheral_id() const { return peripheral_id_; }
  uint64_t phys() const { return phys_; }
  // The counter (Data register).
  uint32_t ReadSeconds() const;
  // Arms the match interrupt for counter value `seconds` (clears a pending one first).
  void ArmMatch(uint32_t seconds) const;
  // Whether the match interrupt is raised (raw status).
  bool MatchRaised() const;
  // Clears the match and masks it again.
  void DisarmMatch() const;

 private:
  Pl031(Vmar vmar, mmio::MmioBuffer registers, uint32_t peripheral_id, uint64_t phys)
      : vmar_(std::move(vmar)), registers_(std::move(registers)), peripheral_id_(peripheral_id), phys_(phys) {}

  Vmar vmar_;
  mmio::MmioBuffer registers_;
  uint32_t peripheral_id_ = 0;
  uint64_t phys_ = 0;
};

struct SelfTestOptions {
  uint32_t clock_tolerance_seconds = 5;
  uint32_t alarms = 2;
  Duration alarm_timeout = 10'000'000'000;
};

// Steps 2 and 3 above on a created clock, each step logged through `log`.
Result<void> SelfTest(const Pl031& clock, const Interrupt& interrupt, const SelfTestOptions& options,
                      const std::function<void(const std::string&)>& log);

// The registration with the driver manager: rule fdt.compatible has
// "arm,pl031"; options self-test (bool, true), clock-tolerance (number of
// seconds, 5), alarms (number, 2), alarm-timeout (duration, 10s).
bus::Driver MakeBusDriver();

}  // namespace udrv::drivers::pl031
