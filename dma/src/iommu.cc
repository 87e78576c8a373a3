#include "udrv/dma/iommu.h"

#include <algorithm>

namespace udrv::dma {

Result<void> IommuDomain::EnsureAllocatorLocked() {
  if (allocator_) return {};
  auto info = Info();
  if (!info) return Wrap(std::move(info.error()), "IOVA space of the IOMMU domain");
  // Device address 0 reads as "no buffer" to many devices and drivers: the
  // first IOMMU page is never handed out.
  const uint64_t first_page = info->page_sizes != 0 ? info->page_sizes & -info->page_sizes : 1;
  std::vector<IovaRange> ranges;
  for (const IovaRange& range : info->ranges) {
    if (range.end < first_page) continue;
    ranges.push_back(IovaRange{std::max(range.start, first_page), range.end});
  }
  auto allocator = IovaAllocator::Create(ranges, info->page_sizes);
  if (!allocator) return Wrap(std::move(allocator.error()), "IOVA space of the IOMMU domain");
  allocator_ = std::move(*allocator);
  info_ = std::move(*info);
  return {};
}

Result<uint64_t> IommuDomain::AllocateIova(uint64_t size, uint64_t alignment, uint64_t limit) {
  std::lock_guard lock(iova_mutex_);
  if (auto ready = EnsureAllocatorLocked(); !ready) return std::unexpected(ready.error());
  return allocator_->Allocate(size, alignment, limit);
}

Result<void> IommuDomain::FreeIova(uint64_t iova, uint64_t size) {
  std::lock_guard lock(iova_mutex_);
  if (!allocator_) return Fail(Status::NOT_FOUND, "free IOVA: nothing was allocated");
  return allocator_->Free(iova, size);
}

Result<IommuInfo> IommuDomain::IovaInfo() {
  std::lock_guard lock(iova_mutex_);
  if (auto ready = EnsureAllocatorLocked(); !ready) return std::unexpected(ready.error());
  return info_;
}

}  // namespace udrv::dma
