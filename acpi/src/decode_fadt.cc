// FADT (signature FACP) and the FACS it points to.
#include "decode_fields.h"

namespace udrv::acpi::decode {
namespace {

std::string_view PmProfileName(uint64_t profile) {
  static constexpr std::string_view kNames[] = {
      "Unspecified", "Desktop",      "Mobile",             "Workstation", "Enterprise Server",
      "SOHO Server", "Appliance PC", "Performance Server", "Tablet",      "Unknown Profile Type"};
  return Lookup(kNames, profile);
}

constexpr Bits kBootFlags[] = {
    {"Legacy Devices Supported (V2)", 0}, {"8042 Present on ports 60/64 (V2)", 1},
    {"VGA Not Present (V4)", 2},          {"MSI Not Supported (V4)", 3},
    {"PCIe ASPM Not Supported (V4)", 4},  {"CMOS RTC Not Present (V5)", 5},
};
constexpr Bits kFadtFlags[] = {
    {"WBINVD instruction is operational (V1)", 0},
    {"WBINVD flushes all caches (V1)", 1},
    {"All CPUs support C1 (V1)", 2},
    {"C2 works on MP system (V1)", 3},
    {"Control Method Power Button (V1)", 4},
    {"Control Method Sleep Button (V1)", 5},
    {"RTC wake not in fixed reg space (V1)", 6},
    {"RTC can wake system from S4 (V1)", 7},
    {"32-bit PM Timer (V1)", 8},
    {"Docking Supported (V1)", 9},
    {"Reset Register Supported (V2)", 10},
    {"Sealed Case (V3)", 11},
    {"Headless - No Video (V3)", 12},
    {"Use native instr after SLP_TYPx (V3)", 13},
    {"PCIEXP_WAK Bits Supported (V4)", 14},
    {"Use Platform Timer (V4)", 15},
    {"RTC_STS valid on S4 wake (V4)", 16},
    {"Remote Power-on capable (V4)", 17},
    {"Use APIC Cluster Model (V4)", 18},
    {"Use APIC Physical Destination Mode (V4)", 19},
    {"Hardware Reduced (V5)", 20},
    {"Low Power S0 Idle (V5)", 21},
};
constexpr Bits kArmBootFlags[] = {{"PSCI Compliant", 0}, {"Must use HVC for PSCI", 1}};

// ACPI 1.0's FADT: 116 bytes.
constexpr Spec kFadt1[] = {
    U32("FACS Address"),
    U32("DSDT Address"),
    U8("Model"),
    Enum(1, "PM Profile", PmProfileName),
    U16("SCI Interrupt"),
    U32("SMI Command Port"),
    U8("ACPI Enable Value"),
    U8("ACPI Disable Value"),
    U8("S4BIOS Command"),
    U8("P-State Control"),
    U32("PM1A Event Block Address"),
    U32("PM1B Event Block Address"),
    U32("PM1A Control Block Address"),
    U32("PM1B Control Block Address"),
    U32("PM2 Control Block Address"),
    U32("PM Timer Block Address"),
    U32("GPE0 Block Address"),
    U32("GPE1 Block Address"),
    U8("PM1 Event Block Length"),
    U8("PM1 Control Block Length"),
    U8("PM2 Control Block Length"),
    U8("PM Timer Block Length"),
    U8("GPE0 Block Length"),
    U8("GPE1 Block Length"),
    U8("GPE1 Base Offset"),
    U8("_CST Support"),
    U16("C2 Latency"),
    U16("C3 Latency"),
    U16("CPU Cache Size"),
    U16("Cache Flush Stride"),
    U8("Duty Cycle Offset"),
    U8("Duty Cycle Width"),
    U8("RTC Day Alarm Index"),
    U8("RTC Month Alarm Index"),
    U8("RTC Century Index"),
    U16("Boot Flags (decoded below)", kBootFlags),
    U8("Reserved"),
    U32("Flags (decoded below)", kFadtFlags),
};
// ACPI 1.0b's Microsoft extension (129 bytes).
constexpr Spec kFadt2[] = {
    Gas("Reset Register"), U8("Value to cause reset"), U16("Reserved"), U8("Reserved"),
};
// ACPI 2.0 to 4.0 (244 bytes).
constexpr Spec kFadt3[] = {
    Gas("Reset Register"),
    U8("Value to cause reset"),
    U16("ARM Flags (decoded below)", kArmBootFlags),
    U8("FADT Minor Revision"),
    U64("FACS Address"),
    U64("DSDT Address"),
    Gas("PM1A Event Block"),
    Gas("PM1B Event Block"),
    Gas("PM1A Control Block"),
    Gas("PM1B Control Block"),
    Gas("PM2 Control Block"),
    Gas("PM Timer Block"),
    Gas("GPE0 Block"),
    Gas("GPE1 Block"),
};
// ACPI 5.0 (268 bytes), then 6.0 (276).
constexpr Spec kFadt5[] = {Gas("Sleep Control Register"), Gas("Sleep Status Register")};
constexpr Spec kFadt6[] = {U64("Hypervisor ID")};

constexpr uint32_t kFadtV1Size = 116;
constexpr uint32_t kFadtV2Size = 129;
constexpr uint32_t kFadtV3Size = 244;
constexpr uint32_t kFadtV5Size = 268;

constexpr Bits kFacsFlags[] = {{"S4BIOS Support Present", 0}, {"64-bit Wake Supported (V2)", 1}};
constexpr Bits kFacsOspmFlags[] = {{"64-bit Wake Env Required (V2)", 0}};
// After the FACS's signature and length (DecodeHeader's).
constexpr Spec kFacs[] = {
    U32("Hardware Signature"),
    U32("32 Firmware Waking Vector"),
    U32("Global Lock"),
    U32("Flags (decoded below)", kFacsFlags),
    U64("64 Firmware Waking Vector"),
    U8("Version"),
    U24("Reserved"),
    U32("OspmFlags (decoded below)", kFacsOspmFlags),
};

}  // namespace

// Which parts iasl shows follows the length, as in AcpiDmDumpFadt; the
// ACPI 6 part only where the table is long enough to hold it (iasl also
// tries it on an ACPI 5 FADT, and reports that table as cut short).
Result<void> DecodeFadt(const Decoder& decoder, std::vector<Field>& fields) {
  const uint32_t length = decoder.end();
  UDRV_TRY_ASSIGN(uint32_t offset, decoder.Append(fields, kHeaderEnd, kFadt1));
  if (length > kFadtV1Size && length <= kFadtV2Size) {
    UDRV_TRY(decoder.Append(fields, offset, kFadt2));
  } else if (length > kFadtV2Size) {
    UDRV_TRY_ASSIGN(offset, decoder.Append(fields, offset, kFadt3));
    if (length > kFadtV3Size) {
      UDRV_TRY_ASSIGN(offset, decoder.Append(fields, offset, kFadt5));
    }
    if (length > kFadtV5Size) UDRV_TRY(decoder.Append(fields, offset, kFadt6));
  }
  return {};
}

Result<void> DecodeFacs(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY(decoder.Append(fields, 8, kFacs));
  return {};
}

}  // namespace udrv::acpi::decode
