// Read-only PCI inspection from sysfs. Works unprivileged: it reads only the
// attribute files and the first 64 bytes of config space that Linux lets any
// user read. The root is configurable so tests run on recorded trees.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/pci/address.h"

namespace udrv::pci {

struct DeviceInfo {
  Address address;
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  uint32_t class_code = 0;  // base class << 16 | subclass << 8 | prog-if
  uint8_t revision = 0;
  std::optional<std::string> driver;  // the bound kernel driver, if any
  std::optional<uint32_t> iommu_group;

  uint8_t base_class() const { return static_cast<uint8_t>(class_code >> 16); }
  uint8_t sub_class() const { return static_cast<uint8_t>(class_code >> 8); }
  uint8_t prog_if() const { return static_cast<uint8_t>(class_code); }
};

class SysfsPci {
 public:
  // `sysfs_root` is the directory that holds bus/pci/devices ("/sys" on a live system).
  explicit SysfsPci(std::string sysfs_root = "/sys");

  // Every function under bus/pci/devices, sorted by address. NOT_FOUND names
  // the directory when the tree has no PCI bus.
  Result<std::vector<Address>> List() const;

  // The attributes of one function; IO_NOT_PRESENT if it vanished, IO_INVALID
  // naming the file when an attribute does not parse.
  Result<DeviceInfo> Read(const Address& address) const;

  std::string DevicePath(const Address& address) const;

 private:
  std::string root_;
};

}  // namespace udrv::pci
