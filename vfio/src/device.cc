#include "udrv/vfio/device.h"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "info_query.h"

namespace udrv::vfio {

DeviceFile::DeviceFile(std::shared_ptr<Iommu> iommu, std::string name, std::string object,
                       UniqueFd fd)
    : iommu_(std::move(iommu)), name_(std::move(name)), object_(std::move(object)),
      fd_(std::move(fd)) {}

Result<std::shared_ptr<DeviceFile>> DeviceFile::Open(std::shared_ptr<Iommu> iommu,
                                                     const DeviceLocation& device,
                                                     std::string object) {
  if (!iommu) return Fail(Status::INVALID_ARGS, "open VFIO device: no IOMMU given", object);
  auto fd = iommu->OpenDevice(device);
  if (!fd) return Wrap(fd.error(), "open VFIO device via " + iommu->Describe());
  vfio_device_info info{};
  info.argsz = sizeof(info);
  const bool got_info = ::ioctl(fd->get(), VFIO_DEVICE_GET_INFO, &info) == 0;
  const int err = errno;
  // From here the file's destructor releases the device from `iommu`.
  std::shared_ptr<DeviceFile> file(
      new DeviceFile(std::move(iommu), device.name, std::move(object), std::move(*fd)));
  if (!got_info) return FailErrno(err, "VFIO_DEVICE_GET_INFO", file->object_);
  file->info_ = DeviceInfo{info.flags, info.num_regions, info.num_irqs};
  return file;
}

DeviceFile::~DeviceFile() { Close(); }

template <typename Op>
auto DeviceFile::With(std::string_view what, Op op) const -> decltype(op(0)) {
  std::shared_lock lock(mutex_);
  if (removed_) {
    return Fail(Status::IO_NOT_PRESENT,
                std::string(what) + ": device was removed (the kernel took it back from VFIO)",
                object_);
  }
  if (!fd_) return Fail(Status::BAD_STATE, std::string(what) + ": device is closed", object_);
  return op(fd_.get());
}

Result<void> DeviceFile::CheckPresent(std::string_view what) const {
  return With(what, [](int) -> Result<void> { return {}; });
}

Result<Region> DeviceFile::GetRegion(uint32_t index) const {
  const std::string call = "VFIO_DEVICE_GET_REGION_INFO(" + std::to_string(index) + ")";
  return With(call, [&](int fd) -> Result<Region> {
    vfio_region_info initial{};
    initial.argsz = sizeof(initial);
    initial.index = index;
    auto region_info = info::Query(fd, VFIO_DEVICE_GET_REGION_INFO, initial, call, object_);
    if (!region_info) return std::unexpected(region_info.error());
    Region region;
    region.flags = region_info->info.flags;
    region.size = region_info->info.size;
    region.offset = region_info->info.offset;
    if ((region.flags & VFIO_REGION_INFO_FLAG_CAPS) == 0) return region;
    bool truncated = false;
    auto walked = info::WalkCaps(
        *region_info, region_info->info.cap_offset, call, object_,
        [&](const vfio_info_cap_header& header, uint32_t offset) {
          if (header.id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) region.msix_mappable = true;
          if (header.id != VFIO_REGION_INFO_CAP_SPARSE_MMAP) return;
          vfio_region_info_cap_sparse_mmap sparse{};
          const size_t first = offset + sizeof(sparse);
          if (!region_info->ReadCap(offset, sparse) ||
              (region_info->bytes.size() - first) / sizeof(vfio_region_sparse_mmap_area) <
                  sparse.nr_areas) {
            truncated = true;
            return;
          }
          for (uint32_t i = 0; i < sparse.nr_areas; ++i) {
            vfio_region_sparse_mmap_area area{};
            region_info->ReadCap(
                static_cast<uint32_t>(first + i * sizeof(vfio_region_sparse_mmap_area)), area);
            region.sparse_areas.emplace_back(area.offset, area.size);
          }
        });
    if (!walked) return std::unexpected(walked.error());
    if (truncated) {
      return Fail(Status::IO_INVALID, call + ": sparse mmap capability runs past the info",
                  object_);
    }
    return region;
  });
}

Result<uint32_t> DeviceFile::GetIrqCount(uint32_t index) const {
  if (index >= info_.num_irqs) return 0u;
  const std::string call = "VFIO_DEVICE_GET_IRQ_INFO(" + std::to_string(index) + ")";
  return With(call, [&](int fd) -> Result<uint32_t> {
    vfio_irq_info irq{};
    irq.argsz = sizeof(irq);
    irq.index = index;
    if (::ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) != 0) return FailErrno(errno, call, object_);
    return (irq.flags & VFIO_IRQ_INFO_EVENTFD) ? irq.count : 0u;
  });
}

Result<void> DeviceFile::SetIrqs(uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
                                 std::span<const int32_t> eventfds, std::string_view what) const {
  return With(what, [&](int fd) -> Result<void> {
    std::vector<std::byte> buffer(sizeof(vfio_irq_set) + eventfds.size_bytes());
    vfio_irq_set set{};
    set.argsz = static_cast<uint32_t>(buffer.size());
    set.flags = flags;
    set.index = index;
    set.start = start;
    set.count = count;
    std::memcpy(buffer.data(), &set, sizeof(set));
    if (!eventfds.empty()) {
      std::memcpy(buffer.data() + sizeof(set), eventfds.data(), eventfds.size_bytes());
    }
    if (::ioctl(fd, VFIO_DEVICE_SET_IRQS, buffer.data()) != 0) {
      return FailErrno(errno, "VFIO_DEVICE_SET_IRQS for " + std::string(what), object_);
    }
    return {};
  });
}

Result<void> DeviceFile::Reset(std::string_view why_none) const {
  return With("reset", [&](int fd) -> Result<void> {
    if ((info_.flags & VFIO_DEVICE_FLAGS_RESET) == 0) {
      return Fail(Status::NOT_SUPPORTED, "reset: " + std::string(why_none), object_);
    }
    if (::ioctl(fd, VFIO_DEVICE_RESET) != 0) return FailErrno(errno, "VFIO_DEVICE_RESET", object_);
    return {};
  });
}

Result<void> DeviceFile::Read(const Region& region, uint64_t offset,
                              std::span<uint8_t> bytes) const {
  const std::string what = "pread(region offset " + Hex(offset) + ")";
  return With(what, [&](int fd) -> Result<void> {
    const ssize_t n =
        ::pread(fd, bytes.data(), bytes.size(), static_cast<off_t>(region.offset + offset));
    if (n == static_cast<ssize_t>(bytes.size())) return {};
    return n < 0 ? FailErrno(errno, what, object_) : Fail(Status::IO, what + " was short", object_);
  });
}

Result<void> DeviceFile::Write(const Region& region, uint64_t offset,
                               std::span<const uint8_t> bytes) const {
  const std::string what = "pwrite(region offset " + Hex(offset) + ")";
  return With(what, [&](int fd) -> Result<void> {
    const ssize_t n =
        ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(region.offset + offset));
    if (n == static_cast<ssize_t>(bytes.size())) return {};
    return n < 0 ? FailErrno(errno, what, object_) : Fail(Status::IO, what + " was short", object_);
  });
}

Result<Vmo> DeviceFile::CreateRegionVmo(const Region& region, uint64_t size,
                                        std::string name) const {
  return With("map " + name, [&](int fd) -> Result<Vmo> {
    UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!copy) return FailErrno(errno, "dup of the device fd for " + name, object_);
    UDRV_TRY_ASSIGN(Vmo vmo, Vmo::CreatePhysical(std::move(copy), region.offset, size,
                                                 PhysicalRoute::VFIO_REGION, std::move(name)));
    UDRV_TRY_ASSIGN(Vmo kept, vmo.Duplicate(kRightSameRights));
    std::lock_guard lock(vmo_mutex_);
    minted_.push_back(std::move(kept));
    return vmo;
  });
}

void DeviceFile::CloseLocked(bool revoke) {
  fd_.reset();
  std::lock_guard vmo_lock(vmo_mutex_);
  if (revoke) {
    // The VMOs' dups of the device fd would keep the device file open and
    // the remover waiting: point them at /dev/null, which cannot be mapped.
    UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    for (const Vmo& vmo : minted_) {
      auto backing = vmo.GetBacking();
      if (backing && null) ::dup3(null.get(), backing->fd, O_CLOEXEC);
    }
  }
  minted_.clear();
  if (!released_) {
    released_ = true;
    iommu_->ReleaseDevice(name_);
  }
}

void DeviceFile::Revoke() {
  std::unique_lock lock(mutex_);
  removed_ = true;
  CloseLocked(true);
}

void DeviceFile::Close() {
  std::unique_lock lock(mutex_);
  CloseLocked(false);
}

bool DeviceFile::removed() const {
  std::shared_lock lock(mutex_);
  return removed_;
}

}  // namespace udrv::vfio
