// libFuzzer target: the kernel's ACPI view as text (kernel_view.h): a PNP
// device's `resources` and /proc/iomem or /proc/ioports, as a recorded or
// replayed tree (not the live kernel) may hold them. Every parsed range
// must be ordered and every claim's parent must come before it and sit one
// level up: anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "udrv/acpi/kernel_view.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto pnp = udrv::acpi::ParsePnpResources(text, "fuzz")) {
    for (const auto& resource : pnp->resources) {
      if (resource.end < resource.start) std::abort();
    }
  }
  if (auto tree = udrv::acpi::ParseResourceTree(text, "fuzz")) {
    for (size_t i = 0; i < tree->claims.size(); ++i) {
      const auto& claim = tree->claims[i];
      if (claim.end < claim.start) std::abort();
      if (claim.parent && (*claim.parent >= i || tree->claims[*claim.parent].depth + 1 != claim.depth)) std::abort();
      if (!claim.parent && claim.depth != 0) std::abort();
      (void)tree->Chain(claim);
    }
    (void)tree->Overlapping(0, UINT64_MAX);
  }
  return 0;
}
