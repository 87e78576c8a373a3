// VfioIommu: a type1v2 VFIO container, or an iommufd IOAS (see vfio.h for
// what is and is not tested of the latter).
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "iommufd_abi.h"
#include "udrv/pci/vfio.h"
#include "udrv/sysfs/file.h"
#include "vfio_info.h"

namespace udrv::pci {
namespace {

bool IsCharDevice(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

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

// type1's per-container mapping budget (the module's dma_entry_limit),
// for the error that says it is spent.
std::string Type1DmaEntryLimit(const sysfs::LinuxPaths& paths) {
  auto limit =
      sysfs::ReadAttribute(paths.ModuleParameter("vfio_iommu_type1", "dma_entry_limit"));
  if (!limit) return "dma_entry_limit (unreadable)";
  return *limit + " (vfio_iommu_type1 dma_entry_limit)";
}

}  // namespace

std::string_view VfioIommuBackendName(VfioIommuBackend backend) {
  switch (backend) {
    case VfioIommuBackend::AUTO:
      return "auto";
    case VfioIommuBackend::TYPE1V2:
      return "type1v2";
    case VfioIommuBackend::IOMMUFD:
      return "iommufd";
  }
  return "unknown";
}

VfioIommu::VfioIommu(VfioIommuBackend backend, sysfs::LinuxPaths paths, UniqueFd fd,
                     uint32_t ioas_id)
    : backend_(backend), paths_(std::move(paths)), fd_(std::move(fd)), ioas_id_(ioas_id) {}

VfioIommu::~VfioIommu() = default;

std::string VfioIommu::Describe() const {
  if (backend_ == VfioIommuBackend::IOMMUFD) return "iommufd ioas " + std::to_string(ioas_id_);
  return "vfio container (type1v2)";
}

Result<std::shared_ptr<VfioIommu>> VfioIommu::Create(VfioIommuBackend backend,
                                                     sysfs::LinuxPaths paths) {
  const std::string iommufd_path = paths.dev + "/iommu";
  const std::string cdev_dir = paths.dev + "/vfio/devices";
  // iommufd needs both the iommufd node and VFIO's per-device cdevs; a
  // kernel with only the former still uses groups.
  const bool has_iommufd = IsCharDevice(iommufd_path) && IsDirectory(cdev_dir);
  if (backend == VfioIommuBackend::AUTO) {
    backend = has_iommufd ? VfioIommuBackend::IOMMUFD : VfioIommuBackend::TYPE1V2;
  }

  if (backend == VfioIommuBackend::IOMMUFD) {
    const std::string object = "iommufd";
    if (!has_iommufd) {
      return Fail(Status::NOT_SUPPORTED,
                  "create VFIO IOMMU: iommufd needs " + iommufd_path + " and " + cdev_dir +
                      " (a kernel with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV, Linux 6.6+); "
                      "use the type1v2 container",
                  object);
    }
    auto fd = OpenNode(iommufd_path, "kernel without CONFIG_IOMMUFD", object);
    if (!fd) return std::unexpected(std::move(fd.error()));
    abi::IommuIoasAlloc alloc{};
    alloc.size = sizeof(alloc);
    if (::ioctl(fd->get(), abi::kIommuIoasAlloc, &alloc) != 0) {
      return FailErrno(errno, "IOMMU_IOAS_ALLOC", object);
    }
    return std::shared_ptr<VfioIommu>(new VfioIommu(VfioIommuBackend::IOMMUFD, std::move(paths),
                                                    std::move(*fd), alloc.out_ioas_id));
  }

  const std::string container_path = paths.dev + "/vfio/vfio";
  const std::string object = "vfio container";
  auto fd = OpenNode(container_path, "load the vfio and vfio-pci modules", object);
  if (!fd) return std::unexpected(std::move(fd.error()));
  const int version = ::ioctl(fd->get(), VFIO_GET_API_VERSION);
  if (version != VFIO_API_VERSION) {
    return Fail(Status::NOT_SUPPORTED,
                "VFIO_GET_API_VERSION is " + std::to_string(version) + ", udrv speaks " +
                    std::to_string(VFIO_API_VERSION),
                object);
  }
  if (::ioctl(fd->get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
    return Fail(Status::NOT_SUPPORTED,
                "the container lacks VFIO_TYPE1v2_IOMMU (load vfio_iommu_type1; no IOMMU?)",
                object);
  }
  return std::shared_ptr<VfioIommu>(
      new VfioIommu(VfioIommuBackend::TYPE1V2, std::move(paths), std::move(*fd), 0));
}

Result<UniqueFd> VfioIommu::OpenDeviceFd(const Address& address, uint32_t group) {
  {
    std::lock_guard lock(mutex_);
    if (std::find(open_devices_.begin(), open_devices_.end(), address) != open_devices_.end()) {
      return Fail(Status::ALREADY_BOUND,
                  "open VFIO device: already open through this " + Describe() +
                      " (one VfioDevice per function)",
                  address.ToString());
    }
  }
  auto fd = backend_ == VfioIommuBackend::IOMMUFD ? OpenCdevDeviceFd(address)
                                                  : OpenGroupDeviceFd(address, group);
  if (!fd) return fd;
  std::lock_guard lock(mutex_);
  open_devices_.push_back(address);
  return fd;
}

void VfioIommu::ReleaseDevice(const Address& address) {
  std::lock_guard lock(mutex_);
  std::erase(open_devices_, address);
}

Result<UniqueFd> VfioIommu::OpenGroupDeviceFd(const Address& address, uint32_t group) {
  const std::string object = address.ToString();
  const std::string group_path = paths_.dev + "/vfio/" + std::to_string(group);
  std::lock_guard lock(mutex_);

  auto cached = std::find_if(groups_.begin(), groups_.end(),
                             [&](const Group& g) { return g.number == group; });
  if (cached != groups_.end()) {
    // A group whose last device was removed is detached from the container
    // by the kernel; a group of that number now is a new one.
    vfio_group_status status{};
    status.argsz = sizeof(status);
    if (::ioctl(cached->fd.get(), VFIO_GROUP_GET_STATUS, &status) != 0 ||
        (status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET) == 0) {
      groups_.erase(cached);
      cached = groups_.end();
    }
  }
  if (cached == groups_.end()) {
    UniqueFd fd(::open(group_path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd) {
      const int err = errno;
      if (err == EBUSY) {
        return Fail(Status::UNAVAILABLE,
                    "open " + group_path + ": IOMMU group " + std::to_string(group) +
                        " is already open (another process, or another VfioIommu in this one: "
                        "open every device of a group through one VfioIommu)",
                    object, err);
      }
      if (err == ENOENT) {
        return Fail(Status::NOT_FOUND,
                    "no " + group_path + " for IOMMU group " + std::to_string(group) +
                        " (is the device bound to vfio-pci?)",
                    object, err);
      }
      return FailErrno(err, "open(" + group_path + ", O_RDWR)", object);
    }
    vfio_group_status status{};
    status.argsz = sizeof(status);
    if (::ioctl(fd.get(), VFIO_GROUP_GET_STATUS, &status) != 0) {
      return FailErrno(errno, "VFIO_GROUP_GET_STATUS(" + group_path + ")", object);
    }
    if ((status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0) {
      return Fail(Status::BAD_STATE,
                  "IOMMU group " + std::to_string(group) +
                      " is not viable: another member is bound to a host driver; "
                      "CheckGroupViability (udrv/pci/bind.h) names it",
                  object);
    }
    int container = fd_.get();
    if (::ioctl(fd.get(), VFIO_GROUP_SET_CONTAINER, &container) != 0) {
      return FailErrno(errno, "VFIO_GROUP_SET_CONTAINER(" + group_path + ")", object);
    }
    if (!iommu_set_) {
      if (::ioctl(fd_.get(), VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0) {
        const int err = errno;
        if (err == EPERM) {
          return Fail(Status::NOT_SUPPORTED,
                      "VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU) refused with EPERM: the interrupt "
                      "controller cannot remap MSIs (on arm64 SMMUv3 needs a GICv3 ITS; "
                      "vfio_iommu_type1.allow_unsafe_interrupts=1 overrides, unsafely)",
                      object, err);
        }
        return FailErrno(err, "VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)", object);
      }
      iommu_set_ = true;
    }
    groups_.push_back(Group{group, std::move(fd)});
    cached = groups_.end() - 1;
  }

  const std::string name = address.ToString();
  UniqueFd device(::ioctl(cached->fd.get(), VFIO_GROUP_GET_DEVICE_FD, name.c_str()));
  if (!device) {
    return FailErrno(errno, "VFIO_GROUP_GET_DEVICE_FD(" + name + ") on " + group_path, object);
  }
  return device;
}

Result<UniqueFd> VfioIommu::OpenCdevDeviceFd(const Address& address) {
  const std::string object = address.ToString();
  // sysfs names the device's cdev: .../BDF/vfio-dev/vfioN.
  const std::string dir = paths_.BusDevice("pci", address.ToString()) + "/vfio-dev";
  std::string cdev;
  if (auto names = sysfs::ListDirectory(dir)) {
    for (const std::string& name : *names) {
      if (name.starts_with("vfio")) cdev = name;
    }
  }
  if (cdev.empty()) {
    return Fail(Status::NOT_FOUND,
                "no VFIO cdev under " + dir + " (kernel without CONFIG_VFIO_DEVICE_CDEV?)", object);
  }
  const std::string path = paths_.dev + "/vfio/devices/" + cdev;
  auto device = OpenNode(path, "the VFIO cdev node is missing", object);
  if (!device) return std::unexpected(device.error());

  abi::VfioDeviceBindIommufd bind{};
  bind.argsz = sizeof(bind);
  bind.iommufd = fd_.get();
  if (::ioctl(device->get(), abi::kVfioDeviceBindIommufd, &bind) != 0) {
    return FailErrno(errno, "VFIO_DEVICE_BIND_IOMMUFD(" + path + ")", object);
  }
  abi::VfioDeviceAttachIommufdPt attach{};
  attach.argsz = sizeof(attach);
  attach.pt_id = ioas_id_;
  if (::ioctl(device->get(), abi::kVfioDeviceAttachIommufdPt, &attach) != 0) {
    return FailErrno(errno, "VFIO_DEVICE_ATTACH_IOMMUFD_PT(ioas " + std::to_string(ioas_id_) + ")",
                     object);
  }
  return device;
}

Result<VfioIommuInfo> VfioIommu::GetInfo() const {
  if (backend_ == VfioIommuBackend::IOMMUFD) return GetIommufdInfo();
  return GetType1Info();
}

Result<VfioIommuInfo> VfioIommu::GetType1Info() const {
  {
    std::lock_guard lock(mutex_);
    if (!iommu_set_) {
      return Fail(Status::BAD_STATE,
                  "IOMMU info: no device attached yet (a type1 container gets its IOMMU with "
                  "the first group)",
                  Describe());
    }
  }
  vfio_iommu_type1_info initial{};
  initial.argsz = sizeof(initial);
  auto info =
      vfio_info::Query(fd_.get(), VFIO_IOMMU_GET_INFO, initial, "VFIO_IOMMU_GET_INFO", Describe());
  if (!info) return std::unexpected(info.error());

  VfioIommuInfo result;
  if (info->info.flags & VFIO_IOMMU_INFO_PGSIZES) result.iova_pgsizes = info->info.iova_pgsizes;
  if ((info->info.flags & VFIO_IOMMU_INFO_CAPS) == 0) return result;

  std::optional<Error> bad;
  auto walked = vfio_info::WalkCaps(
      *info, info->info.cap_offset, "VFIO_IOMMU_GET_INFO", Describe(),
      [&](const vfio_info_cap_header& header, uint32_t offset) {
        if (header.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
          vfio_iommu_type1_info_cap_iova_range cap{};
          const size_t first = offset + sizeof(cap);
          if (!info->ReadCap(offset, cap) ||
              (info->bytes.size() - first) / sizeof(vfio_iova_range) < cap.nr_iovas) {
            bad = Error{Status::IO_INVALID, "IOVA range capability runs past the info", Describe(),
                        0};
            return;
          }
          for (uint32_t i = 0; i < cap.nr_iovas; ++i) {
            vfio_iova_range range{};
            info->ReadCap(static_cast<uint32_t>(first + i * sizeof(range)), range);
            result.iova_ranges.push_back(IovaRange{range.start, range.end});
          }
        } else if (header.id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
          vfio_iommu_type1_info_dma_avail cap{};
          if (info->ReadCap(offset, cap)) result.dma_avail = cap.avail;
        }
      });
  if (!walked) return std::unexpected(walked.error());
  if (bad) return std::unexpected(std::move(*bad));
  return result;
}

Result<VfioIommuInfo> VfioIommu::GetIommufdInfo() const {
  std::vector<abi::IommuIovaRange> ranges(4);
  abi::IommuIoasIovaRanges query{};
  for (;;) {
    query = {};
    query.size = sizeof(query);
    query.ioas_id = ioas_id_;
    query.num_iovas = static_cast<uint32_t>(ranges.size());
    query.allowed_iovas = reinterpret_cast<uintptr_t>(ranges.data());
    if (::ioctl(fd_.get(), abi::kIommuIoasIovaRanges, &query) == 0) break;
    if (errno != EMSGSIZE || query.num_iovas <= ranges.size()) {
      return FailErrno(errno, "IOMMU_IOAS_IOVA_RANGES", Describe());
    }
    ranges.resize(query.num_iovas);
  }
  VfioIommuInfo result;
  result.iova_pgsizes = query.out_iova_alignment;
  for (uint32_t i = 0; i < query.num_iovas && i < ranges.size(); ++i) {
    result.iova_ranges.push_back(IovaRange{ranges[i].start, ranges[i].last});
  }
  return result;
}

Result<void> VfioIommu::Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool device_read,
                            bool device_write) {
  const bool iommufd = backend_ == VfioIommuBackend::IOMMUFD;
  const std::string what = std::string(iommufd ? "IOMMU_IOAS_MAP" : "VFIO_IOMMU_MAP_DMA") +
                           "(iova " + Hex(iova) + ", size " + Hex(size) + ")";
  int result = 0;
  if (iommufd) {
    abi::IommuIoasMap map{};
    map.size = sizeof(map);
    map.flags = abi::kIommuIoasMapFixedIova | (device_read ? abi::kIommuIoasMapReadable : 0u) |
                (device_write ? abi::kIommuIoasMapWriteable : 0u);
    map.ioas_id = ioas_id_;
    map.user_va = vaddr;
    map.length = size;
    map.iova = iova;
    result = ::ioctl(fd_.get(), abi::kIommuIoasMap, &map);
  } else {
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof(map);
    map.flags = (device_read ? VFIO_DMA_MAP_FLAG_READ : 0u) |
                (device_write ? VFIO_DMA_MAP_FLAG_WRITE : 0u);
    map.vaddr = vaddr;
    map.iova = iova;
    map.size = size;
    result = ::ioctl(fd_.get(), VFIO_IOMMU_MAP_DMA, &map);
  }
  if (result == 0) return {};
  const int err = errno;
  if (err == ENOMEM) {
    return Fail(Status::NO_RESOURCES,
                what + ": the pinned pages would pass RLIMIT_MEMLOCK (raise it, or run with "
                       "CAP_IPC_LOCK)",
                Describe(), err);
  }
  if (err == ENOSPC && !iommufd) {
    return Fail(Status::NO_RESOURCES,
                what + ": the container's DMA mappings are spent (DMA_AVAIL 0; type1 allows " +
                    Type1DmaEntryLimit(paths_) + " per container)",
                Describe(), err);
  }
  return FailErrno(err, what, Describe());
}

Result<void> VfioIommu::Unmap(uint64_t iova, uint64_t size) {
  const bool iommufd = backend_ == VfioIommuBackend::IOMMUFD;
  const std::string what = std::string(iommufd ? "IOMMU_IOAS_UNMAP" : "VFIO_IOMMU_UNMAP_DMA") +
                           "(iova " + Hex(iova) + ", size " + Hex(size) + ")";
  uint64_t unmapped = 0;
  if (iommufd) {
    abi::IommuIoasUnmap unmap{};
    unmap.size = sizeof(unmap);
    unmap.ioas_id = ioas_id_;
    unmap.iova = iova;
    unmap.length = size;
    if (::ioctl(fd_.get(), abi::kIommuIoasUnmap, &unmap) != 0) return FailErrno(errno, what, Describe());
    unmapped = unmap.length;
  } else {
    vfio_iommu_type1_dma_unmap unmap{};
    unmap.argsz = sizeof(unmap);
    unmap.iova = iova;
    unmap.size = size;
    if (::ioctl(fd_.get(), VFIO_IOMMU_UNMAP_DMA, &unmap) != 0) return FailErrno(errno, what, Describe());
    unmapped = unmap.size;
  }
  // Both report how much they unmapped: less means nothing was mapped there.
  if (unmapped != size) {
    return Fail(Status::NOT_FOUND, what + ": unmapped " + Hex(unmapped) + " bytes", Describe());
  }
  return {};
}

Result<dma::IommuInfo> VfioIommu::Info() const {
  auto info = GetInfo();
  if (!info) return std::unexpected(info.error());
  dma::IommuInfo result;
  result.page_sizes = info->iova_pgsizes;
  for (const IovaRange& range : info->iova_ranges) {
    result.ranges.push_back(dma::IovaRange{range.start, range.last});
  }
  result.dma_avail = info->dma_avail.value_or(UINT32_MAX);
  return result;
}

}  // namespace udrv::pci
