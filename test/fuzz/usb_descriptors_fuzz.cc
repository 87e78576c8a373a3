// libFuzzer target: USB descriptors as a device sent them (descriptors.h):
// a sysfs `descriptors` file, a BOS answer and a string descriptor, each
// parser over the same bytes. What a parser accepts must hold together:
// no more configurations, interfaces or endpoints than the descriptors
// said or the bounds allow, configurations that tile the bytes after the
// device descriptor in both layouts (a configuration's length differing
// from its wTotalLength only with a note), raw class descriptors inside the
// input; anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "udrv/usb/descriptors.h"

namespace {

void CheckRaw(const udrv::usb::RawDescriptor& raw, size_t size) {
  if (raw.bytes.size() < 2 || raw.offset + raw.bytes.size() > size || raw.bytes[0] != raw.bytes.size() ||
      raw.bytes[1] != raw.type) {
    std::abort();
  }
}

void CheckDescriptors(const udrv::usb::Descriptors& descriptors, size_t size,
                      udrv::usb::DescriptorLayout layout) {
  using namespace udrv::usb;
  if (descriptors.configurations.size() > descriptors.device.num_configurations ||
      descriptors.configurations.size() > kMaxConfigurations) {
    std::abort();
  }
  size_t covered = 18;
  size_t disagreeing = 0;
  for (const ConfigurationDescriptor& config : descriptors.configurations) {
    covered += config.length;
    if (config.length < 9) std::abort();
    if (config.length != config.total_length) ++disagreeing;
    if (config.interfaces.size() > config.num_interfaces || config.interfaces.size() > kMaxInterfaces) std::abort();
    for (const ClassDescriptor& extra : config.extra) CheckRaw(extra.raw, size);
    for (const Interface& interface : config.interfaces) {
      if (interface.alternates.empty() || interface.alternates.size() > kMaxAlternateSettings) std::abort();
      for (const InterfaceDescriptor& alternate : interface.alternates) {
        if (alternate.number != interface.number || alternate.endpoints.size() > alternate.num_endpoints ||
            alternate.endpoints.size() > kMaxEndpointsPerInterface) {
          std::abort();
        }
        for (const ClassDescriptor& extra : alternate.extra) CheckRaw(extra.raw, size);
        for (const EndpointDescriptor& endpoint : alternate.endpoints) {
          if (endpoint.number() == 0) std::abort();
          (void)EndpointTypeName(endpoint.type());
          for (const ClassDescriptor& extra : endpoint.extra) CheckRaw(extra.raw, size);
        }
      }
    }
    if (descriptors.FindConfiguration(config.value) == nullptr) std::abort();
  }
  if (covered != size) std::abort();
  if (layout == udrv::usb::DescriptorLayout::SYSFS && descriptors.notes.size() != disagreeing) std::abort();
  if (descriptors.notes.size() > descriptors.configurations.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  for (const auto layout : {udrv::usb::DescriptorLayout::SYSFS, udrv::usb::DescriptorLayout::USBFS}) {
    if (auto descriptors = udrv::usb::ParseDescriptors(bytes, "fuzz", layout)) {
      CheckDescriptors(*descriptors, size, layout);
    }
  }
  if (auto bos = udrv::usb::ParseBos(bytes, "fuzz")) {
    if (bos->total_length != size) std::abort();
    for (const auto& capability : bos->capabilities) CheckRaw(capability.raw, size);
  }
  if (auto text = udrv::usb::ParseStringDescriptor(bytes, "fuzz")) {
    // UTF-8 of at most 127 UTF-16 units: 3 bytes each, 4 per surrogate pair.
    if (text->size() > 3 * 127) std::abort();
  }
  return 0;
}
