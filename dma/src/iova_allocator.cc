#include "udrv/dma/iova_allocator.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <iterator>
#include <string>
#include <utility>

namespace udrv::dma {
namespace {

constexpr const char* kObject = "iova allocator";

std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%" PRIx64, value);
  return text;
}

bool IsPowerOfTwo(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// Rounds `value` up to a multiple of the power of two `alignment`; false when
// the result would not fit in 64 bits.
bool AlignUp(uint64_t value, uint64_t alignment, uint64_t* aligned) {
  if (value > UINT64_MAX - (alignment - 1)) return false;
  *aligned = (value + alignment - 1) & ~(alignment - 1);
  return true;
}

std::string Describe(const IovaRange& range) {
  return "[" + Hex(range.start) + ", " + Hex(range.end) + "]";
}

}  // namespace

IovaAllocator::IovaAllocator(uint64_t granule, std::map<uint64_t, uint64_t> free_blocks,
                             uint64_t free_bytes)
    : granule_(granule), free_blocks_(std::move(free_blocks)), free_bytes_(free_bytes) {}

IovaAllocator::IovaAllocator(IovaAllocator&& other) noexcept
    : granule_(std::exchange(other.granule_, 0)),
      free_blocks_(std::exchange(other.free_blocks_, {})),
      allocations_(std::exchange(other.allocations_, {})),
      free_bytes_(std::exchange(other.free_bytes_, 0)) {}

IovaAllocator& IovaAllocator::operator=(IovaAllocator&& other) noexcept {
  if (this != &other) {
    granule_ = std::exchange(other.granule_, 0);
    free_blocks_ = std::exchange(other.free_blocks_, {});
    allocations_ = std::exchange(other.allocations_, {});
    free_bytes_ = std::exchange(other.free_bytes_, 0);
  }
  return *this;
}

Result<IovaAllocator> IovaAllocator::Create(std::vector<IovaRange> usable, uint64_t page_sizes) {
  if (page_sizes == 0) {
    return Fail(Status::INVALID_ARGS, "create: page size bitmap is 0 (no IOMMU page size)", kObject);
  }
  if (usable.empty()) {
    return Fail(Status::INVALID_ARGS, "create: no usable IOVA range", kObject);
  }
  const uint64_t granule = page_sizes & (~page_sizes + 1);  // the lowest set bit
  for (const IovaRange& range : usable) {
    if (range.end < range.start) {
      return Fail(Status::INVALID_ARGS, "create: IOVA range " + Describe(range) + " ends before it starts",
                  kObject);
    }
    // end + 1 wraps to 0 for a range reaching UINT64_MAX, which is aligned.
    if (range.start % granule != 0 || (range.end + 1) % granule != 0) {
      return Fail(Status::INVALID_ARGS,
                  "create: IOVA range " + Describe(range) + " is not aligned to the smallest IOMMU page size " +
                      Hex(granule),
                  kObject);
    }
  }
  std::sort(usable.begin(), usable.end(),
            [](const IovaRange& a, const IovaRange& b) { return a.start < b.start; });

  // Merge touching ranges, so a block may span them; overlapping ones are a
  // caller's mistake.
  std::vector<IovaRange> merged{usable.front()};
  for (size_t i = 1; i < usable.size(); ++i) {
    IovaRange& last = merged.back();
    if (usable[i].start <= last.end) {  // last.end is usable[i - 1].end
      return Fail(Status::INVALID_ARGS,
                  "create: IOVA ranges " + Describe(usable[i - 1]) + " and " + Describe(usable[i]) +
                      " overlap",
                  kObject);
    }
    if (usable[i].start == last.end + 1) {
      last.end = usable[i].end;
    } else {
      merged.push_back(usable[i]);
    }
  }

  std::map<uint64_t, uint64_t> free_blocks;
  uint64_t free_bytes = 0;
  for (const IovaRange& range : merged) {
    const uint64_t end = range.end == UINT64_MAX ? UINT64_MAX - granule + 1 : range.end + 1;
    if (end <= range.start) continue;  // a lone top granule, dropped
    free_blocks.emplace(range.start, end);
    free_bytes += end - range.start;
  }
  return IovaAllocator(granule, std::move(free_blocks), free_bytes);
}

Result<uint64_t> IovaAllocator::Allocate(uint64_t size, uint64_t alignment, uint64_t limit) {
  if (size == 0) return Fail(Status::INVALID_ARGS, "allocate: size 0", kObject);
  if (granule_ == 0) {
    return Fail(Status::NO_RESOURCES,
                "allocate " + Hex(size) + " bytes: no usable IOVA range (default-constructed or moved from)",
                kObject);
  }
  if (alignment == 0) alignment = granule_;
  if (!IsPowerOfTwo(alignment) || alignment < granule_) {
    return Fail(Status::INVALID_ARGS,
                "allocate " + Hex(size) + " bytes: alignment " + Hex(alignment) +
                    " is not a power of two at least the IOMMU page size " + Hex(granule_),
                kObject);
  }
  uint64_t rounded = 0;
  if (AlignUp(size, granule_, &rounded)) {
    for (auto block = free_blocks_.begin(); block != free_blocks_.end(); ++block) {
      const auto [start, end] = *block;
      uint64_t iova = 0;
      // Blocks ascend: once one starts past the limit or its aligned start
      // no longer fits in 64 bits, so do all that follow.
      if (start >= limit || !AlignUp(start, alignment, &iova)) break;
      if (iova >= end || end - iova < rounded) continue;
      if (iova >= limit || limit - iova < rounded) break;
      if (start < iova) {
        block->second = iova;  // keep the head
      } else {
        block = free_blocks_.erase(block);
      }
      if (iova + rounded < end) free_blocks_.emplace_hint(block, iova + rounded, end);
      allocations_.emplace(iova, rounded);
      free_bytes_ -= rounded;
      return iova;
    }
  }

  uint64_t largest_start = 0;
  uint64_t largest_size = 0;
  for (const auto& [start, end] : free_blocks_) {
    if (start >= limit) break;
    const uint64_t below = std::min(end, limit) - start;
    if (below > largest_size) {
      largest_start = start;
      largest_size = below;
    }
  }
  std::string what = "allocate " + Hex(size) + " bytes aligned to " + Hex(alignment) +
                     (limit == kNoDmaLimit ? std::string(" with no DMA limit")
                                           : " below the DMA limit " + Hex(limit)) +
                     ": no free IOVA block fits; ";
  what += largest_size == 0 ? std::string("nothing is free below the limit")
                            : "the largest free block below the limit is " + Hex(largest_size) +
                                  " bytes at " + Hex(largest_start);
  what += " (" + Hex(free_bytes_) + " bytes free in all)";
  return Fail(Status::NO_RESOURCES, std::move(what), kObject);
}

Result<void> IovaAllocator::Free(uint64_t iova, uint64_t size) {
  const auto allocation = allocations_.find(iova);
  if (allocation == allocations_.end()) {
    auto containing = allocations_.upper_bound(iova);
    if (containing != allocations_.begin() &&
        iova - std::prev(containing)->first < std::prev(containing)->second) {
      --containing;
      return Fail(Status::NOT_FOUND,
                  "free " + Hex(iova) + ": inside the allocation of " + Hex(containing->second) +
                      " bytes at " + Hex(containing->first) + "; only whole allocations can be freed",
                  kObject);
    }
    return Fail(Status::NOT_FOUND, "free " + Hex(iova) + ": no allocation starts there", kObject);
  }
  uint64_t rounded = 0;
  if (size == 0 || !AlignUp(size, granule_, &rounded) || rounded != allocation->second) {
    return Fail(Status::NOT_FOUND,
                "free " + Hex(iova) + ": the allocation there is " + Hex(allocation->second) +
                    " bytes, not " + Hex(size),
                kObject);
  }
  const uint64_t start = iova;
  uint64_t end = iova + rounded;
  allocations_.erase(allocation);
  free_bytes_ += rounded;

  auto next = free_blocks_.lower_bound(start);
  if (next != free_blocks_.end() && next->first == end) {
    end = next->second;
    next = free_blocks_.erase(next);
  }
  if (next != free_blocks_.begin()) {
    const auto previous = std::prev(next);
    if (previous->second == start) {
      previous->second = end;
      return {};
    }
  }
  free_blocks_.emplace_hint(next, start, end);
  return {};
}

std::vector<IovaRange> IovaAllocator::FreeRanges() const {
  std::vector<IovaRange> ranges;
  ranges.reserve(free_blocks_.size());
  for (const auto& [start, end] : free_blocks_) ranges.push_back({start, end - 1});
  return ranges;
}

}  // namespace udrv::dma
