// Every driver udrv ships, in the order the driver manager registers them:
// the first registered driver whose rules hold binds a node
// (bus/driver_manager.h), so drivers for one device come before drivers
// for a class of devices. The driver manager matches with this list and a
// driver host starts a driver from it by name: both must agree.
#pragma once

#include <vector>

#include "udrv/bus/driver.h"
#include "udrv/drivers/edu/bus_driver.h"

namespace udrv::drivers {

struct DriverSettings {
  edu::BusDriverOptions edu;
};

std::vector<bus::Driver> AllDrivers(const DriverSettings& settings = {});

}  // namespace udrv::drivers
