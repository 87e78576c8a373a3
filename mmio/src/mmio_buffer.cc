#include "udrv/mmio/mmio_buffer.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace udrv::mmio {

namespace {

std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%" PRIx64, value);
  return text;
}

std::string DescribeRange(const MmioRange& range) {
  return "mmio buffer of " + Hex(range.size) + " bytes at vmo offset " + Hex(range.offset);
}

bool Aligned(const MmioRange& range, uint64_t offs, size_t width) {
  return ((range.vaddr + offs) & (width - 1)) == 0;
}

bool InRange(const MmioRange& range, uint64_t offs, size_t size) {
  return offs <= range.size && range.size - offs >= size;
}

[[noreturn]] void FatalView(uint64_t off, size_t size, const MmioRange& range) {
  std::fprintf(stderr,
               "udrv mmio: View [0x%" PRIx64
               ", +0x%zx) outside buffer of 0x%zx bytes (vmo offset "
               "0x%" PRIx64 ")\n",
               off, size, range.size, range.offset);
  std::abort();
}

}  // namespace

struct MmioBuffer::Mapping {
  Vmo vmo;
  Vmar region;  // a child VMAR holding just this mapping

  ~Mapping() {
    // Unmaps and gives the range back to the parent. Nothing to report to:
    // the buffer is going away, and a region already destroyed (its parent
    // was) has nothing left mapped.
    if (region) (void)region.Destroy();
  }
};

Result<MmioBuffer> MmioBuffer::Create(const Vmar& vmar, uint64_t offset, size_t size, Vmo vmo,
                                      CachePolicy policy) {
  const std::string what = "create mmio buffer [" + Hex(offset) + ", +" + Hex(size) + ")";
  if (size == 0) return Fail(Status::INVALID_ARGS, what + ": size is 0");
  // The buffer unmaps by destroying its child region; find out now, not at
  // destruction where the failure could not be reported.
  if (vmar.is_valid() && (vmar.rights() & kRightDestroy) == 0) {
    return Fail(Status::ACCESS_DENIED, what + ": the vmar handle lacks DESTROY, needed to unmap");
  }

  auto vmo_size = vmo.GetSize();
  if (!vmo_size) return Wrap(std::move(vmo_size.error()), what);
  if (offset > *vmo_size || *vmo_size - offset < size) {
    return Fail(Status::OUT_OF_RANGE,
                what + ": past the end of the vmo of " + Hex(*vmo_size) + " bytes");
  }

  // Setting a policy fails while the VMO is mapped (by a test fixture, by
  // another buffer over the same BAR); only change it when it differs.
  auto current = vmo.GetCachePolicy();
  if (!current) return Wrap(std::move(current.error()), what);
  if (*current != policy) {
    auto set = vmo.SetCachePolicy(policy);
    if (!set) return Wrap(std::move(set.error()), what);
  }

  const uint64_t page = PageSize();
  const uint64_t map_offset = offset - offset % page;
  const uint64_t page_offset = offset - map_offset;
  const uint64_t map_length = (page_offset + size + page - 1) / page * page;

  // A child region of exactly the mapping's size: the buffer owns it, and
  // destroying it unmaps without touching anything else in `vmar`.
  std::unique_ptr<Mapping, MappingDeleter> mapping(new Mapping);
  auto region = vmar.Allocate(kVmCanMapRead | kVmCanMapWrite | kVmCanMapSpecific, 0, map_length);
  if (!region) return Wrap(std::move(region.error()), what);
  mapping->region = std::move(region->first);
  auto base =
      mapping->region.Map(kVmPermRead | kVmPermWrite | kVmSpecific, 0, vmo, map_offset, map_length);
  if (!base) return Wrap(std::move(base.error()), what);
  mapping->vmo = std::move(vmo);

  MmioBuffer buffer(MmioRange{*base + page_offset, offset, size}, nullptr, nullptr, &mapping->vmo);
  buffer.mapping_ = std::move(mapping);
  return buffer;
}

MmioBuffer::MmioBuffer(MmioBuffer&& other) noexcept
    : range_(std::exchange(other.range_, MmioRange{})),
      ops_(std::exchange(other.ops_, nullptr)),
      ctx_(std::exchange(other.ctx_, nullptr)),
      vmo_(std::exchange(other.vmo_, nullptr)),
      mapping_(std::move(other.mapping_)) {}

MmioBuffer& MmioBuffer::operator=(MmioBuffer&& other) noexcept {
  if (this != &other) {
    mapping_ = std::move(other.mapping_);
    range_ = std::exchange(other.range_, MmioRange{});
    ops_ = std::exchange(other.ops_, nullptr);
    ctx_ = std::exchange(other.ctx_, nullptr);
    vmo_ = std::exchange(other.vmo_, nullptr);
  }
  return *this;
}

MmioBuffer::~MmioBuffer() = default;

void MmioBuffer::MappingDeleter::operator()(Mapping* mapping) const { delete mapping; }

Result<MmioView> MmioBuffer::TryView(uint64_t off) const {
  if (off >= range_.size) {
    return Fail(Status::OUT_OF_RANGE, "view at offset " + Hex(off) + ": not inside the buffer",
                DescribeRange(range_));
  }
  return TryView(off, range_.size - off);
}

Result<MmioView> MmioBuffer::TryView(uint64_t off, size_t size) const {
  if (!InRange(range_, off, size)) {
    return Fail(Status::OUT_OF_RANGE,
                "view [" + Hex(off) + ", +" + Hex(size) + "): not inside the buffer",
                DescribeRange(range_));
  }
  return MmioView(MmioRange{range_.vaddr + off, range_.offset + off, size}, ops_, ctx_, vmo_);
}

MmioView MmioBuffer::View(uint64_t off) const {
  if (off >= range_.size) [[unlikely]]
    FatalView(off, 0, range_);
  return View(off, range_.size - off);
}

MmioView MmioBuffer::View(uint64_t off, size_t size) const {
  if (!InRange(range_, off, size)) [[unlikely]]
    FatalView(off, size, range_);
  return MmioView(MmioRange{range_.vaddr + off, range_.offset + off, size}, ops_, ctx_, vmo_);
}

namespace internal {

void FatalAccess(const char* op, uint64_t offs, size_t width, const MmioRange& range) {
  if (InRange(range, offs, width) && !Aligned(range, offs, width)) {
    std::fprintf(stderr,
                 "udrv mmio: %s at offset 0x%" PRIx64
                 " is not %zu-byte aligned (buffer of 0x%zx "
                 "bytes at vmo offset 0x%" PRIx64 ")\n",
                 op, offs, width, range.size, range.offset);
  } else {
    std::fprintf(stderr,
                 "udrv mmio: %s of %zu bytes at offset 0x%" PRIx64
                 " outside buffer of 0x%zx bytes (vmo offset 0x%" PRIx64 ")\n",
                 op, width, offs, range.size, range.offset);
  }
  std::abort();
}

void FatalBits(const char* op, size_t shift, size_t count, size_t register_bits) {
  std::fprintf(stderr, "udrv mmio: %s of %zu bits from bit %zu outside a %zu-bit register\n", op,
               count, shift, register_bits);
  std::abort();
}

std::unexpected<Error> AccessError(const char* op, uint64_t offs, size_t width,
                                   const MmioRange& range) {
  if (!InRange(range, offs, width)) {
    return Fail(Status::OUT_OF_RANGE,
                std::string(op) + " of " + std::to_string(width) + " bytes at offset " + Hex(offs) +
                    ": outside the buffer",
                DescribeRange(range));
  }
  return Fail(Status::INVALID_ARGS,
              std::string(op) + " at offset " + Hex(offs) + ": not " + std::to_string(width) +
                  "-byte aligned",
              DescribeRange(range));
}

void ReadBlock(uintptr_t src, void* dst, size_t size) {
  auto* out = static_cast<uint8_t*>(dst);
  for (; size > 0 && src % 8 != 0; --size) {
    *out++ = MmioRead8Relaxed(reinterpret_cast<const volatile uint8_t*>(src++));
  }
  for (; size >= 8; size -= 8, src += 8, out += 8) {
    uint64_t word = MmioRead64Relaxed(reinterpret_cast<const volatile uint64_t*>(src));
    std::memcpy(out, &word, sizeof(word));
  }
  for (; size > 0; --size) {
    *out++ = MmioRead8Relaxed(reinterpret_cast<const volatile uint8_t*>(src++));
  }
  MmioOrderAfterRead();
}

void WriteBlock(uintptr_t dst, const void* src, size_t size) {
  auto* in = static_cast<const uint8_t*>(src);
  MmioOrderBeforeWrite();
  for (; size > 0 && dst % 8 != 0; --size) {
    MmioWrite8Relaxed(*in++, reinterpret_cast<volatile uint8_t*>(dst++));
  }
  for (; size >= 8; size -= 8, dst += 8, in += 8) {
    uint64_t word;
    std::memcpy(&word, in, sizeof(word));
    MmioWrite64Relaxed(word, reinterpret_cast<volatile uint64_t*>(dst));
  }
  for (; size > 0; --size) {
    MmioWrite8Relaxed(*in++, reinterpret_cast<volatile uint8_t*>(dst++));
  }
}

}  // namespace internal

}  // namespace udrv::mmio
