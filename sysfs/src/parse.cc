#include "udrv/sysfs/parse.h"

#include <charconv>

namespace udrv::sysfs {
namespace {

template <typename T>
std::optional<T> ParseWhole(std::string_view text, int base) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<uint64_t> ParseHex(std::string_view text, uint64_t max) {
  if (text.starts_with("0x")) text.remove_prefix(2);
  const std::optional<uint64_t> value = ParseWhole<uint64_t>(text, 16);
  if (!value || *value > max) return std::nullopt;
  return value;
}

std::optional<uint64_t> ParsePrefixedHex(std::string_view text) {
  if (!text.starts_with("0x")) return std::nullopt;
  return ParseWhole<uint64_t>(text.substr(2), 16);
}

std::optional<int64_t> ParseDecimal(std::string_view text, int64_t min, int64_t max) {
  const std::optional<int64_t> value = ParseWhole<int64_t>(text, 10);
  if (!value || *value < min || *value > max) return std::nullopt;
  return value;
}

}  // namespace udrv::sysfs
