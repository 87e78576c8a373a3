#include "udrv/platform/device.h"

#include "udrv/platform/platform_bus.h"

namespace udrv::platform {
namespace {

// The index of `name` in the node's list property `key` (reg-names,
// interrupt-names); NOT_FOUND naming the names there are.
Result<uint32_t> IndexOfName(const bus::DeviceNode& node, std::string_view key, std::string_view name,
                             std::string_view what) {
  const bus::PropertyValue* value = node.properties.Find(key);
  const auto* names = value != nullptr ? std::get_if<bus::StringList>(value) : nullptr;
  if (names != nullptr) {
    for (size_t i = 0; i < names->size(); ++i) {
      if ((*names)[i] == name) return static_cast<uint32_t>(i);
    }
  }
  return Fail(Status::NOT_FOUND,
              std::string(what) + " '" + std::string(name) + "': " +
                  (names != nullptr ? "the node names " + bus::FormatPropertyValue(*value)
                                    : "the node has no " + std::string(key)),
              node.id);
}

}  // namespace

Result<Mmio> Device::GetMmio(std::string_view name) {
  UDRV_TRY_ASSIGN(const uint32_t index, IndexOfName(GetNode(), kPropRegNames, name, "get MMIO"));
  return GetMmio(index);
}

Result<Interrupt> Device::GetInterrupt(std::string_view name) {
  UDRV_TRY_ASSIGN(const uint32_t index,
                  IndexOfName(GetNode(), kPropInterruptNames, name, "get interrupt"));
  return GetInterrupt(index);
}

}  // namespace udrv::platform
