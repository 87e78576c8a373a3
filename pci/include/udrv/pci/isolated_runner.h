// Running PCI drivers isolated: host::MakeIsolatedRunner (host/runner.h)
// with the PCI service (isolation.h) for each driver's device.
//
// One host per IOMMU group: the devices of a group share one IOVA space
// (the PCI bus gives them one container), so a device in another host
// could DMA into this host's pins. A second device of a group that already
// has a host is refused, naming the group.
#pragma once

#include <string>

#include "udrv/bus/driver_manager.h"
#include "udrv/core/result.h"
#include "udrv/host/runner.h"
#include "udrv/sysfs/paths.h"

namespace udrv::pci {

struct IsolatedRunnerOptions : host::RunnerOptions {
  sysfs::LinuxPaths paths;
};

// INVALID_ARGS for an empty host program or a first_uid of 0 or
// (uid_t)-1. The runner refuses a device that is not a pci::Device, and a
// second device of an IOMMU group that has a host (ALREADY_BOUND); a device
// without an IOMMU starts, but the root bus refuses its host a Bti
// (host/server.h).
Result<bus::DriverRunner> MakeIsolatedRunner(IsolatedRunnerOptions options);

// The PCI service factory alone, for a runner that serves several buses
// (host::MakeIsolatedRunner with a factory that picks by the node's bus):
// one host per IOMMU group as above.
host::ServiceFactory MakeServiceFactory(sysfs::LinuxPaths paths);

}  // namespace udrv::pci
