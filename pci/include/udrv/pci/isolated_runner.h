// Running PCI drivers isolated: a bus::DriverRunner for the driver manager
// that starts each driver in a driver host of its own — a program run
// under its own uid, with no privileges, that reaches its device only
// through the socket the root bus serves it on (isolation.h).
//
// For each driver the runner launches
//   HOST_PROGRAM --driver NAME --node NODE_ID [host_arguments...]
// with the socket as fd 3 (bus::kHostChannelFd), as uid and gid
// first_uid + n (n counts the drivers started; a uid past 0xfffffffe is
// refused, never wrapped to root), contained as bus::HostProcess says, with
// `budget`, and waits until the host reports whether the driver started.
//
// One host per IOMMU group: the devices of a group share one IOVA space
// (the PCI bus gives them one container), so a device in another host
// could DMA into this host's pins. A second device of a group that already
// has a host is refused, naming the group. It then supervises the host: when the
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
#include "udrv/pci/isolation.h"

namespace udrv::pci {

struct IsolatedRunnerOptions {
  std::string host_program;               // the driver host (udrv-driver-host)
  std::vector<std::string> host_arguments;
  uid_t first_uid = 0;                    // 1..0xfffffffe: a host is never root
  uint32_t restarts = 1;                  // starts of a host after it died
  HostBudget budget;                      // for each host
  Duration start_timeout = 120'000'000'000;
  Duration stop_grace = 10'000'000'000;
  std::string sysfs_root = "/sys";
  bus::Logger log;
};

// INVALID_ARGS for an empty host program or a first_uid of 0 or
// (uid_t)-1. The runner refuses a device that is not a pci::Device, and a
// second device of an IOMMU group that has a host (ALREADY_BOUND); a device
// without an IOMMU starts, but the root bus refuses its host a Bti
// (isolation.h).
Result<bus::DriverRunner> MakeIsolatedRunner(IsolatedRunnerOptions options);

}  // namespace udrv::pci
