// The IOMMU domain VFIO devices of any bus are attached to (libvfn's
// "iommu" object): either a VFIO container with the type1v2 IOMMU
// (/dev/vfio/vfio plus one /dev/vfio/GROUP per IOMMU group,
// container_type1.cc), or an iommufd IOAS (/dev/iommu plus the device's cdev
// /dev/vfio/devices/vfioN, iommufd.cc). Several devices share one Iommu, and
// so one DMA address space; each device keeps it alive.
//
// The iommufd backend follows the kernel UAPI (linux/iommufd.h and the VFIO
// cdev ioctls VFIO_DEVICE_BIND_IOMMUFD / VFIO_DEVICE_ATTACH_IOMMUFD_PT, Linux
// 6.6+), with the ABI in a private header because the Debian 6.1 headers
// udrv builds against lack it. It is chosen at run time only when the kernel
// has /dev/iommu and /dev/vfio/devices/. It is UNTESTED on a real kernel:
// Debian's kernels (6.1, 6.12, 7.x) are built without IOMMUFD, so the
// testbed guests only prove that AUTO falls back to the container and that
// asking for iommufd says why it cannot.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/dma/iommu.h"
#include "udrv/sysfs/paths.h"

namespace udrv::vfio {

enum class IommuBackend : uint8_t {
  AUTO = 0,     // iommufd when the kernel has it, else the container
  TYPE1V2 = 1,  // /dev/vfio/vfio container with VFIO_TYPE1v2_IOMMU
  IOMMUFD = 2,  // /dev/iommu IOAS and the device's VFIO cdev (untested, see above)
};
std::string_view IommuBackendName(IommuBackend backend);

// What either backend needs to open a device: its sysfs name (what
// VFIO_GROUP_GET_DEVICE_FD takes: "0000:00:02.0", "9000000.ethernet"), its
// sysfs directory (where vfio-dev/vfioN names its cdev) and its IOMMU group.
struct DeviceLocation {
  std::string name;
  std::string sysfs_path;
  uint32_t iommu_group = 0;
};

// Thread safe. The DMA layer maps memory through it (dma::IommuDomain, what
// a dma::Bti pins through); devices attach to it when they are opened.
class Iommu : public dma::IommuDomain {
 public:
  // Opens the container (or iommufd and an IOAS) under `paths.dev`.
  // NOT_FOUND when vfio (or /dev/iommu for IOMMUFD) is not there;
  // NOT_SUPPORTED when the kernel lacks the backend asked for.
  static Result<std::shared_ptr<Iommu>> Create(IommuBackend backend = IommuBackend::AUTO,
                                               sysfs::LinuxPaths paths = {});

  // TYPE1V2 or IOMMUFD, never AUTO.
  virtual IommuBackend backend() const = 0;
  // "vfio container (type1v2)" / "iommufd ioas 3", for errors.
  virtual std::string Describe() const = 0;

  // dma::IommuDomain: Map, Unmap, and Info (page sizes, IOVA ranges with
  // the MSI window and reserved regions cut out, the mapping budget). A
  // type1 container has its info only once a group is attached (VFIO sets
  // the IOMMU type with the first group): BAD_STATE before the first device
  // is opened. ENOMEM from a map is almost always RLIMIT_MEMLOCK
  // (NO_RESOURCES, saying so); EEXIST an IOVA already mapped.

  // The device fd of `device`, attached to this domain: the group joins the
  // container (the first one sets the IOMMU type), or the cdev is bound to
  // iommufd and attached to the IOAS. ALREADY_BOUND when this domain has the
  // device open already: VFIO keeps interrupts and the request eventfd per
  // device, not per fd, so two users of one device would take them from
  // each other. ReleaseDevice when the fd is closed.
  Result<UniqueFd> OpenDevice(const DeviceLocation& device);
  // The device was closed (or removed): it may be opened again.
  void ReleaseDevice(const std::string& name);

 protected:
  explicit Iommu(sysfs::LinuxPaths paths) : paths_(std::move(paths)) {}
  virtual Result<UniqueFd> AttachDevice(const DeviceLocation& device) = 0;

  const sysfs::LinuxPaths paths_;

 private:
  std::mutex mutex_;
  std::vector<std::string> open_devices_;  // guarded by mutex_
};

}  // namespace udrv::vfio
