// The driver manager over a fake bus: registration, matching, the order of
// open, start, stop and release, and what happens when a step fails.
#include <algorithm>
#include <catch2/catch.hpp>

#include "fake_bus.h"
#include "result_helpers.h"
#include "udrv/bus/driver_manager.h"

using udrv::Status;
using udrv::bus::BindRule;
using udrv::bus::DeviceNode;
using udrv::bus::Driver;
using udrv::bus::DriverManager;
using udrv::bus::DriverManagerOptions;
using udrv::testing::StatusOf;
using namespace udrv::bus::testing;

namespace {

// Three nodes: two of vendor 1 (devices 1 and 2), one of vendor 2.
std::vector<DeviceNode> Nodes() {
  return {FakeNode("fake", "a", 1, 1), FakeNode("fake", "b", 1, 2), FakeNode("fake", "c", 2, 1)};
}

// A protocol no fake device offers.
struct Missing {};

}  // namespace

template <>
struct udrv::bus::ProtocolTraits<Missing> {
  static constexpr std::string_view kName = "missing";
};

TEST_CASE("driver manager: registration refuses drivers that could not bind sensibly", "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  DriverManager manager(bus, {});
  REQUIRE_OK(manager.Register(FakeDriver("one", FakeIds(1, 1), &log)));

  auto twice = manager.Register(FakeDriver("one", FakeIds(1, 2), &log));
  CHECK(StatusOf(twice) == "ALREADY_EXISTS");
  CHECK(twice.error().object == "driver 'one'");

  auto nameless = manager.Register(FakeDriver("", FakeIds(1, 2), &log));
  CHECK(StatusOf(nameless) == "INVALID_ARGS");

  auto ruleless = manager.Register(FakeDriver("all", {}, &log));
  CHECK(StatusOf(ruleless) == "INVALID_ARGS");
  CHECK_THAT(ruleless.error().what, Catch::Contains("bind every device"));

  Driver startless = FakeDriver("startless", FakeIds(2, 1), &log);
  startless.start = nullptr;
  auto no_start = manager.Register(std::move(startless));
  CHECK(StatusOf(no_start) == "INVALID_ARGS");
  CHECK_THAT(no_start.error().what, Catch::Contains("no start function"));

  // Nothing was opened to find that out.
  CHECK(log.empty());
}

TEST_CASE("driver manager: matching says who binds each node and why the others do not",
          "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  DriverManager manager(bus, {});
  REQUIRE_OK(manager.Register(FakeDriver("specific", FakeIds(1, 1), &log)));
  REQUIRE_OK(manager.Register(FakeDriver("vendor1", {BindRule::Equal("fake.vendor", 1)}, &log)));

  auto matches = manager.Match();
  REQUIRE_OK(matches);
  REQUIRE(matches->size() == 3);

  // Node a: both match; the first registered binds.
  const auto& a = (*matches)[0];
  CHECK(a.node.id == "fake/a");
  CHECK(a.driver == "specific");
  REQUIRE(a.candidates.size() == 2);
  CHECK(a.candidates[0].driver == "specific");
  CHECK(a.candidates[0].evaluation.matched);
  CHECK(a.candidates[1].driver == "vendor1");
  CHECK(a.candidates[1].evaluation.matched);

  // Node b: only the vendor driver.
  const auto& b = (*matches)[1];
  CHECK(b.driver == "vendor1");
  CHECK(b.candidates[0].evaluation.Explain() == "fake.device == 0x1: it is 0x2");

  // Node c: nobody, each saying why.
  const auto& c = (*matches)[2];
  CHECK_FALSE(c.driver);
  CHECK(c.candidates[0].evaluation.Explain() == "fake.vendor == 0x1: it is 0x2");
  CHECK(c.candidates[1].evaluation.Explain() == "fake.vendor == 0x1: it is 0x2");

  // Matching opens nothing.
  CHECK(log.empty());
}

TEST_CASE("driver manager: starts in enumeration order, stops last-started first", "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  std::vector<std::string> lines;
  DriverManagerOptions options;
  options.release.restore_kernel_driver = true;
  options.log = [&lines](std::string_view line) { lines.emplace_back(line); };
  DriverManager manager(bus, options);
  REQUIRE_OK(manager.Register(FakeDriver("one", FakeIds(1, 1), &log)));
  REQUIRE_OK(manager.Register(FakeDriver("two", FakeIds(2, 1), &log)));

  auto started = manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 2);
  CHECK((*started)[0].node_id == "fake/a");
  CHECK((*started)[0].driver == "one");
  REQUIRE_OK((*started)[0].started);
  CHECK_FALSE((*started)[0].released);
  CHECK((*started)[1].node_id == "fake/c");
  CHECK((*started)[1].driver == "two");
  REQUIRE_OK((*started)[1].started);
  CHECK(manager.running() == 2);
  // Node b matched nothing and was never opened.
  CHECK(log == EventLog{"open fake/a", "start one fake/a", "open fake/c", "start two fake/c"});

  SECTION("a second BindAll leaves running drivers alone") {
    auto again = manager.BindAll();
    REQUIRE_OK(again);
    CHECK(again->empty());
    CHECK(log.size() == 4);
  }

  log.clear();
  auto stopped = manager.StopAll();
  REQUIRE(stopped.size() == 2);
  CHECK(stopped[0].node_id == "fake/c");
  CHECK(stopped[0].driver == "two");
  REQUIRE_OK(stopped[0].stopped);
  REQUIRE_OK(stopped[0].released);
  CHECK(stopped[0].released->ok());
  CHECK(stopped[1].node_id == "fake/a");
  // Each driver stops and is gone (with its mappings) before its device is
  // released, and the release asks for the kernel driver back.
  CHECK(log == EventLog{"stop two fake/c", "destroy two fake/c", "release fake/c restore",
                        "stop one fake/a", "destroy one fake/a", "release fake/a restore"});
  CHECK(manager.running() == 0);
  CHECK(manager.StopAll().empty());

  // The log tells the story, the drivers' own lines prefixed with driver and node.
  CHECK(std::find(lines.begin(), lines.end(), "one fake/a: running") != lines.end());
  CHECK(std::find(lines.begin(), lines.end(), "fake/a: matches one (fake.vendor == 0x1 && "
                                              "fake.device == 0x1)") != lines.end());
  CHECK(std::find(lines.begin(), lines.end(), "fake/c: released: quiesce: done") != lines.end());
}

TEST_CASE("driver manager: two drivers match one node: the first registered gets it", "[bus]") {
  EventLog log;
  FakeBus bus("fake", {FakeNode("fake", "a", 1, 1)}, &log);
  DriverManager manager(bus, {});
  REQUIRE_OK(manager.Register(FakeDriver("first", FakeIds(1, 1), &log)));
  REQUIRE_OK(manager.Register(FakeDriver("second", FakeIds(1, 1), &log)));
  auto started = manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 1);
  CHECK((*started)[0].driver == "first");
  CHECK(log == EventLog{"open fake/a", "start first fake/a"});
}

TEST_CASE("driver manager: a driver that fails to start has its device released", "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  DriverManager manager(bus, {});
  REQUIRE_OK(manager.Register(FakeDriver("broken", FakeIds(1, 1), &log, {.fail_start = true})));
  REQUIRE_OK(manager.Register(FakeDriver("fine", FakeIds(2, 1), &log)));

  auto started = manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 2);
  const auto& broken = (*started)[0];
  CHECK(StatusOf(broken.started) == "IO");
  CHECK_THAT(broken.started.error().what,
             Catch::StartsWith("start broken on fake/a: ") && Catch::Contains("failed to start"));
  REQUIRE(broken.released);
  CHECK(broken.released->ok());
  // Released at once, still running as the driver left it: the release is
  // what quiets it. Then the next node goes on.
  CHECK(log == EventLog{"open fake/a", "start broken fake/a", "release fake/a while running",
                        "open fake/c", "start fine fake/c"});
  CHECK(manager.running() == 1);
}

TEST_CASE("driver manager: a device that fails to open is reported, the rest go on", "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  bus.FailOpen("fake/a");
  DriverManager manager(bus, {});
  REQUIRE_OK(manager.Register(FakeDriver("one", {BindRule::Equal("fake.vendor", 1)}, &log)));
  auto started = manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 2);
  CHECK(StatusOf((*started)[0].started) == "IO");
  CHECK_THAT((*started)[0].started.error().what, Catch::StartsWith("open fake/a for one: "));
  CHECK_FALSE((*started)[0].released);
  REQUIRE_OK((*started)[1].started);
  CHECK(log == EventLog{"open fake/a", "open fake/b", "start one fake/b"});
}

TEST_CASE("driver manager: a driver that fails to stop still loses its device", "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  DriverManager manager(bus, {});
  REQUIRE_OK(manager.Register(FakeDriver("stuck", FakeIds(1, 1), &log, {.fail_stop = true})));
  REQUIRE_OK(manager.BindAll());
  log.clear();
  auto stopped = manager.StopAll();
  REQUIRE(stopped.size() == 1);
  CHECK(StatusOf(stopped[0].stopped) == "TIMED_OUT");
  REQUIRE_OK(stopped[0].released);
  CHECK(log == EventLog{"stop stuck fake/a", "destroy stuck fake/a", "release fake/a"});
}

TEST_CASE("driver manager: destroying it stops and releases what runs", "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  {
    DriverManager manager(bus, {});
    REQUIRE_OK(manager.Register(FakeDriver("one", FakeIds(1, 1), &log)));
    REQUIRE_OK(manager.BindAll());
    log.clear();
  }
  CHECK(log == EventLog{"stop one fake/a", "destroy one fake/a", "release fake/a"});
}

TEST_CASE("driver manager: a bus that cannot enumerate fails BindAll and Match", "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  bus.FailEnumerate();
  DriverManager manager(bus, {});
  REQUIRE_OK(manager.Register(FakeDriver("one", FakeIds(1, 1), &log)));
  CHECK(StatusOf(manager.BindAll()) == "IO");
  CHECK(StatusOf(manager.Match()) == "IO");
  CHECK(log.empty());
}

TEST_CASE("driver context: a protocol the device lacks is NOT_SUPPORTED, naming the node",
          "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  DriverManager manager(bus, {});
  Driver driver;
  driver.name = "wrong";
  driver.rules = FakeIds(1, 1);
  driver.start = [](udrv::bus::DriverContext& context)
      -> udrv::Result<std::unique_ptr<udrv::bus::DriverInstance>> {
    CHECK(context.driver_name() == "wrong");
    CHECK(context.node().id == "fake/a");
    REQUIRE_OK(context.GetProtocol<FakeProtocol>());
    auto missing = context.GetProtocol<Missing>();
    REQUIRE_FALSE(missing);
    return std::unexpected(missing.error());
  };
  REQUIRE_OK(manager.Register(std::move(driver)));
  auto started = manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 1);
  const auto& outcome = (*started)[0].started;
  CHECK(StatusOf(outcome) == "NOT_SUPPORTED");
  CHECK(outcome.error().object == "fake/a");
  CHECK_THAT(outcome.error().what, Catch::Contains("'missing'") && Catch::Contains("offers: fake"));
  CHECK(log == EventLog{"open fake/a", "release fake/a"});
}

TEST_CASE("driver manager: a runner starts the drivers instead of this process", "[bus]") {
  EventLog log;
  FakeBus bus("fake", Nodes(), &log);
  DriverManagerOptions options;
  // A runner as an isolated one is: it gets the driver and its context and
  // returns an instance standing for the driver, without calling start.
  options.runner = [&log](const Driver& driver, udrv::bus::DriverContext& context)
      -> udrv::Result<std::unique_ptr<udrv::bus::DriverInstance>> {
    auto device = context.GetProtocol<FakeProtocol>();
    if (!device) return std::unexpected(device.error());
    log.push_back("runner " + driver.name + " " + context.node().id);
    if (context.node().id == "fake/c") return udrv::Fail(udrv::Status::IO, "the host did not start", "fake/c");
    return std::make_unique<FakeInstance>("hosted-" + driver.name, *device, &log, false);
  };
  DriverManager manager(bus, options);
  REQUIRE_OK(manager.Register(FakeDriver("one", FakeIds(1, 1), &log)));
  REQUIRE_OK(manager.Register(FakeDriver("two", FakeIds(2, 1), &log)));

  auto started = manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 2);
  REQUIRE_OK((*started)[0].started);
  CHECK(StatusOf((*started)[1].started) == "IO");
  CHECK_THAT((*started)[1].started.error().what, Catch::Contains("the host did not start"));
  REQUIRE((*started)[1].released);
  // No driver's own start ran; the failed one's device was released.
  CHECK(log == EventLog{"open fake/a", "runner one fake/a", "open fake/c", "runner two fake/c",
                        "release fake/c"});
  log.clear();
  auto stopped = manager.StopAll();
  REQUIRE(stopped.size() == 1);
  CHECK(log == EventLog{"stop hosted-one fake/a", "destroy hosted-one fake/a", "release fake/a"});
}
