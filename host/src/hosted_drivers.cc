#include "udrv/host/hosted_drivers.h"

#include <algorithm>
#include <utility>

namespace udrv::host {

namespace {

// The host's device as its bus opens it: the proxy's protocols. Giving it
// back is the root bus's: it reclaims the device when the host ends.
class HostedDevice final : public bus::BoundDevice {
 public:
  HostedDevice(bus::DeviceNode node, bus::ProtocolSet protocols)
      : BoundDevice(std::move(node)), protocols_(std::move(protocols)) {}

  bus::ProtocolSet protocols() override { return protocols_; }
  std::string Describe() const override { return "served by the root bus over this host's socket"; }
  Result<bus::ReleaseReport> Release(const bus::ReleaseOptions&) override {
    if (released_) return Fail(Status::BAD_STATE, "released already", node().id);
    released_ = true;
    bus::ReleaseReport report;
    report.steps.push_back({"give back", bus::ReleaseStep::Outcome::SKIPPED,
                            "the root bus reclaims the device when this host ends"});
    return report;
  }

 private:
  bus::ProtocolSet protocols_;
  bool released_ = false;
};

}  // namespace

// A bus of the one node the root bus gave the host.
class HostedDrivers::NodeBus final : public bus::Bus {
 public:
  NodeBus(bus::DeviceNode node, bus::ProtocolSet protocols)
      : node_(std::move(node)), protocols_(std::move(protocols)) {}

  std::string_view name() const override { return node_.bus; }
  Result<std::vector<bus::DeviceNode>> Enumerate() const override {
    return std::vector<bus::DeviceNode>{node_};
  }
  Result<std::unique_ptr<bus::BoundDevice>> Open(const bus::DeviceNode& node) override {
    if (node.id != node_.id) {
      return Fail(Status::NOT_FOUND, "this driver host serves only " + node_.id, node.id);
    }
    return std::make_unique<HostedDevice>(node_, protocols_);
  }

 private:
  bus::DeviceNode node_;
  bus::ProtocolSet protocols_;
};

HostedDrivers::HostedDrivers(std::unique_ptr<NodeBus> bus, bus::DriverManagerOptions options)
    : bus_(std::move(bus)), manager_(*bus_, std::move(options)) {}

HostedDrivers::~HostedDrivers() {
  if (!stopped_) (void)Stop();
}

Result<std::unique_ptr<HostedDrivers>> HostedDrivers::Start(HostedDriversOptions options) {
  const bus::DeviceNode node = options.node;
  auto own = std::find_if(options.drivers.begin(), options.drivers.end(),
                          [&](const bus::Driver& driver) { return driver.name == options.driver; });
  if (own == options.drivers.end()) {
    return Fail(Status::NOT_FOUND, "this host has no driver '" + options.driver + "'", node.id);
  }
  const bus::BindEvaluation evaluation = bus::Evaluate(own->rules, node.properties);
  if (!evaluation.matched) {
    return Fail(Status::INVALID_ARGS,
                "driver " + own->name + " does not match the node: " + evaluation.Explain(), node.id);
  }
  // The host's own driver first: registration order is the priority, so it
  // binds its node; the children are matched against all of them.
  std::rotate(options.drivers.begin(), own, own + 1);

  auto bus = std::make_unique<NodeBus>(node, std::move(options.protocols));
  std::unique_ptr<HostedDrivers> hosted(new HostedDrivers(
      std::move(bus), bus::DriverManagerOptions{.release = {},
                                                .runner = {},
                                                .log = std::move(options.log),
                                                .driver_options = std::move(options.driver_options)}));
  for (bus::Driver& driver : options.drivers) UDRV_TRY(hosted->manager_.Register(std::move(driver)));

  UDRV_TRY_ASSIGN(std::vector<bus::BindOutcome> outcomes, hosted->manager_.BindAll());
  // The node's outcome first, then its children's.
  for (const bus::BindOutcome& outcome : outcomes) {
    if (outcome.started) continue;
    (void)hosted->Stop();
    return std::unexpected(outcome.started.error());
  }
  return hosted;
}

Result<void> HostedDrivers::Stop() {
  if (stopped_) return Fail(Status::BAD_STATE, "the host's drivers are stopped already");
  stopped_ = true;
  Result<void> first;
  for (bus::StopOutcome& outcome : manager_.StopAll()) {
    if (!outcome.stopped && first) first = std::move(outcome.stopped);
  }
  return first;
}

}  // namespace udrv::host
