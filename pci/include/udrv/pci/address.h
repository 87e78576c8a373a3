// A PCI function's address, domain:bus:device.function, as lspci -D prints it.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "udrv/core/result.h"

namespace udrv::pci {

struct Address {
  uint32_t domain = 0;   // 0..0xffffffff (Linux allows 32-bit domains on VMD)
  uint8_t bus = 0;       // 0..0xff
  uint8_t device = 0;    // 0..0x1f
  uint8_t function = 0;  // 0..7

  // Accepts "DDDD:BB:DD.F" and "BB:DD.F" (domain 0), hex, as lspci and sysfs write them.
  static Result<Address> Parse(std::string_view text);
  std::string ToString() const;  // "0000:00:02.0"

  auto operator<=>(const Address&) const = default;
};

}  // namespace udrv::pci
