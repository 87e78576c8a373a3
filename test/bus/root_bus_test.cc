// The root bus: buses behind one Bus, enumerated in order, opened by name.
#include <catch2/catch.hpp>

#include "fake_bus.h"
#include "result_helpers.h"
#include "udrv/bus/root_bus.h"

using udrv::bus::DeviceNode;
using udrv::bus::RootBus;
using udrv::testing::StatusOf;
using namespace udrv::bus::testing;

TEST_CASE("root bus: enumerates every bus in the order added", "[bus]") {
  EventLog log;
  RootBus root;
  CHECK(root.name() == "root");
  REQUIRE_OK(root.AddBus(std::make_unique<FakeBus>(
      "pci", std::vector{FakeNode("pci", "a", 1, 1), FakeNode("pci", "b", 1, 2)}, &log)));
  REQUIRE_OK(root.AddBus(
      std::make_unique<FakeBus>("usb", std::vector{FakeNode("usb", "c", 2, 1)}, &log)));

  auto nodes = root.Enumerate();
  REQUIRE_OK(nodes);
  REQUIRE(nodes->size() == 3);
  CHECK((*nodes)[0].id == "pci/a");
  CHECK((*nodes)[1].id == "pci/b");
  CHECK((*nodes)[2].id == "usb/c");

  auto opened = root.Open((*nodes)[2]);
  REQUIRE_OK(opened);
  CHECK((*opened)->node().id == "usb/c");
  CHECK((*opened)->Describe() == "fake device usb/c");
  CHECK(log == EventLog{"open usb/c"});

  SECTION("a node of a bus it lacks is NOT_FOUND, naming the buses it has") {
    auto missing = root.Open(FakeNode("acpi", "d", 1, 1));
    CHECK(StatusOf(missing) == "NOT_FOUND");
    CHECK_THAT(missing.error().what, Catch::Contains("'acpi'") && Catch::Contains("pci, usb"));
    CHECK(missing.error().object == "acpi/d");
  }
}

TEST_CASE("root bus: refuses a second bus of a name, and no bus", "[bus]") {
  EventLog log;
  RootBus root;
  REQUIRE_OK(root.AddBus(std::make_unique<FakeBus>("pci", std::vector<DeviceNode>{}, &log)));
  auto twice = root.AddBus(std::make_unique<FakeBus>("pci", std::vector<DeviceNode>{}, &log));
  CHECK(StatusOf(twice) == "ALREADY_EXISTS");
  CHECK_THAT(twice.error().what, Catch::Contains("'pci'"));
  CHECK(StatusOf(root.AddBus(nullptr)) == "INVALID_ARGS");

  SECTION("empty, it enumerates nothing and opens nothing") {
    RootBus empty;
    auto nodes = empty.Enumerate();
    REQUIRE_OK(nodes);
    CHECK(nodes->empty());
    auto opened = empty.Open(FakeNode("pci", "a", 1, 1));
    CHECK(StatusOf(opened) == "NOT_FOUND");
    CHECK_THAT(opened.error().what, Catch::Contains("none"));
  }
}

TEST_CASE("root bus: a bus that fails to enumerate fails the whole, named", "[bus]") {
  EventLog log;
  RootBus root;
  REQUIRE_OK(root.AddBus(
      std::make_unique<FakeBus>("pci", std::vector{FakeNode("pci", "a", 1, 1)}, &log)));
  auto broken = std::make_unique<FakeBus>("usb", std::vector<DeviceNode>{}, &log);
  broken->FailEnumerate();
  REQUIRE_OK(root.AddBus(std::move(broken)));
  auto nodes = root.Enumerate();
  CHECK(StatusOf(nodes) == "IO");
  CHECK_THAT(nodes.error().what, Catch::StartsWith("enumerate bus 'usb': "));
}
