// DMA buffers for drivers, after Fuchsia's dma-buffer library: memory
// allocated, mapped for the CPU and pinned for one device in one call, and
// unpinned when the buffer goes.
//
// Both kinds are move-only and own their VMO, their CPU mapping and their
// pin. Destroying a buffer unpins it; when the IOMMU refuses the unmap the
// pin is quarantined on its Bti (see bti.h), never freed under the device.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "udrv/core/result.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"

namespace udrv::dma {

// What both buffer kinds are: a VMO, its CPU mapping and its pin.
class PinnedMemory {
 public:
  PinnedMemory(PinnedMemory&&) noexcept = default;
  PinnedMemory& operator=(PinnedMemory&& other) noexcept;
  // Unpins (quarantining the pin when the IOMMU refuses), then unmaps.
  ~PinnedMemory();

  bool is_valid() const { return pmt_.is_valid(); }
  void* virt() const { return reinterpret_cast<void*>(virt_); }
  // Bytes usable from virt(): the size asked for, rounded up to pages.
  uint64_t size() const { return size_; }
  const Vmo& vmo() const { return vmo_; }

  // Before the device reads what the CPU wrote to [offset, offset+size).
  Result<void> CacheClean(uint64_t offset, uint64_t size) const;
  // Before the CPU reads what the device wrote to [offset, offset+size).
  Result<void> CacheCleanInvalidate(uint64_t offset, uint64_t size) const;

 protected:
  PinnedMemory() = default;
  // Allocates (a contiguous VMO when `huge_pages`, else a paged one), maps
  // for the CPU read/write and pins with `pin_options`.
  static Result<PinnedMemory> Create(const Bti& bti, uint64_t size, uint32_t pin_options,
                                     bool huge_pages, std::string name);
  const Pmt& pmt() const { return pmt_; }

 private:
  Result<void> CacheOp(uint64_t offset, uint64_t size, uint32_t options, const char* what) const;
  void Release();

  Vmo vmo_;
  Vmar vmar_;  // the CPU mapping's region, owned by this buffer
  uintptr_t virt_ = 0;
  uint64_t size_ = 0;
  Pmt pmt_;
};

// Memory the device reaches at ONE address (a descriptor ring, a command
// block). Behind an IOMMU that is an IOVA-contiguous pin of ordinary pages;
// on a physical Bti the memory is one locked huge page (Vmo::CreateContiguous).
class ContiguousBuffer : public PinnedMemory {
 public:
  // `size` bytes (> 0), rounded up to whole pages. `options`: kBtiPermRead
  // and/or kBtiPermWrite (the device's view), nothing else (INVALID_ARGS);
  // other errors as Vmo::CreateContiguous and Bti::Pin.
  static Result<ContiguousBuffer> Create(const Bti& bti, uint64_t size, uint32_t options,
                                         std::string name = "contiguous-buffer");
  ContiguousBuffer() = default;

  // The device address of byte 0.
  uint64_t phys() const { return pmt().addresses()[0]; }

 private:
  explicit ContiguousBuffer(PinnedMemory memory) : PinnedMemory(std::move(memory)) {}
};

// Memory the device reaches page by page (a scatter-gather list): one device
// address per page. NOT_SUPPORTED on a physical Bti: without an IOMMU only
// huge pages stay where they are, so use ContiguousBuffer there.
class PagedBuffer : public PinnedMemory {
 public:
  static Result<PagedBuffer> Create(const Bti& bti, uint64_t size, uint32_t options,
                                    std::string name = "paged-buffer");
  PagedBuffer() = default;

  // The device address of each page, in order.
  std::span<const uint64_t> addresses() const { return pmt().addresses(); }

 private:
  explicit PagedBuffer(PinnedMemory memory) : PinnedMemory(std::move(memory)) {}
};

}  // namespace udrv::dma
