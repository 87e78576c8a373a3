// busctl's binding state file (ParseBindingRecords): JSON that busctl wrote
// earlier, or that someone edited. Any input either fails cleanly or gives
// records that busctl writes back (RecordToJson) and reads again as the
// same records.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "binding_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace udrv::busctl;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto records = ParseBindingRecords(text, "fuzz");
  if (!records) {
    if (records.error().what.empty()) std::abort();
    return 0;
  }
  Json document = Json::object();
  document["schema"] = kStateFileSchema;
  Json list = Json::array();
  for (const RollbackRecord& record : *records) list.push_back(RecordToJson(record));
  document["records"] = std::move(list);
  auto again = ParseBindingRecords(DumpJson(document), "fuzz");
  if (!again || again->size() != records->size()) std::abort();
  for (size_t n = 0; n < records->size(); ++n) {
    if (RecordToJson((*again)[n]) != RecordToJson((*records)[n])) std::abort();
  }
  return 0;
}
