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

std::optional<std::string> BindRule::Mismatch(const Properties& properties) const {
  const PropertyValue* value = properties.Find(key_);
  if (kind_ == Kind::ABSENT) {
    if (value == nullptr) return std::nullopt;
    return ToString() + ": it is " + FormatPropertyValue(*value);
  }
  if (value == nullptr) return ToString() + ": no such property";
  if (kind_ == Kind::PRESENT) return std::nullopt;
  // EQUAL and ACCEPT: variant equality compares the type too.
  if (std::find(values_.begin(), values_.end(), *value) != values_.end()) return std::nullopt;
  return ToString() + ": it is " + FormatPropertyValue(*value);
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
  if (matched) return "matches";
  std::string text;
  for (const std::string& mismatch : mismatches) text += (text.empty() ? "" : "; ") + mismatch;
  return text;
}

BindEvaluation Evaluate(std::span<const BindRule> rules, const Properties& properties) {
  BindEvaluation evaluation;
  for (const BindRule& rule : rules) {
    if (auto mismatch = rule.Mismatch(properties)) evaluation.mismatches.push_back(std::move(*mismatch));
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
