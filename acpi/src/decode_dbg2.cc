// DBG2: the debug ports (serial, 1394, USB, network): each its registers
// (GAS and size), its namespace path and optional OEM data.
#include "decode_fields.h"

namespace udrv::acpi::decode {
namespace {

constexpr Spec kDbg2[] = {U32("Info Offset"), U32("Info Count")};
constexpr uint32_t kDbg2FixedEnd = 44;

constexpr Spec kDevice[] = {
    U8("Revision"),
    U16("Length"),
    U8("Register Count"),
    U16("Namepath Length"),
    U16("Namepath Offset"),
    {Kind::kUint, 2, "OEM Data Length", {}, nullptr, true},
    {Kind::kUint, 2, "OEM Data Offset", {}, nullptr, true},
    U16("Port Type"),
    U16("Port Subtype"),
    U16("Reserved"),
    U16("Base Address Offset"),
    U16("Address Size Offset"),
};
constexpr uint32_t kDeviceSize = 22;
constexpr Spec kBaseAddress = Gas("Base Address Register");
constexpr Spec kAddressSize = U32("Address Size");
constexpr Spec kNamepath = Str("Namepath");

// `count` fields of `spec` at `at` from the device's start, inside it.
Result<void> AppendArray(const Decoder& decoder, std::vector<Field>& children, uint32_t device, uint32_t end,
                         uint64_t at, uint64_t count, const Spec& spec) {
  const uint64_t start = device + at;
  if (start + count * spec.size > end) {
    return decoder.Overrun(std::string(spec.name) + " array of the DBG2 device at " + Hex(device), start,
                           count * spec.size);
  }
  for (uint64_t i = 0; i < count; i++) {
    UDRV_TRY_ASSIGN(Field field, decoder.One(static_cast<uint32_t>(start + i * spec.size), spec));
    children.push_back(std::move(field));
  }
  return {};
}

}  // namespace

// The devices start after the fixed part, as iasl reads them (Info
// Offset says the same in a well-formed table).
Result<void> DecodeDbg2(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY(decoder.Append(fields, kHeaderEnd, kDbg2));
  uint32_t offset = kDbg2FixedEnd;
  while (offset < decoder.end()) {
    UDRV_TRY_ASSIGN(uint32_t length, decoder.SubtableLength(offset, 1, 2, kDeviceSize, "DBG2 device"));
    const uint32_t end = offset + length;
    UDRV_TRY_ASSIGN(uint64_t registers, decoder.Read(offset + 3, 1, "DBG2 device"));
    UDRV_TRY_ASSIGN(uint64_t name_offset, decoder.Read(offset + 6, 2, "DBG2 device"));
    UDRV_TRY_ASSIGN(uint64_t oem_length, decoder.Read(offset + 8, 2, "DBG2 device"));
    UDRV_TRY_ASSIGN(uint64_t oem_offset, decoder.Read(offset + 10, 2, "DBG2 device"));
    UDRV_TRY_ASSIGN(uint64_t base_offset, decoder.Read(offset + 18, 2, "DBG2 device"));
    UDRV_TRY_ASSIGN(uint64_t size_offset, decoder.Read(offset + 20, 2, "DBG2 device"));
    std::vector<Field> children;
    UDRV_TRY(decoder.Append(children, offset, kDevice, end));
    UDRV_TRY(AppendArray(decoder, children, offset, end, base_offset, registers, kBaseAddress));
    UDRV_TRY(AppendArray(decoder, children, offset, end, size_offset, registers, kAddressSize));
    if (offset + name_offset >= end) return decoder.Overrun("DBG2 Namepath", offset + name_offset, 1);
    UDRV_TRY_ASSIGN(Field name, decoder.One(static_cast<uint32_t>(offset + name_offset), kNamepath));
    if (name.offset + name.length > end) return decoder.Overrun("DBG2 Namepath", name.offset, name.length);
    children.push_back(std::move(name));
    if (oem_offset) {
      if (offset + oem_offset + oem_length > end) {
        return decoder.Overrun("DBG2 OEM Data", offset + oem_offset, oem_length);
      }
      UDRV_TRY_ASSIGN(Field oem, decoder.Bytes(static_cast<uint32_t>(offset + oem_offset), oem_length, "OEM Data"));
      children.push_back(std::move(oem));
    }
    fields.push_back(Group("Debug Device Information", offset, length, std::move(children)));
    offset = end;
  }
  return {};
}

}  // namespace udrv::acpi::decode
