// The type1v2 VFIO container: groups join it, the first sets the IOMMU type.
#include "container_type1.h"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "info_query.h"
#include "node.h"
#include "udrv/sysfs/file.h"

namespace udrv::vfio::internal {

Type1Container::Type1Container(sysfs::LinuxPaths paths, UniqueFd fd)
    : Iommu(std::move(paths)), fd_(std::move(fd)) {}

Result<std::shared_ptr<Iommu>> Type1Container::Create(sysfs::LinuxPaths paths) {
  const std::string object = "vfio container";
  auto fd = OpenNode(paths.dev + "/vfio/vfio", "load the vfio module and a VFIO driver", object);
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
  return std::shared_ptr<Iommu>(new Type1Container(std::move(paths), std::move(*fd)));
}

std::string Type1Container::DmaEntryLimit() const {
  auto limit =
      sysfs::ReadAttribute(paths_.ModuleParameter("vfio_iommu_type1", "dma_entry_limit"));
  if (!limit) return "dma_entry_limit (unreadable)";
  return *limit + " (vfio_iommu_type1 dma_entry_limit)";
}

Result<UniqueFd> Type1Container::AttachDevice(const DeviceLocation& device) {
  const std::string& object = device.name;
  const uint32_t group = device.iommu_group;
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
                        " is already open (another process, or another VFIO IOMMU in this one: "
                        "open every device of a group through one)",
                    object, err);
      }
      if (err == ENOENT) {
        return Fail(Status::NOT_FOUND,
                    "no " + group_path + " for IOMMU group " + std::to_string(group) +
                        " (is the device bound to a VFIO driver?)",
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

  UniqueFd fd(::ioctl(cached->fd.get(), VFIO_GROUP_GET_DEVICE_FD, device.name.c_str()));
  if (!fd) {
    return FailErrno(errno, "VFIO_GROUP_GET_DEVICE_FD(" + device.name + ") on " + group_path,
                     object);
  }
  return fd;
}

Result<dma::IommuInfo> Type1Container::Info() const {
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
  auto info = info::Query(fd_.get(), VFIO_IOMMU_GET_INFO, initial, "VFIO_IOMMU_GET_INFO",
                          Describe());
  if (!info) return std::unexpected(info.error());

  dma::IommuInfo result;
  if (info->info.flags & VFIO_IOMMU_INFO_PGSIZES) result.page_sizes = info->info.iova_pgsizes;
  if ((info->info.flags & VFIO_IOMMU_INFO_CAPS) == 0) return result;

  std::optional<Error> bad;
  auto walked = info::WalkCaps(
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
            result.ranges.push_back(dma::IovaRange{range.start, range.end});
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

Result<void> Type1Container::Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool device_read,
                                 bool device_write) {
  const std::string what =
      "VFIO_IOMMU_MAP_DMA(iova " + Hex(iova) + ", size " + Hex(size) + ")";
  vfio_iommu_type1_dma_map map{};
  map.argsz = sizeof(map);
  map.flags =
      (device_read ? VFIO_DMA_MAP_FLAG_READ : 0u) | (device_write ? VFIO_DMA_MAP_FLAG_WRITE : 0u);
  map.vaddr = vaddr;
  map.iova = iova;
  map.size = size;
  if (::ioctl(fd_.get(), VFIO_IOMMU_MAP_DMA, &map) == 0) return {};
  const int err = errno;
  if (err == ENOSPC) {
    return Fail(Status::NO_RESOURCES,
                what + ": the container's DMA mappings are spent (DMA_AVAIL 0; type1 allows " +
                    DmaEntryLimit() + " per container)",
                Describe(), err);
  }
  return FailMap(err, what, Describe());
}

Result<void> Type1Container::Unmap(uint64_t iova, uint64_t size) {
  const std::string what =
      "VFIO_IOMMU_UNMAP_DMA(iova " + Hex(iova) + ", size " + Hex(size) + ")";
  vfio_iommu_type1_dma_unmap unmap{};
  unmap.argsz = sizeof(unmap);
  unmap.iova = iova;
  unmap.size = size;
  if (::ioctl(fd_.get(), VFIO_IOMMU_UNMAP_DMA, &unmap) != 0) {
    return FailErrno(errno, what, Describe());
  }
  // It reports how much it unmapped: less means nothing was mapped there.
  if (unmap.size != size) {
    return Fail(Status::NOT_FOUND, what + ": unmapped " + Hex(unmap.size) + " bytes", Describe());
  }
  return {};
}

}  // namespace udrv::vfio::internal
