// An iommufd IOAS (untested: no Debian kernel has IOMMUFD). Private to udrv_vfio.
#pragma once

#include <memory>

#include "udrv/vfio/iommu.h"

namespace udrv::vfio::internal {

class IommufdIoas final : public Iommu {
 public:
  // Opens paths.dev/iommu and allocates an IOAS.
  static Result<std::shared_ptr<Iommu>> Create(sysfs::LinuxPaths paths);

  IommuBackend backend() const override { return IommuBackend::IOMMUFD; }
  std::string Describe() const override { return "iommufd ioas " + std::to_string(ioas_id_); }
  // IOMMU_IOAS_MAP with FIXED_IOVA / IOMMU_IOAS_UNMAP.
  Result<void> Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool device_read,
                   bool device_write) override;
  Result<void> Unmap(uint64_t iova, uint64_t size) override;
  // IOMMU_IOAS_IOVA_RANGES; the IOVA alignment it needs as the one page
  // size; no mapping budget.
  Result<dma::IommuInfo> Info() const override;

 protected:
  Result<UniqueFd> AttachDevice(const DeviceLocation& device) override;

 private:
  IommufdIoas(sysfs::LinuxPaths paths, UniqueFd fd, uint32_t ioas_id);

  const UniqueFd fd_;
  const uint32_t ioas_id_;
};

}  // namespace udrv::vfio::internal
