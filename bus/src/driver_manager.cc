#include "udrv/bus/driver_manager.h"

#include <algorithm>
#include <utility>

namespace udrv::bus {

// A driver running on a device. Destroyed in member order reversed: the
// instance first, then its context, then the device.
struct DriverManager::Running {
  std::string driver;
  std::unique_ptr<BoundDevice> device;
  std::unique_ptr<DriverContext> context;
  std::unique_ptr<DriverInstance> instance;
};

DriverManager::DriverManager(Bus& bus, DriverManagerOptions options)
    : bus_(bus), options_(std::move(options)) {}

DriverManager::~DriverManager() { StopAll(); }

void DriverManager::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

Result<void> DriverManager::Register(Driver driver) {
  if (driver.name.empty()) return Fail(Status::INVALID_ARGS, "register a driver: empty name");
  const std::string object = "driver '" + driver.name + "'";
  if (!driver.start) {
    return Fail(Status::INVALID_ARGS, "register: no start function", object);
  }
  if (auto valid = ValidateBindRules(driver.rules); !valid) {
    return Fail(Status::INVALID_ARGS, "register: " + valid.error().what, object);
  }
  if (FindDriver(driver.name) != nullptr) {
    return Fail(Status::ALREADY_EXISTS, "register: a driver of that name is registered already",
                object);
  }
  drivers_.push_back(std::move(driver));
  return {};
}

const Driver* DriverManager::FindDriver(const std::string& name) const {
  for (const Driver& driver : drivers_) {
    if (driver.name == name) return &driver;
  }
  return nullptr;
}

Result<std::vector<NodeMatch>> DriverManager::Match() const {
  auto nodes = bus_.Enumerate();
  if (!nodes) return std::unexpected(nodes.error());
  std::vector<NodeMatch> matches;
  matches.reserve(nodes->size());
  for (DeviceNode& node : *nodes) matches.push_back(MatchDrivers(drivers_, std::move(node)));
  return matches;
}

BindOutcome DriverManager::Start(const DeviceNode& node, const Driver& driver) {
  BindOutcome outcome{node.id, driver.name, {}, std::nullopt};
  Log(node.id + ": matches " + driver.name + " (" + FormatBindRules(driver.rules) + ")");

  auto device = bus_.Open(node);
  if (!device) {
    Log(node.id + ": open for " + driver.name + " failed: " + device.error().ToString());
    outcome.started = Wrap(device.error(), "open " + node.id + " for " + driver.name);
    return outcome;
  }
  Log(node.id + ": opened, " + (*device)->Describe());

  auto running = std::make_unique<Running>();
  running->driver = driver.name;
  running->device = std::move(*device);
  running->context = std::make_unique<DriverContext>(driver.name, node, running->device->protocols(),
                                                      options_.log);
  Log(node.id + ": starting " + driver.name);
  auto instance = options_.runner ? options_.runner(driver, *running->context)
                                  : driver.start(*running->context);
  if (!instance) {
    Log(node.id + ": " + driver.name + " failed to start: " + instance.error().ToString());
    outcome.started = Wrap(instance.error(), "start " + driver.name + " on " + node.id);
    running->context.reset();
    auto released = running->device->Release(options_.release);
    if (released) {
      Log(node.id + ": released: " + released->ToString());
      outcome.released = std::move(*released);
    } else {
      Log(node.id + ": release failed: " + released.error().ToString());
    }
    return outcome;
  }
  running->instance = std::move(*instance);
  Log(node.id + ": " + driver.name + " started");
  running_.push_back(std::move(running));
  return outcome;
}

Result<std::vector<BindOutcome>> DriverManager::BindAll() {
  auto matches = Match();
  if (!matches) return std::unexpected(matches.error());
  Log("enumerated " + std::to_string(matches->size()) + " device node(s); " +
      std::to_string(drivers_.size()) + " driver(s) registered");
  std::vector<BindOutcome> outcomes;
  for (const NodeMatch& match : *matches) {
    if (!match.driver) continue;
    const bool busy = std::any_of(running_.begin(), running_.end(), [&](const auto& running) {
      return running->device->node().id == match.node.id;
    });
    if (busy) {
      Log(match.node.id + ": runs a driver already");
      continue;
    }
    outcomes.push_back(Start(match.node, *FindDriver(*match.driver)));
  }
  return outcomes;
}

std::vector<StopOutcome> DriverManager::StopAll() {
  std::vector<StopOutcome> outcomes;
  while (!running_.empty()) {
    std::unique_ptr<Running> running = std::move(running_.back());
    running_.pop_back();
    const std::string node_id = running->device->node().id;
    Log(node_id + ": stopping " + running->driver);
    StopOutcome outcome{node_id, running->driver, running->instance->Stop(), {}};
    if (!outcome.stopped) {
      Log(node_id + ": " + running->driver + " failed to stop: " + outcome.stopped.error().ToString());
    }
    // The driver's mappings go with the instance, before the device is given back.
    running->instance.reset();
    running->context.reset();
    outcome.released = running->device->Release(options_.release);
    if (outcome.released) {
      Log(node_id + ": released: " + outcome.released->ToString());
    } else {
      Log(node_id + ": release failed: " + outcome.released.error().ToString());
    }
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

}  // namespace udrv::bus
