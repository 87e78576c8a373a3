#include "udrv/bus/node.h"

#include <charconv>

#include "udrv/core/result.h"
#include "udrv/core/text.h"

namespace udrv::bus {

namespace {

constexpr std::string_view kNodeFormat = "udrv.node/1";

// A key is one space-separated word of its line: spaces in it are escaped
// too (\s); a value runs to the end of its line and keeps them.
std::string Escape(std::string_view text, bool is_key = false) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == ' ' && is_key) {
      out += "\\s";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    if (text[i] == '\\') {
      out += '\\';
    } else if (text[i] == 'n') {
      out += '\n';
    } else if (text[i] == 's') {
      out += ' ';
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// Splits off the first space-separated word of `line`.
std::string_view NextWord(std::string_view& line) {
  const size_t space = line.find(' ');
  std::string_view word = line.substr(0, space);
  line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  return word;
}

}  // namespace

std::string SerializeNode(const DeviceNode& node) {
  std::string text = std::string(kNodeFormat) + "\n";
  text += "bus " + Escape(node.bus) + "\n";
  text += "id " + Escape(node.id) + "\n";
  text += "parent " + Escape(node.parent) + "\n";
  for (const auto& [key, value] : node.properties.entries()) {
    if (const uint32_t* number = std::get_if<uint32_t>(&value)) {
      text += "property " + Escape(key, true) + " number " + Hex(*number) + "\n";
    } else {
      text += "property " + Escape(key, true) + " string " + Escape(std::get<std::string>(value)) + "\n";
    }
  }
  return text;
}

Result<DeviceNode> ParseNode(std::string_view text) {
  DeviceNode node;
  size_t line_number = 0;
  bool seen_format = false;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) {
      return Fail(Status::IO_INVALID, "node text: line " + std::to_string(line_number + 1) +
                                          " does not end with a newline");
    }
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    ++line_number;
    auto bad = [&](std::string why) {
      return Fail(Status::IO_INVALID, "node text, line " + std::to_string(line_number) + ": " + why);
    };
    if (!seen_format) {
      if (line != kNodeFormat) return bad("expected '" + std::string(kNodeFormat) + "'");
      seen_format = true;
      continue;
    }
    const std::string_view keyword = NextWord(line);
    if (keyword == "bus" || keyword == "id" || keyword == "parent") {
      auto value = Unescape(line);
      if (!value) return bad("a bad escape in the value");
      (keyword == "bus" ? node.bus : keyword == "id" ? node.id : node.parent) = std::move(*value);
      continue;
    }
    if (keyword != "property") return bad("unknown keyword '" + std::string(keyword) + "'");
    auto key = Unescape(NextWord(line));
    if (!key || key->empty()) return bad("a property without a valid key");
    const std::string_view type = NextWord(line);
    if (type == "string") {
      auto value = Unescape(line);
      if (!value) return bad("a bad escape in the value");
      node.properties.Set(std::move(*key), std::move(*value));
    } else if (type == "number") {
      uint32_t number = 0;
      if (!line.starts_with("0x")) return bad("a number without 0x");
      const char* first = line.data() + 2;
      const char* last = line.data() + line.size();
      auto [ptr, ec] = std::from_chars(first, last, number, 16);
      if (ec != std::errc() || ptr != last || first == last) return bad("not a 32-bit hex number");
      node.properties.Set(std::move(*key), number);
    } else {
      return bad("unknown property type '" + std::string(type) + "'");
    }
  }
  if (!seen_format) return Fail(Status::IO_INVALID, "node text: empty");
  if (node.bus.empty() || node.id.empty()) {
    return Fail(Status::IO_INVALID, "node text: no bus or id line");
  }
  return node;
}

std::string FormatPropertyValue(const PropertyValue& value) {
  if (const uint32_t* number = std::get_if<uint32_t>(&value)) return Hex(*number);
  return "\"" + Printable(std::get<std::string>(value)) + "\"";
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
