#include "udrv/drivers/registry.h"

namespace udrv::drivers {

std::vector<bus::Driver> AllDrivers(const DriverSettings& settings) {
  return {edu::MakeBusDriver(settings.edu)};
}

}  // namespace udrv::drivers
