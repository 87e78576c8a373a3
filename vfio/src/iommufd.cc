// The iommufd IOAS: each device's VFIO cdev is bound to iommufd and attached
// to the IOAS (untested: no Debian kernel has IOMMUFD; see iommu.h).
#include "iommufd.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <vector>

#include "iommufd_abi.h"
#include "node.h"
#include "udrv/sysfs/file.h"

namespace udrv::vfio::internal {

IommufdIoas::IommufdIoas(sysfs::LinuxPaths paths, UniqueFd fd, uint32_t ioas_id)
    : Iommu(std::move(paths)), fd_(std::move(fd)), ioas_id_(ioas_id) {}

Result<std::shared_ptr<Iommu>> IommufdIoas::Create(sysfs::LinuxPaths paths) {
  const std::string object = "iommufd";
  auto fd = OpenNode(paths.dev + "/iommu", "kernel without CONFIG_IOMMUFD", object);
  if (!fd) return std::unexpected(std::move(fd.error()));
  abi::IommuIoasAlloc alloc{};
  alloc.size = sizeof(alloc);
  if (::ioctl(fd->get(), abi::kIommuIoasAlloc, &alloc) != 0) {
    return FailErrno(errno, "IOMMU_IOAS_ALLOC", object);
  }
  return std::shared_ptr<Iommu>(
      new IommufdIoas(std::move(paths), std::move(*fd), alloc.out_ioas_id));
}

Result<UniqueFd> IommufdIoas::AttachDevice(const DeviceLocation& device) {
  const std::string& object = device.name;
  // sysfs names the device's cdev: <device>/vfio-dev/vfioN.
  const std::string dir = device.sysfs_path + "/vfio-dev";
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
  auto fd = OpenNode(path, "the VFIO cdev node is missing", object);
  if (!fd) return std::unexpected(fd.error());

  abi::VfioDeviceBindIommufd bind{};
  bind.argsz = sizeof(bind);
  bind.iommufd = fd_.get();
  if (::ioctl(fd->get(), abi::kVfioDeviceBindIommufd, &bind) != 0) {
    return FailErrno(errno, "VFIO_DEVICE_BIND_IOMMUFD(" + path + ")", object);
  }
  abi::VfioDeviceAttachIommufdPt attach{};
  attach.argsz = sizeof(attach);
  attach.pt_id = ioas_id_;
  if (::ioctl(fd->get(), abi::kVfioDeviceAttachIommufdPt, &attach) != 0) {
    return FailErrno(errno, "VFIO_DEVICE_ATTACH_IOMMUFD_PT(ioas " + std::to_string(ioas_id_) + ")",
                     object);
  }
  return fd;
}

Result<dma::IommuInfo> IommufdIoas::Info() const {
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
  dma::IommuInfo result;
  result.page_sizes = query.out_iova_alignment;
  for (uint32_t i = 0; i < query.num_iovas && i < ranges.size(); ++i) {
    result.ranges.push_back(dma::IovaRange{ranges[i].start, ranges[i].last});
  }
  return result;
}

Result<void> IommufdIoas::Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool device_read,
                              bool device_write) {
  abi::IommuIoasMap map{};
  map.size = sizeof(map);
  map.flags = abi::kIommuIoasMapFixedIova | (device_read ? abi::kIommuIoasMapReadable : 0u) |
              (device_write ? abi::kIommuIoasMapWriteable : 0u);
  map.ioas_id = ioas_id_;
  map.user_va = vaddr;
  map.length = size;
  map.iova = iova;
  if (::ioctl(fd_.get(), abi::kIommuIoasMap, &map) == 0) return {};
  return FailMap(errno, "IOMMU_IOAS_MAP(iova " + Hex(iova) + ", size " + Hex(size) + ")",
                 Describe());
}

Result<void> IommufdIoas::Unmap(uint64_t iova, uint64_t size) {
  const std::string what = "IOMMU_IOAS_UNMAP(iova " + Hex(iova) + ", size " + Hex(size) + ")";
  abi::IommuIoasUnmap unmap{};
  unmap.size = sizeof(unmap);
  unmap.ioas_id = ioas_id_;
  unmap.iova = iova;
  unmap.length = size;
  if (::ioctl(fd_.get(), abi::kIommuIoasUnmap, &unmap) != 0) {
    return FailErrno(errno, what, Describe());
  }
  // It reports how much it unmapped: less means nothing was mapped there.
  if (unmap.length != size) {
    return Fail(Status::NOT_FOUND, what + ": unmapped " + Hex(unmap.length) + " bytes",
                Describe());
  }
  return {};
}

}  // namespace udrv::vfio::internal
