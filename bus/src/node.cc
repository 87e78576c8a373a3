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

// "0x1f" (any case, leading zeros) as a 32-bit number.
std::optional<uint32_t> ParseHex32(std::string_view text) {
  if (!text.starts_with("0x")) return std::nullopt;
  uint32_t number = 0;
  const char* first = text.data() + 2;
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, number, 16);
  if (ec != std::errc() || ptr != last || first == last) return std::nullopt;
  return number;
}

// The COUNT of "numbers COUNT ..." / "strings COUNT ...": decimal, at most
// kMaxListEntries.
std::optional<size_t> ParseListCount(std::string_view text) {
  size_t count = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), count, 10);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  if (count > kMaxListEntries) return std::nullopt;
  return count;
}

size_t StringBytes(const StringList& strings) {
  size_t bytes = 0;
  for (const std::string& entry : strings) bytes += entry.size();
  return bytes;
}

}  // namespace

std::string SerializeNode(const DeviceNode& node) {
  std::string text = std::string(kNodeFormat) + "\n";
  text += "bus " + Escape(node.bus) + "\n";
  text += "id " + Escape(node.id) + "\n";
  text += "parent " + Escape(node.parent) + "\n";
  for (const auto& [key, value] : node.properties.entries()) {
    text += "property " + Escape(key, true);
    if (const uint32_t* number = std::get_if<uint32_t>(&value)) {
      text += " number " + Hex(*number);
    } else if (const std::string* string = std::get_if<std::string>(&value)) {
      text += " string " + Escape(*string);
    } else if (const NumberList* numbers = std::get_if<NumberList>(&value)) {
      text += " numbers " + std::to_string(numbers->size());
      for (uint32_t entry : *numbers) text += " " + Hex(entry);
    } else {
      const StringList& strings = std::get<StringList>(value);
      text += " strings " + std::to_string(strings.size());
      for (const std::string& entry : strings) text += " " + Escape(entry, true);
    }
    text += "\n";
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
      if (!line.starts_with("0x")) return bad("a number without 0x");
      auto number = ParseHex32(line);
      if (!number) return bad("not a 32-bit hex number");
      node.properties.Set(std::move(*key), *number);
    } else if (type == "numbers" || type == "strings") {
      auto count = ParseListCount(NextWord(line));
      if (!count) {
        return bad("a list without a count of 0 to " + std::to_string(kMaxListEntries) + " entries");
      }
      // Each entry is one space-separated word; a list of none has no words.
      std::vector<std::string_view> words;
      while (!line.empty() || words.size() < *count) {
        if (words.size() == *count) return bad("more entries than the count, " + std::to_string(*count));
        words.push_back(NextWord(line));
      }
      Result<void> set;
      if (type == "numbers") {
        NumberList numbers;
        for (std::string_view word : words) {
          auto number = ParseHex32(word);
          if (!number) return bad("list entry " + std::to_string(numbers.size()) + ": not a 32-bit hex number");
          numbers.push_back(*number);
        }
        set = node.properties.SetList(std::move(*key), std::move(numbers));
      } else {
        StringList strings;
        for (std::string_view word : words) {
          auto entry = Unescape(word);
          if (!entry) return bad("list entry " + std::to_string(strings.size()) + ": a bad escape");
          strings.push_back(std::move(*entry));
        }
        set = node.properties.SetList(std::move(*key), std::move(strings));
      }
      if (!set) return bad(set.error().object + ": " + set.error().what);
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
  if (const std::string* string = std::get_if<std::string>(&value)) {
    return "\"" + Printable(*string) + "\"";
  }
  std::string text;
  for (const PropertyValue& entry : PropertyEntries(value)) {
    text += (text.empty() ? "" : ", ") + FormatPropertyValue(entry);
  }
  return "[" + text + "]";
}

bool IsList(const PropertyValue& value) {
  return std::holds_alternative<NumberList>(value) || std::holds_alternative<StringList>(value);
}

std::vector<PropertyValue> PropertyEntries(const PropertyValue& value) {
  if (const NumberList* numbers = std::get_if<NumberList>(&value)) {
    return {numbers->begin(), numbers->end()};
  }
  if (const StringList* strings = std::get_if<StringList>(&value)) {
    return {strings->begin(), strings->end()};
  }
  return {value};
}

void Properties::Set(std::string key, uint32_t value) { SetValue(std::move(key), value); }

void Properties::Set(std::string key, std::string value) {
  SetValue(std::move(key), std::move(value));
}

Result<void> Properties::SetList(std::string key, NumberList values) {
  if (values.size() > kMaxListEntries) {
    return Fail(Status::OUT_OF_RANGE,
                "a list of " + std::to_string(values.size()) + " entries (at most " +
                    std::to_string(kMaxListEntries) + ")",
                "property " + key);
  }
  SetValue(std::move(key), std::move(values));
  return {};
}

Result<void> Properties::SetList(std::string key, StringList values) {
  if (values.size() > kMaxListEntries || StringBytes(values) > kMaxListStringBytes) {
    return Fail(Status::OUT_OF_RANGE,
                "a list of " + std::to_string(values.size()) + " strings of " +
                    std::to_string(StringBytes(values)) + " bytes (at most " +
                    std::to_string(kMaxListEntries) + " entries and " +
                    std::to_string(kMaxListStringBytes) + " bytes)",
                "property " + key);
  }
  SetValue(std::move(key), std::move(values));
  return {};
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
