// What `busctl iommu` gathers, once, for its text and JSON renderers
// (iommu.cc): the IOMMU units and groups, the locked-memory limit, VFIO's
// no-IOMMU mode and the VFIO and iommufd device nodes.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "privilege.h"

namespace udrv::busctl {

struct Region {
  uint64_t start = 0;
  uint64_t last = 0;
  std::string type;  // "msi", "direct", "direct-relaxable", "reserved", "sw-msi"
};

struct Member {
  std::string name;  // "0000:00:1f.2", or a platform device's sysfs name
  std::optional<std::string> driver;
};

struct Group {
  uint32_t number = 0;
  std::optional<std::string> type;  // "DMA", "DMA-FQ", "identity", ...; absent before Linux 5.11
  std::vector<Member> members;
  std::optional<std::vector<Region>> reserved;  // nullopt: no reserved_regions file
  std::vector<std::pair<uint64_t, uint64_t>> usable;  // [start, last]
};

struct IommuReport {
  std::string units_directory;     // .../class/iommu, where the units are listed
  std::vector<std::string> units;  // dmar0, smmu3.0x...; none: no IOMMU
  std::vector<Group> groups;       // by number
  rlimit memlock{};
  std::string vfio_module;               // .../module/vfio
  bool vfio_loaded = false;
  bool noiommu_parameter = false;        // vfio has enable_unsafe_noiommu_mode
  std::optional<bool> noiommu;           // unknown when vfio is not loaded
  // The running machine's device nodes; none when reading another tree.
  std::optional<bool> vfio_node;
  std::optional<bool> iommufd_node;
  Skipped skipped;
};

}  // namespace udrv::busctl
