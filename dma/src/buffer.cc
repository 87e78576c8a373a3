// ContiguousBuffer and PagedBuffer (see buffer.h).
#include "udrv/dma/buffer.h"

#include "udrv/core/cache.h"

namespace udrv::dma {
namespace {

constexpr uint32_t kBufferOptions = kBtiPermRead | kBtiPermWrite;

Result<void> CheckBufferArgs(uint64_t size, uint32_t options, const std::string& name) {
  if (size == 0) return Fail(Status::INVALID_ARGS, "dma buffer: size 0", name);
  if (options & ~kBufferOptions) {
    return Fail(Status::INVALID_ARGS,
                "dma buffer: options " + Hex(options & ~kBufferOptions) +
                    " are not kBtiPermRead/kBtiPermWrite (the buffer picks CONTIGUOUS itself)",
                name);
  }
  return {};
}

}  // namespace

Result<PinnedMemory> PinnedMemory::Create(const Bti& bti, uint64_t size, uint32_t pin_options,
                                          bool huge_pages, std::string name) {
  const uint64_t page = PageSize();
  if (size > UINT64_MAX - page) {
    return Fail(Status::OUT_OF_RANGE, "dma buffer: size " + Hex(size) + " is too large", name);
  }
  const uint64_t rounded = (size + page - 1) / page * page;
  auto vmo = huge_pages ? Vmo::CreateContiguous(rounded, name) : Vmo::Create(rounded, name);
  if (!vmo) return Wrap(std::move(vmo.error()), "dma buffer");
  auto vmo_size = vmo->GetSize();
  if (!vmo_size) return Wrap(std::move(vmo_size.error()), "dma buffer");
  // A huge page maps only at an address aligned to its size: reserve room
  // to align it.
  auto vmar = Vmar::Create(huge_pages ? 2 * *vmo_size : *vmo_size, name);
  if (!vmar) return Wrap(std::move(vmar.error()), "dma buffer");
  auto virt = vmar->Map(kVmPermRead | kVmPermWrite, 0, *vmo, 0, *vmo_size);
  if (!virt) return Wrap(std::move(virt.error()), "dma buffer");
  auto pmt = bti.Pin(pin_options, *vmo, 0, rounded);
  if (!pmt) return Wrap(std::move(pmt.error()), "dma buffer");
  PinnedMemory memory;
  memory.vmo_ = std::move(*vmo);
  memory.vmar_ = std::move(*vmar);
  memory.virt_ = *virt;
  memory.size_ = rounded;
  memory.pmt_ = std::move(*pmt);
  return memory;
}

PinnedMemory& PinnedMemory::operator=(PinnedMemory&& other) noexcept {
  if (this != &other) {
    Release();
    vmo_ = std::move(other.vmo_);
    vmar_ = std::move(other.vmar_);
    virt_ = other.virt_;
    size_ = other.size_;
    pmt_ = std::move(other.pmt_);
  }
  return *this;
}

PinnedMemory::~PinnedMemory() { Release(); }

void PinnedMemory::Release() {
  // A failed unpin leaves the Pmt pinned; dropping it then quarantines it,
  // so the device never writes into freed memory.
  if (pmt_.is_valid()) (void)pmt_.Unpin();
  pmt_ = Pmt();
  vmar_ = Vmar();
  vmo_ = Vmo();
  virt_ = 0;
  size_ = 0;
}

Result<void> PinnedMemory::CacheOp(uint64_t offset, uint64_t size, uint32_t options,
                                   const char* what) const {
  if (!is_valid()) return Fail(Status::BAD_STATE, std::string(what) + ": the buffer is empty");
  if (offset > size_ || size > size_ - offset) {
    return Fail(Status::OUT_OF_RANGE,
                std::string(what) + ": [" + Hex(offset) + ", +" + Hex(size) +
                    ") passes the buffer's end " + Hex(size_));
  }
  return CacheFlush(reinterpret_cast<const void*>(virt_ + offset), size, options);
}

Result<void> PinnedMemory::CacheClean(uint64_t offset, uint64_t size) const {
  return CacheOp(offset, size, kCacheFlushData, "cache clean");
}

Result<void> PinnedMemory::CacheCleanInvalidate(uint64_t offset, uint64_t size) const {
  return CacheOp(offset, size, kCacheFlushData | kCacheFlushInvalidate, "cache clean+invalidate");
}

Result<ContiguousBuffer> ContiguousBuffer::Create(const Bti& bti, uint64_t size, uint32_t options,
                                                  std::string name) {
  if (auto args = CheckBufferArgs(size, options, name); !args) return std::unexpected(args.error());
  // Behind an IOMMU any pages are IOVA-contiguous; without one only a huge
  // page is physically contiguous.
  auto memory = PinnedMemory::Create(bti, size, options | kBtiContiguous, bti.is_physical(),
                                     std::move(name));
  if (!memory) return std::unexpected(memory.error());
  return ContiguousBuffer(std::move(*memory));
}

Result<PagedBuffer> PagedBuffer::Create(const Bti& bti, uint64_t size, uint32_t options,
                                        std::string name) {
  if (auto args = CheckBufferArgs(size, options, name); !args) return std::unexpected(args.error());
  if (bti.is_physical()) {
    return Fail(Status::NOT_SUPPORTED,
                "paged dma buffer on a physical bti: without an IOMMU only huge pages stay put; "
                "use ContiguousBuffer",
                name);
  }
  auto memory = PinnedMemory::Create(bti, size, options, false, std::move(name));
  if (!memory) return std::unexpected(memory.error());
  return PagedBuffer(std::move(*memory));
}

}  // namespace udrv::dma
