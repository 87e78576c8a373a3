// Synthetic config spaces for tests: a header with IDs and a capability list
// laid out the way a device would, linked as the test adds capabilities.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "udrv/pci/config.h"

namespace udrv::pci::testing {

class ConfigBuilder {
 public:
  explicit ConfigBuilder(size_t size = kConfigSize, uint16_t vendor = 0x8086,
                         uint16_t device = 0x10d3)
      : bytes(size, 0) {
    Set16(kConfigVendorId, vendor);
    Set16(kConfigDeviceId, device);
  }

  ConfigBuilder& Set8(size_t offset, uint8_t value) {
    bytes.at(offset) = value;
    return *this;
  }
  ConfigBuilder& Set16(size_t offset, uint16_t value) {
    Set8(offset, static_cast<uint8_t>(value));
    return Set8(offset + 1, static_cast<uint8_t>(value >> 8));
  }
  ConfigBuilder& Set32(size_t offset, uint32_t value) {
    Set16(offset, static_cast<uint16_t>(value));
    return Set16(offset + 2, static_cast<uint16_t>(value >> 16));
  }
  uint32_t Get32(size_t offset) const {
    return uint32_t{bytes.at(offset)} | uint32_t{bytes.at(offset + 1)} << 8 |
           uint32_t{bytes.at(offset + 2)} << 16 | uint32_t{bytes.at(offset + 3)} << 24;
  }

  // A standard capability at `offset`, linked from the previous one (or from
  // the capabilities pointer, setting the status bit); its next is 0.
  ConfigBuilder& AddCap(uint8_t offset, uint8_t id) {
    if (last_cap_ == 0) {
      Set8(kConfigCapabilitiesPointer, offset);
      Set16(kConfigStatus, kStatusCapabilitiesList);
    } else {
      Set8(last_cap_ + 1u, offset);
    }
    Set8(offset, id);
    Set8(offset + 1u, 0);
    last_cap_ = offset;
    return *this;
  }

  // An extended capability; the first must sit at 0x100.
  ConfigBuilder& AddExtCap(uint16_t offset, uint16_t id, uint8_t version) {
    if (last_ext_ != 0) {
      Set32(last_ext_, (Get32(last_ext_) & 0x000fffff) | uint32_t{offset} << 20);
    }
    Set32(offset, id | uint32_t{version} << 16);
    last_ext_ = offset;
    return *this;
  }

  ConfigSpace Build(std::string origin = "test config") const { return ConfigSpace(bytes, origin); }

  std::vector<uint8_t> bytes;

 private:
  uint8_t last_cap_ = 0;
  uint16_t last_ext_ = 0;
};

}  // namespace udrv::pci::testing
