// A device's IOMMU group as sysfs shows it, for every bus: the device
// directory's `iommu_group` link names sys/kernel/iommu_groups/<N>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/sysfs/paths.h"

namespace udrv::sysfs {

// The group the `iommu_group` link of `device_path` names: nullopt without
// the link (no IOMMU, or no group yet). IO_INVALID naming the link when it
// is there but leads to no group: it cannot be followed (a loop: ELOOP), or
// its target is no group number. A link to a group directory that a
// recorded tree left out still names its group.
Result<std::optional<uint32_t>> ReadIommuGroup(const std::string& device_path);

// The sysfs names of the group's devices (of any bus), sorted; empty when
// the tree has no directory for the group (a recording that left it out).
Result<std::vector<std::string>> ListIommuGroupDevices(const LinuxPaths& paths, uint32_t group);

// Whether the system has an IOMMU unit (sys/class/iommu is not empty).
bool HasIommu(const LinuxPaths& paths);

}  // namespace udrv::sysfs
