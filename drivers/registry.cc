#include "udrv/drivers/registry.h"

namespace udrv::drivers {

std::vector<bus::Driver> AllDrivers() { return {edu::MakeBusDriver()}; }

}  // namespace udrv::drivers
