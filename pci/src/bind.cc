#include "udrv/pci/bind.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>

#include "udrv/core/unique_fd.h"
#include "udrv/pci/sysfs_file.h"

namespace udrv::pci {
namespace {

struct SysfsPaths {
  std::string root;

  std::string Device(const Address& address) const {
    return root + "/bus/pci/devices/" + address.ToString();
  }
  std::string Driver(const std::string& name) const { return root + "/bus/pci/drivers/" + name; }
  std::string DriversProbe() const { return root + "/bus/pci/drivers_probe"; }
  std::string Group(uint32_t group) const {
    return root + "/kernel/iommu_groups/" + std::to_string(group);
  }
  std::string IommuClass() const { return root + "/class/iommu"; }
};

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The entries of a directory, sorted; empty when it does not exist.
Result<std::vector<std::string>> ListDirectory(const std::string& path) {
  std::vector<std::string> names;
  DIR* stream = ::opendir(path.c_str());
  if (stream == nullptr) {
    if (errno == ENOENT) return names;
    return FailErrno(errno, "opendir " + path);
  }
  while (const dirent* entry = ::readdir(stream)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

// driver_override: nullopt when unset (the kernel shows "(null)").
Result<std::optional<std::string>> ReadOverride(const std::string& device_path) {
  const std::string path = device_path + "/driver_override";
  auto text = ReadSysfsAttribute(path);
  if (!text) {
    if (text.error().err_no == ENOENT) {
      return Fail(Status::NOT_SUPPORTED, "this kernel has no driver_override (Linux 3.16 added it)",
                  path, ENOENT);
    }
    return std::unexpected(text.error());
  }
  if (text->empty() || *text == "(null)") return std::optional<std::string>();
  return std::optional<std::string>(std::move(*text));
}

// One write(2) of `text`, as sysfs wants it; the error names the file, the
// text and the errno (the kernel's answer: EINVAL, ENODEV, EBUSY, ...).
Result<void> WriteAttribute(const std::string& path, const std::string& text,
                            const std::string& object) {
  const std::string shown = text == "\n" ? "\\n" : text;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "open " + path + " to write '" + shown + "'", object);
  ssize_t n;
  do {
    n = ::write(fd.get(), text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno(errno, "write '" + shown + "' to " + path, object);
  if (static_cast<size_t>(n) != text.size()) {
    return Fail(Status::IO,
                "write '" + shown + "' to " + path + ": only " + std::to_string(n) + " of " +
                    std::to_string(text.size()) + " bytes taken",
                object);
  }
  return {};
}

std::string DriverOrNone(const std::optional<std::string>& driver) {
  return driver ? *driver : "no driver";
}

Result<void> CheckDriverLoaded(const SysfsPaths& paths, const std::string& driver,
                               const std::string& object) {
  if (Exists(paths.Driver(driver))) return {};
  return Fail(
      Status::NOT_FOUND,
      "driver '" + driver + "' is not loaded (modprobe " + driver + "): no " + paths.Driver(driver),
      object);
}

bool HasIommu(const SysfsPaths& paths) {
  auto iommus = ListDirectory(paths.IommuClass());
  return iommus && !iommus->empty();
}

std::unexpected<Error> FailNoIommu(const std::string& what, const std::string& object) {
  return Fail(Status::NOT_SUPPORTED,
              what +
                  ": no IOMMU group: boot with intel_iommu=on (or amd_iommu=on), or the "
                  "platform has no IOMMU; VFIO no-IOMMU mode is not supported",
              object);
}

Result<GroupViability> CheckGroup(const SysfsPaths& paths, const Address& address, uint32_t group) {
  GroupViability viability;
  viability.group = group;
  const std::string devices = paths.Group(group) + "/devices";
  auto names = ListDirectory(devices);
  if (!names) return Wrap(names.error(), "list IOMMU group " + std::to_string(group));
  for (const std::string& name : *names) {
    const std::optional<std::string> driver = ReadLinkName(devices + "/" + name + "/driver");
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

// After a failed bind: puts `record` back and reports `failure`, with the
// restore's own error if that failed too.
std::unexpected<Error> RollBack(const BindRecord& record, const std::string& sysfs_root,
                                std::unexpected<Error> failure) {
  auto restored = RestoreDriver(record, sysfs_root);
  if (!restored) {
    failure.error().what += "; restoring " + DriverOrNone(record.previous_driver) +
                            " also failed: " + restored.error().what;
  }
  return failure;
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

Result<GroupViability> CheckGroupViability(const Address& address, const std::string& sysfs_root) {
  const SysfsPaths paths{sysfs_root};
  const std::string object = address.ToString();
  const std::string device = paths.Device(address);
  if (!Exists(device)) {
    return Fail(Status::IO_NOT_PRESENT, "check IOMMU group: no such PCI device in sysfs", device);
  }
  auto group = ReadIommuGroupLink(device);
  if (!group) return Wrap(group.error(), "check IOMMU group");
  if (!*group) {
    if (!HasIommu(paths)) return FailNoIommu("check IOMMU group", object);
    return Fail(Status::NOT_FOUND,
                "check IOMMU group: the function has no IOMMU group yet although the system has "
                "an IOMMU (" +
                    paths.IommuClass() +
                    "); arm64 SMMUv3 makes the group when a driver first probes the function",
                object);
  }
  return CheckGroup(paths, address, **group);
}

Result<BindRecord> BindDriver(const Address& address, const std::string& driver,
                              const std::string& sysfs_root) {
  const SysfsPaths paths{sysfs_root};
  const std::string name = CanonicalDriverName(driver);
  const std::string object = address.ToString();
  const std::string what = "bind " + object + " to " + name;
  if (name.empty() || name.size() > 255 || std::any_of(name.begin(), name.end(), [](char c) {
        return c == '/' || c <= ' ' || c > '~';
      })) {
    return Fail(Status::INVALID_ARGS, what + ": '" + driver + "' is not a driver name", object);
  }
  const std::string device = paths.Device(address);
  if (!Exists(device)) {
    return Fail(Status::IO_NOT_PRESENT, what + ": no such PCI device in sysfs", device);
  }
  if (auto loaded = CheckDriverLoaded(paths, name, object); !loaded) {
    return Wrap(loaded.error(), what);
  }
  auto previous_override = ReadOverride(device);
  if (!previous_override) return Wrap(previous_override.error(), what);
  BindRecord record{address, ReadLinkName(device + "/driver"), std::move(*previous_override), name};
  if (record.previous_driver == name) return record;

  const bool to_vfio = name == kVfioPciDriver;
  std::optional<uint32_t> group_before;
  if (to_vfio) {
    auto group = ReadIommuGroupLink(device);
    if (!group) return Wrap(group.error(), what);
    group_before = *group;
    if (group_before) {
      auto viability = CheckGroup(paths, address, *group_before);
      if (!viability) return Wrap(viability.error(), what);
      if (!viability->viable) return FailNotViable(*viability, what, object);
    } else if (!HasIommu(paths)) {
      return FailNoIommu(what, object);
    }
    // Otherwise the IOMMU makes the group at probe (arm64): checked below.
  }

  if (record.previous_driver) {
    auto unbound = WriteAttribute(device + "/driver/unbind", object, object);
    if (!unbound) return Wrap(unbound.error(), what + ": unbind from " + *record.previous_driver);
  }
  if (auto written = WriteAttribute(device + "/driver_override", name, object); !written) {
    return RollBack(record, sysfs_root, Wrap(written.error(), what + ": set driver_override"));
  }
  if (auto probed = WriteAttribute(paths.DriversProbe(), object, object); !probed) {
    return RollBack(record, sysfs_root, Wrap(probed.error(), what + ": probe"));
  }
  const std::optional<std::string> bound = ReadLinkName(device + "/driver");
  if (bound != name) {
    return RollBack(record, sysfs_root,
                    Fail(Status::NOT_SUPPORTED,
                         what + ": the driver declined the function (now bound to " +
                             DriverOrNone(bound) + "); the kernel log (dmesg) says why",
                         object));
  }
  if (to_vfio && !group_before) {
    auto group = ReadIommuGroupLink(device);
    if (!group) return RollBack(record, sysfs_root, Wrap(group.error(), what));
    if (!*group) return RollBack(record, sysfs_root, FailNoIommu(what, object));
    auto viability = CheckGroup(paths, address, **group);
    if (!viability) return RollBack(record, sysfs_root, Wrap(viability.error(), what));
    if (!viability->viable) {
      return RollBack(record, sysfs_root, FailNotViable(*viability, what, object));
    }
  }
  return record;
}

Result<BindRecord> UnbindDriver(const Address& address, const std::string& sysfs_root) {
  const SysfsPaths paths{sysfs_root};
  const std::string object = address.ToString();
  const std::string device = paths.Device(address);
  if (!Exists(device)) {
    return Fail(Status::IO_NOT_PRESENT, "unbind " + object + ": no such PCI device in sysfs", device);
  }
  auto previous_override = ReadOverride(device);
  if (!previous_override) return Wrap(previous_override.error(), "unbind " + object);
  BindRecord record{address, ReadLinkName(device + "/driver"), std::move(*previous_override), ""};
  if (!record.previous_driver) return record;
  if (auto unbound = WriteAttribute(device + "/driver/unbind", object, object); !unbound) {
    return Wrap(unbound.error(), "unbind " + object + " from " + *record.previous_driver);
  }
  return record;
}

Result<void> RestoreDriver(const BindRecord& record, const std::string& sysfs_root) {
  const SysfsPaths paths{sysfs_root};
  const std::string object = record.address.ToString();
  const std::string what = "restore " + object + " to " + DriverOrNone(record.previous_driver);
  const std::string device = paths.Device(record.address);
  if (!Exists(device)) {
    return Fail(Status::IO_NOT_PRESENT, what + ": no such PCI device in sysfs", device);
  }
  const std::optional<std::string> current = ReadLinkName(device + "/driver");
  auto current_override = ReadOverride(device);
  if (!current_override) return Wrap(current_override.error(), what);
  if (current == record.previous_driver && *current_override == record.previous_override) {
    return {};
  }
  if (record.previous_driver) {
    if (auto loaded = CheckDriverLoaded(paths, *record.previous_driver, object); !loaded) {
      return Wrap(loaded.error(), what);
    }
  }
  if (current) {
    auto unbound = WriteAttribute(device + "/driver/unbind", object, object);
    if (!unbound) return Wrap(unbound.error(), what + ": unbind from " + *current);
  }
  // An empty line clears driver_override.
  auto written =
      WriteAttribute(device + "/driver_override", record.previous_override.value_or("\n"), object);
  if (!written) return Wrap(written.error(), what + ": restore driver_override");
  // A function that had no driver stays without: probing could bind one that
  // was loaded since.
  if (!record.previous_driver) return {};
  if (auto probed = WriteAttribute(paths.DriversProbe(), object, object); !probed) {
    return Wrap(probed.error(), what + ": probe");
  }
  const std::optional<std::string> bound = ReadLinkName(device + "/driver");
  if (bound != record.previous_driver) {
    return Fail(Status::BAD_STATE,
                what + ": the function did not bind again (now bound to " + DriverOrNone(bound) +
                    "); the kernel log (dmesg) says why",
                object);
  }
  return {};
}

}  // namespace udrv::pci
