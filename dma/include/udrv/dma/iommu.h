// An IOMMU domain: the translation a Bti pins through. The bus that owns the
// IOMMU (pci's VfioIommu: a VFIO type1v2 container or an iommufd IOAS)
// implements Map/Unmap/Info; tests implement a fake one.
//
// The domain also owns the bookkeeping of its IOVA space, so that every Bti
// over one domain (several devices of one VFIO container, or one device's
// Bti asked for twice) hands out disjoint IOVAs.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/dma/iova_allocator.h"

namespace udrv::dma {

struct IommuInfo {
  // Bit n set: the IOMMU maps pages of 2^n bytes (VFIO's iova_pgsizes).
  uint64_t page_sizes = 0;
  // Where DMA may go, inclusive ends (reserved and MSI windows cut out).
  std::vector<IovaRange> ranges;
  // Mappings the domain can still make (type1's DMA_AVAIL); UINT32_MAX when
  // the domain has no such limit.
  uint32_t dma_avail = UINT32_MAX;
};

class IommuDomain {
 public:
  IommuDomain() = default;
  virtual ~IommuDomain() = default;
  IommuDomain(const IommuDomain&) = delete;
  IommuDomain& operator=(const IommuDomain&) = delete;

  // Maps [vaddr, vaddr+size) of this process at `iova`, pinning its pages.
  // device_read / device_write: what the device may do (its view).
  virtual Result<void> Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool device_read,
                           bool device_write) = 0;
  // Unmaps exactly one earlier Map.
  virtual Result<void> Unmap(uint64_t iova, uint64_t size) = 0;
  virtual Result<IommuInfo> Info() const = 0;

  // IOVA bookkeeping for Btis (see IovaAllocator::Allocate/Free). The
  // allocator is built from Info() on first use: a VFIO container knows its
  // ranges only once a device is attached.
  Result<uint64_t> AllocateIova(uint64_t size, uint64_t alignment, uint64_t limit);
  Result<void> FreeIova(uint64_t iova, uint64_t size);
  // The page sizes Info() reported, once AllocateIova or IovaInfo ran.
  Result<IommuInfo> IovaInfo();

 private:
  Result<void> EnsureAllocatorLocked();

  std::mutex iova_mutex_;
  std::optional<IovaAllocator> allocator_;  // guarded by iova_mutex_
  IommuInfo info_;                          // guarded by iova_mutex_; set with allocator_
};

}  // namespace udrv::dma
