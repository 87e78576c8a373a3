#include "udrv/net/device.h"

#include <cstdio>

#include "udrv/core/text.h"

namespace udrv::net {

std::string MacAddress::ToString() const {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return text;
}

Result<MacAddress> MacAddress::Parse(std::string_view text) {
  auto refuse = [&] {
    return Fail(Status::INVALID_ARGS,
                "a MAC address is six ':'-separated hex bytes (52:54:00:12:34:56), not '" +
                    Printable(text) + "'");
  };
  if (text.size() != 17) return refuse();
  MacAddress mac;
  for (size_t i = 0; i < 6; ++i) {
    uint8_t value = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = text[i * 3 + j];
      uint8_t digit = 0;
      if (c >= '0' && c <= '9') digit = static_cast<uint8_t>(c - '0');
      else if (c >= 'a' && c <= 'f') digit = static_cast<uint8_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') digit = static_cast<uint8_t>(c - 'A' + 10);
      else return refuse();
      value = static_cast<uint8_t>(value * 16 + digit);
    }
    if (i < 5 && text[i * 3 + 2] != ':') return refuse();
    mac.bytes[i] = value;
  }
  return mac;
}

std::string_view ChecksumStatusName(ChecksumStatus status) {
  switch (status) {
    case ChecksumStatus::NOT_CHECKED: return "not-checked";
    case ChecksumStatus::GOOD: return "good";
    case ChecksumStatus::BAD: return "bad";
  }
  return "unknown";
}

}  // namespace udrv::net
