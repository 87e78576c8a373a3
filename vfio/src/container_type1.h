// The type1v2 VFIO container. Private to udrv_vfio.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "udrv/vfio/iommu.h"

namespace udrv::vfio::internal {

class Type1Container final : public Iommu {
 public:
  // NOT_FOUND without paths.dev/vfio/vfio; NOT_SUPPORTED without type1v2.
  static Result<std::shared_ptr<Iommu>> Create(sysfs::LinuxPaths paths);

  IommuBackend backend() const override { return IommuBackend::TYPE1V2; }
  std::string Describe() const override { return "vfio container (type1v2)"; }
  Result<void> Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool device_read,
                   bool device_write) override;
  Result<void> Unmap(uint64_t iova, uint64_t size) override;
  // VFIO_IOMMU_GET_INFO with its IOVA range and DMA_AVAIL capabilities.
  Result<dma::IommuInfo> Info() const override;

 protected:
  Result<UniqueFd> AttachDevice(const DeviceLocation& device) override;

 private:
  struct Group {
    uint32_t number = 0;
    UniqueFd fd;
  };
  Type1Container(sysfs::LinuxPaths paths, UniqueFd fd);
  // type1's per-container mapping budget, for the error that says it is spent.
  std::string DmaEntryLimit() const;

  const UniqueFd fd_;
  mutable std::mutex mutex_;
  std::vector<Group> groups_;  // guarded by mutex_
  bool iommu_set_ = false;     // guarded by mutex_; VFIO_SET_IOMMU done
};

}  // namespace udrv::vfio::internal
