#include "udrv/drivers/registry.h"

namespace udrv::drivers {

std::vector<bus::Driver> AllDrivers() { return {edu::MakeBusDriver(), pl031::MakeBusDriver()}; }

}  // namespace udrv::drivers
