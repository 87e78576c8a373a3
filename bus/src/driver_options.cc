// Driver options: declarations checked, values parsed by their type.
#include <algorithm>
#include <charconv>
#include <iterator>

#include "udrv/bus/driver.h"

namespace udrv::bus {

namespace {

std::optional<uint64_t> ParseNumber(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x")) {
    text.remove_prefix(2);
    base = 16;
  }
  uint64_t number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number, base);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return number;
}

std::optional<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    int64_t nanoseconds;
  };
  // Longest suffixes first: "ms" before "s".
  constexpr Unit kUnits[] = {{"min", 60'000'000'000}, {"ns", 1}, {"us", 1'000}, {"ms", 1'000'000},
                             {"s", 1'000'000'000}};
  for (const Unit& unit : kUnits) {
    if (!text.ends_with(unit.suffix)) continue;
    auto count = ParseNumber(text.substr(0, text.size() - unit.suffix.size()));
    if (!count || text.starts_with("0x")) return std::nullopt;
    if (*count > static_cast<uint64_t>(INT64_MAX / unit.nanoseconds)) return std::nullopt;
    return std::chrono::nanoseconds(static_cast<int64_t>(*count) * unit.nanoseconds);
  }
  return std::nullopt;
}

// Each type's name and the form its values take, indexed by the type.
struct TypeText {
  std::string_view name;
  std::string_view form;
};
constexpr TypeText kTypeTexts[] = {
    {"bool", "true or false"},
    {"number", "an unsigned 64-bit number, decimal or 0x hex"},
    {"duration", "a whole number and ns, us, ms, s or min, as 2s or 500ms"},
    {"string", "any text"},
};

static_assert(std::size(kTypeTexts) == static_cast<size_t>(DriverOption::Type::STRING) + 1);

const TypeText& TextOf(DriverOption::Type type) { return kTypeTexts[static_cast<size_t>(type)]; }

bool ValidName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

std::string_view OptionTypeName(DriverOption::Type type) { return TextOf(type).name; }

std::string DescribeDriverOption(const DriverOption& option) {
  return option.name + " (" + std::string(OptionTypeName(option.type)) + ", default " +
         (option.default_value.empty() ? "empty" : option.default_value) + "): " + option.help;
}

Result<DriverOptionValues> DriverOptionValues::Defaults(std::string driver,
                                                        std::span<const DriverOption> options) {
  DriverOptionValues values;
  values.driver_ = std::move(driver);
  for (const DriverOption& option : options) {
    const std::string object = "driver '" + values.driver_ + "' option '" + option.name + "'";
    if (!ValidName(option.name)) {
      return Fail(Status::INVALID_ARGS, "declared: a name must be of a-z, 0-9 and '-'", object);
    }
    if (values.Find(option.name) != nullptr) {
      return Fail(Status::INVALID_ARGS, "declared twice", object);
    }
    values.entries_.push_back(Entry{option, false, {}});
    if (auto set = values.Set(option.name, option.default_value); !set) {
      return Fail(Status::INVALID_ARGS, "declared with a bad default: " + set.error().what, object);
    }
  }
  return values;
}

const DriverOptionValues::Entry* DriverOptionValues::Find(std::string_view name) const {
  for (const Entry& entry : entries_) {
    if (entry.option.name == name) return &entry;
  }
  return nullptr;
}

Result<void> DriverOptionValues::Set(std::string_view name, std::string_view text) {
  const std::string object = "driver '" + driver_ + "' option '" + std::string(name) + "'";
  auto entry = std::find_if(entries_.begin(), entries_.end(),
                            [&](const Entry& candidate) { return candidate.option.name == name; });
  if (entry == entries_.end()) {
    std::string names;
    for (const Entry& known : entries_) names += (names.empty() ? "" : ", ") + known.option.name;
    return Fail(Status::INVALID_ARGS,
                "no such option (" + driver_ + " has " + (names.empty() ? "none" : names) + ")",
                object);
  }
  std::optional<Value> value;
  switch (entry->option.type) {
    case DriverOption::Type::BOOL:
      if (text == "true" || text == "false") value = (text == "true");
      break;
    case DriverOption::Type::NUMBER:
      if (auto number = ParseNumber(text)) value = *number;
      break;
    case DriverOption::Type::DURATION:
      if (auto duration = ParseDuration(text)) value = *duration;
      break;
    case DriverOption::Type::STRING:
      value = std::string(text);
      break;
  }
  if (!value) {
    return Fail(Status::INVALID_ARGS,
                "'" + std::string(text) + "' is no " +
                    std::string(OptionTypeName(entry->option.type)) + " (" +
                    std::string(TextOf(entry->option.type).form) + ")",
                object);
  }
  entry->value = std::move(*value);
  entry->text = std::string(text);
  return {};
}

template <typename T>
Result<T> DriverOptionValues::Get(std::string_view name, DriverOption::Type type) const {
  const std::string object = "driver '" + driver_ + "' option '" + std::string(name) + "'";
  const Entry* entry = Find(name);
  if (entry == nullptr) return Fail(Status::NOT_FOUND, "the driver declared no such option", object);
  if (entry->option.type != type) {
    return Fail(Status::WRONG_TYPE,
                "it is a " + std::string(OptionTypeName(entry->option.type)) + ", not a " +
                    std::string(OptionTypeName(type)),
                object);
  }
  return std::get<T>(entry->value);
}

Result<bool> DriverOptionValues::GetBool(std::string_view name) const {
  return Get<bool>(name, DriverOption::Type::BOOL);
}

Result<uint64_t> DriverOptionValues::GetNumber(std::string_view name) const {
  return Get<uint64_t>(name, DriverOption::Type::NUMBER);
}

Result<Duration> DriverOptionValues::GetDuration(std::string_view name) const {
  UDRV_TRY_ASSIGN(const auto duration, Get<std::chrono::nanoseconds>(name, DriverOption::Type::DURATION));
  return duration.count();
}

Result<std::string> DriverOptionValues::GetString(std::string_view name) const {
  return Get<std::string>(name, DriverOption::Type::STRING);
}

std::string DriverOptionValues::ToString() const {
  std::string text;
  for (const Entry& entry : entries_) {
    text += (text.empty() ? "" : " ") + entry.option.name + "=" + entry.text;
  }
  return text;
}

Result<DriverOptionSettings> ParseDriverOptions(std::span<const Driver> drivers,
                                                std::span<const std::string> assignments) {
  DriverOptionSettings settings;
  for (const Driver& driver : drivers) {
    UDRV_TRY_ASSIGN(auto values, DriverOptionValues::Defaults(driver.name, driver.options));
    settings.insert_or_assign(driver.name, std::move(values));
  }
  for (const std::string& assignment : assignments) {
    const std::string object = "driver option '" + assignment + "'";
    const size_t dot = assignment.find('.');
    const size_t equals = assignment.find('=');
    if (dot == std::string::npos || dot == 0 || (equals != std::string::npos && equals < dot)) {
      return Fail(Status::INVALID_ARGS, "expected DRIVER.OPTION=VALUE", object);
    }
    const std::string driver = assignment.substr(0, dot);
    auto values = settings.find(driver);
    if (values == settings.end()) {
      std::string names;
      for (const Driver& known : drivers) names += (names.empty() ? "" : ", ") + known.name;
      return Fail(Status::INVALID_ARGS,
                  "no driver '" + driver + "' (the drivers are: " + (names.empty() ? "none" : names) +
                      ")",
                  object);
    }
    const std::string name = assignment.substr(dot + 1, equals == std::string::npos
                                                            ? std::string::npos
                                                            : equals - dot - 1);
    std::string text;
    if (equals != std::string::npos) {
      text = assignment.substr(equals + 1);
    } else {
      // "edu.dma-until-stopped" alone: a bool switched on; anything else needs a value.
      auto is_bool = values->second.GetBool(name);
      if (!is_bool && is_bool.error().status == Status::WRONG_TYPE) {
        return Fail(Status::INVALID_ARGS, "expected DRIVER.OPTION=VALUE: this option is no bool",
                    object);
      }
      text = "true";
    }
    if (auto set = values->second.Set(name, text); !set) {
      return Fail(Status::INVALID_ARGS, set.error().object + ": " + set.error().what, object);
    }
  }
  return settings;
}

}  // namespace udrv::bus
