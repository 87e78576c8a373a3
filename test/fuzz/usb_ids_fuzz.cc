// libFuzzer target: usb.ids text (usb_ids.h), as a user's or a recorded
// tree's file may hold it. Every name found must be a non-empty line
// part of the input without control bytes; anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "udrv/usb/usb_ids.h"

namespace {

void CheckName(std::optional<std::string_view> name, std::string_view text) {
  if (!name) return;
  if (name->empty() || text.find(*name) == std::string_view::npos) std::abort();
  for (const char c : *name) {
    if (static_cast<unsigned char>(c) < 0x20) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const udrv::usb::UsbIds ids = udrv::usb::UsbIds::Parse(text);
  // Codes the input's first bytes name, so the fuzzer can reach its entries.
  const uint16_t a = size >= 2 ? static_cast<uint16_t>(data[0] << 8 | data[1]) : 0;
  const uint16_t b = size >= 4 ? static_cast<uint16_t>(data[2] << 8 | data[3]) : 0;
  for (const uint16_t vendor : {a, uint16_t{0x1234}, uint16_t{0x1d6b}}) {
    CheckName(ids.Vendor(vendor), text);
    CheckName(ids.Product(vendor, b), text);
    CheckName(ids.Product(vendor, 0x0002), text);
  }
  const auto code = static_cast<uint8_t>(a >> 8);
  const auto subclass = static_cast<uint8_t>(a);
  const auto protocol = static_cast<uint8_t>(b);
  CheckName(ids.Class(code), text);
  CheckName(ids.Subclass(code, subclass), text);
  CheckName(ids.Protocol(code, subclass, protocol), text);
  CheckName(ids.Protocol(0x08, 0x06, 0x50), text);
  return 0;
}
