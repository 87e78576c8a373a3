#include "udrv/pci/address.h"

#include <charconv>
#include <cstdio>

namespace udrv::pci {
namespace {

// Parses exactly `text` as hex no greater than `max`.
bool ParseHex(std::string_view text, uint32_t max, uint32_t& out) {
  if (text.empty() || text.size() > 8) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && end == text.data() + text.size() && out <= max;
}

}  // namespace

Result<Address> Address::Parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Fail(Status::INVALID_ARGS,
                "PCI address '" + std::string(text) + "': " + std::string(why) +
                    " (expected [DDDD:]BB:DD.F in hex)");
  };
  std::string_view rest = text;
  uint32_t domain = 0;
  const size_t first_colon = rest.find(':');
  if (first_colon == std::string_view::npos) return bad("no ':'");
  if (rest.find(':', first_colon + 1) != std::string_view::npos) {
    if (!ParseHex(rest.substr(0, first_colon), 0xffffffff, domain)) return bad("bad domain");
    rest.remove_prefix(first_colon + 1);
  }
  const size_t colon = rest.find(':');
  const size_t dot = rest.find('.');
  if (colon == std::string_view::npos || dot == std::string_view::npos || dot < colon) {
    return bad("missing bus:device.function");
  }
  uint32_t bus = 0, device = 0, function = 0;
  if (!ParseHex(rest.substr(0, colon), 0xff, bus)) return bad("bus must be 00..ff");
  if (!ParseHex(rest.substr(colon + 1, dot - colon - 1), 0x1f, device)) return bad("device must be 00..1f");
  if (!ParseHex(rest.substr(dot + 1), 7, function)) return bad("function must be 0..7");
  return Address{domain, static_cast<uint8_t>(bus), static_cast<uint8_t>(device),
                 static_cast<uint8_t>(function)};
}

std::string Address::ToString() const {
  char text[32];
  std::snprintf(text, sizeof(text), "%04x:%02x:%02x.%x", domain, bus, device, function);
  return text;
}

}  // namespace udrv::pci
