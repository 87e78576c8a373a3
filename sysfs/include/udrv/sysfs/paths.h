// Where Linux shows devices: the sysfs and /dev roots, named once and passed
// down. A live system uses the defaults; tests, --sysfs-root and replayed
// snapshots point them at trees of their own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace udrv::sysfs {

struct LinuxPaths {
  std::string sys = "/sys";
  std::string dev = "/dev";
  // procfs: /proc/iomem and /proc/ioports, the resources drivers claimed.
  std::string proc = "/proc";

  // sys/bus/<bus>/devices/<name>: "pci", "platform", "usb" devices alike.
  std::string BusDevice(std::string_view bus, std::string_view name) const {
    return sys + "/bus/" + std::string(bus) + "/devices/" + std::string(name);
  }
  std::string BusDevices(std::string_view bus) const {
    return sys + "/bus/" + std::string(bus) + "/devices";
  }
  std::string BusDriver(std::string_view bus, std::string_view driver) const {
    return sys + "/bus/" + std::string(bus) + "/drivers/" + std::string(driver);
  }
  std::string DriversProbe(std::string_view bus) const {
    return sys + "/bus/" + std::string(bus) + "/drivers_probe";
  }
  // sys/kernel/iommu_groups/<group>: its devices/, type, reserved_regions.
  std::string IommuGroup(uint32_t group) const {
    return sys + "/kernel/iommu_groups/" + std::to_string(group);
  }
  std::string IommuGroups() const { return sys + "/kernel/iommu_groups"; }
  // sys/class/iommu: one entry per IOMMU unit; empty or absent without one.
  std::string IommuUnits() const { return sys + "/class/iommu"; }
  // A module's parameter: sys/module/<module>/parameters/<name>.
  std::string ModuleParameter(std::string_view module, std::string_view name) const {
    return sys + "/module/" + std::string(module) + "/parameters/" + std::string(name);
  }
};

}  // namespace udrv::sysfs
