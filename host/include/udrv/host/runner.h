// Running drivers isolated: a bus::DriverRunner for the driver manager
// that starts each driver in a driver host of its own — a program run
// under its own uid, with no privileges, that reaches its device only
// through the socket the root bus serves it on (server.h).
//
// For each driver the runner launches
//   HOST_PROGRAM --driver NAME --node NODE_ID [host_arguments...]
// with the socket as fd 3 (kHostChannelFd), as uid and gid first_uid + n
// (n counts the drivers started; a uid past 0xfffffffe is refused, never
// wrapped to root), contained as HostProcess says, with `budget`, and waits
// until the host reports whether the driver started. It then supervises
// the host: when the host ends (it crashed, was killed, or closed its
// socket), its pins are quarantined, the device is quiesced (the bus's
// service says how), the pins are released, and the host is started again,
// up to `restarts` times. Stop ends the host (SIGTERM, then SIGKILL after
// stop_grace) and reclaims the device the same way; the driver manager
// then releases it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "udrv/bus/driver.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/host/server.h"

namespace udrv::host {

struct RunnerOptions {
  std::string host_program;               // the driver host (udrv-driver-host)
  std::vector<std::string> host_arguments;
  uid_t first_uid = 0;                    // 1..0xfffffffe: a host is never root
  uint32_t restarts = 1;                  // starts of a host after it died
  HostBudget budget;                      // for each host
  Duration start_timeout = 120'000'000'000;
  Duration stop_grace = 10'000'000'000;
  bus::Logger log;
};

// The bus's service for a driver's device, made once per driver (not per
// host launch): it holds what the bus claims for the host (PCI: its IOMMU
// group) until it is destroyed. An error refuses the driver.
using ServiceFactory =
    std::function<Result<std::unique_ptr<HostService>>(bus::DriverContext& context)>;

// INVALID_ARGS for an empty host program or a first_uid of 0 or
// (uid_t)-1.
Result<bus::DriverRunner> MakeIsolatedRunner(RunnerOptions options, ServiceFactory make_service);

}  // namespace udrv::host
