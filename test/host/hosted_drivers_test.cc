// The drivers of one driver host (host/hosted_drivers.h): the host's own
// driver on its node, then the drivers of the children it publishes, from
// the host's registry, stopped children first; a child that fails to start
// fails the whole start.
#include "udrv/host/hosted_drivers.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "result_helpers.h"

namespace hosted_test {
// What the host's device offers (the proxy, in a real host), and what a
// NIC-like parent gives its child.
struct Port {
  std::string id;
};
}  // namespace hosted_test

template <>
struct udrv::bus::ProtocolTraits<hosted_test::Port> {
  static constexpr std::string_view kName = "port";
};

namespace {

using hosted_test::Port;
using udrv::Result;
using udrv::Status;
using udrv::host::HostedDrivers;
using udrv::host::HostedDriversOptions;
using udrv::testing::StatusOf;
namespace bus = udrv::bus;

using EventLog = std::vector<std::string>;

class LoggingInstance final : public bus::DriverInstance {
 public:
  LoggingInstance(std::string name, std::string id, EventLog* log, bool fail_stop)
      : name_(std::move(name)), id_(std::move(id)), log_(log), fail_stop_(fail_stop) {}
  ~LoggingInstance() override { log_->push_back("destroy " + name_ + " " + id_); }
  Result<void> Stop() override {
    log_->push_back("stop " + name_ + " " + id_);
    if (fail_stop_) return udrv::Fail(Status::IO, "the stop failed", id_);
    return {};
  }
  std::vector<std::unique_ptr<Port>> ports;

 private:
  std::string name_;
  std::string id_;
  EventLog* log_;
  bool fail_stop_;
};

struct DriverSpec {
  std::string name = {};
  std::vector<bus::BindRule> rules = {};
  std::vector<std::string> children = {};  // published on bus "port" with port.index
  bool fail_start = false;
  bool fail_stop = false;
};

bus::Driver MakeDriver(DriverSpec spec, EventLog* log) {
  bus::Driver driver;
  driver.name = spec.name;
  driver.rules = spec.rules;
  driver.options = {{.name = "greeting", .type = bus::DriverOption::Type::STRING,
                     .default_value = "hello", .help = "logged at the start"}};
  driver.start = [spec, log](bus::DriverContext& context)
      -> Result<std::unique_ptr<bus::DriverInstance>> {
    auto port = context.GetProtocol<Port>();
    if (!port) return std::unexpected(port.error());
    log->push_back("start " + spec.name + " " + (*port)->id + " " +
                   *context.options().GetString("greeting"));
    if (spec.fail_start) return udrv::Fail(Status::IO, "the start failed", context.node().id);
    auto instance = std::make_unique<LoggingInstance>(spec.name, context.node().id, log, spec.fail_stop);
    uint32_t index = 0;
    for (const std::string& name : spec.children) {
      instance->ports.push_back(std::make_unique<Port>(Port{context.node().id + "/" + name}));
      bus::ChildNode child{.name = name, .bus = "port", .properties = {}, .protocols = {}};
      child.properties.Set("port.index", index++);
      child.protocols.Add(instance->ports.back().get());
      auto published = context.PublishChild(std::move(child));
      if (!published) return std::unexpected(published.error());
    }
    return instance;
  };
  return driver;
}

bus::DeviceNode HostNode() {
  bus::DeviceNode node{.bus = "pci", .id = "pci/0000:00:03.0", .parent = {}, .properties = {}};
  node.properties.Set("pci.vendor", 0x8086u);
  node.properties.Set("pci.device", 0x10d3u);
  return node;
}

std::vector<bus::BindRule> NicRules() {
  return {bus::BindRule::Equal("pci.vendor", 0x8086u), bus::BindRule::Equal("pci.device", 0x10d3u)};
}

struct Fixture {
  EventLog log;
  std::vector<std::string> lines;
  Port device{"proxy"};

  HostedDriversOptions Options(std::vector<DriverSpec> specs, std::string driver,
                               std::vector<std::string> option_assignments = {}) {
    HostedDriversOptions options;
    for (DriverSpec& spec : specs) options.drivers.push_back(MakeDriver(std::move(spec), &log));
    options.driver = std::move(driver);
    options.node = HostNode();
    options.protocols.Add(&device);
    auto settings = bus::ParseDriverOptions(options.drivers, option_assignments);
    REQUIRE_OK(settings);
    options.driver_options = std::move(*settings);
    options.log = [this](std::string_view line) { lines.emplace_back(line); };
    return options;
  }

  bool Logged(const std::string& line) const {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }
};

}  // namespace

TEST_CASE("hosted drivers: the host's driver, then its children's from the registry, stopped "
          "children first", "[hosted]") {
  Fixture f;
  auto hosted = HostedDrivers::Start(f.Options(
      {{.name = "traffic", .rules = {bus::BindRule::Present("port.index")}},
       {.name = "nic", .rules = NicRules(), .children = {"port0", "port1"}}},
      "nic", {"traffic.greeting=hi"}));
  REQUIRE_OK(hosted);
  // The children's driver comes before the host's in the registry: each
  // binds what it matches, with its options as set.
  CHECK(f.log == EventLog{"start nic proxy hello", "start traffic pci/0000:00:03.0/port0 hi",
                          "start traffic pci/0000:00:03.0/port1 hi"});
  const std::vector<bus::DeviceNode> children = (*hosted)->children();
  REQUIRE(children.size() == 2);
  CHECK(children[0].id == "pci/0000:00:03.0/port0");
  CHECK(children[0].bus == "port");
  CHECK(children[0].parent == "pci/0000:00:03.0");
  // The in-process manager's lines.
  CHECK(f.Logged("pci/0000:00:03.0: nic started"));
  CHECK(f.Logged("pci/0000:00:03.0: published child pci/0000:00:03.0/port1 (bus port, offers port)"));
  CHECK(f.Logged("pci/0000:00:03.0/port1: traffic started"));
  CHECK(f.Logged("pci/0000:00:03.0: opened, served by the root bus over this host's socket"));

  f.log.clear();
  REQUIRE_OK((*hosted)->Stop());
  CHECK(f.log == EventLog{"stop traffic pci/0000:00:03.0/port1", "destroy traffic pci/0000:00:03.0/port1",
                          "stop traffic pci/0000:00:03.0/port0", "destroy traffic pci/0000:00:03.0/port0",
                          "stop nic pci/0000:00:03.0", "destroy nic pci/0000:00:03.0"});
  CHECK((*hosted)->children().empty());
  CHECK(f.Logged("pci/0000:00:03.0: released: give back: skipped (the root bus reclaims the device "
                 "when this host ends)"));
  CHECK(StatusOf((*hosted)->Stop()) == "BAD_STATE");
}

TEST_CASE("hosted drivers: the host's driver binds its node even where another registered first "
          "matches it too", "[hosted]") {
  Fixture f;
  auto hosted = HostedDrivers::Start(
      f.Options({{.name = "generic", .rules = {bus::BindRule::Equal("pci.vendor", 0x8086u)}},
                 {.name = "nic", .rules = NicRules()}},
                "nic"));
  REQUIRE_OK(hosted);
  CHECK(f.log == EventLog{"start nic proxy hello"});
  CHECK((*hosted)->children().empty());
}

TEST_CASE("hosted drivers: a child no driver binds is left alone", "[hosted]") {
  Fixture f;
  auto hosted = HostedDrivers::Start(
      f.Options({{.name = "nic", .rules = NicRules(), .children = {"port0"}}}, "nic"));
  REQUIRE_OK(hosted);
  CHECK(f.log == EventLog{"start nic proxy hello"});
  CHECK(f.Logged("pci/0000:00:03.0/port0: no driver binds this child"));
  REQUIRE((*hosted)->children().size() == 1);
}

TEST_CASE("hosted drivers: refusals, and failed starts and stops", "[hosted]") {
  Fixture f;
  SECTION("a driver the registry lacks") {
    auto hosted = HostedDrivers::Start(f.Options({{.name = "nic", .rules = NicRules()}}, "edu"));
    CHECK(StatusOf(hosted) == "NOT_FOUND");
    CHECK(hosted.error().what.find("this host has no driver 'edu'") != std::string::npos);
    CHECK(f.log.empty());
  }
  SECTION("a driver whose rules do not match the node") {
    auto hosted = HostedDrivers::Start(
        f.Options({{.name = "edu", .rules = {bus::BindRule::Equal("pci.vendor", 0x1234u)}}}, "edu"));
    CHECK(StatusOf(hosted) == "INVALID_ARGS");
    CHECK(hosted.error().what.find("pci.vendor == 0x1234: it is 0x8086") != std::string::npos);
    CHECK(f.log.empty());
  }
  SECTION("the host's driver fails to start") {
    auto hosted = HostedDrivers::Start(
        f.Options({{.name = "nic", .rules = NicRules(), .children = {"port0"}, .fail_start = true}},
                  "nic"));
    CHECK(StatusOf(hosted) == "IO");
    CHECK(hosted.error().what.find("start nic on pci/0000:00:03.0") != std::string::npos);
    CHECK(f.log == EventLog{"start nic proxy hello"});
  }
  SECTION("a child's driver fails to start: everything stops again") {
    auto hosted = HostedDrivers::Start(f.Options(
        {{.name = "nic", .rules = NicRules(), .children = {"port0"}},
         {.name = "traffic", .rules = {bus::BindRule::Present("port.index")}, .fail_start = true}},
        "nic"));
    CHECK(StatusOf(hosted) == "IO");
    CHECK(hosted.error().what.find("start traffic on pci/0000:00:03.0/port0") != std::string::npos);
    CHECK(f.log == EventLog{"start nic proxy hello", "start traffic pci/0000:00:03.0/port0 hello",
                            "stop nic pci/0000:00:03.0", "destroy nic pci/0000:00:03.0"});
  }
  SECTION("a child's driver fails to stop: the others still stop, the error is returned") {
    auto hosted = HostedDrivers::Start(f.Options(
        {{.name = "nic", .rules = NicRules(), .children = {"port0"}},
         {.name = "traffic", .rules = {bus::BindRule::Present("port.index")}, .fail_stop = true}},
        "nic"));
    REQUIRE_OK(hosted);
    f.log.clear();
    auto stopped = (*hosted)->Stop();
    CHECK(StatusOf(stopped) == "IO");
    CHECK(stopped.error().object == "pci/0000:00:03.0/port0");
    CHECK(f.log == EventLog{"stop traffic pci/0000:00:03.0/port0", "destroy traffic pci/0000:00:03.0/port0",
                            "stop nic pci/0000:00:03.0", "destroy nic pci/0000:00:03.0"});
  }
}
