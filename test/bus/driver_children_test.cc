// Child nodes drivers publish (DriverContext::PublishChild): the driver
// manager binds drivers to them once their parent started, stops those
// drivers before the parent's and removes the children with it.
#include <catch2/catch.hpp>

#include "fake_bus.h"
#include "result_helpers.h"
#include "udrv/bus/driver_manager.h"

using udrv::Status;
using udrv::bus::BindRule;
using udrv::bus::ChildNode;
using udrv::bus::DeviceNode;
using udrv::bus::Driver;
using udrv::bus::DriverContext;
using udrv::bus::DriverInstance;
using udrv::bus::DriverManager;
using udrv::bus::DriverManagerOptions;
using udrv::testing::StatusOf;
using namespace udrv::bus::testing;

namespace {

struct ChildSpec {
  std::string name;
  uint32_t vendor;
  uint32_t device;
};

// A hub: the devices behind it are FakeProtocols it owns and publishes as
// children. Destroyed while a child's driver still has its device running,
// it says so in the log.
class HubInstance final : public DriverInstance {
 public:
  HubInstance(std::string name, std::string id, EventLog* log)
      : name_(std::move(name)), id_(std::move(id)), log_(log) {}
  ~HubInstance() override {
    for (const auto& port : ports_) {
      if (port->running) log_->push_back("destroyed " + name_ + " while " + port->id + " runs");
    }
    log_->push_back("destroy " + name_ + " " + id_);
  }
  udrv::Result<void> Stop() override {
    log_->push_back("stop " + name_ + " " + id_);
    return {};
  }
  FakeProtocol* AddPort(std::string id) {
    ports_.push_back(std::make_unique<FakeProtocol>(FakeProtocol{std::move(id), false}));
    return ports_.back().get();
  }

 private:
  std::string name_;
  std::string id_;
  EventLog* log_;
  std::vector<std::unique_ptr<FakeProtocol>> ports_;
};

// Publishes `children` as it starts; `fail_start`: then fails.
Driver HubDriver(std::string name, std::vector<BindRule> rules, std::vector<ChildSpec> children,
                 EventLog* log, bool fail_start = false) {
  Driver driver;
  driver.name = name;
  driver.rules = std::move(rules);
  driver.start = [=](DriverContext& context) -> udrv::Result<std::unique_ptr<DriverInstance>> {
    log->push_back("start " + name + " " + context.node().id);
    auto hub = std::make_unique<HubInstance>(name, context.node().id, log);
    for (const ChildSpec& spec : children) {
      ChildNode child;
      child.name = spec.name;
      child.bus = "fake";
      child.properties.Set("fake.vendor", spec.vendor);
      child.properties.Set("fake.device", spec.device);
      child.protocols.Add(hub->AddPort(context.node().id + "/" + spec.name));
      auto published = context.PublishChild(std::move(child));
      if (!published) return std::unexpected(published.error());
      CHECK(published->parent == context.node().id);
    }
    if (fail_start) return udrv::Fail(Status::IO, "the hub failed after publishing");
    return hub;
  };
  return driver;
}

struct Fixture {
  EventLog log;
  std::vector<std::string> lines;
  FakeBus bus{"fake", {FakeNode("fake", "a", 1, 1), FakeNode("fake", "c", 2, 1)}, &log};
  DriverManager manager{bus, Options()};

  DriverManagerOptions Options() {
    DriverManagerOptions options;
    options.log = [this](std::string_view line) { lines.emplace_back(line); };
    return options;
  }
};

}  // namespace

TEST_CASE("children: bound once their parent started, stopped before it, removed with it",
          "[bus][children]") {
  Fixture f;
  REQUIRE_OK(f.manager.Register(HubDriver("hub", FakeIds(1, 1), {{"port0", 5, 1}, {"port1", 5, 2}}, &f.log)));
  REQUIRE_OK(f.manager.Register(FakeDriver("port", FakeIds(5, 1), &f.log)));
  REQUIRE_OK(f.manager.Register(FakeDriver("other", FakeIds(2, 1), &f.log)));

  auto started = f.manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 3);
  CHECK((*started)[0].node_id == "fake/a");
  CHECK((*started)[1].node_id == "fake/a/port0");
  CHECK((*started)[1].driver == "port");
  REQUIRE_OK((*started)[1].started);
  CHECK((*started)[2].node_id == "fake/c");
  // The child is not opened through the bus: its parent's driver gave its protocol.
  CHECK(f.log == EventLog{"open fake/a", "start hub fake/a", "start port fake/a/port0", "open fake/c",
                          "start other fake/c"});
  const std::vector<DeviceNode> children = f.manager.children();
  REQUIRE(children.size() == 2);
  CHECK(children[0].id == "fake/a/port0");
  CHECK(children[0].parent == "fake/a");
  CHECK(children[0].bus == "fake");
  CHECK(children[1].id == "fake/a/port1");

  // Matching shows the children after the bus's nodes, port1 bound by none.
  auto matches = f.manager.Match();
  REQUIRE_OK(matches);
  REQUIRE(matches->size() == 4);
  CHECK((*matches)[2].node.id == "fake/a/port0");
  CHECK((*matches)[2].driver == "port");
  CHECK((*matches)[3].node.id == "fake/a/port1");
  CHECK_FALSE((*matches)[3].driver);

  SECTION("a second BindAll leaves them alone") {
    auto again = f.manager.BindAll();
    REQUIRE_OK(again);
    CHECK(again->empty());
  }

  SECTION("stopping the parent stops the child's driver first and removes the children") {
    f.log.clear();
    auto stopped = f.manager.Stop("fake/a");
    REQUIRE_OK(stopped);
    REQUIRE(stopped->size() == 2);
    CHECK((*stopped)[0].node_id == "fake/a/port0");
    CHECK((*stopped)[1].node_id == "fake/a");
    CHECK(f.log == EventLog{"stop port fake/a/port0", "destroy port fake/a/port0", "stop hub fake/a",
                            "destroy hub fake/a", "release fake/a"});
    CHECK(f.manager.children().empty());
    CHECK(f.manager.running() == 1);  // fake/c's driver runs on
    CHECK(std::count(f.lines.begin(), f.lines.end(), "fake/a: removed child fake/a/port1") == 1);
    CHECK(StatusOf(f.manager.Stop("fake/a")) == "NOT_FOUND");
  }

  SECTION("StopAll: children before their parents") {
    f.log.clear();
    const auto stopped = f.manager.StopAll();
    REQUIRE(stopped.size() == 3);
    CHECK(stopped[0].node_id == "fake/c");
    CHECK(stopped[1].node_id == "fake/a/port0");
    CHECK(stopped[2].node_id == "fake/a");
    REQUIRE_OK(stopped[1].released);
    CHECK(stopped[1].released->ToString() ==
          "give back: skipped (a child: the driver of fake/a keeps its device)");
    CHECK(std::find(f.log.begin(), f.log.end(), "destroyed hub while fake/a/port0 runs") ==
          f.log.end());
    CHECK(f.manager.children().empty());
  }
}

TEST_CASE("children: a child's driver may publish children of its own", "[bus][children]") {
  Fixture f;
  REQUIRE_OK(f.manager.Register(HubDriver("hub", FakeIds(1, 1), {{"port0", 5, 1}}, &f.log)));
  REQUIRE_OK(f.manager.Register(HubDriver("subhub", FakeIds(5, 1), {{"leaf", 6, 1}}, &f.log)));
  REQUIRE_OK(f.manager.Register(FakeDriver("leaf", FakeIds(6, 1), &f.log)));
  auto started = f.manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 3);
  CHECK((*started)[2].node_id == "fake/a/port0/leaf");
  f.log.clear();
  auto stopped = f.manager.Stop("fake/a");
  REQUIRE_OK(stopped);
  REQUIRE(stopped->size() == 3);
  CHECK((*stopped)[0].node_id == "fake/a/port0/leaf");
  CHECK((*stopped)[1].node_id == "fake/a/port0");
  CHECK((*stopped)[2].node_id == "fake/a");
  CHECK(f.manager.running() == 0);
  CHECK(f.manager.children().empty());
}

TEST_CASE("children: refused names, and a parent that fails takes its children along",
          "[bus][children]") {
  Fixture f;
  SECTION("a name published twice") {
    REQUIRE_OK(f.manager.Register(HubDriver("hub", FakeIds(1, 1), {{"p", 5, 1}, {"p", 5, 2}}, &f.log)));
    auto started = f.manager.BindAll();
    REQUIRE_OK(started);
    REQUIRE(started->size() == 1);
    CHECK(StatusOf((*started)[0].started) == "ALREADY_EXISTS");
    CHECK(f.manager.children().empty());
  }
  SECTION("a name that is no path element") {
    REQUIRE_OK(f.manager.Register(HubDriver("hub", FakeIds(1, 1), {{"a/b", 5, 1}}, &f.log)));
    auto started = f.manager.BindAll();
    REQUIRE_OK(started);
    CHECK(StatusOf((*started)[0].started) == "INVALID_ARGS");
    CHECK_THAT((*started)[0].started.error().what, Catch::Contains("one path element, not 'a/b'"));
  }
  SECTION("a start that fails after publishing") {
    REQUIRE_OK(f.manager.Register(HubDriver("hub", FakeIds(1, 1), {{"port0", 5, 1}}, &f.log, true)));
    REQUIRE_OK(f.manager.Register(FakeDriver("port", FakeIds(5, 1), &f.log)));
    auto started = f.manager.BindAll();
    REQUIRE_OK(started);
    REQUIRE(started->size() == 1);
    CHECK(StatusOf((*started)[0].started) == "IO");
    CHECK(f.manager.children().empty());
    CHECK(f.log == EventLog{"open fake/a", "start hub fake/a", "destroy hub fake/a", "release fake/a"});
  }
  SECTION("a child whose driver fails is tried once, and its parent runs on") {
    REQUIRE_OK(f.manager.Register(HubDriver("hub", FakeIds(1, 1), {{"port0", 5, 1}}, &f.log)));
    REQUIRE_OK(f.manager.Register(FakeDriver("port", FakeIds(5, 1), &f.log, {.fail_start = true})));
    auto started = f.manager.BindAll();
    REQUIRE_OK(started);
    REQUIRE(started->size() == 2);
    CHECK((*started)[1].node_id == "fake/a/port0");
    CHECK(StatusOf((*started)[1].started) == "IO");
    CHECK(f.log == EventLog{"open fake/a", "start hub fake/a", "start port fake/a/port0"});
    CHECK(f.manager.running() == 1);
    REQUIRE(f.manager.children().size() == 1);
  }
  SECTION("a context made without a publisher") {
    DriverContext context("hub", FakeNode("fake", "a", 1, 1), {}, {});
    auto published = context.PublishChild(ChildNode{"p", "fake", {}, {}});
    CHECK(StatusOf(published) == "NOT_SUPPORTED");
  }
}
