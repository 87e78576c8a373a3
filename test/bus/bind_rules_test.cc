// Bind rules: what holds, what does not and the explanation of why not.
#include <catch2/catch.hpp>

#include "result_helpers.h"
#include "udrv/bus/bind_rules.h"

using udrv::bus::BindRule;
using udrv::bus::Evaluate;
using udrv::bus::FormatBindRules;
using udrv::bus::Properties;
using udrv::bus::ValidateBindRules;
using udrv::testing::StatusOf;

namespace {

Properties Nic() {
  Properties properties;
  properties.Set("pci.address", "0000:00:03.0");
  properties.Set("pci.vendor", 0x8086);
  properties.Set("pci.device", 0x10d3);
  properties.Set("pci.class", 0x02);
  properties.Set("pci.driver", "e1000e");
  return properties;
}

}  // namespace

TEST_CASE("bind rules: equal", "[bus]") {
  const Properties nic = Nic();
  CHECK_FALSE(BindRule::Equal("pci.vendor", 0x8086).Mismatch(nic));
  CHECK_FALSE(BindRule::Equal("pci.driver", "e1000e").Mismatch(nic));
  CHECK(BindRule::Equal("pci.device", 0x11e8).Mismatch(nic) ==
        "pci.device == 0x11e8: it is 0x10d3");
  CHECK(BindRule::Equal("pci.driver", "igb").Mismatch(nic) ==
        "pci.driver == \"igb\": it is \"e1000e\"");
  CHECK(BindRule::Equal("acpi.hid", "PNP0501").Mismatch(nic) ==
        "acpi.hid == \"PNP0501\": no such property");
  SECTION("a number never equals a string") {
    CHECK(BindRule::Equal("pci.vendor", "0x8086").Mismatch(nic) ==
          "pci.vendor == \"0x8086\": it is 0x8086");
    CHECK(BindRule::Equal("pci.address", 3).Mismatch(nic) ==
          "pci.address == 0x3: it is \"0000:00:03.0\"");
  }
}

TEST_CASE("bind rules: accept sets", "[bus]") {
  const Properties nic = Nic();
  CHECK_FALSE(BindRule::Accept("pci.device", {0x10d3, 0x10f6}).Mismatch(nic));
  CHECK_FALSE(BindRule::Accept("pci.driver", {"igb", "e1000e"}).Mismatch(nic));
  CHECK(BindRule::Accept("pci.device", {0x1533, 0x10f6}).Mismatch(nic) ==
        "pci.device in {0x1533, 0x10f6}: it is 0x10d3");
  CHECK(BindRule::Accept("usb.vid", {0x46d}).Mismatch(nic) == "usb.vid in {0x46d}: no such property");
  CHECK(BindRule::Accept("pci.driver", {"igb", "ixgbe"}).ToString() ==
        "pci.driver in {\"igb\", \"ixgbe\"}");
}

TEST_CASE("bind rules: present and absent", "[bus]") {
  const Properties nic = Nic();
  CHECK_FALSE(BindRule::Present("pci.driver").Mismatch(nic));
  CHECK(BindRule::Present("pci.iommu_group").Mismatch(nic) ==
        "pci.iommu_group present: no such property");
  CHECK_FALSE(BindRule::Absent("pci.iommu_group").Mismatch(nic));
  CHECK(BindRule::Absent("pci.driver").Mismatch(nic) == "pci.driver absent: it is \"e1000e\"");
}

TEST_CASE("bind rules: every rule must hold, and every failure is explained", "[bus]") {
  const Properties nic = Nic();
  const std::vector<BindRule> edu = {BindRule::Equal("pci.vendor", 0x1234),
                                     BindRule::Equal("pci.device", 0x11e8),
                                     BindRule::Equal("pci.class", 0x02)};
  auto evaluation = Evaluate(edu, nic);
  CHECK_FALSE(evaluation.matched);
  REQUIRE(evaluation.mismatches.size() == 2);
  CHECK(evaluation.Explain() ==
        "pci.vendor == 0x1234: it is 0x8086; pci.device == 0x11e8: it is 0x10d3");

  const std::vector<BindRule> e1000e = {BindRule::Equal("pci.vendor", 0x8086),
                                        BindRule::Accept("pci.device", {0x10d3}),
                                        BindRule::Present("pci.address")};
  auto matched = Evaluate(e1000e, nic);
  CHECK(matched.matched);
  CHECK(matched.mismatches.empty());
  CHECK(matched.Explain() == "matches");

  SECTION("one failing rule is enough") {
    std::vector<BindRule> rules = e1000e;
    rules.push_back(BindRule::Absent("pci.driver"));
    auto refused = Evaluate(rules, nic);
    CHECK_FALSE(refused.matched);
    CHECK(refused.Explain() == "pci.driver absent: it is \"e1000e\"");
  }
  SECTION("no rules match nothing") {
    auto none = Evaluate({}, nic);
    CHECK_FALSE(none.matched);
    CHECK(none.Explain() == "no bind rules");
  }
}

TEST_CASE("bind rules: format and validation", "[bus]") {
  const std::vector<BindRule> rules = {BindRule::Equal("pci.vendor", 0x1234),
                                       BindRule::Equal("pci.device", 0x11e8)};
  CHECK(FormatBindRules(rules) == "pci.vendor == 0x1234 && pci.device == 0x11e8");
  REQUIRE_OK(ValidateBindRules(rules));

  auto none = ValidateBindRules({});
  CHECK(StatusOf(none) == "INVALID_ARGS");
  CHECK_THAT(none.error().what, Catch::Contains("bind every device"));

  const std::vector<BindRule> empty_key = {BindRule::Present("")};
  auto keyless = ValidateBindRules(empty_key);
  CHECK(StatusOf(keyless) == "INVALID_ARGS");
  CHECK_THAT(keyless.error().what, Catch::Contains("empty key"));

  const std::vector<BindRule> empty_set = {BindRule::Accept("pci.device", std::initializer_list<uint32_t>{})};
  auto never = ValidateBindRules(empty_set);
  CHECK(StatusOf(never) == "INVALID_ARGS");
  CHECK_THAT(never.error().what, Catch::Contains("pci.device in {}") && Catch::Contains("never hold"));
}

TEST_CASE("bind rules: on a list any entry matches, and the earliest is recorded",
          "[bus][match]") {
  Properties uart;
  REQUIRE_OK(uart.SetList("fdt.compatible",
                          udrv::bus::StringList{"acme,uart2", "acme,uart", "ns16550a"}));
  REQUIRE_OK(uart.SetList("acpi.cid", udrv::bus::NumberList{0x501, 0x500}));

  CHECK_FALSE(BindRule::Equal("fdt.compatible", "ns16550a").Mismatch(uart));
  CHECK(BindRule::Equal("fdt.compatible", "ns16550a").MatchedEntry(uart) == 2u);
  // Accept: the earliest entry in the list, not the first value of the set.
  CHECK(BindRule::Accept("fdt.compatible", {"ns16550a", "acme,uart"}).MatchedEntry(uart) == 1u);
  CHECK(BindRule::Equal("acpi.cid", 0x500).MatchedEntry(uart) == 1u);
  // A number never equals a string entry.
  CHECK(BindRule::Equal("acpi.cid", "0x500").Mismatch(uart) ==
        "acpi.cid == \"0x500\": no entry of [0x501, 0x500]");
  CHECK(BindRule::Equal("fdt.compatible", "acme,spi").Mismatch(uart) ==
        "fdt.compatible == \"acme,spi\": no entry of [\"acme,uart2\", \"acme,uart\", \"ns16550a\"]");
  // Present and absent do not look at entries; single values have none.
  CHECK_FALSE(BindRule::Present("fdt.compatible").MatchedEntry(uart));
  CHECK_FALSE(BindRule::Equal("pci.vendor", 0x8086).MatchedEntry(Nic()));

  const auto evaluation = Evaluate(std::vector<BindRule>{BindRule::Equal("fdt.compatible", "ns16550a"),
                                                         BindRule::Equal("acpi.cid", 0x501)},
                                   uart);
  CHECK(evaluation.matched);
  CHECK(evaluation.entry == 2);  // how far down the lists it had to go
  CHECK(evaluation.Explain() ==
        "matches fdt.compatible == \"ns16550a\": entry 2 of [\"acme,uart2\", \"acme,uart\", "
        "\"ns16550a\"]; acpi.cid == 0x501: entry 0 of [0x501, 0x500]");
}
