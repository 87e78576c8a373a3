// A VFIO device fd, whatever its bus (vfio-pci, vfio-platform): its regions,
// its interrupts (VFIO_DEVICE_SET_IRQS), reset, and the kernel's request to
// have the device back. The bus's route (pci's VfioDevice) decides what each
// region and interrupt index means.
//
// Removal. When the kernel wants the device back (a PCI function's sysfs
// `remove`, or an unbind from the VFIO driver) it signals the device's
// request interrupt and blocks the remover until every reference to the
// device file is gone. RemovalWatcher (removal.h) watches that interrupt and
// Revoke()s the file at once: the fd is closed, every later call is
// IO_NOT_PRESENT, and the region VMOs handed out are pointed at /dev/null
// (a later Vmar::Map of them is IO_NOT_PRESENT too). What it cannot revoke
// are mappings the driver made: each holds the device file open until the
// driver drops it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"
#include "udrv/vfio/iommu.h"

namespace udrv::vfio {

// A region as VFIO_DEVICE_GET_REGION_INFO describes it.
struct Region {
  uint32_t flags = 0;   // VFIO_REGION_INFO_FLAG_*
  uint64_t size = 0;
  uint64_t offset = 0;  // opaque: where the region sits in the device fd
  // VFIO_REGION_INFO_CAP_SPARSE_MMAP: (offset, size) of the parts that may
  // be mmapped; empty when the whole region may.
  std::vector<std::pair<uint64_t, uint64_t>> sparse_areas;
  bool msix_mappable = false;  // VFIO_REGION_INFO_CAP_MSIX_MAPPABLE
};

// VFIO_DEVICE_GET_INFO.
struct DeviceInfo {
  uint32_t flags = 0;  // VFIO_DEVICE_FLAGS_*: the bus (PCI, PLATFORM), RESET
  uint32_t num_regions = 0;
  uint32_t num_irqs = 0;
};

// Shared by the route and the callbacks of the Interrupts it hands out
// (which may outlive it, so hold it weakly). Every call takes a shared lock
// on the fd; Revoke and Close take it exclusively to close it.
class DeviceFile {
 public:
  // Opens `device` through `iommu` (Iommu::OpenDevice) and reads its info.
  // `object` names it in errors ("0000:00:02.0 (vfio)").
  static Result<std::shared_ptr<DeviceFile>> Open(std::shared_ptr<Iommu> iommu,
                                                  const DeviceLocation& device,
                                                  std::string object);
  // Closes the fd (Close).
  ~DeviceFile();
  DeviceFile(const DeviceFile&) = delete;
  DeviceFile& operator=(const DeviceFile&) = delete;

  const DeviceInfo& info() const { return info_; }
  const std::shared_ptr<Iommu>& iommu() const { return iommu_; }
  const std::string& object() const { return object_; }

  // Region `index` with its sparse-mmap and MSI-X capabilities.
  Result<Region> GetRegion(uint32_t index) const;
  // How many eventfd-signalled interrupts index `index` has: 0 for an index
  // past num_irqs or one without eventfds.
  Result<uint32_t> GetIrqCount(uint32_t index) const;
  // VFIO_DEVICE_SET_IRQS for `count` interrupts of `index` from `start`,
  // `eventfds` being the DATA_EVENTFD payload; `what` names it in errors.
  Result<void> SetIrqs(uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
                       std::span<const int32_t> eventfds, std::string_view what) const;
  // VFIO_DEVICE_RESET; NOT_SUPPORTED when the device has no reset
  // (VFIO_DEVICE_FLAGS_RESET clear), `why_none` saying why in the message.
  Result<void> Reset(std::string_view why_none) const;
  // pread/pwrite of exactly `bytes` at `offset` into `region`.
  Result<void> Read(const Region& region, uint64_t offset, std::span<uint8_t> bytes) const;
  Result<void> Write(const Region& region, uint64_t offset, std::span<const uint8_t> bytes) const;
  // A physical VMO (route VFIO_REGION) over `size` bytes of `region`,
  // holding a duplicate of the fd; Revoke takes it back.
  Result<Vmo> CreateRegionVmo(const Region& region, uint64_t size, std::string name) const;
  // IO_NOT_PRESENT once revoked, BAD_STATE once closed: for calls that need
  // the device present but not its fd.
  Result<void> CheckPresent(std::string_view what) const;

  // The kernel asked for the device: closes the fd, revokes the VMOs and
  // releases the device from its Iommu. Later calls are IO_NOT_PRESENT.
  void Revoke();
  // Closes the fd and releases the device from its Iommu; later calls are
  // BAD_STATE. Idempotent.
  void Close();
  bool removed() const;

 private:
  DeviceFile(std::shared_ptr<Iommu> iommu, std::string name, std::string object, UniqueFd fd);

  // Runs op(fd) while the fd cannot be closed under it.
  template <typename Op>
  auto With(std::string_view what, Op op) const -> decltype(op(0));
  void CloseLocked(bool revoke);

  const std::shared_ptr<Iommu> iommu_;
  const std::string name_;    // the device's name in its Iommu
  const std::string object_;
  DeviceInfo info_;           // read once at open
  mutable std::shared_mutex mutex_;
  UniqueFd fd_;               // guarded by mutex_
  bool removed_ = false;      // guarded by mutex_
  bool released_ = false;     // guarded by mutex_
  mutable std::mutex vmo_mutex_;   // taken after mutex_
  mutable std::vector<Vmo> minted_;  // the region VMOs handed out; guarded by vmo_mutex_
};

}  // namespace udrv::vfio
