#include "udrv/mmio/hwreg.h"

#include <cinttypes>
#include <cstdio>

namespace udrv::hwreg {

namespace {

uint64_t Ones(unsigned width) { return width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1; }

// "mode[7:4]" or "enable[0]".
std::string FieldLabel(std::string_view name, unsigned hi, unsigned lo) {
  std::string label(name);
  label += '[' + std::to_string(hi);
  if (hi != lo) label += ':' + std::to_string(lo);
  label += ']';
  return label;
}

// Hex with as many digits as `bits` needs, so a field's printed width shows
// its size: a 4-bit field as 0x3, a 22-bit one as 0x000000.
std::string Hex(uint64_t value, unsigned bits) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%0*" PRIx64, static_cast<int>((bits + 3) / 4), value);
  return text;
}

}  // namespace

namespace internal {

std::vector<std::string> FormatFields(std::span<const FieldInfo> fields, uint64_t value,
                                      uint64_t fields_mask, unsigned register_bits) {
  std::vector<std::string> lines;
  lines.reserve(fields.size() + 1);
  for (const FieldInfo& field : fields) {
    const unsigned width = field.hi - field.lo + 1u;
    const uint64_t field_value = (value >> field.lo) & Ones(width);
    lines.push_back(FieldLabel(field.name, field.hi, field.lo) + ": " + Hex(field_value, width) +
                    " (" + std::to_string(field_value) + ")");
  }
  const uint64_t unknown = value & ~fields_mask & Ones(register_bits);
  if (unknown != 0) lines.push_back("unknown set bits: " + Hex(unknown, register_bits));
  return lines;
}

std::vector<FieldChange> DiffFields(std::span<const FieldInfo> fields, uint64_t before,
                                    uint64_t after, uint64_t fields_mask, unsigned register_bits) {
  std::vector<FieldChange> changes;
  for (const FieldInfo& field : fields) {
    const uint64_t mask = Ones(field.hi - field.lo + 1u);
    const uint64_t old_value = (before >> field.lo) & mask;
    const uint64_t new_value = (after >> field.lo) & mask;
    if (old_value != new_value) {
      changes.push_back(FieldChange{field.name, field.hi, field.lo, old_value, new_value});
    }
  }
  const uint64_t unknown_mask = ~fields_mask & Ones(register_bits);
  if ((before & unknown_mask) != (after & unknown_mask)) {
    changes.push_back(
        FieldChange{"unknown", register_bits - 1, 0, before & unknown_mask, after & unknown_mask});
  }
  return changes;
}

}  // namespace internal

std::string ToString(std::span<const FieldChange> changes) {
  std::string text;
  for (const FieldChange& change : changes) {
    if (!text.empty()) text += "; ";
    const unsigned width = change.hi - change.lo + 1;
    text += FieldLabel(change.name, change.hi, change.lo) + ": " + Hex(change.before, width) +
            " -> " + Hex(change.after, width);
  }
  return text;
}

}  // namespace udrv::hwreg
