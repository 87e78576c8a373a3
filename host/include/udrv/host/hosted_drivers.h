// The drivers one driver host runs: the driver the root bus started it for,
// on the node it was given, and the drivers of the children that driver
// publishes (a NIC's network port), matched against the host's registry and
// started in the host's own process, as the driver manager does in-process.
// It is a bus::DriverManager over a bus of that one node, so matching,
// starting, logging and the order of stops (children first) are the
// in-process manager's.
//
// The root bus does not learn of the children: they live and die with the
// host. A child whose driver fails to start fails the whole start (the host
// then reports that to the root bus), so that a run under --isolated fails
// where the same run in-process would.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/core/result.h"

namespace udrv::host {

struct HostedDriversOptions {
  // The host's registry (drivers::AllDrivers()).
  std::vector<bus::Driver> drivers;
  // The driver the root bus asked for; it binds `node` whatever else would.
  std::string driver;
  bus::DeviceNode node;
  // The device's proxy (pci::RemoteDevice): must outlive the HostedDrivers.
  bus::ProtocolSet protocols;
  bus::DriverOptionSettings driver_options;
  bus::Logger log;
};

class HostedDrivers {
 public:
  // Starts `driver` on `node`, then the drivers of the children it
  // published, and theirs. NOT_FOUND for a driver not in `drivers`,
  // INVALID_ARGS when its rules do not match the node (saying why), or when
  // registering the drivers fails; the start's error when the driver
  // fails; a child's start error (naming child and driver) when a child's
  // driver fails, once everything that started is stopped again.
  static Result<std::unique_ptr<HostedDrivers>> Start(HostedDriversOptions options);

  // Stops what still runs.
  ~HostedDrivers();
  HostedDrivers(const HostedDrivers&) = delete;
  HostedDrivers& operator=(const HostedDrivers&) = delete;

  // Stops the children's drivers (the last started first), then the host's
  // driver. The first error among their stops; BAD_STATE when stopped
  // already.
  Result<void> Stop();

  // The children published now.
  std::vector<bus::DeviceNode> children() const { return manager_.children(); }

 private:
  class NodeBus;
  HostedDrivers(std::unique_ptr<NodeBus> bus, bus::DriverManagerOptions options);

  std::unique_ptr<NodeBus> bus_;
  bus::DriverManager manager_;
  bool stopped_ = false;
};

}  // namespace udrv::host
