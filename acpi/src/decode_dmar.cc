// DMAR: Intel's IOMMUs (DRHD), the memory they must keep mapped (RMRR),
// ATS-capable root ports, and under each the device scopes that say which
// PCI devices, IOAPICs and HPETs sit behind it.
#include <cstdio>

#include "decode_fields.h"

namespace udrv::acpi::decode {
namespace {

enum : uint16_t { kDrhd = 0, kRmrr = 1, kAtsr = 2, kRhsa = 3, kAndd = 4, kSatc = 5 };

std::string_view DmarTypeName(uint64_t type) {
  // SATC (ACPI 6.4's VT-d 3.2) postdates iasl 20200925, which calls it
  // unknown and stops there.
  static constexpr std::string_view kNames[] = {
      "Hardware Unit Definition",          "Reserved Memory Region",
      "Root Port ATS Capability",          "Remapping Hardware Static Affinity",
      "ACPI Namespace Device Declaration", "SoC Integrated Address Translation Cache",
      "Unknown Subtable Type"};
  return Lookup(kNames, type);
}

std::string_view ScopeTypeName(uint64_t type) {
  static constexpr std::string_view kNames[] = {
      "Reserved value", "PCI Endpoint Device", "PCI Bridge Device", "IOAPIC Device",
      "Message-capable HPET Device", "Namespace Device", "Unknown Scope Type"};
  return Lookup(kNames, type);
}

constexpr Spec kDmar[] = {U8("Host Address Width"), U8("Flags"), Buf(10, "Reserved")};
constexpr Spec kHeader[] = {Enum(2, "Subtable Type", DmarTypeName), U16("Length")};

constexpr Spec kHardwareUnit[] = {U8("Flags"), U8("Reserved"), U16("PCI Segment Number"),
                                  U64("Register Base Address")};
constexpr Spec kReservedMemory[] = {U16("Reserved"), U16("PCI Segment Number"), U64("Base Address"),
                                    U64("End Address (limit)")};
constexpr Spec kRootAts[] = {U8("Flags"), U8("Reserved"), U16("PCI Segment Number")};
constexpr Spec kAffinity[] = {U32("Reserved"), U64("Base Address"), U32("Proximity Domain")};
constexpr Spec kNamespace[] = {U24("Reserved"), U8("Device Number"), Str("Device Name")};
constexpr Spec kSoc[] = {U8("Flags"), U8("Reserved"), U16("PCI Segment Number")};

constexpr Spec kScope[] = {Enum(1, "Device Scope Type", ScopeTypeName), U8("Entry Length"),
                           U16("Reserved"), U8("Enumeration ID"), U8("PCI Bus Number")};
constexpr uint32_t kScopeHeaderSize = 6;

std::span<const Spec> DmarLayout(uint64_t type) {
  switch (type) {
    case kDrhd: return kHardwareUnit;
    case kRmrr: return kReservedMemory;
    case kAtsr: return kRootAts;
    case kRhsa: return kAffinity;
    case kAndd: return kNamespace;
    case kSatc: return kSoc;
    default: return {};
  }
}

// The device scopes after a DRHD, RMRR, ATSR or SATC: each a start bus
// and a path of (device, function) pairs down the bridges to the device.
Result<void> AppendScopes(const Decoder& decoder, uint64_t type, uint32_t offset, uint32_t end,
                          std::vector<Field>& children) {
  if (type != kDrhd && type != kRmrr && type != kAtsr && type != kSatc) return {};
  while (offset < end) {
    UDRV_TRY_ASSIGN(uint32_t length,
                    decoder.SubtableLength(offset, 1, 1, kScopeHeaderSize, "DMAR device scope"));
    if (offset + length > end) return decoder.Overrun("DMAR device scope (past its subtable)", offset, length);
    UDRV_TRY_ASSIGN(uint64_t scope_type, decoder.Read(offset, 1, "DMAR device scope"));
    std::vector<Field> scope;
    UDRV_TRY_ASSIGN(uint32_t path, decoder.Append(scope, offset, kScope));
    for (; path + 2 <= offset + length; path += 2) {
      Field step;
      step.name = "PCI Path";
      step.offset = path;
      step.length = 2;
      char text[8];
      std::snprintf(text, sizeof(text), "%02X,%02X", decoder.table().bytes[path],
                    decoder.table().bytes[path + 1]);
      step.text = text;
      scope.push_back(std::move(step));
    }
    children.push_back(Group(std::string(ScopeTypeName(scope_type)), offset, length, std::move(scope)));
    offset += length;
  }
  return {};
}

constexpr SubtableFamily kDmarSubtables = {.what = "DMAR subtable",
                                           .type_size = 2,
                                           .length_size = 2,
                                           .header = kHeader,
                                           .type_name = DmarTypeName,
                                           .layout = DmarLayout,
                                           .rest = AppendScopes};

}  // namespace

Result<void> DecodeDmar(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY_ASSIGN(uint32_t offset, decoder.Append(fields, kHeaderEnd, kDmar));
  return AppendSubtables(decoder, fields, offset, kDmarSubtables);
}

}  // namespace udrv::acpi::decode
