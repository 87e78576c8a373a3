// Naming PCI functions on busctl's command line: one function (DEV) for the
// commands that work on one, and lspci's selectors (-s, -d) for those that
// work on many. The syntax and wildcards are lspci's (pciutils lib/filter.c),
// so what selects a function in `lspci -s/-d` selects it in busctl.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "udrv/core/result.h"
#include "udrv/pci/address.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

// DEV: [[domain:]bus:]device.function in hex, as lspci writes one function
// ("0000:00:1f.2", "00:1f.2", "1f.2"; domain and bus default to 0), or a
// root-bus node id ("pci/0000:00:1f.2", "pci/0000:00:1c.0/0000:03:00.0").
// INVALID_ARGS saying which part is wrong; no wildcards (that is -s).
Result<pci::Address> ParseDeviceArgument(std::string_view text);

// A CLI11 check for DEV arguments: ParseDeviceArgument's message, exit 2.
CLI::Validator DeviceArgumentValidator();

// -s [[[[domain]:]bus]:][device][.[function]]: fields left out, empty or "*"
// match anything.
struct SlotSelector {
  std::optional<uint32_t> domain;
  std::optional<uint8_t> bus;
  std::optional<uint8_t> device;
  std::optional<uint8_t> function;

  // INVALID_ARGS with lspci's reason ("Invalid bus number").
  static Result<SlotSelector> Parse(std::string_view text);
  bool Matches(const pci::Address& address) const;
};

// -d [vendor]:[device][:class[:prog_if]]: empty or "*" fields match
// anything; an 'x' digit of the class matches any digit.
struct IdSelector {
  std::optional<uint16_t> vendor;
  std::optional<uint16_t> device;
  std::optional<uint16_t> class_code;  // base class << 8 | subclass
  uint16_t class_mask = 0xffff;        // the digits given (not 'x')
  std::optional<uint8_t> prog_if;

  static Result<IdSelector> Parse(std::string_view text);
  bool Matches(const pci::DeviceInfo& info) const;
};

// Both selectors of a command line; a function must match both.
struct Selection {
  SlotSelector slot;
  IdSelector id;

  bool Matches(const pci::DeviceInfo& info) const {
    return slot.Matches(info.address) && id.Matches(info);
  }
};

// CLI11 checks for -s and -d (exit 2 with the parse error).
CLI::Validator SlotSelectorValidator();
CLI::Validator IdSelectorValidator();

}  // namespace udrv::busctl
