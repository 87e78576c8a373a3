// The driver manager, step 1 of seed 001: it enumerates the devices of a bus
// (the root bus, root_bus.h), matches them against the registered drivers'
// bind rules, opens each matched device and starts its driver, in this
// process or through a DriverRunner; later it stops the drivers and gives
// the devices back.
//
// Which driver binds a node is MatchDrivers' choice (driver_match.h): the
// manager, `udrv-driver-manager --list` and `busctl match` share it. One
// node gets one driver.
//
// A device is opened only for a driver whose rules matched it: nothing is
// bound, opened or written for a node no driver wants.
//
// Drivers publish child nodes (DriverContext::PublishChild): once the
// publishing driver has started, its children are matched like the bus's
// nodes and their drivers started on the protocols the parent gave. A
// parent's driver stops after its children's, and its children go with it.
//
// Not thread safe: one thread drives the manager.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "udrv/bus/bind_rules.h"
#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/bus/driver_match.h"
#include "udrv/core/result.h"

namespace udrv::bus {

// How a driver runs once its device is open: in this process
// (driver.start(context), when the runner is empty), or elsewhere — a
// runner that starts the driver in a driver host of its own and returns an
// instance standing for it (pci/isolated_runner.h).
using DriverRunner =
    std::function<Result<std::unique_ptr<DriverInstance>>(const Driver& driver, DriverContext& context)>;

struct DriverManagerOptions {
  // How devices are given back, when a driver's start fails and in StopAll.
  ReleaseOptions release;
  // Empty: drivers run in this process.
  DriverRunner runner;
  // Where the manager says what it does (may be empty).
  Logger log;
  // The drivers' option values (ParseDriverOptions); a driver missing here
  // runs with its defaults.
  DriverOptionSettings driver_options;
};

struct BindOutcome {
  std::string node_id;
  std::string driver;
  // The open or the start that failed, if one did.
  Result<void> started;
  // How the device was given back when the driver failed to start.
  std::optional<ReleaseReport> released;
};

struct StopOutcome {
  std::string node_id;
  std::string driver;
  Result<void> stopped;
  Result<ReleaseReport> released;
};

class DriverManager {
 public:
  // `bus` must outlive the manager.
  DriverManager(Bus& bus, DriverManagerOptions options);
  // Stops whatever still runs (StopAll).
  ~DriverManager();
  DriverManager(const DriverManager&) = delete;
  DriverManager& operator=(const DriverManager&) = delete;

  // INVALID_ARGS for an empty name, no start function, rules that
  // ValidateBindRules refuses or options DriverOptionValues::Defaults
  // refuses; ALREADY_EXISTS for a name registered before.
  Result<void> Register(Driver driver);

  // Enumerates the bus and evaluates every driver on every node
  // (MatchDrivers), the bus's nodes first, then the children drivers
  // published; binds nothing.
  Result<std::vector<NodeMatch>> Match() const;

  // The registered drivers, in registration order.
  std::span<const Driver> drivers() const { return drivers_; }

  // Enumerates, matches, and for each matched node not already running a
  // driver: opens the device and starts the driver, then binds the
  // children it published, and theirs. A node whose open or start fails
  // is reported and does not stop the others; a driver that failed to
  // start has its device released and its children removed. Fails only
  // when enumeration does.
  Result<std::vector<BindOutcome>> BindAll();

  // Stops the driver of node `node_id`: first the drivers of its children
  // (theirs first), then it — Stop, destroy the instance and its context,
  // release the device — and removes its children. NOT_FOUND when no
  // driver runs on the node.
  Result<std::vector<StopOutcome>> Stop(const std::string& node_id);

  // Stops every running driver, the last started first (children before
  // their parents).
  std::vector<StopOutcome> StopAll();

  // Drivers running now.
  size_t running() const { return running_.size(); }

  // The children published now, in publishing order.
  std::vector<DeviceNode> children() const;

 private:
  struct Running;
  struct Child;

  void Log(const std::string& line) const;
  const Driver* FindDriver(const std::string& name) const;
  bool IsRunning(const std::string& node_id) const;
  // Opens the node and starts `driver` on it, then binds the children it
  // published; the outcomes of all, the node's first.
  void Start(const DeviceNode& node, const Driver& driver, std::vector<BindOutcome>& outcomes);
  // Matches the published children of `parent_id` that run no driver and
  // starts their drivers.
  void BindChildren(const std::string& parent_id, std::vector<BindOutcome>& outcomes);
  // The bus's device, or a published child's protocols.
  Result<std::unique_ptr<BoundDevice>> Open(const DeviceNode& node);
  Result<DeviceNode> Publish(const DeviceNode& parent, ChildNode child);
  // Removes the children of `parent_id` (whose drivers are stopped).
  void RemoveChildren(const std::string& parent_id);
  // Whether `node_id` is a child of `ancestor_id`, or a child's child...
  bool IsDescendant(const std::string& node_id, const std::string& ancestor_id) const;
  // Stops running_[index] and removes its children.
  StopOutcome StopAt(size_t index);

  Bus& bus_;
  DriverManagerOptions options_;
  std::vector<Driver> drivers_;
  DriverOptionSettings option_values_;             // of each registered driver
  std::vector<std::unique_ptr<Running>> running_;  // in start order
  std::vector<Child> children_;                    // in publishing order
};

}  // namespace udrv::bus
