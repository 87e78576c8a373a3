// Device nodes and their properties, protocol sets, release reports.
#include <catch2/catch.hpp>

#include "result_helpers.h"
#include "udrv/bus/bus.h"
#include "udrv/bus/node.h"
#include "udrv/bus/protocol.h"

using udrv::Status;
using udrv::bus::DeviceNode;
using udrv::bus::FormatPropertyValue;
using udrv::bus::Properties;
using udrv::bus::PropertyValue;
using udrv::bus::ProtocolSet;
using udrv::bus::ReleaseReport;
using udrv::bus::ReleaseStep;
using udrv::testing::StatusOf;

namespace {
struct Speaker {
  int volume = 0;
};
struct Microphone {};
// Another type claiming Speaker's name.
struct Impostor {};
}  // namespace

template <>
struct udrv::bus::ProtocolTraits<Speaker> {
  static constexpr std::string_view kName = "speaker";
};
template <>
struct udrv::bus::ProtocolTraits<Microphone> {
  static constexpr std::string_view kName = "microphone";
};
template <>
struct udrv::bus::ProtocolTraits<Impostor> {
  static constexpr std::string_view kName = "speaker";
};

TEST_CASE("properties: typed values, kept in the order first set", "[bus]") {
  Properties properties;
  properties.Set("pci.vendor", 0x1234);
  properties.Set("pci.address", "0000:00:03.0");
  properties.Set("pci.device", 0x11e8);
  properties.Set("pci.vendor", 0x8086);  // replaces, keeps its place

  REQUIRE(properties.entries().size() == 3);
  CHECK(properties.entries()[0].first == "pci.vendor");
  CHECK(properties.entries()[1].first == "pci.address");
  CHECK(properties.entries()[2].first == "pci.device");

  CHECK(properties.FindNumber("pci.vendor") == 0x8086u);
  CHECK(properties.FindString("pci.address") == "0000:00:03.0");
  // The wrong type is no value: a number is never a string.
  CHECK_FALSE(properties.FindString("pci.vendor"));
  CHECK_FALSE(properties.FindNumber("pci.address"));
  CHECK(properties.Find("pci.class") == nullptr);
  REQUIRE(properties.Find("pci.device") != nullptr);
  CHECK(*properties.Find("pci.device") == PropertyValue(uint32_t{0x11e8}));
}

TEST_CASE("properties: values print as rules and listings show them", "[bus]") {
  CHECK(FormatPropertyValue(uint32_t{0x11e8}) == "0x11e8");
  CHECK(FormatPropertyValue(uint32_t{0}) == "0x0");
  CHECK(FormatPropertyValue(std::string("qemu,edu")) == "\"qemu,edu\"");
}

TEST_CASE("device nodes compare by every field", "[bus]") {
  DeviceNode a{"pci", "pci/0000:00:1c.0/0000:03:00.0", "pci/0000:00:1c.0", {}};
  a.properties.Set("pci.vendor", 0x8086);
  DeviceNode b = a;
  CHECK(a == b);
  b.properties.Set("pci.vendor", 0x8087);
  CHECK_FALSE(a == b);
  b = a;
  b.parent.clear();
  CHECK_FALSE(a == b);
}

TEST_CASE("protocol sets hand out each protocol by its type", "[bus]") {
  Speaker speaker{7};
  ProtocolSet set;
  CHECK(set.Names() == "none");
  set.Add(&speaker);
  CHECK(set.Names() == "speaker");

  auto found = set.Get<Speaker>();
  REQUIRE_OK(found);
  CHECK(*found == &speaker);
  CHECK((*found)->volume == 7);

  SECTION("a protocol the device lacks is NOT_SUPPORTED, naming what it offers") {
    auto missing = set.Get<Microphone>();
    CHECK(StatusOf(missing) == "NOT_SUPPORTED");
    CHECK_THAT(missing.error().what, Catch::Contains("'microphone'") && Catch::Contains("speaker"));
  }
  SECTION("an object of another type under the name is WRONG_TYPE") {
    auto wrong = set.Get<Impostor>();
    CHECK(StatusOf(wrong) == "WRONG_TYPE");
    CHECK_THAT(wrong.error().what, Catch::Contains("'speaker'"));
  }
  SECTION("adding one of the same name replaces it") {
    Speaker other{9};
    set.Add(&other);
    CHECK(set.Names() == "speaker");
    CHECK((*set.Get<Speaker>())->volume == 9);
  }
}

TEST_CASE("release reports: NOT_SUPPORTED and SKIPPED are no failure", "[bus]") {
  ReleaseReport report;
  report.steps.push_back({"interrupts off", ReleaseStep::Outcome::DONE, {}});
  report.steps.push_back({"reset", ReleaseStep::Outcome::NOT_SUPPORTED, "no reset method"});
  report.steps.push_back({"kernel driver", ReleaseStep::Outcome::SKIPPED, "not asked"});
  CHECK(report.ok());
  CHECK(report.ToString() ==
        "interrupts off: done; reset: not supported (no reset method); kernel driver: skipped "
        "(not asked)");
  report.steps.push_back({"bus mastering off", ReleaseStep::Outcome::FAILED, "IO: still set"});
  CHECK_FALSE(report.ok());
  CHECK_THAT(report.ToString(), Catch::EndsWith("bus mastering off: FAILED (IO: still set)"));
}
