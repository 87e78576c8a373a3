// libFuzzer target: sysfs attribute values as udrv parses them
// (udrv/sysfs/parse.h), the text a tree someone else wrote may hold. The
// first byte picks the limits, the rest is the attribute's text; each parse
// must either refuse it or return a value within the limits asked for.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "udrv/sysfs/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const uint64_t max_hex = selector & 1 ? UINT64_MAX : 0xffff;
  const int64_t min = selector & 2 ? -1 : 0;
  const int64_t max = selector & 4 ? INT64_MAX : UINT32_MAX;

  if (auto hex = udrv::sysfs::ParseHex(text, max_hex); hex && *hex > max_hex) std::abort();
  if (auto prefixed = udrv::sysfs::ParsePrefixedHex(text); prefixed && !text.starts_with("0x")) {
    std::abort();
  }
  if (auto decimal = udrv::sysfs::ParseDecimal(text, min, max);
      decimal && (*decimal < min || *decimal > max)) {
    std::abort();
  }
  return 0;
}
