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
  std::optional<std::string> Mismatch(const Properties& properties) const;

 private:
  BindRule(Kind kind, std::string key, std::vector<PropertyValue> values);

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

  // "matches", or the mismatches joined with "; ".
  std::string Explain() const;
};

// Every rule is checked, not only up to the first that fails, so the
// explanation lists everything that keeps the node from matching.
BindEvaluation Evaluate(std::span<const BindRule> rules, const Properties& properties);

// "pci.vendor == 0x1234 && pci.device == 0x11e8".
std::string FormatBindRules(std::span<const BindRule> rules);

}  // namespace udrv::bus
