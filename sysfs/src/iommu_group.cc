#include "udrv/sysfs/iommu_group.h"

#include <sys/stat.h>

#include <cerrno>

#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"

namespace udrv::sysfs {

Result<std::optional<uint32_t>> ReadIommuGroup(const std::string& device_path) {
  const std::string path = device_path + "/iommu_group";
  const std::optional<std::string> name = ReadLinkName(path);
  if (!name) return std::optional<uint32_t>();
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 && errno != ENOENT) {
    const int err = errno;  // before the arguments below are built
    return Fail(Status::IO_INVALID, "read IOMMU group: the iommu_group link cannot be followed",
                path, err);
  }
  // A group is a decimal number; "-0" is no group.
  const std::optional<int64_t> group =
      name->starts_with('-') ? std::nullopt : ParseDecimal(*name, 0, UINT32_MAX);
  if (!group) {
    return Fail(Status::IO_INVALID,
                "read IOMMU group: the iommu_group link leads to '" + *name +
                    "', not an IOMMU group",
                path);
  }
  return std::optional<uint32_t>(static_cast<uint32_t>(*group));
}

Result<std::vector<std::string>> ListIommuGroupDevices(const LinuxPaths& paths, uint32_t group) {
  auto names = ListDirectory(paths.IommuGroup(group) + "/devices");
  if (!names && names.error().err_no == ENOENT) return std::vector<std::string>();
  return names;
}

bool HasIommu(const LinuxPaths& paths) {
  auto units = ListDirectory(paths.IommuUnits());
  return units && !units->empty();
}

}  // namespace udrv::sysfs
