// A fake IOMMU domain for the DMA unit tests: records every Map and Unmap
// and refuses what type1 refuses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "udrv/dma/iommu.h"

namespace udrv::testing {

using dma::IommuDomain;
using dma::IommuInfo;
using dma::IovaRange;

// Records every Map and Unmap; refuses overlapping maps and unknown unmaps
// like type1 does, and checks that the memory behind a mapping is readable.
class FakeDomain final : public IommuDomain {
 public:
  struct Mapping {
    uintptr_t vaddr;
    uint64_t size;
    bool read;
    bool write;
  };

  explicit FakeDomain(std::vector<IovaRange> ranges = {{0, (uint64_t{1} << 40) - 1}},
                      uint64_t page_sizes = 0x40201000)
      : ranges_(std::move(ranges)), page_sizes_(page_sizes) {}

  Result<void> Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool read, bool write) override {
    std::lock_guard lock(mutex_);
    ++map_calls;
    if (fail_next_map) {
      fail_next_map = false;
      return Fail(Status::NO_RESOURCES, "fake MAP_DMA refused");
    }
    for (auto& [start, m] : mappings) {
      if (iova < start + m.size && start < iova + size) return Fail(Status::ALREADY_EXISTS, "overlap");
    }
    // The pages must be there: read the first and last byte.
    volatile const std::byte* bytes = reinterpret_cast<const std::byte*>(vaddr);
    (void)bytes[0];
    (void)bytes[size - 1];
    mappings[iova] = Mapping{vaddr, size, read, write};
    return {};
  }
  Result<void> Unmap(uint64_t iova, uint64_t size) override {
    std::lock_guard lock(mutex_);
    ++unmap_calls;
    if (fail_next_unmap) {
      fail_next_unmap = false;
      return Fail(Status::IO, "fake UNMAP_DMA refused");
    }
    auto it = mappings.find(iova);
    if (it == mappings.end() || it->second.size != size) return Fail(Status::NOT_FOUND, "no such mapping");
    mappings.erase(it);
    return {};
  }
  Result<IommuInfo> Info() const override { return IommuInfo{page_sizes_, ranges_, 65535}; }

  std::mutex mutex_;
  std::map<uint64_t, Mapping> mappings;
  int map_calls = 0;
  int unmap_calls = 0;
  bool fail_next_map = false;
  bool fail_next_unmap = false;

 private:
  std::vector<IovaRange> ranges_;
  uint64_t page_sizes_;
};

}  // namespace udrv::testing
