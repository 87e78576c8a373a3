// Parsing attribute values as the kernel prints them. Each takes the whole
// text (ReadAttribute already dropped the newline): "0x8086" with trailing
// bytes, an empty text or a value past `max` is no number.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace udrv::sysfs {

// Hexadecimal, "0x" in front optional ("0x8086", "8086"); nullopt past `max`.
std::optional<uint64_t> ParseHex(std::string_view text, uint64_t max = UINT64_MAX);
// Hexadecimal with its "0x" required, as `resource` lines print them.
std::optional<uint64_t> ParsePrefixedHex(std::string_view text);
// Decimal, a '-' allowed in front ("-1" for numa_node); nullopt outside
// [min, max].
std::optional<int64_t> ParseDecimal(std::string_view text, int64_t min = INT64_MIN,
                                    int64_t max = INT64_MAX);

}  // namespace udrv::sysfs
