#include "decode_fields.h"

#include <algorithm>
#include <cstdio>

namespace udrv::acpi::decode {
namespace {

// AcpiUtGetRegionName's words for a GAS's address space.
std::string_view SpaceName(uint64_t id) {
  static constexpr std::string_view kNames[] = {
      "SystemMemory", "SystemIO", "PCI_Config", "EmbeddedControl", "SMBus", "SystemCMOS",
      "PCIBARTarget", "IPMI",     "GeneralPurposeIo", "GenericSerialBus", "PCC",
      "PlatformRtMechanism"};
  if (id >= 0x80) return "UserDefinedRegion";
  if (id == 0x7E) return "DataTable";
  if (id == 0x7F) return "FunctionalFixedHW";
  if (id >= std::size(kNames)) return "InvalidSpaceId";
  return kNames[id];
}

std::string_view AccessWidthName(uint64_t width) {
  static constexpr std::string_view kNames[] = {"Undefined/Legacy", "Byte Access:8", "Word Access:16",
                                                "DWord Access:32", "QWord Access:64",
                                                "Unknown Width Encoding"};
  return Lookup(kNames, width);
}

constexpr Spec kGasLayout[] = {
    Enum(1, "Space ID", SpaceName), U8("Bit Width"), U8("Bit Offset"),
    Enum(1, "Encoded Access Width", AccessWidthName), U64("Address"),
};

constexpr Bits kIortHints[] = {{"Transient", 0}, {"Write Allocate", 1}, {"Read Allocate", 2}, {"Override", 3}};
constexpr Bits kIortMemoryFlags[] = {{"Coherency", 0}, {"Device Attribute", 1}};
constexpr Spec kIortMemoryLayout[] = {
    U32("Cache Coherency"), U8("Hints (decoded below)", kIortHints), U16("Reserved"),
    U8("Memory Flags (decoded below)", kIortMemoryFlags),
};

std::string HexDigits(uint64_t value, unsigned digits) {
  char text[24];
  std::snprintf(text, sizeof(text), "%0*llX", static_cast<int>(digits),
                static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

Decoder::Decoder(const Table& table) : table_(table) {
  size_t end = std::min<size_t>(table.bytes.size(), table.header.length);
  // FACS and RSDP readers fill header.length too; a table whose length
  // field is unreadable decodes as far as its bytes go.
  if (table.header.length == 0) end = table.bytes.size();
  end_ = static_cast<uint32_t>(std::min<size_t>(end, UINT32_MAX));
}

std::unexpected<Error> Decoder::Overrun(std::string_view what, uint64_t offset, uint64_t size) const {
  return Fail(Status::IO_INVALID,
              std::string(what) + " at offset " + Hex(offset) + " (" + std::to_string(size) +
                  " bytes) runs past the end of the table (" + Hex(end_) + " bytes)",
              table_.name);
}

std::unexpected<Error> Decoder::Invalid(std::string_view what, uint64_t offset) const {
  return Fail(Status::IO_INVALID, std::string(what) + " at offset " + Hex(offset), table_.name);
}

Result<uint64_t> Decoder::Read(uint32_t offset, uint32_t size, std::string_view what) const {
  if (static_cast<uint64_t>(offset) + size > end_) return Overrun(what, offset, size);
  uint64_t value = 0;
  for (uint32_t i = size; i > 0; i--) value = (value << 8) | table_.bytes[offset + i - 1];
  return value;
}

Result<uint32_t> Decoder::SubtableLength(uint32_t offset, uint32_t length_offset, uint32_t length_size,
                                         uint32_t min_length, std::string_view what) const {
  UDRV_TRY_ASSIGN(uint64_t length, Read(offset + length_offset, length_size, std::string(what) + " header"));
  if (length < min_length) {
    return Invalid(std::string(what) + " of length " + std::to_string(length) + " (less than its " +
                       std::to_string(min_length) + "-byte header)",
                   offset);
  }
  if (offset + length > end_) return Overrun(what, offset, length);
  return static_cast<uint32_t>(length);
}

Result<Field> Decoder::One(uint32_t offset, const Spec& spec) const {
  Field field;
  field.name = std::string(spec.name);
  field.offset = offset;
  field.length = spec.size;
  if (spec.kind == Kind::kString) {
    if (offset >= end_) return Overrun(spec.name, offset, 1);
    auto first = table_.bytes.begin() + offset;
    auto last = table_.bytes.begin() + end_;
    auto nul = std::find(first, last, uint8_t{0});
    if (nul == last) return Invalid("string '" + field.name + "' without its terminating NUL", offset);
    field.text.assign(first, nul);
    field.length = static_cast<uint32_t>(nul - first) + 1;
    return field;
  }
  if (static_cast<uint64_t>(offset) + spec.size > end_) return Overrun(spec.name, offset, spec.size);
  std::span<const uint8_t> bytes(table_.bytes.data() + offset, spec.size);
  switch (spec.kind) {
    case Kind::kUint: {
      uint64_t value = 0;
      for (size_t i = bytes.size(); i > 0; i--) value = (value << 8) | bytes[i - 1];
      field.number = value;
      field.text = HexDigits(value, spec.size * 2u);
      if (spec.describe) field.text += " [" + std::string(spec.describe(value)) + "]";
      if (spec.optional && value == 0) field.text += " [Optional field not present]";
      for (const Bits& bits : spec.bits) {
        uint64_t bit_value = (value >> bits.shift) & ((uint64_t{1} << bits.width) - 1);
        Field bit;
        bit.name = std::string(bits.name);
        bit.offset = offset + bits.shift / 8u;
        bit.length = 1;
        bit.number = bit_value;
        bit.text = HexDigits(bit_value, bits.width > 4 ? 4 : 1);
        field.children.push_back(std::move(bit));
      }
      break;
    }
    case Kind::kName:
      // AcpiUtCheckAndRepairAscii: up to the first NUL, unprintables as spaces.
      for (uint8_t byte : bytes) {
        if (byte == 0) break;
        field.text += (byte >= 0x20 && byte <= 0x7E) ? static_cast<char>(byte) : ' ';
      }
      break;
    case Kind::kBuffer:
      return Bytes(offset, spec.size, spec.name);
    case Kind::kGas:
      field.text = "[Generic Address Structure]";
      UDRV_TRY(Append(field.children, offset, kGasLayout));
      break;
    case Kind::kIortMemory:
      field.text = "[IORT Memory Access Properties]";
      UDRV_TRY(Append(field.children, offset, kIortMemoryLayout));
      break;
    case Kind::kString:
      break;
  }
  return field;
}

Result<Field> Decoder::Bytes(uint32_t offset, uint64_t size, std::string_view name) const {
  if (offset + size > end_) return Overrun(name, offset, size);
  Field field;
  field.name = std::string(name);
  field.offset = offset;
  field.length = static_cast<uint32_t>(size);
  field.text.reserve(size * 3);
  for (uint64_t i = 0; i < size; i++) {
    if (i) field.text += ' ';
    field.text += HexDigits(table_.bytes[offset + i], 2);
  }
  return field;
}

Result<uint32_t> Decoder::Append(std::vector<Field>& out, uint32_t offset, std::span<const Spec> layout,
                                 uint32_t limit) const {
  for (const Spec& spec : layout) {
    if (offset >= limit) break;
    UDRV_TRY_ASSIGN(Field field, One(offset, spec));
    offset += field.length;
    out.push_back(std::move(field));
  }
  return offset;
}

Field Group(std::string name, uint32_t offset, uint32_t length, std::vector<Field> children) {
  Field group;
  group.name = std::move(name);
  group.offset = offset;
  group.length = length;
  group.children = std::move(children);
  return group;
}

Result<void> AppendSubtables(const Decoder& decoder, std::vector<Field>& fields, uint32_t offset,
                             const SubtableFamily& family) {
  const uint32_t header_size = family.type_size + family.length_size;
  while (offset < decoder.end()) {
    UDRV_TRY_ASSIGN(uint32_t length, decoder.SubtableLength(offset, family.type_size, family.length_size,
                                                            header_size, family.what));
    UDRV_TRY_ASSIGN(uint64_t type, decoder.Read(offset, family.type_size, family.what));
    const uint32_t end = offset + length;
    std::vector<Field> children;
    UDRV_TRY_ASSIGN(uint32_t next, decoder.Append(children, offset, family.header, end));
    UDRV_TRY_ASSIGN(next, decoder.Append(children, next, family.layout(type), end));
    if (family.rest) UDRV_TRY(family.rest(decoder, type, next, end, children));
    fields.push_back(Group(std::string(family.type_name(type)), offset, length, std::move(children)));
    offset = end;
  }
  return {};
}

}  // namespace udrv::acpi::decode
