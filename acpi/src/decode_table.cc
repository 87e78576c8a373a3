// DecodeTable: the header every table has, then the table's own decoder
// (decode_<table>.cc) by signature.
#include <algorithm>

#include "decode_fields.h"

namespace udrv::acpi {
namespace {

using decode::Decoder;
using decode::Spec;
using decode::kRsdpSignature;

constexpr Spec kHeaderLayout[] = {
    decode::Name(4, "Signature"),     decode::U32("Table Length"),     decode::U8("Revision"),
    decode::U8("Checksum"),           decode::Name(6, "Oem ID"),       decode::Name(8, "Oem Table ID"),
    decode::U32("Oem Revision"),      decode::Name(4, "Asl Compiler ID"),
    decode::U32("Asl Compiler Revision"),
};
// The FACS has no common header: a signature and a length.
constexpr Spec kFacsHeaderLayout[] = {decode::Name(4, "Signature"), decode::U32("Length")};
constexpr Spec kRsdpLayout[] = {
    decode::Name(8, "Signature"), decode::U8("Checksum"), decode::Name(6, "Oem ID"),
    decode::U8("Revision"),       decode::U32("RSDT Address"),
};
// ACPI 2.0's RSDP (revision 2 and up).
constexpr Spec kRsdp2Layout[] = {
    decode::U32("Length"), decode::U64("XSDT Address"), decode::U8("Extended Checksum"),
    decode::U24("Reserved"),
};
constexpr uint32_t kRsdp1Size = 20;

struct Known {
  std::string_view signature;
  std::string_view description;  // iasl's words (ahtable.c)
  decode::TableDecoder decoder;
};

constexpr Known kKnown[] = {
    {"FACP", "Fixed ACPI Description Table (FADT)", decode::DecodeFadt},
    {"FACS", "Firmware ACPI Control Structure", decode::DecodeFacs},
    {"APIC", "Multiple APIC Description Table (MADT)", decode::DecodeMadt},
    {"MCFG", "Memory Mapped Configuration table", decode::DecodeMcfg},
    {"HPET", "High Precision Event Timer table", decode::DecodeHpet},
    {"DMAR", "DMA Remapping table", decode::DecodeDmar},
    {"IORT", "IO Remapping Table", decode::DecodeIort},
    {"SRAT", "System Resource Affinity Table", decode::DecodeSrat},
    {"SLIT", "System Locality Information Table", decode::DecodeSlit},
    {"SPCR", "Serial Port Console Redirection table", decode::DecodeSpcr},
    {"DBG2", "Debug Port table type 2", decode::DecodeDbg2},
    {"GTDT", "Generic Timer Description Table", decode::DecodeGtdt},
    {"BGRT", "Boot Graphics Resource Table", decode::DecodeBgrt},
    // The RSDP is all header: DecodeHeader decodes it whole.
    {kRsdpSignature, "Root System Description Pointer", nullptr},
    // Listed with their header; the namespace reader reads their AML.
    {"DSDT", "Differentiated System Description Table (AML table)", nullptr},
    {"SSDT", "Secondary System Description Table (AML table)", nullptr},
    {"XSDT", "Extended System Description Table", nullptr},
    {"RSDT", "Root System Description Table", nullptr},
};

const Known* FindKnown(std::string_view signature) {
  for (const Known& known : kKnown) {
    if (known.signature == signature) return &known;
  }
  return nullptr;
}

// Field by field as far as the bytes go: a header has no subtables to
// overrun, and a short one is already a problem of the table.
void AppendWhileFits(const Decoder& decoder, std::vector<Field>& fields, uint32_t offset,
                     std::span<const Spec> layout) {
  for (const Spec& spec : layout) {
    auto field = decoder.One(offset, spec);
    if (!field) return;
    offset += field->length;
    fields.push_back(std::move(*field));
  }
}

}  // namespace

std::vector<Field> DecodeHeader(const Table& table) {
  Decoder decoder(table);
  std::vector<Field> fields;
  if (table.header.signature == kRsdpSignature) {
    AppendWhileFits(decoder, fields, 0, kRsdpLayout);
    if (table.header.revision >= 2) AppendWhileFits(decoder, fields, kRsdp1Size, kRsdp2Layout);
  } else if (table.header.signature == "FACS") {
    AppendWhileFits(decoder, fields, 0, kFacsHeaderLayout);
  } else {
    AppendWhileFits(decoder, fields, 0, kHeaderLayout);
  }
  return fields;
}

bool HasDecoder(std::string_view signature) {
  const Known* known = FindKnown(signature);
  return known && (known->decoder || signature == kRsdpSignature);
}

Result<DecodedTable> DecodeTable(const Table& table) {
  const std::string& signature = table.header.signature;
  const Known* known = FindKnown(signature);
  if (!known || !HasDecoder(signature)) {
    return Fail(Status::NOT_SUPPORTED, "no decoder for tables of signature '" + signature + "'",
                table.name);
  }
  DecodedTable decoded;
  decoded.name = table.name;
  decoded.description = std::string(known->description);
  decoded.fields = DecodeHeader(table);
  if (!known->decoder) return decoded;
  Decoder decoder(table);
  // Every decoder but the FACS's starts after a whole common header.
  uint32_t header_size = signature == "FACS" ? 8 : static_cast<uint32_t>(kTableHeaderSize);
  if (decoder.end() < header_size) return decoder.Overrun("the table header", 0, header_size);
  UDRV_TRY(known->decoder(decoder, decoded.fields));
  return decoded;
}

}  // namespace udrv::acpi
