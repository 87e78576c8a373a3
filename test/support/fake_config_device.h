// A pci::Device whose config space is bytes in memory, for fakes of real
// devices in unit tests: it starts with the vendor and device IDs, and
// records every write the Device layer lets through. The rest of the
// protocol (BARs, interrupts, BTIs) is each fake's own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "udrv/pci/device.h"

namespace udrv::testing {

class FakeConfigDevice : public pci::Device {
 public:
  FakeConfigDevice(const pci::Address& address, uint16_t vendor_id, uint16_t device_id)
      : Device(address), config(256, 0) {
    config[0x00] = static_cast<uint8_t>(vendor_id);
    config[0x01] = static_cast<uint8_t>(vendor_id >> 8);
    config[0x02] = static_cast<uint8_t>(device_id);
    config[0x03] = static_cast<uint8_t>(device_id >> 8);
  }

  std::vector<uint8_t> config;
  struct Access {
    uint16_t offset;
    size_t width;
    uint32_t value;
  };
  std::vector<Access> writes;

 protected:
  Result<uint32_t> DoReadConfig(uint16_t offset, size_t width) const override {
    uint32_t value = 0;
    for (size_t i = 0; i < width; ++i) value |= uint32_t{config[offset + i]} << (8 * i);
    return value;
  }
  Result<void> DoWriteConfig(uint16_t offset, size_t width, uint32_t value) override {
    writes.push_back({offset, width, value});
    for (size_t i = 0; i < width; ++i) config[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    return {};
  }
  size_t ConfigSize() const override { return config.size(); }
};

}  // namespace udrv::testing
