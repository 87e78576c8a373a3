// Every driver udrv ships, with the options each declares, in the order the
// driver manager registers them: among drivers whose rules hold, the first
// registered binds a node (bus/driver_match.h), so drivers for one device
// come before drivers for a class of devices. The driver manager matches
// with this list and checks `--driver-option`s against it
// (bus::ParseDriverOptions); a driver host starts a driver from it by name,
// with the options the manager passed: both must agree.
#pragma once

#include <vector>

#include "udrv/bus/driver.h"
#include "udrv/drivers/e1000e/bus_driver.h"
#include "udrv/drivers/edu/bus_driver.h"
#include "udrv/drivers/hpet/hpet.h"
#include "udrv/drivers/net_traffic/net_traffic.h"
#include "udrv/drivers/pl031/pl031.h"
#include "udrv/drivers/usb_mass_storage/usb_mass_storage.h"
#include "udrv/drivers/virtio_mmio_probe/virtio_mmio_probe.h"

namespace udrv::drivers {

std::vector<bus::Driver> AllDrivers();

}  // namespace udrv::drivers
