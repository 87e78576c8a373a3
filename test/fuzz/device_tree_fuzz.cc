// libFuzzer target: a flattened device tree blob as udrv reads it
// (udrv/platform/device_tree.h): FromBlob's checks, then Enumerate (every
// reg translation, dma-ranges window and interrupt resolution) and Find of
// every device. Whatever the bytes, each step returns; what it returns must
// hold together.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "udrv/platform/device_tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> blob(reinterpret_cast<const std::byte*>(data), size);
  auto tree = udrv::platform::DeviceTree::FromBlob(blob, "fuzz.dtb");
  if (!tree) return 0;
  auto devices = tree->Enumerate();
  if (!devices) return 0;
  for (const udrv::platform::DtDevice& device : *devices) {
    for (const auto& reg : device.regs) {
      // A region either translates or says why it does not.
      if (reg.phys.has_value() == !reg.untranslated.empty()) std::abort();
      const bool named = reg.index < device.reg_names.size();
      if (named ? reg.name != device.reg_names[reg.index] : !reg.name.empty()) std::abort();
    }
    for (const auto& interrupt : device.interrupts) {
      if (interrupt.controller.empty() || interrupt.controller[0] != '/') std::abort();
      if (interrupt.gic && interrupt.specifier.size() < 3) std::abort();
    }
    if (device.dma && device.dma->limit < device.dma->bus_base) std::abort();
    for (const auto& problem : device.problems) {
      if (problem.object.empty() || problem.what.empty()) std::abort();
    }
    // Find reaches a device at the same path (the first of siblings with
    // one name: libfdt and Linux alike take the first).
    auto found = tree->Find(device.path);
    if (!found || found->path != device.path) std::abort();
  }
  return 0;
}
