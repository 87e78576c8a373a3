#include "select.h"

#include <cstdio>
#include <string>
#include <vector>

#include "udrv/pci/pci_bus.h"

namespace udrv::busctl {

namespace {

// Splits at `separator`, keeping empty fields: "00:" is {"00", ""}.
std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      fields.push_back(text.substr(start));
      return fields;
    }
    fields.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// lspci's "field_defined": present, not empty, not "*".
bool Given(std::string_view field) { return !field.empty() && field != "*"; }

struct HexField {
  uint32_t value = 0;
  uint32_t mask = 0xffffffff;  // 0 nibbles where 'x' was written
};

// A hex field no greater than `max`; with `allow_x`, 'x' digits match
// anything (lspci's parse_hex_field, including its bound on the digits).
std::optional<HexField> ParseHexField(std::string_view text, uint32_t max, bool allow_x) {
  HexField field;
  uint64_t bound = 0;
  for (const char c : text) {
    if ((c == 'x' || c == 'X') && allow_x) {
      field.value <<= 4;
      field.mask <<= 4;
      bound = bound << 4 | 1;
    } else {
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
      field.value = field.value << 4 | digit;
      field.mask = field.mask << 4 | 0xf;
      bound = bound << 4 | digit;
    }
    if (bound > max) return std::nullopt;
  }
  return field;
}

// CLI11 puts the option's name in front: "-d: '8086': At least two fields ...".
std::unexpected<Error> BadSelector(std::string_view text, std::string_view why,
                                   std::string_view syntax) {
  return Fail(Status::INVALID_ARGS, "'" + std::string(text) + "': " + std::string(why) +
                                        " (expected " + std::string(syntax) + ")");
}

constexpr std::string_view kSlotSyntax = "[[[[domain]:]bus]:][device][.[function]] in hex";
constexpr std::string_view kIdSyntax = "[vendor]:[device][:class[:prog_if]] in hex";

template <typename Parse>
CLI::Validator ValidatorFor(Parse parse, std::string name) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        auto parsed = parse(text);
        return parsed ? std::string() : parsed.error().what;
      },
      std::move(name));
}

}  // namespace

Result<pci::Address> ParseDeviceArgument(std::string_view argument) {
  // A root-bus node id names the function by the last address of its path:
  // pci/0000:00:1c.0/0000:03:00.0.
  std::string_view text = argument;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    if (text.substr(0, slash) != pci::kBusName) {
      return Fail(Status::INVALID_ARGS, "device '" + std::string(argument) +
                                            "': busctl knows no bus '" +
                                            std::string(text.substr(0, slash)) + "' (buses: pci)");
    }
    text = text.substr(text.rfind('/') + 1);
  }
  auto bad = [&](std::string_view why) -> std::unexpected<Error> {
    return Fail(Status::INVALID_ARGS,
                "device '" + std::string(argument) + "': " + std::string(why) +
                    " (expected [[domain:]bus:]device.function in hex, as lspci -D prints it, "
                    "or the node id pci/DOMAIN:BUS:DEVICE.FUNCTION)");
  };
  const std::vector<std::string_view> fields = Split(text, ':');
  if (fields.size() > 3) return bad("too many ':'");
  const std::vector<std::string_view> slot = Split(fields.back(), '.');
  if (slot.size() != 2) {
    return bad(slot.size() == 1 ? "no '.function'" : "more than one '.'");
  }
  auto field = [&](std::string_view part, uint32_t max, std::string_view what,
                   uint32_t& out) -> Result<void> {
    auto parsed = part.empty() || part.size() > 8 ? std::nullopt : ParseHexField(part, max, false);
    if (!parsed) {
      char range[64];
      std::snprintf(range, sizeof(range), " must be hex 0..%x", max);
      return bad(std::string(what) + " '" + std::string(part) + "'" + range);
    }
    out = parsed->value;
    return {};
  };
  uint32_t domain = 0, bus = 0, device = 0, function = 0;
  if (fields.size() == 3) {
    if (auto r = field(fields[0], 0xffffffff, "domain", domain); !r) return std::unexpected(r.error());
  }
  if (fields.size() >= 2) {
    if (auto r = field(fields[fields.size() - 2], 0xff, "bus", bus); !r) {
      return std::unexpected(r.error());
    }
  }
  if (auto r = field(slot[0], 0x1f, "device", device); !r) return std::unexpected(r.error());
  if (auto r = field(slot[1], 7, "function", function); !r) return std::unexpected(r.error());
  return pci::Address{domain, static_cast<uint8_t>(bus), static_cast<uint8_t>(device),
                      static_cast<uint8_t>(function)};
}

CLI::Validator DeviceArgumentValidator() { return ValidatorFor(ParseDeviceArgument, "DEV"); }

Result<SlotSelector> SlotSelector::Parse(std::string_view text) {
  auto bad = [&](std::string_view why) { return BadSelector(text, why, kSlotSyntax); };
  const std::vector<std::string_view> fields = Split(text, ':');
  if (fields.size() > 3) return bad("Too many fields");
  SlotSelector selector;
  size_t i = 0;
  if (fields.size() == 3) {
    if (Given(fields[0])) {
      auto domain = ParseHexField(fields[0], 0x7fffffff, false);
      if (!domain) return bad("Invalid domain number");
      selector.domain = domain->value;
    }
    ++i;
  }
  if (i + 1 < fields.size()) {
    if (Given(fields[i])) {
      auto bus = ParseHexField(fields[i], 0xff, false);
      if (!bus) return bad("Invalid bus number");
      selector.bus = static_cast<uint8_t>(bus->value);
    }
    ++i;
  }
  if (Given(fields[i])) {
    const std::vector<std::string_view> slot = Split(fields[i], '.');
    if (slot.size() > 2) return bad("Invalid slot/function number");
    if (Given(slot[0])) {
      auto device = ParseHexField(slot[0], 0x1f, false);
      if (!device) return bad("Invalid slot number");
      selector.device = static_cast<uint8_t>(device->value);
    }
    if (slot.size() == 2 && Given(slot[1])) {
      auto function = ParseHexField(slot[1], 7, false);
      if (!function) return bad("Invalid function number");
      selector.function = static_cast<uint8_t>(function->value);
    }
  }
  return selector;
}

bool SlotSelector::Matches(const pci::Address& address) const {
  return (!domain || *domain == address.domain) && (!bus || *bus == address.bus) &&
         (!device || *device == address.device) && (!function || *function == address.function);
}

Result<IdSelector> IdSelector::Parse(std::string_view text) {
  auto bad = [&](std::string_view why) { return BadSelector(text, why, kIdSyntax); };
  const std::vector<std::string_view> fields = Split(text, ':');
  if (fields.size() > 4) return bad("Too many fields");
  if (fields.size() < 2) return bad("At least two fields must be given");
  IdSelector selector;
  if (Given(fields[0])) {
    auto vendor = ParseHexField(fields[0], 0xffff, false);
    if (!vendor) return bad("Invalid vendor ID");
    selector.vendor = static_cast<uint16_t>(vendor->value);
  }
  if (Given(fields[1])) {
    auto device = ParseHexField(fields[1], 0xffff, false);
    if (!device) return bad("Invalid device ID");
    selector.device = static_cast<uint16_t>(device->value);
  }
  if (fields.size() > 2 && Given(fields[2])) {
    auto class_code = ParseHexField(fields[2], 0xffff, true);
    if (!class_code) return bad("Invalid class code");
    selector.class_code = static_cast<uint16_t>(class_code->value);
    selector.class_mask = static_cast<uint16_t>(class_code->mask);
  }
  if (fields.size() > 3 && Given(fields[3])) {
    auto prog_if = ParseHexField(fields[3], 0xff, false);
    if (!prog_if) return bad("Invalid programming interface code");
    selector.prog_if = static_cast<uint8_t>(prog_if->value);
  }
  return selector;
}

bool IdSelector::Matches(const pci::DeviceInfo& info) const {
  const auto info_class = static_cast<uint16_t>(info.class_code >> 8);
  return (!vendor || *vendor == info.vendor_id) && (!device || *device == info.device_id) &&
         (!class_code || ((*class_code ^ info_class) & class_mask) == 0) &&
         (!prog_if || *prog_if == info.prog_if());
}

CLI::Validator SlotSelectorValidator() { return ValidatorFor(SlotSelector::Parse, "SLOT"); }
CLI::Validator IdSelectorValidator() { return ValidatorFor(IdSelector::Parse, "ID"); }

}  // namespace udrv::busctl
