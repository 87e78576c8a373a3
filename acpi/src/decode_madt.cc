// MADT (signature APIC): the interrupt controllers, x86's APICs and ARM's
// GIC parts alike, every subtable type iasl 20200925 knows.
#include "decode_fields.h"

namespace udrv::acpi::decode {
namespace {

std::string_view MadtTypeName(uint64_t type) {
  static constexpr std::string_view kNames[] = {
      "Processor Local APIC",         "I/O APIC",
      "Interrupt Source Override",    "NMI Source",
      "Local APIC NMI",               "Local APIC Address Override",
      "I/O SAPIC",                    "Local SAPIC",
      "Platform Interrupt Sources",   "Processor Local x2APIC",
      "Local x2APIC NMI",             "Generic Interrupt Controller",
      "Generic Interrupt Distributor", "Generic MSI Frame",
      "Generic Interrupt Redistributor", "Generic Interrupt Translator",
      "Unknown Subtable Type"};
  return Lookup(kNames, type);
}

constexpr Bits kPcAt[] = {{"PC-AT Compatibility", 0}};
constexpr Spec kMadt[] = {U32("Local Apic Address"), U32("Flags (decoded below)", kPcAt)};

constexpr Spec kHeader[] = {Enum(1, "Subtable Type", MadtTypeName), U8("Length")};

constexpr Bits kLapicFlags[] = {{"Processor Enabled", 0}, {"Runtime Online Capable", 1}};
constexpr Bits kEnabled[] = {{"Processor Enabled", 0}};
// MPS INTI flags: polarity in bits 0-1, trigger mode in 2-3.
constexpr Bits kInti[] = {{"Polarity", 0, 2}, {"Trigger Mode", 2, 2}};
constexpr Bits kCpei[] = {{"CPEI Override", 0}};
constexpr Bits kGiccFlags[] = {{"Processor Enabled", 0},
                               {"Performance Interrupt Trigger Mode", 1},
                               {"Virtual GIC Interrupt Trigger Mode", 2}};
constexpr Bits kSelectSpi[] = {{"Select SPI", 0}};

constexpr Spec kLocalApic[] = {U8("Processor ID"), U8("Local Apic ID"),
                               U32("Flags (decoded below)", kLapicFlags)};
constexpr Spec kIoApic[] = {U8("I/O Apic ID"), U8("Reserved"), U32("Address"), U32("Interrupt")};
constexpr Spec kInterruptOverride[] = {U8("Bus"), U8("Source"), U32("Interrupt"),
                                       U16("Flags (decoded below)", kInti)};
constexpr Spec kNmiSource[] = {U16("Flags (decoded below)", kInti), U32("Interrupt")};
constexpr Spec kLocalApicNmi[] = {U8("Processor ID"), U16("Flags (decoded below)", kInti),
                                  U8("Interrupt Input LINT")};
constexpr Spec kLocalApicOverride[] = {U16("Reserved"), U64("APIC Address")};
constexpr Spec kIoSapic[] = {U8("I/O Sapic ID"), U8("Reserved"), U32("Interrupt Base"), U64("Address")};
constexpr Spec kLocalSapic[] = {U8("Processor ID"),  U8("Local Sapic ID"),
                                U8("Local Sapic EID"), U24("Reserved"),
                                U32("Flags (decoded below)", kEnabled), U32("Processor UID"),
                                Str("Processor UID String")};
constexpr Spec kInterruptSource[] = {U16("Flags (decoded below)", kInti),
                                     U8("InterruptType"),
                                     U8("Processor ID"),
                                     U8("Processor EID"),
                                     U8("I/O Sapic Vector"),
                                     U32("Interrupt"),
                                     U32("Flags (decoded below)", kCpei)};
constexpr Spec kLocalX2Apic[] = {U16("Reserved"), U32("Processor x2Apic ID"),
                                 U32("Flags (decoded below)", kEnabled), U32("Processor UID")};
constexpr Spec kLocalX2ApicNmi[] = {U16("Flags (decoded below)", kInti), U32("Processor UID"),
                                    U8("Interrupt Input LINT"), U24("Reserved")};
constexpr Spec kGicc[] = {
    U16("Reserved"),
    U32("CPU Interface Number"),
    U32("Processor UID"),
    U32("Flags (decoded below)", kGiccFlags),
    U32("Parking Protocol Version"),
    U32("Performance Interrupt"),
    U64("Parked Address"),
    U64("Base Address"),
    U64("Virtual GIC Base Address"),
    U64("Hypervisor GIC Base Address"),
    U32("Virtual GIC Interrupt"),
    U64("Redistributor Base Address"),
    U64("ARM MPIDR"),
    U8("Efficiency Class"),
    U8("Reserved"),
    U16("SPE Overflow Interrupt"),
};
constexpr Spec kGicd[] = {U16("Reserved"), U32("Local GIC Hardware ID"), U64("Base Address"),
                          U32("Interrupt Base"), U8("Version"), U24("Reserved")};
constexpr Spec kGicMsiFrame[] = {U16("Reserved"),     U32("MSI Frame ID"),
                                 U64("Base Address"), U32("Flags (decoded below)", kSelectSpi),
                                 U16("SPI Count"),    U16("SPI Base")};
constexpr Spec kGicr[] = {U16("Reserved"), U64("Base Address"), U32("Length")};
constexpr Spec kGicIts[] = {U16("Reserved"), U32("Translation ID"), U64("Base Address"), U32("Reserved")};

std::span<const Spec> MadtLayout(uint64_t type) {
  static constexpr std::span<const Spec> kLayouts[] = {
      kLocalApic,   kIoApic,         kInterruptOverride, kNmiSource,      kLocalApicNmi,
      kLocalApicOverride, kIoSapic,  kLocalSapic,        kInterruptSource, kLocalX2Apic,
      kLocalX2ApicNmi, kGicc,        kGicd,              kGicMsiFrame,    kGicr,
      kGicIts};
  return type < std::size(kLayouts) ? kLayouts[type] : std::span<const Spec>{};
}

constexpr SubtableFamily kMadtSubtables = {
    .what = "MADT subtable", .header = kHeader, .type_name = MadtTypeName, .layout = MadtLayout};

}  // namespace

Result<void> DecodeMadt(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY_ASSIGN(uint32_t offset, decoder.Append(fields, kHeaderEnd, kMadt));
  return AppendSubtables(decoder, fields, offset, kMadtSubtables);
}

}  // namespace udrv::acpi::decode
