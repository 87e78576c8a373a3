#include "udrv/vfio/iommu.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "container_type1.h"
#include "iommufd.h"
#include "node.h"

namespace udrv::vfio {
namespace {

bool IsCharDevice(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

namespace internal {

Result<UniqueFd> OpenNode(const std::string& path, std::string_view missing_hint,
                          const std::string& object) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd) return fd;
  const int err = errno;
  if (err == ENOENT) {
    return Fail(Status::NOT_FOUND, "no " + path + ": " + std::string(missing_hint), object, err);
  }
  return FailErrno(err, "open(" + path + ", O_RDWR)", object);
}

std::unexpected<Error> FailMap(int err, const std::string& what, const std::string& object) {
  if (err == ENOMEM) {
    return Fail(Status::NO_RESOURCES,
                what + ": the pinned pages would pass RLIMIT_MEMLOCK (raise it, or run with "
                       "CAP_IPC_LOCK)",
                object, err);
  }
  return FailErrno(err, what, object);
}

}  // namespace internal

std::string_view IommuBackendName(IommuBackend backend) {
  switch (backend) {
    case IommuBackend::AUTO:
      return "auto";
    case IommuBackend::TYPE1V2:
      return "type1v2";
    case IommuBackend::IOMMUFD:
      return "iommufd";
  }
  return "unknown";
}

Result<std::shared_ptr<Iommu>> Iommu::Create(IommuBackend backend, sysfs::LinuxPaths paths) {
  const std::string iommufd_path = paths.dev + "/iommu";
  const std::string cdev_dir = paths.dev + "/vfio/devices";
  // iommufd needs both the iommufd node and VFIO's per-device cdevs; a
  // kernel with only the former still uses groups.
  const bool has_iommufd = IsCharDevice(iommufd_path) && IsDirectory(cdev_dir);
  if (backend == IommuBackend::AUTO) {
    backend = has_iommufd ? IommuBackend::IOMMUFD : IommuBackend::TYPE1V2;
  }
  if (backend == IommuBackend::TYPE1V2) return internal::Type1Container::Create(std::move(paths));
  if (!has_iommufd) {
    return Fail(Status::NOT_SUPPORTED,
                "create VFIO IOMMU: iommufd needs " + iommufd_path + " and " + cdev_dir +
                    " (a kernel with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV, Linux 6.6+); "
                    "use the type1v2 container",
                "iommufd");
  }
  return internal::IommufdIoas::Create(std::move(paths));
}

Result<UniqueFd> Iommu::OpenDevice(const DeviceLocation& device) {
  {
    std::lock_guard lock(mutex_);
    if (std::find(open_devices_.begin(), open_devices_.end(), device.name) !=
        open_devices_.end()) {
      return Fail(Status::ALREADY_BOUND,
                  "open VFIO device: already open through this " + Describe() +
                      " (one user per device)",
                  device.name);
    }
  }
  auto fd = AttachDevice(device);
  if (!fd) return fd;
  std::lock_guard lock(mutex_);
  open_devices_.push_back(device.name);
  return fd;
}

void Iommu::ReleaseDevice(const std::string& name) {
  std::lock_guard lock(mutex_);
  std::erase(open_devices_, name);
}

}  // namespace udrv::vfio
