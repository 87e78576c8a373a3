#include <memory>
#include <utility>

#include "udrv/acpi/acpi_bus.h"
#include "udrv/drivers/hpet/hpet.h"

namespace udrv::drivers::hpet {

namespace {

class HpetInstance final : public bus::DriverInstance {
 public:
  explicit HpetInstance(Hpet hpet) : hpet_(std::move(hpet)) {}
  ~HpetInstance() override { (void)Stop(); }

  const Hpet& hpet() const { return hpet_; }

  // The enable bit back as the driver found it.
  Result<void> Stop() override {
    if (!stopped_) hpet_.Restore();
    stopped_ = true;
    return {};
  }

 private:
  Hpet hpet_;
  bool stopped_ = false;
};

}  // namespace

bus::Driver MakeBusDriver() {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Equal(std::string(acpi::kPropHid), std::string(kHid))};
  using Type = bus::DriverOption::Type;
  driver.options = {
      {"self-test", Type::BOOL, "true",
       "check the period and measure the main counter against CLOCK_MONOTONIC as the driver starts"},
      {"interval", Type::DURATION, "1s", "how long the self test measures the main counter"},
      {"tolerance-ppm", Type::NUMBER, "10000",
       "how far (parts per million) the measured rate may be from the one the period states"},
  };
  driver.start = [](bus::DriverContext& context) -> Result<std::unique_ptr<bus::DriverInstance>> {
    const bus::DriverOptionValues& settings = context.options();
    UDRV_TRY_ASSIGN(const bool self_test, settings.GetBool("self-test"));
    UDRV_TRY_ASSIGN(const Duration interval, settings.GetDuration("interval"));
    UDRV_TRY_ASSIGN(const uint64_t tolerance, settings.GetNumber("tolerance-ppm"));
    if (tolerance > 1'000'000 || interval <= 0 || interval > 60'000'000'000) {
      return Fail(Status::INVALID_ARGS, "tolerance-ppm past 1000000, or an interval not in (0, 60s]",
                  context.node().id);
    }
    UDRV_TRY_ASSIGN(acpi::Device * device, context.GetProtocol<acpi::Device>());
    UDRV_TRY_ASSIGN(Hpet hpet, Hpet::Create(*device));
    context.Log("HPET at " + Hex(hpet.phys()) + " over " + std::string(device->route()) + ", counter " +
                (hpet.enabled_before() ? "running" : "stopped") + " as found");
    hpet.Enable();
    auto instance = std::make_unique<HpetInstance>(std::move(hpet));
    // From here a failure puts the enable bit back (the instance's Stop).
    if (self_test) {
      UDRV_TRY(SelfTest(instance->hpet(), interval, static_cast<uint32_t>(tolerance),
                        [&context](const std::string& line) { context.Log(line); }));
      context.Log("self test passed");
    }
    return instance;
  };
  return driver;
}

}  // namespace udrv::drivers::hpet
