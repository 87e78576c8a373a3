// The tables of one fixed structure or one simple array: MCFG, HPET,
// SLIT, SPCR, BGRT.
#include "decode_fields.h"

namespace udrv::acpi::decode {
namespace {

constexpr Spec kMcfg[] = {U64("Reserved")};
// One ECAM window per PCI segment group and bus range.
constexpr Spec kMcfgAllocation[] = {U64("Base Address"), U16("Segment Group Number"),
                                    U8("Start Bus Number"), U8("End Bus Number"), U32("Reserved")};
constexpr uint32_t kMcfgAllocationSize = 16;

constexpr Bits kHpetFlags[] = {{"4K Page Protect", 0}, {"64K Page Protect", 1}};
constexpr Spec kHpet[] = {U32("Hardware Block ID"), Gas("Timer Block Register"), U8("Sequence Number"),
                          U16("Minimum Clock Ticks"), U8("Flags (decoded below)", kHpetFlags)};

constexpr Spec kSlit[] = {U64("Localities")};

// iasl 20200925 shows the byte after Terminal Type (0x3F) at the offset
// of the last Reserved (0x4C): its layout names the wrong member. The
// test says so where it compares.
constexpr Spec kSpcr[] = {
    U8("Interface Type"), U24("Reserved"),      Gas("Serial Port Register"), U8("Interrupt Type"),
    U8("PCAT-compatible IRQ"), U32("Interrupt"), U8("Baud Rate"),           U8("Parity"),
    U8("Stop Bits"),      U8("Flow Control"),   U8("Terminal Type"),        U8("Reserved"),
    U16("PCI Device ID"), U16("PCI Vendor ID"), U8("PCI Bus"),              U8("PCI Device"),
    U8("PCI Function"),   U32("PCI Flags"),     U8("PCI Segment"),          U32("Reserved"),
};

constexpr Bits kBgrtStatus[] = {{"Displayed", 0}, {"Orientation Offset", 1, 2}};
constexpr Spec kBgrt[] = {U16("Version"),        U8("Status (decoded below)", kBgrtStatus),
                          U8("Image Type"),      U64("Image Address"),
                          U32("Image OffsetX"),  U32("Image OffsetY")};

}  // namespace

Result<void> DecodeMcfg(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY_ASSIGN(uint32_t offset, decoder.Append(fields, kHeaderEnd, kMcfg));
  for (; offset < decoder.end(); offset += kMcfgAllocationSize) {
    std::vector<Field> children;
    UDRV_TRY(decoder.Append(children, offset, kMcfgAllocation));
    fields.push_back(Group("Configuration Space", offset, kMcfgAllocationSize, std::move(children)));
  }
  return {};
}

Result<void> DecodeHpet(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY(decoder.Append(fields, kHeaderEnd, kHpet));
  return {};
}

// The N x N matrix of relative distances, one row per locality.
Result<void> DecodeSlit(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY_ASSIGN(uint32_t offset, decoder.Append(fields, kHeaderEnd, kSlit));
  const uint64_t localities = *fields.back().number;
  // N*N bytes fit a table only for N below 2^16: no overflow below.
  if (localities > 0xFFFF || offset + localities * localities > decoder.end()) {
    return decoder.Overrun("the " + std::to_string(localities) + " x " + std::to_string(localities) +
                               " locality matrix",
                           offset, localities * localities);
  }
  for (uint64_t row = 0; row < localities; row++) {
    UDRV_TRY_ASSIGN(Field field, decoder.Bytes(offset, localities, "Locality " + std::to_string(row)));
    fields.push_back(std::move(field));
    offset += static_cast<uint32_t>(localities);
  }
  return {};
}

Result<void> DecodeSpcr(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY(decoder.Append(fields, kHeaderEnd, kSpcr));
  return {};
}

Result<void> DecodeBgrt(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY(decoder.Append(fields, kHeaderEnd, kBgrt));
  return {};
}

}  // namespace udrv::acpi::decode
