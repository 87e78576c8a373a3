// libFuzzer target: the fuzzer's bytes as a resource template (a _CRS
// buffer): DecodeResourceTemplate, FormatResource of each descriptor and
// the ranges and interrupts the bus takes from them. Whatever the bytes,
// decoding returns; what it returns must lie inside the template.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "udrv/acpi/resources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = udrv::acpi::DecodeResourceTemplate(std::span<const uint8_t>(data, size), "\\_SB_.FUZZ._CRS");
  if (!decoded) {
    if (decoded.error().what.find("at byte") == std::string::npos) std::abort();
    return 0;
  }
  uint64_t end = 0;
  for (const auto& resource : *decoded) {
    if (resource.offset != end || resource.length == 0) std::abort();
    end = uint64_t{resource.offset} + resource.length;
    if (end > size) std::abort();
    if (udrv::acpi::FormatResource(resource).empty()) std::abort();
  }
  for (const auto& range : udrv::acpi::MemoryRanges(*decoded))
    if (range.resource >= decoded->size()) std::abort();
  for (const auto& range : udrv::acpi::IoRanges(*decoded))
    if (range.resource >= decoded->size()) std::abort();
  for (const auto& interrupt : udrv::acpi::Interrupts(*decoded))
    if (interrupt.resource >= decoded->size()) std::abort();
  return 0;
}
