#include "udrv/bus/node.h"

#include "udrv/core/result.h"

namespace udrv::bus {

std::string FormatPropertyValue(const PropertyValue& value) {
  if (const uint32_t* number = std::get_if<uint32_t>(&value)) return Hex(*number);
  return "\"" + std::get<std::string>(value) + "\"";
}

void Properties::Set(std::string key, uint32_t value) { SetValue(std::move(key), value); }

void Properties::Set(std::string key, std::string value) {
  SetValue(std::move(key), std::move(value));
}

void Properties::SetValue(std::string key, PropertyValue value) {
  for (auto& [existing, old] : entries_) {
    if (existing == key) {
      old = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

const PropertyValue* Properties::Find(std::string_view key) const {
  for (const auto& [existing, value] : entries_) {
    if (existing == key) return &value;
  }
  return nullptr;
}

std::optional<uint32_t> Properties::FindNumber(std::string_view key) const {
  const PropertyValue* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (const uint32_t* number = std::get_if<uint32_t>(value)) return *number;
  return std::nullopt;
}

std::optional<std::string> Properties::FindString(std::string_view key) const {
  const PropertyValue* value = Find(key);
  if (value == nullptr) return std::nullopt;
  if (const std::string* text = std::get_if<std::string>(value)) return *text;
  return std::nullopt;
}

}  // namespace udrv::bus
