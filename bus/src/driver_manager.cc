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

// A node a running driver published, with the protocols its driver owns.
struct DriverManager::Child {
  DeviceNode node;
  ProtocolSet protocols;
};

namespace {

// A published child as a device: its parent's driver owns the protocols and
// the device behind them, so there is nothing to take or give back.
class ChildDevice final : public BoundDevice {
 public:
  ChildDevice(DeviceNode node, ProtocolSet protocols)
      : BoundDevice(std::move(node)), protocols_(std::move(protocols)) {}

  ProtocolSet protocols() override { return protocols_; }
  std::string Describe() const override { return "a child of " + node().parent; }
  Result<ReleaseReport> Release(const ReleaseOptions&) override {
    if (released_) return Fail(Status::BAD_STATE, "released already", node().id);
    released_ = true;
    ReleaseReport report;
    report.steps.push_back({"give back", ReleaseStep::Outcome::SKIPPED,
                            "a child: the driver of " + node().parent + " keeps its device"});
    return report;
  }

 private:
  ProtocolSet protocols_;
  bool released_ = false;
};

}  // namespace

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
  auto values = DriverOptionValues::Defaults(driver.name, driver.options);
  if (!values) return Fail(Status::INVALID_ARGS, "register: " + values.error().what, values.error().object);
  if (auto set = options_.driver_options.find(driver.name); set != options_.driver_options.end()) {
    *values = set->second;
  }
  option_values_.insert_or_assign(driver.name, std::move(*values));
  drivers_.push_back(std::move(driver));
  return {};
}

const Driver* DriverManager::FindDriver(const std::string& name) const {
  for (const Driver& driver : drivers_) {
    if (driver.name == name) return &driver;
  }
  return nullptr;
}

bool DriverManager::IsRunning(const std::string& node_id) const {
  return std::any_of(running_.begin(), running_.end(), [&](const auto& running) {
    return running->device->node().id == node_id;
  });
}

std::vector<DeviceNode> DriverManager::children() const {
  std::vector<DeviceNode> nodes;
  for (const Child& child : children_) nodes.push_back(child.node);
  return nodes;
}

Result<std::vector<NodeMatch>> DriverManager::Match() const {
  auto nodes = bus_.Enumerate();
  if (!nodes) return std::unexpected(nodes.error());
  std::vector<NodeMatch> matches;
  matches.reserve(nodes->size() + children_.size());
  for (DeviceNode& node : *nodes) matches.push_back(MatchDrivers(drivers_, std::move(node)));
  for (const Child& child : children_) matches.push_back(MatchDrivers(drivers_, child.node));
  return matches;
}

Result<DeviceNode> DriverManager::Publish(const DeviceNode& parent, ChildNode child) {
  DeviceNode node{std::move(child.bus), parent.id + "/" + child.name, parent.id,
                  std::move(child.properties)};
  const bool taken = std::any_of(children_.begin(), children_.end(),
                                 [&](const Child& existing) { return existing.node.id == node.id; });
  if (taken) {
    return Fail(Status::ALREADY_EXISTS, "publish a child: one of that name is published already",
                node.id);
  }
  Log(parent.id + ": published child " + node.id + " (bus " + node.bus + ", offers " +
      child.protocols.Names() + ")");
  children_.push_back(Child{node, std::move(child.protocols)});
  return node;
}

void DriverManager::RemoveChildren(const std::string& parent_id) {
  std::erase_if(children_, [&](const Child& child) {
    if (child.node.parent != parent_id) return false;
    Log(parent_id + ": removed child " + child.node.id);
    return true;
  });
}

bool DriverManager::IsDescendant(const std::string& node_id, const std::string& ancestor_id) const {
  std::string id = node_id;
  for (;;) {
    auto child = std::find_if(children_.begin(), children_.end(),
                              [&](const Child& candidate) { return candidate.node.id == id; });
    if (child == children_.end()) return false;
    if (child->node.parent == ancestor_id) return true;
    id = child->node.parent;
  }
}

Result<std::unique_ptr<BoundDevice>> DriverManager::Open(const DeviceNode& node) {
  for (const Child& child : children_) {
    if (child.node.id == node.id) return std::make_unique<ChildDevice>(child.node, child.protocols);
  }
  return bus_.Open(node);
}

void DriverManager::Start(const DeviceNode& node, const Driver& driver,
                          std::vector<BindOutcome>& outcomes) {
  BindOutcome outcome{node.id, driver.name, {}, std::nullopt};
  Log(node.id + ": matches " + driver.name + " (" + FormatBindRules(driver.rules) + ")");

  auto device = Open(node);
  if (!device) {
    Log(node.id + ": open for " + driver.name + " failed: " + device.error().ToString());
    outcome.started = Wrap(device.error(), "open " + node.id + " for " + driver.name);
    outcomes.push_back(std::move(outcome));
    return;
  }
  Log(node.id + ": opened, " + (*device)->Describe());

  auto running = std::make_unique<Running>();
  running->driver = driver.name;
  running->device = std::move(*device);
  running->context = std::make_unique<DriverContext>(
      driver.name, node, running->device->protocols(), options_.log,
      option_values_.at(driver.name), [this, node](ChildNode child) { return Publish(node, std::move(child)); });
  Log(node.id + ": starting " + driver.name);
  auto instance = options_.runner ? options_.runner(driver, *running->context)
                                  : driver.start(*running->context);
  if (!instance) {
    Log(node.id + ": " + driver.name + " failed to start: " + instance.error().ToString());
    outcome.started = Wrap(instance.error(), "start " + driver.name + " on " + node.id);
    // What it published goes with it: nothing owns those protocols now.
    RemoveChildren(node.id);
    running->context.reset();
    auto released = running->device->Release(options_.release);
    if (released) {
      Log(node.id + ": released: " + released->ToString());
      outcome.released = std::move(*released);
    } else {
      Log(node.id + ": release failed: " + released.error().ToString());
    }
    outcomes.push_back(std::move(outcome));
    return;
  }
  running->instance = std::move(*instance);
  Log(node.id + ": " + driver.name + " started");
  running_.push_back(std::move(running));
  outcomes.push_back(std::move(outcome));
  BindChildren(node.id, outcomes);
}

void DriverManager::BindChildren(const std::string& parent_id, std::vector<BindOutcome>& outcomes) {
  // Copies: starting a child's driver may publish more children. A child
  // with an outcome already failed in this bind: it is not tried again.
  std::vector<DeviceNode> pending;
  for (const Child& child : children_) {
    const bool tried = std::any_of(outcomes.begin(), outcomes.end(), [&](const BindOutcome& outcome) {
      return outcome.node_id == child.node.id;
    });
    if (child.node.parent == parent_id && !IsRunning(child.node.id) && !tried) {
      pending.push_back(child.node);
    }
  }
  for (DeviceNode& node : pending) {
    NodeMatch match = MatchDrivers(drivers_, std::move(node));
    if (!match.driver) {
      Log(match.node.id + ": no driver binds this child");
      continue;
    }
    Start(match.node, *FindDriver(*match.driver), outcomes);
  }
}

Result<std::vector<BindOutcome>> DriverManager::BindAll() {
  auto nodes = bus_.Enumerate();
  if (!nodes) return std::unexpected(nodes.error());
  Log("enumerated " + std::to_string(nodes->size()) + " device node(s); " +
      std::to_string(drivers_.size()) + " driver(s) registered");
  std::vector<BindOutcome> outcomes;
  for (DeviceNode& node : *nodes) {
    NodeMatch match = MatchDrivers(drivers_, std::move(node));
    if (!match.driver) continue;
    if (IsRunning(match.node.id)) {
      Log(match.node.id + ": runs a driver already");
      continue;
    }
    Start(match.node, *FindDriver(*match.driver), outcomes);
  }
  // Children published after their parent started get their drivers now.
  std::vector<std::string> parents;
  for (const auto& running : running_) parents.push_back(running->device->node().id);
  for (const std::string& parent : parents) BindChildren(parent, outcomes);
  return outcomes;
}

StopOutcome DriverManager::StopAt(size_t index) {
  std::unique_ptr<Running> running = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  const std::string node_id = running->device->node().id;
  Log(node_id + ": stopping " + running->driver);
  StopOutcome outcome{node_id, running->driver, running->instance->Stop(), {}};
  if (!outcome.stopped) {
    Log(node_id + ": " + running->driver + " failed to stop: " + outcome.stopped.error().ToString());
  }
  // The driver's mappings go with the instance, before the device is given back.
  running->instance.reset();
  running->context.reset();
  RemoveChildren(node_id);
  outcome.released = running->device->Release(options_.release);
  if (outcome.released) {
    Log(node_id + ": released: " + outcome.released->ToString());
  } else {
    Log(node_id + ": release failed: " + outcome.released.error().ToString());
  }
  return outcome;
}

Result<std::vector<StopOutcome>> DriverManager::Stop(const std::string& node_id) {
  if (!IsRunning(node_id)) return Fail(Status::NOT_FOUND, "stop: no driver runs on it", node_id);
  std::vector<StopOutcome> outcomes;
  // Children start after their parent: the last started descendant first.
  for (size_t i = running_.size(); i-- > 0;) {
    const std::string& id = running_[i]->device->node().id;
    if (IsDescendant(id, node_id)) outcomes.push_back(StopAt(i));
  }
  for (size_t i = 0; i < running_.size(); ++i) {
    if (running_[i]->device->node().id == node_id) {
      outcomes.push_back(StopAt(i));
      break;
    }
  }
  return outcomes;
}

std::vector<StopOutcome> DriverManager::StopAll() {
  std::vector<StopOutcome> outcomes;
  while (!running_.empty()) outcomes.push_back(StopAt(running_.size() - 1));
  return outcomes;
}

}  // namespace udrv::bus
