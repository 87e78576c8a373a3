// MatchDrivers and ExplainDriverMatch: the matching that the driver manager,
// `udrv-driver-manager --list` and `busctl match` share.
#include <catch2/catch.hpp>

#include "fake_bus.h"
#include "result_helpers.h"
#include "udrv/bus/driver_match.h"

using udrv::bus::BindRule;
using udrv::bus::Driver;
using udrv::bus::ExplainDriverMatch;
using udrv::bus::MatchDrivers;
using udrv::bus::NodeMatch;
using namespace udrv::bus::testing;

TEST_CASE("MatchDrivers: every driver's verdict, and the first registered match binds",
          "[bus][match]") {
  EventLog log;
  const std::vector<Driver> drivers = {
      FakeDriver("other", {BindRule::Equal("fake.vendor", 9)}, &log),
      FakeDriver("specific", {BindRule::Equal("fake.vendor", 1), BindRule::Equal("fake.device", 2)},
                 &log),
      FakeDriver("vendor1", {BindRule::Equal("fake.vendor", 1)}, &log),
  };
  const NodeMatch match = MatchDrivers(drivers, FakeNode("fake", "b", 1, 2));
  CHECK(match.node.id == "fake/b");
  CHECK(match.driver == "specific");
  REQUIRE(match.candidates.size() == 3);
  CHECK(match.candidates[0].driver == "other");
  CHECK(ExplainDriverMatch(match, match.candidates[0]) == "no match: fake.vendor == 0x9: it is 0x1");
  CHECK(ExplainDriverMatch(match, match.candidates[1]) == "matches, binds");
  CHECK(ExplainDriverMatch(match, match.candidates[2]) ==
        "matches, but specific binds (registered first)");

  const NodeMatch none = MatchDrivers(drivers, FakeNode("fake", "z", 7, 7));
  CHECK_FALSE(none.driver);
  CHECK(ExplainDriverMatch(none, none.candidates[1]) ==
        "no match: fake.vendor == 0x1: it is 0x7; fake.device == 0x2: it is 0x7");
  // Matching starts nothing.
  CHECK(log.empty());
}

TEST_CASE("MatchDrivers: the driver matching the earliest list entry wins, then registration",
          "[bus][match]") {
  EventLog log;
  udrv::bus::DeviceNode node{"fdt", "fdt/soc/serial@1000", "fdt/soc", {}};
  REQUIRE_OK(node.properties.SetList("fdt.compatible",
                                  udrv::bus::StringList{"acme,uart2", "ns16550a"}));
  const std::vector<Driver> drivers = {
      FakeDriver("generic", {BindRule::Equal("fdt.compatible", "ns16550a")}, &log),
      FakeDriver("acme", {BindRule::Accept("fdt.compatible", {"acme,uart", "acme,uart2"})}, &log),
      FakeDriver("acme-too", {BindRule::Equal("fdt.compatible", "acme,uart2")}, &log),
      FakeDriver("spi", {BindRule::Equal("fdt.compatible", "acme,spi")}, &log),
  };
  const NodeMatch match = MatchDrivers(drivers, node);
  // acme matches entry 0, generic only entry 1: acme binds though registered later.
  CHECK(match.driver == "acme");
  CHECK(match.candidates[0].evaluation.entry == 1);
  CHECK(match.candidates[1].evaluation.entry == 0);
  CHECK(ExplainDriverMatch(match, match.candidates[0]) ==
        "matches fdt.compatible == \"ns16550a\": entry 1 of [\"acme,uart2\", \"ns16550a\"], but "
        "acme binds (it matches an earlier, more specific entry)");
  CHECK(ExplainDriverMatch(match, match.candidates[1]) ==
        "matches fdt.compatible in {\"acme,uart\", \"acme,uart2\"}: entry 0 of [\"acme,uart2\", "
        "\"ns16550a\"], binds");
  // The same entry: registration order decides.
  CHECK(ExplainDriverMatch(match, match.candidates[2]) ==
        "matches fdt.compatible == \"acme,uart2\": entry 0 of [\"acme,uart2\", \"ns16550a\"], but "
        "acme binds (registered first)");
  CHECK(ExplainDriverMatch(match, match.candidates[3]) ==
        "no match: fdt.compatible == \"acme,spi\": no entry of [\"acme,uart2\", \"ns16550a\"]");
}
