// Device nodes and their properties, protocol sets, release reports.
#include <catch2/catch.hpp>
#include <span>

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
  // A driver's name from sysfs can carry a window title: shown escaped.
  CHECK(FormatPropertyValue(std::string("e1000e\x1b]0;owned\x07")) == "\"e1000e\\e]0;owned\\x07\"");
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

// ---- nodes as text, for driver hosts (SerializeNode / ParseNode) ----

namespace {

DeviceNode RichNode() {
  DeviceNode node{"pci", "pci/0000:00:1c.0/0000:03:00.0", "pci/0000:00:1c.0", {}};
  node.properties.Set("pci.vendor", 0x1234);
  node.properties.Set("pci.device", 0x11e8);
  node.properties.Set("pci.class", 0);
  node.properties.Set("pci.max", 0xffffffff);
  node.properties.Set("pci.address", "0000:03:00.0");
  node.properties.Set("test.newline", "first\nsecond\n");
  node.properties.Set("test.backslash", "C:\\dir\\n not a newline \\");
  node.properties.Set("test.spaces", "  leading and trailing  ");
  node.properties.Set("test.empty", "");
  node.properties.Set("test.key\\with\nescapes", "x");
  return node;
}

std::string ErrorWhat(const udrv::Result<DeviceNode>& parsed) {
  return parsed ? std::string("OK") : parsed.error().what;
}

// Node text ParseNode must refuse, and what its error must say.
struct RefusedText {
  const char* name;
  std::string text;
  const char* says;
};

void CheckRefused(std::span<const RefusedText> cases) {
  for (const RefusedText& c : cases) {
    INFO(c.name);
    auto parsed = udrv::bus::ParseNode(c.text);
    CHECK(StatusOf(parsed) == "IO_INVALID");
    CHECK_THAT(ErrorWhat(parsed), Catch::Contains(c.says));
  }
}

}  // namespace

TEST_CASE("node text: SerializeNode and ParseNode round trip", "[bus][node]") {
  SECTION("numbers, strings with newlines and backslashes, in order") {
    const DeviceNode node = RichNode();
    const std::string text = udrv::bus::SerializeNode(node);
    CHECK_THAT(text, Catch::StartsWith("udrv.node/1\nbus pci\nid pci/0000:00:1c.0/0000:03:00.0\n"
                                       "parent pci/0000:00:1c.0\n"));
    CHECK_THAT(text, Catch::Contains("property pci.vendor number 0x1234\n"));
    CHECK_THAT(text, Catch::Contains("property pci.max number 0xffffffff\n"));
    CHECK_THAT(text, Catch::Contains("property test.newline string first\\nsecond\\n\n"));
    CHECK_THAT(text, Catch::Contains("property test.backslash string C:\\\\dir\\\\n not a newline \\\\\n"));
    CHECK_THAT(text, Catch::EndsWith("\n"));
    auto parsed = udrv::bus::ParseNode(text);
    REQUIRE_OK(parsed);
    CHECK(*parsed == node);
    CHECK(parsed->properties.entries() == node.properties.entries());  // the order too
    CHECK(parsed->properties.FindString("test.newline") == "first\nsecond\n");
    CHECK(parsed->properties.FindNumber("pci.class") == 0u);
  }
  SECTION("a node at the root of its bus: empty parent, no properties") {
    const DeviceNode node{"pci", "pci/0000:00:03.0", "", {}};
    const std::string text = udrv::bus::SerializeNode(node);
    CHECK(text == "udrv.node/1\nbus pci\nid pci/0000:00:03.0\nparent \n");
    auto parsed = udrv::bus::ParseNode(text);
    REQUIRE_OK(parsed);
    CHECK(*parsed == node);
    CHECK(parsed->parent.empty());
  }
  SECTION("a key with a space survives") {
    DeviceNode node{"pci", "pci/0000:00:03.0", "", {}};
    node.properties.Set("odd key", "value with spaces");
    node.properties.Set("odd key 2", 7);
    auto parsed = udrv::bus::ParseNode(udrv::bus::SerializeNode(node));
    REQUIRE_OK(parsed);
    CHECK(*parsed == node);
  }
  SECTION("a number may be written in any hex case, with leading zeros") {
    auto parsed = udrv::bus::ParseNode(
        "udrv.node/1\nbus pci\nid pci/x\nparent \nproperty n number 0x00AbCd\n");
    REQUIRE_OK(parsed);
    CHECK(parsed->properties.FindNumber("n") == 0xabcdu);
  }
}

TEST_CASE("node text: what SerializeNode would not write is IO_INVALID naming the line",
          "[bus][node]") {
  const std::string head = "udrv.node/1\nbus pci\nid pci/0000:00:03.0\nparent \n";
  const RefusedText cases[] = {
      {"empty", "", "empty"},
      {"no header", "bus pci\nid pci/x\nparent \n", "line 1: expected 'udrv.node/1'"},
      {"another version", "udrv.node/2\nbus pci\nid pci/x\nparent \n", "line 1: expected"},
      {"unknown keyword", head + "colour blue\n", "line 5: unknown keyword 'colour'"},
      {"bad number: no 0x", head + "property n number 1234\n", "line 5: a number without 0x"},
      {"bad number: not hex", head + "property n number 0x12g4\n", "line 5: not a 32-bit hex number"},
      {"bad number: empty", head + "property n number 0x\n", "line 5: not a 32-bit hex number"},
      {"bad number: past 32 bits", head + "property n number 0x100000000\n",
       "line 5: not a 32-bit hex number"},
      {"bad number: trailing text", head + "property n number 0x12 \n",
       "line 5: not a 32-bit hex number"},
      {"unknown property type", head + "property n float 1.5\n", "line 5: unknown property type 'float'"},
      {"property without a key", head + "property  string x\n", "line 5: a property without a valid key"},
      {"missing newline at end", head + "property n number 0x1", "line 5 does not end with a newline"},
      {"header without newline", "udrv.node/1", "line 1 does not end with a newline"},
      {"bad escape in a value", head + "property s string a\\tb\n", "line 5: a bad escape"},
      {"trailing backslash", head + "property s string ab\\\n", "line 5: a bad escape"},
      {"bad escape in the id", "udrv.node/1\nbus pci\nid pci\\q\nparent \n", "line 3: a bad escape"},
      {"bad escape in a key", head + "property k\\q string v\n", "line 5: a property without a valid key"},
      {"no id", "udrv.node/1\nbus pci\nparent \n", "no bus or id"},
      {"no bus", "udrv.node/1\nid pci/x\nparent \n", "no bus or id"},
  };
  CheckRefused(cases);
}

// ---- list-valued properties ----

TEST_CASE("properties: lists of strings or numbers, bounded", "[bus][node]") {
  Properties properties;
  REQUIRE_OK(properties.SetList("fdt.compatible", udrv::bus::StringList{"acme,uart2", "ns16550a"}));
  REQUIRE_OK(properties.SetList("test.ids", udrv::bus::NumberList{1, 0x20}));
  const PropertyValue* compatible = properties.Find("fdt.compatible");
  REQUIRE(compatible != nullptr);
  CHECK(udrv::bus::IsList(*compatible));
  CHECK(FormatPropertyValue(*compatible) == "[\"acme,uart2\", \"ns16550a\"]");
  CHECK(FormatPropertyValue(*properties.Find("test.ids")) == "[0x1, 0x20]");
  CHECK(udrv::bus::PropertyEntries(*compatible) ==
        std::vector<PropertyValue>{std::string("acme,uart2"), std::string("ns16550a")});
  CHECK(udrv::bus::PropertyEntries(PropertyValue(uint32_t{7})) ==
        std::vector<PropertyValue>{uint32_t{7}});
  // A list is no single value.
  CHECK_FALSE(properties.FindString("fdt.compatible"));
  CHECK_FALSE(properties.FindNumber("test.ids"));

  SECTION("too many entries: OUT_OF_RANGE naming the key, the old value kept") {
    auto long_list = properties.SetList("test.ids", udrv::bus::NumberList(udrv::bus::kMaxListEntries + 1));
    CHECK(StatusOf(long_list) == "OUT_OF_RANGE");
    CHECK(long_list.error().object == "property test.ids");
    CHECK_THAT(long_list.error().what, Catch::Contains("257 entries (at most 256)"));
    CHECK(FormatPropertyValue(*properties.Find("test.ids")) == "[0x1, 0x20]");
    REQUIRE_OK(properties.SetList("test.ids", udrv::bus::NumberList(udrv::bus::kMaxListEntries)));
  }
  SECTION("too many bytes of strings: OUT_OF_RANGE") {
    udrv::bus::StringList big(2, std::string(udrv::bus::kMaxListStringBytes / 2 + 1, 'x'));
    auto too_big = properties.SetList("fdt.compatible", big);
    CHECK(StatusOf(too_big) == "OUT_OF_RANGE");
    CHECK_THAT(too_big.error().what, Catch::Contains("16386 bytes"));
  }
}

TEST_CASE("node text: lists round trip, and bad lists are IO_INVALID naming the line",
          "[bus][node]") {
  DeviceNode node{"fdt", "fdt/soc/serial@1000", "fdt/soc", {}};
  REQUIRE_OK(node.properties.SetList("fdt.compatible",
                                     udrv::bus::StringList{"acme,uart 2", "", "back\\slash\nnl"}));
  REQUIRE_OK(node.properties.SetList("test.ids", udrv::bus::NumberList{0, 0xffffffff}));
  REQUIRE_OK(node.properties.SetList("test.none", udrv::bus::StringList{}));
  REQUIRE_OK(node.properties.SetList("test.empty", udrv::bus::StringList{""}));
  const std::string text = udrv::bus::SerializeNode(node);
  CHECK_THAT(text, Catch::Contains("property fdt.compatible strings 3 acme,uart\\s2  back\\\\slash\\nnl\n"));
  CHECK_THAT(text, Catch::Contains("property test.ids numbers 2 0x0 0xffffffff\n"));
  CHECK_THAT(text, Catch::Contains("property test.none strings 0\n"));
  auto parsed = udrv::bus::ParseNode(text);
  REQUIRE_OK(parsed);
  CHECK(*parsed == node);

  const std::string head = "udrv.node/1\nbus fdt\nid fdt/x\nparent \n";
  const RefusedText cases[] = {
      {"no count", head + "property c strings\n", "line 5: a list without a count of 0 to 256"},
      {"count not a number", head + "property c strings x a\n", "line 5: a list without a count"},
      {"count past the bound", head + "property c numbers 257\n", "line 5: a list without a count"},
      {"more entries than the count", head + "property c strings 1 a b\n",
       "line 5: more entries than the count, 1"},
      {"fewer numbers than the count", head + "property c numbers 2 0x1\n",
       "line 5: list entry 1: not a 32-bit hex number"},
      {"a number that is none", head + "property c numbers 1 12\n",
       "line 5: list entry 0: not a 32-bit hex number"},
      {"a bad escape in an entry", head + "property c strings 2 a b\\q\n",
       "line 5: list entry 1: a bad escape"},
      {"too many bytes", head + "property c strings 2 " + std::string(9000, 'a') + " " +
                             std::string(9000, 'b') + "\n",
       "line 5: property c: a list of 2 strings of 18000 bytes"},
  };
  CheckRefused(cases);
}
