#include "udrv/pci/bind.h"

#include "udrv/sysfs/bind.h"
#include "udrv/sysfs/file.h"
#include "udrv/sysfs/iommu_group.h"

namespace udrv::pci {
namespace {

sysfs::BusDevice PciDevice(const sysfs::LinuxPaths& paths, const Address& address) {
  return sysfs::BusDevice{paths, "pci", address.ToString()};
}

std::unexpected<Error> FailNoIommu(const std::string& what, const std::string& object) {
  return Fail(Status::NOT_SUPPORTED,
              what +
                  ": no IOMMU group: boot with intel_iommu=on (or amd_iommu=on), or the "
                  "platform has no IOMMU; VFIO no-IOMMU mode is not supported",
              object);
}

Result<GroupViability> CheckGroup(const sysfs::LinuxPaths& paths, const Address& address,
                                  uint32_t group) {
  GroupViability viability;
  viability.group = group;
  const std::string devices = paths.IommuGroup(group) + "/devices";
  auto names = sysfs::ListIommuGroupDevices(paths, group);
  if (!names) return Wrap(names.error(), "list IOMMU group " + std::to_string(group));
  for (const std::string& name : *names) {
    const std::optional<std::string> driver = sysfs::ReadLinkName(devices + "/" + name + "/driver");
    auto member = Address::Parse(name);
    if (member) viability.members.emplace_back(*member, driver.value_or(""));
    // `address` itself is the one going to vfio-pci.
    if (member && *member == address) continue;
    if (driver && !DriverKeepsGroupViable(*driver)) {
      viability.blockers.push_back(name + " bound to " + *driver);
    }
  }
  viability.viable = viability.blockers.empty();
  return viability;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string joined;
  for (const std::string& part : parts)
    joined += (joined.empty() ? "" : std::string(separator)) + part;
  return joined;
}

std::unexpected<Error> FailNotViable(const GroupViability& viability, const std::string& what,
                                     const std::string& object) {
  return Fail(Status::BAD_STATE,
              what + ": " + Join(viability.blockers, ", ") +
                  (viability.blockers.size() == 1 ? " blocks" : " block") + " IOMMU group " +
                  std::to_string(viability.group) +
                  " (VFIO needs every member unbound, on vfio-pci, or on a driver that manages "
                  "DMA itself such as pci-stub or pcieport)",
              object);
}

// The group's viability once `address` is on vfio-pci: BAD_STATE naming
// the blockers when it is not viable.
Result<void> CheckViable(const sysfs::LinuxPaths& paths, const Address& address, uint32_t group,
                         const std::string& what) {
  auto viability = CheckGroup(paths, address, group);
  if (!viability) return Wrap(viability.error(), what);
  if (!viability->viable) return FailNotViable(*viability, what, address.ToString());
  return {};
}

}  // namespace

std::string CanonicalDriverName(std::string_view driver) {
  if (driver == "uio") return std::string(kUioPciDriver);
  return std::string(driver);
}

bool DriverKeepsGroupViable(std::string_view driver) {
  return driver == "pci-stub" || driver == "pcieport" || driver.ends_with("vfio-pci") ||
         driver.ends_with("vfio_pci");
}

Result<GroupViability> CheckGroupViability(const Address& address,
                                           const sysfs::LinuxPaths& paths) {
  const sysfs::BusDevice device = PciDevice(paths, address);
  if (!device.Exists()) {
    return Fail(Status::IO_NOT_PRESENT, "check IOMMU group: no such PCI device in sysfs",
                device.Path());
  }
  auto group = sysfs::ReadIommuGroup(device.Path());
  if (!group) return Wrap(group.error(), "check IOMMU group");
  if (!*group) {
    if (!sysfs::HasIommu(paths)) return FailNoIommu("check IOMMU group", device.name);
    return Fail(Status::NOT_FOUND,
                "check IOMMU group: the function has no IOMMU group yet although the system has "
                "an IOMMU (" +
                    paths.IommuUnits() +
                    "); arm64 SMMUv3 makes the group when a driver first probes the function",
                device.name);
  }
  return CheckGroup(paths, address, **group);
}

Result<BindRecord> BindDriver(const Address& address, const std::string& driver,
                              const sysfs::LinuxPaths& paths) {
  const sysfs::BusDevice device = PciDevice(paths, address);
  const std::string name = CanonicalDriverName(driver);
  const std::string& object = device.name;
  const std::string what = "bind " + object + " to " + name;
  if (!sysfs::IsDriverName(name)) {
    return Fail(Status::INVALID_ARGS, what + ": '" + driver + "' is not a driver name", object);
  }
  if (!device.Exists()) {
    return Fail(Status::IO_NOT_PRESENT, what + ": no such PCI device in sysfs", device.Path());
  }
  if (auto loaded = sysfs::CheckDriverLoaded(device, name); !loaded) {
    return Wrap(loaded.error(), what);
  }
  auto current = sysfs::ReadDriverBinding(device);
  if (!current) return Wrap(current.error(), what);
  BindRecord record{address, current->driver, current->driver_override, name};
  if (record.previous_driver == name) return record;

  // VFIO opens a group only when it is viable: checked before the unbind,
  // or, where the IOMMU makes the group at probe (arm64), after the bind.
  const bool to_vfio = name == kVfioPciDriver;
  std::optional<uint32_t> group_before;
  if (to_vfio) {
    auto group = sysfs::ReadIommuGroup(device.Path());
    if (!group) return Wrap(group.error(), what);
    group_before = *group;
    if (group_before) {
      UDRV_TRY(CheckViable(paths, address, *group_before, what));
    } else if (!sysfs::HasIommu(paths)) {
      return FailNoIommu(what, object);
    }
  }
  UDRV_TRY(sysfs::BindDriver(device, name, *current, what));
  if (to_vfio && !group_before) {
    auto checked = [&]() -> Result<void> {
      auto group = sysfs::ReadIommuGroup(device.Path());
      if (!group) return Wrap(group.error(), what);
      if (!*group) return FailNoIommu(what, object);
      return CheckViable(paths, address, **group, what);
    }();
    if (!checked) {
      auto restored = RestoreDriver(record, paths);
      if (!restored) {
        checked.error().what += "; restoring " + sysfs::DriverOrNone(record.previous_driver) +
                                " also failed: " + restored.error().what;
      }
      return std::unexpected(std::move(checked.error()));
    }
  }
  return record;
}

Result<BindRecord> UnbindDriver(const Address& address, const sysfs::LinuxPaths& paths) {
  const sysfs::BusDevice device = PciDevice(paths, address);
  const std::string what = "unbind " + device.name;
  if (!device.Exists()) {
    return Fail(Status::IO_NOT_PRESENT, what + ": no such PCI device in sysfs", device.Path());
  }
  auto current = sysfs::ReadDriverBinding(device);
  if (!current) return Wrap(current.error(), what);
  BindRecord record{address, current->driver, current->driver_override, ""};
  if (record.previous_driver) {
    UDRV_TRY(sysfs::UnbindDriver(device, *record.previous_driver, what));
  }
  return record;
}

Result<void> RestoreDriver(const BindRecord& record, const sysfs::LinuxPaths& paths) {
  const sysfs::BusDevice device = PciDevice(paths, record.address);
  const std::string what =
      "restore " + device.name + " to " + sysfs::DriverOrNone(record.previous_driver);
  if (!device.Exists()) {
    return Fail(Status::IO_NOT_PRESENT, what + ": no such PCI device in sysfs", device.Path());
  }
  return sysfs::RestoreDriver(
      device, sysfs::DriverBinding{record.previous_driver, record.previous_override}, what);
}

}  // namespace udrv::pci
