// Read-only PCI inspection from sysfs. Works unprivileged: it reads only the
// attribute files and the first 64 bytes of config space that Linux lets any
// user read (root reads 256 or 4096). The root is configurable so tests run
// on recorded trees (test/pci/record-sysfs-tree.sh writes them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/pci/address.h"
#include "udrv/pci/config.h"
#include "udrv/sysfs/paths.h"

namespace udrv::pci {

// A BAR as the kernel assigned it: a line of the sysfs `resource` file.
struct BarInfo {
  uint32_t index = 0;    // 0..5
  uint64_t address = 0;  // bus address the kernel assigned (0: unassigned)
  uint64_t size = 0;
  bool is_io = false;
  bool is_64bit = false;  // takes BAR index + 1 as its upper half
  bool is_prefetchable = false;
};

struct RomInfo {
  uint64_t address = 0;
  uint64_t size = 0;
};

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
  // Why there is no iommu_group although the link is there (sysfs::ReadIommuGroup).
  std::optional<Error> iommu_group_error;
  // Every PCI function of that group, this one included, sorted.
  std::vector<Address> iommu_group_members;
  std::vector<BarInfo> bars;  // implemented BARs only, by index
  std::optional<RomInfo> expansion_rom;
  uint32_t irq = 0;        // the `irq` attribute: the legacy IRQ Linux routed (0: none)
  int32_t numa_node = -1;  // -1: no NUMA affinity
  std::optional<std::string> driver_override;  // absent when sysfs says "(null)"
  // The bridge above this function: the PCI function its sysfs directory
  // sits in; absent for functions on a root bus.
  std::optional<Address> parent_bridge;

  // The implemented BAR `index`, or nullptr.
  const BarInfo* FindBar(uint32_t index) const;

  uint8_t base_class() const { return static_cast<uint8_t>(class_code >> 16); }
  uint8_t sub_class() const { return static_cast<uint8_t>(class_code >> 8); }
  uint8_t prog_if() const { return static_cast<uint8_t>(class_code); }
};

class SysfsPci {
 public:
  // `paths.sys` holds bus/pci/devices ("/sys" on a live system).
  explicit SysfsPci(sysfs::LinuxPaths paths = {});

  // Every function under bus/pci/devices, sorted by address. NOT_FOUND names
  // the directory when the tree has no PCI bus.
  Result<std::vector<Address>> List() const;

  // The attributes of one function; IO_NOT_PRESENT if it vanished, IO_INVALID
  // naming the file when an attribute does not parse. An iommu_group link
  // that leads to no group is no failure: iommu_group_error says why.
  Result<DeviceInfo> Read(const Address& address) const;

  // The function's `config` file, as much as is readable: 64 bytes
  // unprivileged, 256 or 4096 as root. IO_NOT_PRESENT if it vanished;
  // FILE_BIG for a file larger than any config space.
  Result<ConfigSpace> ReadConfig(const Address& address) const;

  std::string DevicePath(const Address& address) const;
  const sysfs::LinuxPaths& paths() const { return paths_; }

 private:
  Result<std::vector<Address>> ListGroupMembers(uint32_t group) const;

  sysfs::LinuxPaths paths_;
};

}  // namespace udrv::pci
