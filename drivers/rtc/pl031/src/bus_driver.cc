#include "udrv/drivers/pl031/pl031.h"

#include <memory>
#include <utility>

#include "udrv/platform/platform_bus.h"

namespace udrv::drivers::pl031 {

namespace {

class Pl031Instance final : public bus::DriverInstance {
 public:
  Pl031Instance(Pl031 clock, Interrupt interrupt) : clock_(std::move(clock)), interrupt_(std::move(interrupt)) {}
  ~Pl031Instance() override { (void)Stop(); }

  // Leaves the clock running (it is a clock) with its interrupt masked.
  Result<void> Stop() override {
    clock_.DisarmMatch();
    if (interrupt_) (void)interrupt_.Destroy();
    return {};
  }

 private:
  Pl031 clock_;
  Interrupt interrupt_;
};

}  // namespace

bus::Driver MakeBusDriver() {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Equal(std::string(platform::kPropCompatible), std::string(kCompatible))};
  using Type = bus::DriverOption::Type;
  driver.options = {
      {"self-test", Type::BOOL, "true",
       "check the IDs, the time against this machine's and the match interrupt as the driver starts"},
      {"clock-tolerance", Type::NUMBER, "5", "how many seconds the clock may be from this machine's"},
      {"alarms", Type::NUMBER, "2", "how many match interrupts the self test raises"},
      {"alarm-timeout", Type::DURATION, "10s", "how long a match interrupt may take to arrive"},
  };
  driver.start = [](bus::DriverContext& context) -> Result<std::unique_ptr<bus::DriverInstance>> {
    const bus::DriverOptionValues& settings = context.options();
    UDRV_TRY_ASSIGN(const bool self_test, settings.GetBool("self-test"));
    SelfTestOptions options;
    UDRV_TRY_ASSIGN(const uint64_t tolerance, settings.GetNumber("clock-tolerance"));
    UDRV_TRY_ASSIGN(const uint64_t alarms, settings.GetNumber("alarms"));
    if (tolerance > UINT32_MAX || alarms > 100) {
      return Fail(Status::INVALID_ARGS, "clock-tolerance past 2^32 or more than 100 alarms", context.node().id);
    }
    options.clock_tolerance_seconds = static_cast<uint32_t>(tolerance);
    options.alarms = static_cast<uint32_t>(alarms);
    UDRV_TRY_ASSIGN(options.alarm_timeout, settings.GetDuration("alarm-timeout"));

    UDRV_TRY_ASSIGN(platform::Device* device, context.GetProtocol<platform::Device>());
    UDRV_TRY_ASSIGN(Pl031 clock, Pl031::Create(*device));
    context.Log("PL031 at " + Hex(clock.phys()) + " over " + std::string(device->route()) +
                ", peripheral ID " + Hex(clock.peripheral_id()));
    Interrupt interrupt;
    if (self_test) {
      UDRV_TRY_ASSIGN(interrupt, device->GetInterrupt(0u));
      UDRV_TRY(SelfTest(clock, interrupt, options, [&context](const std::string& line) { context.Log(line); }));
      context.Log("self test passed");
    }
    return std::make_unique<Pl031Instance>(std::move(clock), std::move(interrupt));
  };
  return driver;
}

}  // namespace udrv::drivers::pl031
