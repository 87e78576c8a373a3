// The IOVA allocator of a BTI: hands out device-address blocks inside the
// ranges an IOMMU domain can translate (VFIO's CAP_IOVA_RANGE), at the
// alignment a mapping needs and below the DMA address limit of the device.
//
// It only does the bookkeeping: no ioctl, no memory. It takes no lock; the Bti
// that owns one serialises every call under its own lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::dma {

// An IOVA range with an inclusive end, like struct vfio_iova_range, so a
// range can reach the top of a 64-bit space.
struct IovaRange {
  uint64_t start = 0;
  uint64_t end = 0;  // the last usable address

  bool operator==(const IovaRange&) const = default;
};

// "No DMA address limit" for Allocate: the device reaches all 64 bits.
inline constexpr uint64_t kNoDmaLimit = UINT64_MAX;

class IovaAllocator {
 public:
  // No usable space: every Allocate fails. What a moved-from allocator is.
  IovaAllocator() = default;

  // `usable`: the ranges the IOMMU translates, in any order (they are sorted
  // here; VFIO does not promise an order); touching ranges merge into one.
  // `page_sizes`: VFIO's iova_pgsizes bitmap (0x40201000 = 4K|2M|1G); its
  // smallest page size is the granule of every block. INVALID_ARGS for no
  // ranges, a range whose end is below its start, overlapping ranges, a range
  // not aligned to the granule, or page_sizes 0.
  // A range that ends at UINT64_MAX loses its last granule, so that every
  // block end fits in 64 bits.
  static Result<IovaAllocator> Create(std::vector<IovaRange> usable, uint64_t page_sizes);

  IovaAllocator(IovaAllocator&& other) noexcept;
  IovaAllocator& operator=(IovaAllocator&& other) noexcept;
  IovaAllocator(const IovaAllocator&) = delete;
  IovaAllocator& operator=(const IovaAllocator&) = delete;
  ~IovaAllocator() = default;

  // A block of `size` bytes (rounded up to the granule) at an address aligned
  // to `alignment` (a power of two no smaller than the granule; 0 means the
  // granule; pass 2 MiB or 1 GiB so hugepage-backed memory can get huge IOMMU
  // mappings), with the whole block below `limit` (the device's DMA address
  // limit: its last reachable address + 1, e.g. 1 << 32). First fit from the
  // lowest address. INVALID_ARGS for size 0 or a bad alignment; NO_RESOURCES
  // when nothing fits, naming the largest free block below the limit.
  Result<uint64_t> Allocate(uint64_t size, uint64_t alignment = 0, uint64_t limit = kNoDmaLimit);

  // Frees exactly one block that Allocate returned: `iova` its address and
  // `size` the size asked for (or the rounded size). NOT_FOUND for anything
  // else — a part of a block cannot be freed, as VFIO type1v2 cannot unmap a
  // part of a mapping. The block merges with free neighbours.
  Result<void> Free(uint64_t iova, uint64_t size);

  uint64_t granule() const { return granule_; }
  uint64_t free_bytes() const { return free_bytes_; }
  size_t allocation_count() const { return allocations_.size(); }

  // The free blocks in address order, inclusive ends (for tests and GetInfo).
  std::vector<IovaRange> FreeRanges() const;

 private:
  IovaAllocator(uint64_t granule, std::map<uint64_t, uint64_t> free_blocks, uint64_t free_bytes);

  uint64_t granule_ = 0;
  // Free blocks: start -> exclusive end. Never empty, never touching.
  std::map<uint64_t, uint64_t> free_blocks_;
  // Allocated blocks: start -> size (a multiple of the granule).
  std::map<uint64_t, uint64_t> allocations_;
  uint64_t free_bytes_ = 0;
};

}  // namespace udrv::dma
