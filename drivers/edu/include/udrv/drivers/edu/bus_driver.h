// The edu driver as the driver manager runs it (bus/driver_manager.h): it
// binds PCI nodes 1234:11e8 and, when started, drives the context's
// pci::Device with Edu — and, unless told otherwise, runs the self test
// (self_test.h) right away, logging each step through the context. Stop
// quiesces edu (Edu's destructor: no interrupts, bus mastering off).
// The same driver runs in the driver manager's process or in an isolated
// driver host (pci/isolated_runner.h): it sees only its context.
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
  // Once started, keep edu busy: DMA round trips (host -> edu -> host,
  // verified) back to back from a thread of the instance until Stop, which
  // reports how many ran and fails if one did. Tests kill a driver host
  // while it does this, in the middle of a DMA.
  bool dma_until_stopped = false;
};

// The registration: name "edu", rules pci.vendor == 0x1234 && pci.device == 0x11e8.
bus::Driver MakeBusDriver(BusDriverOptions options = {});

}  // namespace udrv::drivers::edu
