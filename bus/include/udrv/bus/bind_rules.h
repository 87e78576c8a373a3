// Declarative bind rules: which device nodes a driver binds to, as
// conditions on the node's properties (node.h). A driver's rules all must
// hold. Evaluation says, for each rule that failed, why: "pci.device ==
// 0x11e8: it is 0x10d3" — what `udrv-driver-manager --list` prints for a
// node that no driver took.
//
//   std::vector<BindRule> rules = {
//       BindRule::Equal("pci.vendor", 0x8086),
//       BindRule::Accept("pci.device", {0x10d3, 0x10f6}),
//       BindRule::Absent("pci.driver"),     // only functions no kernel driver holds
//   };
//
// A rule compares values with their types: a number never equals a string.
// On a list-valued property (a device tree `compatible` list) an EQUAL or
// ACCEPT rule holds when any entry matches, and it records which: the
// earliest entry, the most specific one (driver_match.h prefers drivers
// that match earlier entries, as Linux's of_match_device does).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/bus/node.h"
#include "udrv/core/result.h"

namespace udrv::bus {

class BindRule {
 public:
  enum class Kind : uint8_t {
    EQUAL,    // the property is present and equals the value
    ACCEPT,   // the property is present and equals one of the values
    PRESENT,  // the node has the property, whatever its value
    ABSENT,   // the node lacks the property
  };

  static BindRule Equal(std::string key, uint32_t value);
  static BindRule Equal(std::string key, std::string value);
  static BindRule Accept(std::string key, std::initializer_list<uint32_t> values);
  static BindRule Accept(std::string key, std::initializer_list<std::string_view> values);
  static BindRule Present(std::string key);
  static BindRule Absent(std::string key);

  Kind kind() const { return kind_; }
  const std::string& key() const { return key_; }
  // EQUAL: one value; ACCEPT: the accept set; PRESENT and ABSENT: none.
  const std::vector<PropertyValue>& values() const { return values_; }

  // "pci.vendor == 0x1234", "pci.device in {0x10d3, 0x10f6}",
  // "acpi.hid present", "pci.driver absent".
  std::string ToString() const;

  // Why `properties` fail the rule ("pci.device == 0x11e8: it is 0x10d3",
  // "acpi.hid present: no such property"), or nullopt when the rule holds.
  // On a list: "fdt.compatible == \"acme,uart\": no entry of [\"acme,uart2\", ...]".
  std::optional<std::string> Mismatch(const Properties& properties) const;

  // For an EQUAL or ACCEPT rule that holds on a list-valued property: the
  // position of the earliest entry it matched. nullopt otherwise (a single
  // value, PRESENT, ABSENT, or no match).
  std::optional<size_t> MatchedEntry(const Properties& properties) const;

 private:
  BindRule(Kind kind, std::string key, std::vector<PropertyValue> values);
  // The position of the first entry of `value` (PropertyEntries) that is one
  // of values_.
  std::optional<size_t> FirstMatchingEntry(const PropertyValue& value) const;

  Kind kind_;
  std::string key_;
  std::vector<PropertyValue> values_;
};

// INVALID_ARGS for rules that could not express a driver's intent: none at
// all (the driver would bind every device), a rule with an empty key, or an
// accept set with no values (it could never hold).
Result<void> ValidateBindRules(std::span<const BindRule> rules);

struct BindEvaluation {
  bool matched = false;
  // One line per rule that failed, in the rules' order (Mismatch's text).
  std::vector<std::string> mismatches;
  // How far down list-valued properties the rules had to go: the largest
  // position among the entries they matched (MatchedEntry); 0 when they
  // matched single values only. Lower is more specific.
  size_t entry = 0;
  // One line per rule that matched a list entry, saying which of the
  // entries tried: "fdt.compatible == \"ns16550a\": entry 1 of
  // [\"acme,uart2\", \"ns16550a\"]".
  std::vector<std::string> matched_entries;

  // "matches" (then the matched entries, if any), or the mismatches joined
  // with "; ".
  std::string Explain() const;
};

// Every rule is checked, not only up to the first that fails, so the
// explanation lists everything that keeps the node from matching.
BindEvaluation Evaluate(std::span<const BindRule> rules, const Properties& properties);

// "pci.vendor == 0x1234 && pci.device == 0x11e8".
std::string FormatBindRules(std::span<const BindRule> rules);

}  // namespace udrv::bus
