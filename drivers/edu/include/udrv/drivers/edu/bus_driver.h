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

// The registration: name "edu", rules pci.vendor == 0x1234 && pci.device ==
// 0x11e8, and its options (`--driver-option edu.NAME=VALUE`):
//   self-test (bool, true): run SelfTest as the driver starts; a failed self
//     test fails the start;
//   dma-until-stopped (bool, false): once started, keep edu busy — verified
//     DMA round trips back to back from a thread of the instance until Stop,
//     which reports how many ran and fails if one did (tests kill a driver
//     host while it does this, in the middle of a DMA);
//   idle-timeout, completion-timeout (durations): Options' timeouts.
bus::Driver MakeBusDriver();

}  // namespace udrv::drivers::edu
