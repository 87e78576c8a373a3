#include "udrv/drivers/edu/bus_driver.h"

#include <memory>
#include <utility>

#include "udrv/pci/pci_bus.h"

namespace udrv::drivers::edu {

namespace {

class EduInstance final : public bus::DriverInstance {
 public:
  explicit EduInstance(Edu driver) : driver_(std::move(driver)) {}

  // Edu quiesces the device when it goes; the manager destroys the
  // instance right after Stop.
  Result<void> Stop() override { return {}; }

 private:
  Edu driver_;
};

}  // namespace

bus::Driver MakeBusDriver(BusDriverOptions options) {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Equal(std::string(pci::kPropVendor), kVendorId),
                  bus::BindRule::Equal(std::string(pci::kPropDevice), kDeviceId)};
  driver.start = [options](bus::DriverContext& context)
      -> Result<std::unique_ptr<bus::DriverInstance>> {
    auto device = context.GetProtocol<pci::Device>();
    if (!device) return std::unexpected(device.error());
    auto edu = Edu::Create(**device, options.edu);
    if (!edu) return std::unexpected(edu.error());
    context.Log(edu->name() + " is up");
    if (options.self_test_at_start) {
      auto tested = SelfTest(*edu, options.self_test,
                             [&context](const std::string& line) { context.Log(line); });
      if (!tested) return Wrap(tested.error(), "self test");
      context.Log("self test passed");
    }
    return std::make_unique<EduInstance>(std::move(*edu));
  };
  return driver;
}

}  // namespace udrv::drivers::edu
