// A bus of made-up nodes for the driver manager's tests: it records every
// open and release, and the drivers the tests register record their starts
// and stops in the same log, so a test sees the order of everything.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"

namespace udrv::bus::testing {

// What a fake device offers its driver: its id, and whether the driver
// left it running (DMA on).
struct FakeProtocol {
  std::string id;
  bool running = false;
};

}  // namespace udrv::bus::testing

template <>
struct udrv::bus::ProtocolTraits<udrv::bus::testing::FakeProtocol> {
  static constexpr std::string_view kName = "fake";
};

namespace udrv::bus::testing {

using EventLog = std::vector<std::string>;

// The rules of a driver for one fake device.
inline std::vector<BindRule> FakeIds(uint32_t vendor, uint32_t device) {
  return {BindRule::Equal("fake.vendor", vendor), BindRule::Equal("fake.device", device)};
}

inline DeviceNode FakeNode(std::string bus, std::string name, uint32_t vendor, uint32_t device) {
  DeviceNode node;
  node.bus = bus;
  node.id = bus + "/" + name;
  node.properties.Set("fake.vendor", vendor);
  node.properties.Set("fake.device", device);
  return node;
}

class FakeDevice final : public BoundDevice {
 public:
  FakeDevice(DeviceNode node, EventLog* log) : BoundDevice(std::move(node)), log_(log) {
    protocol_.id = this->node().id;
  }
  ~FakeDevice() override {
    if (!released_) log_->push_back("destroyed unreleased " + node().id);
  }

  ProtocolSet protocols() override {
    ProtocolSet set;
    set.Add(&protocol_);
    return set;
  }
  std::string Describe() const override { return "fake device " + node().id; }
  Result<ReleaseReport> Release(const ReleaseOptions& options) override {
    if (released_) return Fail(Status::BAD_STATE, "released already", node().id);
    released_ = true;
    log_->push_back("release " + node().id + (options.restore_kernel_driver ? " restore" : "") +
                    (protocol_.running ? " while running" : ""));
    ReleaseReport report;
    report.steps.push_back({"quiesce", ReleaseStep::Outcome::DONE, {}});
    return report;
  }

 private:
  EventLog* log_;
  FakeProtocol protocol_;
  bool released_ = false;
};

class FakeBus final : public Bus {
 public:
  FakeBus(std::string name, std::vector<DeviceNode> nodes, EventLog* log)
      : name_(std::move(name)), nodes_(std::move(nodes)), log_(log) {}

  // Open of node `id` fails with IO.
  void FailOpen(std::string id) { failing_opens_.insert(std::move(id)); }
  // Enumerate fails with IO.
  void FailEnumerate() { fail_enumerate_ = true; }

  std::string_view name() const override { return name_; }
  Result<std::vector<DeviceNode>> Enumerate() const override {
    if (fail_enumerate_) return Fail(Status::IO, "the fake bus cannot enumerate");
    return nodes_;
  }
  Result<std::unique_ptr<BoundDevice>> Open(const DeviceNode& node) override {
    log_->push_back("open " + node.id);
    if (failing_opens_.contains(node.id)) return Fail(Status::IO, "the fake device refuses", node.id);
    return std::make_unique<FakeDevice>(node, log_);
  }

 private:
  std::string name_;
  std::vector<DeviceNode> nodes_;
  EventLog* log_;
  std::set<std::string> failing_opens_;
  bool fail_enumerate_ = false;
};

// A driver that turns its device on when it starts and off when it is
// destroyed, logging each step. `fail_start` makes Start fail after it
// turned the device on, leaving it on; `fail_stop` makes Stop fail (the device still goes
// off when the instance is destroyed).
class FakeInstance final : public DriverInstance {
 public:
  FakeInstance(std::string name, FakeProtocol* device, EventLog* log, bool fail_stop)
      : name_(std::move(name)), device_(device), log_(log), fail_stop_(fail_stop) {}
  ~FakeInstance() override {
    device_->running = false;
    log_->push_back("destroy " + name_ + " " + device_->id);
  }
  Result<void> Stop() override {
    log_->push_back("stop " + name_ + " " + device_->id);
    if (fail_stop_) return Fail(Status::TIMED_OUT, "the fake driver would not stop", device_->id);
    return {};
  }

 private:
  std::string name_;
  FakeProtocol* device_;
  EventLog* log_;
  bool fail_stop_;
};

struct FakeDriverBehaviour {
  bool fail_start = false;
  bool fail_stop = false;
};

inline Driver FakeDriver(std::string name, std::vector<BindRule> rules, EventLog* log,
                         FakeDriverBehaviour behaviour = {}) {
  Driver driver;
  driver.name = name;
  driver.rules = std::move(rules);
  driver.start = [name, log, behaviour](DriverContext& context)
      -> Result<std::unique_ptr<DriverInstance>> {
    auto device = context.GetProtocol<FakeProtocol>();
    if (!device) return std::unexpected(device.error());
    log->push_back("start " + name + " " + (*device)->id);
    (*device)->running = true;
    context.Log("running");
    // Left running: releasing the device is what quiets it.
    if (behaviour.fail_start) {
      return Fail(Status::IO, "the fake driver failed to start", (*device)->id);
    }
    return std::make_unique<FakeInstance>(name, *device, log, behaviour.fail_stop);
  };
  return driver;
}

}  // namespace udrv::bus::testing
