// libFuzzer target: ACPI tables as firmware (or a file someone handed
// busctl --acpi) may hold them. The input is one table's bytes for
// ParseTable and DecodeTable, and the text of an acpidump dump for
// ParseAcpidumpText (whose tables are decoded too). Each decoded field
// must lie inside the bytes its table has: a decoder that reads past its
// table aborts (ASan would too), one that loops forever times out.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "udrv/acpi/tables.h"

namespace {

void CheckInside(const std::vector<udrv::acpi::Field>& fields, size_t size) {
  for (const udrv::acpi::Field& field : fields) {
    if (static_cast<uint64_t>(field.offset) + field.length > size) std::abort();
    CheckInside(field.children, size);
  }
}

void Decode(const udrv::acpi::Table& table) {
  CheckInside(udrv::acpi::DecodeHeader(table), table.bytes.size());
  if (auto decoded = udrv::acpi::DecodeTable(table)) CheckInside(decoded->fields, table.bytes.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Decode(udrv::acpi::ParseTable(std::vector<uint8_t>(data, data + size), "", "fuzz"));
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto set = udrv::acpi::ParseAcpidumpText(text, "fuzz")) {
    for (const udrv::acpi::Table& table : set->tables) Decode(table);
  }
  return 0;
}
