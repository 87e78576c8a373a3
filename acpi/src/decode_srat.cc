// SRAT: which processors, memory ranges, ITSs and generic initiators
// belong to which proximity domain (NUMA node).
#include "decode_fields.h"

namespace udrv::acpi::decode {
namespace {

std::string_view SratTypeName(uint64_t type) {
  static constexpr std::string_view kNames[] = {
      "Processor Local APIC/SAPIC Affinity", "Memory Affinity", "Processor Local x2APIC Affinity",
      "GICC Affinity", "GIC ITS Affinity", "Generic Initiator Affinity", "Unknown Subtable Type"};
  return Lookup(kNames, type);
}

constexpr Spec kSrat[] = {U32("Table Revision"), U64("Reserved")};
constexpr Spec kHeader[] = {Enum(1, "Subtable Type", SratTypeName), U8("Length")};

constexpr Bits kEnabled[] = {{"Enabled", 0}};
constexpr Bits kMemoryFlags[] = {{"Enabled", 0}, {"Hot Pluggable", 1}, {"Non-Volatile", 2}};

constexpr Spec kCpu[] = {U8("Proximity Domain Low(8)"), U8("Apic ID"),
                         U32("Flags (decoded below)", kEnabled), U8("Local Sapic EID"),
                         U24("Proximity Domain High(24)"), U32("Clock Domain")};
constexpr Spec kMemory[] = {U32("Proximity Domain"), U16("Reserved1"), U64("Base Address"),
                            U64("Address Length"), U32("Reserved2"),
                            U32("Flags (decoded below)", kMemoryFlags), U64("Reserved3")};
constexpr Spec kX2Apic[] = {U16("Reserved1"), U32("Proximity Domain"), U32("Apic ID"),
                            U32("Flags (decoded below)", kEnabled), U32("Clock Domain"),
                            U32("Reserved2")};
constexpr Spec kGicc[] = {U32("Proximity Domain"), U32("Acpi Processor UID"),
                          U32("Flags (decoded below)", kEnabled), U32("Clock Domain")};
constexpr Spec kGicIts[] = {U32("Proximity Domain"), U16("Reserved"), U32("ITS ID")};
constexpr Spec kGenericInitiator[] = {U8("Reserved1"), U8("Device Handle Type"), U32("Proximity Domain"),
                                      Buf(16, "Device Handle"), U32("Flags (decoded below)", kEnabled),
                                      U32("Reserved2")};

std::span<const Spec> SratLayout(uint64_t type) {
  static constexpr std::span<const Spec> kLayouts[] = {kCpu, kMemory, kX2Apic, kGicc, kGicIts,
                                                       kGenericInitiator};
  return type < std::size(kLayouts) ? kLayouts[type] : std::span<const Spec>{};
}

constexpr SubtableFamily kSratSubtables = {
    .what = "SRAT subtable", .header = kHeader, .type_name = SratTypeName, .layout = SratLayout};

}  // namespace

Result<void> DecodeSrat(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY_ASSIGN(uint32_t offset, decoder.Append(fields, kHeaderEnd, kSrat));
  return AppendSubtables(decoder, fields, offset, kSratSubtables);
}

}  // namespace udrv::acpi::decode
