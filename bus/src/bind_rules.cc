#include "udrv/bus/bind_rules.h"

#include <algorithm>
#include <utility>

namespace udrv::bus {

BindRule::BindRule(Kind kind, std::string key, std::vector<PropertyValue> values)
    : kind_(kind), key_(std::move(key)), values_(std::move(values)) {}

BindRule BindRule::Equal(std::string key, uint32_t value) {
  return BindRule(Kind::EQUAL, std::move(key), {PropertyValue(value)});
}

BindRule BindRule::Equal(std::string key, std::string value) {
  return BindRule(Kind::EQUAL, std::move(key), {PropertyValue(std::move(value))});
}

BindRule BindRule::Accept(std::string key, std::initializer_list<uint32_t> values) {
  std::vector<PropertyValue> set(values.begin(), values.end());
  return BindRule(Kind::ACCEPT, std::move(key), std::move(set));
}

BindRule BindRule::Accept(std::string key, std::initializer_list<std::string_view> values) {
  std::vector<PropertyValue> set;
  for (std::string_view value : values) set.emplace_back(std::string(value));
  return BindRule(Kind::ACCEPT, std::move(key), std::move(set));
}

BindRule BindRule::Present(std::string key) { return BindRule(Kind::PRESENT, std::move(key), {}); }

BindRule BindRule::Absent(std::string key) { return BindRule(Kind::ABSENT, std::move(key), {}); }

std::string BindRule::ToString() const {
  switch (kind_) {
    case Kind::EQUAL:
      return key_ + " == " + FormatPropertyValue(values_.at(0));
    case Kind::ACCEPT: {
      std::string set;
      for (const PropertyValue& value : values_) {
        set += (set.empty() ? "" : ", ") + FormatPropertyValue(value);
      }
      return key_ + " in {" + set + "}";
    }
    case Kind::PRESENT:
      return key_ + " present";
    case Kind::ABSENT:
      return key_ + " absent";
  }
  return key_ + " (unknown rule)";
}

std::optional<size_t> BindRule::FirstMatchingEntry(const PropertyValue& value) const {
  const std::vector<PropertyValue> entries = PropertyEntries(value);
  for (size_t i = 0; i < entries.size(); ++i) {
    // Variant equality compares the type too.
    if (std::find(values_.begin(), values_.end(), entries[i]) != values_.end()) return i;
  }
  return std::nullopt;
}

std::optional<std::string> BindRule::Mismatch(const Properties& properties) const {
  const PropertyValue* value = properties.Find(key_);
  if (kind_ == Kind::ABSENT) {
    if (value == nullptr) return std::nullopt;
    return ToString() + ": it is " + FormatPropertyValue(*value);
  }
  if (value == nullptr) return ToString() + ": no such property";
  if (kind_ == Kind::PRESENT) return std::nullopt;
  if (FirstMatchingEntry(*value)) return std::nullopt;
  if (IsList(*value)) return ToString() + ": no entry of " + FormatPropertyValue(*value);
  return ToString() + ": it is " + FormatPropertyValue(*value);
}

std::optional<size_t> BindRule::MatchedEntry(const Properties& properties) const {
  if (kind_ != Kind::EQUAL && kind_ != Kind::ACCEPT) return std::nullopt;
  const PropertyValue* value = properties.Find(key_);
  if (value == nullptr || !IsList(*value)) return std::nullopt;
  return FirstMatchingEntry(*value);
}

Result<void> ValidateBindRules(std::span<const BindRule> rules) {
  if (rules.empty()) {
    return Fail(Status::INVALID_ARGS, "no bind rules: the driver would bind every device");
  }
  for (const BindRule& rule : rules) {
    if (rule.key().empty()) {
      return Fail(Status::INVALID_ARGS, "bind rule '" + rule.ToString() + "' has an empty key");
    }
    if (rule.kind() == BindRule::Kind::ACCEPT && rule.values().empty()) {
      return Fail(Status::INVALID_ARGS,
                  "bind rule '" + rule.ToString() + "' accepts no value: it could never hold");
    }
  }
  return {};
}

std::string BindEvaluation::Explain() const {
  std::string text;
  for (const std::string& line : matched ? matched_entries : mismatches) {
    text += (text.empty() ? "" : "; ") + line;
  }
  if (matched) return text.empty() ? "matches" : "matches " + text;
  return text;
}

BindEvaluation Evaluate(std::span<const BindRule> rules, const Properties& properties) {
  BindEvaluation evaluation;
  for (const BindRule& rule : rules) {
    if (auto mismatch = rule.Mismatch(properties)) {
      evaluation.mismatches.push_back(std::move(*mismatch));
    } else if (auto entry = rule.MatchedEntry(properties)) {
      evaluation.entry = std::max(evaluation.entry, *entry);
      evaluation.matched_entries.push_back(rule.ToString() + ": entry " + std::to_string(*entry) +
                                           " of " + FormatPropertyValue(*properties.Find(rule.key())));
    }
  }
  // No rules match nothing: ValidateBindRules keeps such drivers out.
  evaluation.matched = !rules.empty() && evaluation.mismatches.empty();
  if (rules.empty()) evaluation.mismatches.push_back("no bind rules");
  return evaluation;
}

std::string FormatBindRules(std::span<const BindRule> rules) {
  std::string text;
  for (const BindRule& rule : rules) text += (text.empty() ? "" : " && ") + rule.ToString();
  return text;
}

}  // namespace udrv::bus
