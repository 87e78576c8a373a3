// The edu driver as the driver manager runs it (bus/driver_manager.h): it
// binds PCI nodes 1234:11e8 and, when started, drives the context's
// pci::Device with Edu — and, unless told otherwise, runs the self test
// (self_test.h) right away, logging each step through the context. Stop
// quiesces edu (Edu's destructor: no interrupts, bus mastering off).
#pragma once

#include <string_view>

#include "udrv/bus/driver.h"
#include "udrv/drivers/edu/edu.h"
#include "udrv/drivers/edu/self_test.h"

namespace udrv::drivers::edu {

inline constexpr std::string_view kDriverName = "edu";

struct BusDriverOptions {
  Options edu;
  // Run SelfTest when the driver starts; a failed self test fails the start.
  bool self_test_at_start = true;
  SelfTestOptions self_test;
};

// The registration: name "edu", rules pci.vendor == 0x1234 && pci.device == 0x11e8.
bus::Driver MakeBusDriver(BusDriverOptions options = {});

}  // namespace udrv::drivers::edu
