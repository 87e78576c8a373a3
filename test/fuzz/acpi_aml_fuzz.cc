// libFuzzer target: the fuzzer's bytes as the AML of a definition block
// (behind a valid SSDT header) read by ReadNamespace: loading, table-level
// code, the evaluation of every device's _HID/_CID/_UID/_ADR/_STA/_CRS and
// the decoding of each _CRS. Whatever the bytes, it returns within its
// bounds; what it returns must hold together.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "udrv/acpi/namespace.h"

namespace {

template <typename T>
void CheckValue(const udrv::acpi::AmlValue<T>& value) {
  using udrv::acpi::ValueSource;
  const bool has_value = value.source == ValueSource::STATIC || value.source == ValueSource::EVALUATED;
  if (value.value.has_value() != has_value) std::abort();
  const bool explained = value.source == ValueSource::NEEDS_KERNEL || value.source == ValueSource::BROKEN;
  if (explained == value.detail.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes = {'S', 'S', 'D', 'T', 0, 0, 0, 0, 2, 0, 'U', 'D', 'R', 'V', 'F', 'Z',
                                'F', 'U', 'Z', 'Z', 'A', 'M', 'L', ' ', 1, 0, 0, 0, 'I', 'N', 'T', 'L', 1, 0, 0, 0};
  bytes.insert(bytes.end(), data, data + size);
  const auto length = static_cast<uint32_t>(bytes.size());
  for (int i = 0; i < 4; ++i) bytes[4 + static_cast<size_t>(i)] = static_cast<uint8_t>(length >> (8 * i));
  udrv::acpi::TableSet set;
  set.tables.push_back(udrv::acpi::ParseTable(std::move(bytes), "SSDT1", "fuzz"));

  const udrv::acpi::Namespace ns = udrv::acpi::ReadNamespace(set);
  for (const auto& device : ns.devices) {
    if (device.path.empty() || device.path[0] != '\\' || device.table != "SSDT1") std::abort();
    if (device.offset < 36 || device.offset >= length) std::abort();
    CheckValue(device.hid);
    CheckValue(device.cid);
    CheckValue(device.uid);
    CheckValue(device.adr);
    CheckValue(device.sta);
    CheckValue(device.crs);
    if (device.crs.value && device.crs.value->bytes.size() > 64 * 1024) std::abort();
  }
  for (const auto& problem : ns.problems)
    if (problem.what.empty()) std::abort();
  return 0;
}
