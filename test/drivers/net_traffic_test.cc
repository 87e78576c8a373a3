// net-traffic (drivers/net/traffic) on an in-memory NIC looped to itself:
// what it sends comes back and is verified; the start fails when frames go
// missing, the link stays down or an option is no good.
#include "udrv/drivers/net_traffic/net_traffic.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "loopback_device.h"
#include "result_helpers.h"
#include "udrv/net/device.h"

namespace {

using udrv::testing::LoopbackDevice;
using udrv::testing::StatusOf;
namespace bus = udrv::bus;
namespace net = udrv::net;

bus::DeviceNode PortNode() {
  bus::DeviceNode node{.bus = "net", .id = "pci/0000:00:03.0/net0", .parent = "pci/0000:00:03.0",
                       .properties = {}};
  node.properties.Set(std::string(net::kPropDriver), std::string("e1000e"));
  node.properties.Set(std::string(net::kPropMac), std::string("52:54:00:12:34:56"));
  return node;
}

struct Run {
  udrv::Result<std::unique_ptr<bus::DriverInstance>> instance;
  std::vector<std::string> lines;

  bool Logged(const std::string& part) const {
    for (const std::string& line : lines) {
      if (line.find(part) != std::string::npos) return true;
    }
    return false;
  }
};

Run Start(LoopbackDevice& device, std::vector<std::string> assignments) {
  const bus::Driver driver = udrv::drivers::net_traffic::MakeBusDriver();
  for (std::string& assignment : assignments) assignment = "net-traffic." + assignment;
  auto options = bus::ParseDriverOptions(std::span(&driver, 1), assignments);
  REQUIRE_OK(options);
  Run run{udrv::Fail(udrv::Status::BAD_STATE, "not started"), {}};
  bus::ProtocolSet protocols;
  protocols.Add<net::Device>(&device);
  bus::DriverContext context(driver.name, PortNode(), protocols,
                             [&run](std::string_view line) { run.lines.emplace_back(line); },
                             options->at(driver.name));
  run.instance = driver.start(context);
  if (run.instance) REQUIRE_OK((*run.instance)->Stop());
  return run;
}

}  // namespace

TEST_CASE("net-traffic: binds the ports NIC drivers publish, nothing else", "[net-traffic]") {
  const bus::Driver driver = udrv::drivers::net_traffic::MakeBusDriver();
  CHECK(bus::Evaluate(driver.rules, PortNode().properties).matched);
  bus::Properties pci;
  pci.Set("pci.vendor", 0x8086u);
  CHECK_FALSE(bus::Evaluate(driver.rules, pci).matched);
}

TEST_CASE("net-traffic: by default it only says what it bound", "[net-traffic]") {
  LoopbackDevice device;
  device.SetLinkUp(false);  // not waited for: nothing to send
  Run run = Start(device, {});
  REQUIRE_OK(run.instance);
  CHECK(run.Logged("bound loopback loop0, MAC 52:54:00:12:34:05, polling"));
  CHECK(run.Logged("no traffic asked for"));
  CHECK(device.wait_calls() == 0);
}

TEST_CASE("net-traffic: sends, then receives and verifies, and logs the statistics",
          "[net-traffic]") {
  LoopbackDevice device;  // what it sends comes back
  Run run = Start(device, {"tx-count=40", "rx-count=40", "sizes=60,1514,61", "stream=7"});
  REQUIRE_OK(run.instance);
  CHECK(run.Logged("link up, 1000 Mbps full duplex"));
  CHECK(run.Logged("sending 40 test frames (stream 7, sizes 60,1514,61)"));
  CHECK(run.Logged("sent 40 frames ("));
  CHECK(run.Logged("receiving 40 test frames (stream 7)"));
  CHECK(run.Logged("received 40 frames ("));
  CHECK(run.Logged("; good 40, late 0, duplicates 0, missing 0, corrupt 0, other frames 0"));
  CHECK(run.Logged("the NIC's counters grew by tx_packets 40, rx_packets 40"));
  CHECK(device.free_buffers() == 64);
}

TEST_CASE("net-traffic: a start fails on missing frames, a link that stays down, bad options",
          "[net-traffic]") {
  LoopbackDevice device;
  SECTION("a frame lost on the wire") {
    device.SetWireHook([](LoopbackDevice::Frame frame, uint64_t index) {
      return index == 3 ? std::vector<LoopbackDevice::Frame>{}
                        : std::vector<LoopbackDevice::Frame>{std::move(frame)};
    });
    Run run = Start(device, {"tx-count=10", "rx-count=10", "rx-timeout=200ms"});
    CHECK(StatusOf(run.instance) == "IO_DATA_INTEGRITY");
    INFO(run.instance.error().what);
    CHECK(run.instance.error().what.find("9 of 10 test frames verified") != std::string::npos);
    CHECK(run.instance.error().what.find("missing 1") != std::string::npos);
    CHECK(run.instance.error().what.find("(the receive timed out)") != std::string::npos);
    CHECK(run.instance.error().object == "pci/0000:00:03.0/net0");
  }
  SECTION("the link stays down") {
    device.SetLinkUp(false);
    Run run = Start(device, {"tx-count=1", "link-timeout=100ms"});
    CHECK(StatusOf(run.instance) == "TIMED_OUT");
  }
  SECTION("a size no test frame has") {
    Run run = Start(device, {"tx-count=1", "sizes=60,59"});
    CHECK(StatusOf(run.instance) == "INVALID_ARGS");
    CHECK(run.instance.error().what.find("'59' is no frame length of 60..1514") != std::string::npos);
  }
  SECTION("no size at all") {
    Run run = Start(device, {"tx-count=1", "sizes="});
    CHECK(StatusOf(run.instance) == "INVALID_ARGS");
  }
}
