// Running PCI drivers isolated: a bus::DriverRunner for the driver manager
// that starts each driver in a driver host of its own — a program run
// under its own uid, with no privileges, that reaches its device only
// through the socket the root bus serves it on (isolation.h).
//
// For each driver the runner launches
//   HOST_PROGRAM --driver NAME --node NODE_ID [host_arguments...]
// with the socket as fd 3 (bus::kHostChannelFd), as uid and gid
// first_uid + n (n counts the drivers started), and waits until the host
// reports whether the driver started. It then supervises the host: when the
// host ends (it crashed, was killed, or closed its socket), its pins are
// quarantined, the device is quiesced and reset, the pins are released, and
// the host is started again, up to `restarts` times. Stop ends the host
// (SIGTERM, then SIGKILL after stop_grace) and reclaims the device the same
// way; the driver manager then releases it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "udrv/bus/driver.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"

namespace udrv::pci {

struct IsolatedRunnerOptions {
  std::string host_program;               // the driver host (udrv-driver-host)
  std::vector<std::string> host_arguments;
  uid_t first_uid = 0;                    // not 0: a host is never root
  uint32_t restarts = 1;                  // starts of a host after it died
  Duration start_timeout = 120'000'000'000;
  Duration stop_grace = 10'000'000'000;
  std::string sysfs_root = "/sys";
  bus::Logger log;
};

// INVALID_ARGS for an empty host program or first_uid 0. The runner
// refuses a device that is not a pci::Device; a device without an IOMMU
// starts, but the root bus refuses its host a Bti (isolation.h).
Result<bus::DriverRunner> MakeIsolatedRunner(IsolatedRunnerOptions options);

}  // namespace udrv::pci
