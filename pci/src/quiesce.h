// Making a device quiet before it changes hands (private to udrv_pci): the
// steps the bus runs when a driver is done (pci_bus.cc) and the root bus
// runs when a driver host died (device_server.cc).
#pragma once

#include <string>

#include "udrv/bus/bus.h"
#include "udrv/core/result.h"
#include "udrv/pci/device.h"

namespace udrv::pci::internal {

// Interrupts off, bus mastering off (read back from the command register)
// and a reset where the device has a method, each appended to `report`;
// a failed step does not stop the next. True when no DMA can still run:
// bus mastering is off, read back, or the device was reset.
bool Quiesce(Device& device, bus::ReleaseReport& report);

}  // namespace udrv::pci::internal
