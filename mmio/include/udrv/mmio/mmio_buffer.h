// MmioBuffer and MmioView: a mapped device register window with Fuchsia's
// lib/mmio accessors (fdf::MmioBuffer / fdf::MmioView).
//
//   auto vmo = pci_device.GetBar(0);                      // a physical VMO
//   auto mmio = MmioBuffer::Create(vmar, 0, bar_size, std::move(*vmo),
//                                  CachePolicy::UNCACHED_DEVICE);
//   if (!mmio) return std::unexpected(mmio.error());
//   mmio->SetBits32(kCtrlEnable, kCtrlOffset);
//   MmioView queue = mmio->View(kQueueBase, kQueueSize);
//   queue.Write32(tail, kTailOffset);
//
// Accesses are exact-width single instructions (see arch.h). Plain accessors
// are ordered like Linux readl/writel; the *Relaxed ones skip the barrier.
//
// OUT-OF-RANGE POLICY. Every accessor checks that the access lies inside the
// buffer and that its address is aligned to its width:
//  - The plain accessors (Read32, SetBits32, View, ...) treat a violation as a
//    driver bug: they print "udrv mmio: Write32 of 4 bytes at offset 0x40
//    outside buffer of 0x40 bytes (vmo offset 0x0)" to stderr and abort().
//    Register offsets in a driver are constants from a datasheet; an access
//    past the mapping would touch whatever memory lies beyond it, which is
//    worse than stopping. Fuchsia debug-asserts here; udrv checks in every
//    build because the checks are a few predictable branches
//    (docs/PERFORMANCE.md has the cost).
//  - The Try* accessors return an error instead: OUT_OF_RANGE for an access
//    past the end, INVALID_ARGS for a misaligned one. Use them for offsets
//    derived from data the driver does not control (a table offset read from
//    config space, a value from another process).
// A moved-from buffer has size 0, so any access through it stops the same way.
//
// Test doubles (mock_mmio_reg.h, fake_mmio_reg.h) plug in an MmioBufferOps
// table; bounds and alignment are checked before the table is called, so a
// double sees only accesses that would be valid on hardware.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "udrv/core/result.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"
#include "udrv/mmio/arch.h"

namespace udrv::mmio {

// Where a buffer's registers are; what MmioBufferOps functions receive.
struct MmioRange {
  uintptr_t vaddr = 0;  // address of byte 0; 0 for test doubles
  uint64_t offset = 0;  // offset of byte 0 within the VMO (or the double's region)
  size_t size = 0;      // bytes
};

// Access functions for a test double. `offs` is relative to `range` (a view
// passes its own range, so a double maps `range.offset + offs` to its
// register). Ordered and relaxed accessors both arrive here: ordering means
// nothing to a double.
struct MmioBufferOps {
  uint8_t (*Read8)(const void* ctx, const MmioRange& range, uint64_t offs);
  uint16_t (*Read16)(const void* ctx, const MmioRange& range, uint64_t offs);
  uint32_t (*Read32)(const void* ctx, const MmioRange& range, uint64_t offs);
  uint64_t (*Read64)(const void* ctx, const MmioRange& range, uint64_t offs);
  void (*ReadBuffer)(const void* ctx, const MmioRange& range, uint64_t offs, void* buffer,
                     size_t size);
  void (*Write8)(const void* ctx, const MmioRange& range, uint8_t value, uint64_t offs);
  void (*Write16)(const void* ctx, const MmioRange& range, uint16_t value, uint64_t offs);
  void (*Write32)(const void* ctx, const MmioRange& range, uint32_t value, uint64_t offs);
  void (*Write64)(const void* ctx, const MmioRange& range, uint64_t value, uint64_t offs);
  void (*WriteBuffer)(const void* ctx, const MmioRange& range, uint64_t offs, const void* buffer,
                      size_t size);
};

namespace internal {

// Cold paths, out of line so the accessors stay small.
[[noreturn]] void FatalAccess(const char* op, uint64_t offs, size_t width, const MmioRange& range);
[[noreturn]] void FatalBits(const char* op, size_t shift, size_t count, size_t register_bits);
std::unexpected<Error> AccessError(const char* op, uint64_t offs, size_t width,
                                   const MmioRange& range);

// Block copies to and from device memory with relaxed single-instruction
// accesses (never memcpy, whose instructions may not be emulable).
void ReadBlock(uintptr_t src, void* dst, size_t size);
void WriteBlock(uintptr_t dst, const void* src, size_t size);

}  // namespace internal

class MmioView;

class MmioBuffer {
 public:
  // Maps [offset, offset + size) of `vmo` read/write into `vmar`, first
  // setting the VMO's cache policy to `policy` if it differs (a policy the
  // VMO cannot honour fails with the VMO's NOT_SUPPORTED; a VMO mapped
  // elsewhere with another policy, BAD_STATE). `offset` need not be page
  // aligned: the mapping starts at the page holding it. The buffer keeps the
  // VMO and maps it in a child region of `vmar` that it owns and destroys
  // (unmapping) on destruction, so `vmar` needs DESTROY (ACCESS_DENIED
  // otherwise). INVALID_ARGS for size 0; OUT_OF_RANGE past the VMO's end;
  // errors from the VMO and VMAR calls pass through.
  static Result<MmioBuffer> Create(const Vmar& vmar, uint64_t offset, size_t size, Vmo vmo,
                                   CachePolicy policy);

  // A buffer over registers the caller provides and keeps alive: with `ops`
  // null, memory at range.vaddr accessed with the arch accessors (tests,
  // benchmarks); otherwise a test double's table and its `ctx`.
  explicit MmioBuffer(MmioRange range, const MmioBufferOps* ops = nullptr,
                      const void* ctx = nullptr)
      : range_(range), ops_(ops), ctx_(ctx) {}

  MmioBuffer(const MmioBuffer&) = delete;
  MmioBuffer& operator=(const MmioBuffer&) = delete;
  MmioBuffer(MmioBuffer&& other) noexcept;
  MmioBuffer& operator=(MmioBuffer&& other) noexcept;
  ~MmioBuffer();

  void* get() const { return reinterpret_cast<void*>(range_.vaddr); }
  uint64_t get_offset() const { return range_.offset; }
  size_t get_size() const { return range_.size; }
  // The VMO behind the registers; null for raw memory and test doubles.
  const Vmo* get_vmo() const { return vmo_; }

  // A window [off, size) or [off, off + size) of this buffer, sharing its
  // mapping and ops; it must not outlive this buffer. View aborts (like the
  // accessors) when the window does not fit; TryView says OUT_OF_RANGE.
  MmioView View(uint64_t off) const;
  MmioView View(uint64_t off, size_t size) const;
  Result<MmioView> TryView(uint64_t off) const;
  Result<MmioView> TryView(uint64_t off, size_t size) const;

  uint8_t Read8(uint64_t offs) const { return Load<uint8_t, true>("Read8", offs); }
  uint16_t Read16(uint64_t offs) const { return Load<uint16_t, true>("Read16", offs); }
  uint32_t Read32(uint64_t offs) const { return Load<uint32_t, true>("Read32", offs); }
  uint64_t Read64(uint64_t offs) const { return Load<uint64_t, true>("Read64", offs); }

  void Write8(uint8_t value, uint64_t offs) const { Store<uint8_t, true>("Write8", value, offs); }
  void Write16(uint16_t value, uint64_t offs) const {
    Store<uint16_t, true>("Write16", value, offs);
  }
  void Write32(uint32_t value, uint64_t offs) const {
    Store<uint32_t, true>("Write32", value, offs);
  }
  void Write64(uint64_t value, uint64_t offs) const {
    Store<uint64_t, true>("Write64", value, offs);
  }

  uint8_t Read8Relaxed(uint64_t offs) const { return Load<uint8_t, false>("Read8Relaxed", offs); }
  uint16_t Read16Relaxed(uint64_t offs) const {
    return Load<uint16_t, false>("Read16Relaxed", offs);
  }
  uint32_t Read32Relaxed(uint64_t offs) const {
    return Load<uint32_t, false>("Read32Relaxed", offs);
  }
  uint64_t Read64Relaxed(uint64_t offs) const {
    return Load<uint64_t, false>("Read64Relaxed", offs);
  }

  void Write8Relaxed(uint8_t value, uint64_t offs) const {
    Store<uint8_t, false>("Write8Relaxed", value, offs);
  }
  void Write16Relaxed(uint16_t value, uint64_t offs) const {
    Store<uint16_t, false>("Write16Relaxed", value, offs);
  }
  void Write32Relaxed(uint32_t value, uint64_t offs) const {
    Store<uint32_t, false>("Write32Relaxed", value, offs);
  }
  void Write64Relaxed(uint64_t value, uint64_t offs) const {
    Store<uint64_t, false>("Write64Relaxed", value, offs);
  }

  // Checked accessors: an error instead of abort() (see the policy above).
  Result<uint8_t> TryRead8(uint64_t offs) const { return TryLoad<uint8_t>("TryRead8", offs); }
  Result<uint16_t> TryRead16(uint64_t offs) const { return TryLoad<uint16_t>("TryRead16", offs); }
  Result<uint32_t> TryRead32(uint64_t offs) const { return TryLoad<uint32_t>("TryRead32", offs); }
  Result<uint64_t> TryRead64(uint64_t offs) const { return TryLoad<uint64_t>("TryRead64", offs); }
  Result<void> TryWrite8(uint8_t value, uint64_t offs) const {
    return TryStore<uint8_t>("TryWrite8", value, offs);
  }
  Result<void> TryWrite16(uint16_t value, uint64_t offs) const {
    return TryStore<uint16_t>("TryWrite16", value, offs);
  }
  Result<void> TryWrite32(uint32_t value, uint64_t offs) const {
    return TryStore<uint32_t>("TryWrite32", value, offs);
  }
  Result<void> TryWrite64(uint64_t value, uint64_t offs) const {
    return TryStore<uint64_t>("TryWrite64", value, offs);
  }

  // `size` bytes between the registers and `buffer`, with no guarantee about
  // access widths: only for device memory that accepts any width (a frame
  // buffer, a packet buffer). Ordered as a whole like one read/write.
  void ReadBuffer(uint64_t offs, void* buffer, size_t size) const {
    if (!BlockFits(offs, size)) [[unlikely]] {
      internal::FatalAccess("ReadBuffer", offs, size, range_);
    }
    BlockRead(offs, buffer, size);
  }
  void WriteBuffer(uint64_t offs, const void* buffer, size_t size) const {
    if (!BlockFits(offs, size)) [[unlikely]] {
      internal::FatalAccess("WriteBuffer", offs, size, range_);
    }
    BlockWrite(offs, buffer, size);
  }
  Result<void> TryReadBuffer(uint64_t offs, void* buffer, size_t size) const {
    if (!BlockFits(offs, size)) return internal::AccessError("TryReadBuffer", offs, size, range_);
    BlockRead(offs, buffer, size);
    return {};
  }
  Result<void> TryWriteBuffer(uint64_t offs, const void* buffer, size_t size) const {
    if (!BlockFits(offs, size)) return internal::AccessError("TryWriteBuffer", offs, size, range_);
    BlockWrite(offs, buffer, size);
    return {};
  }

  // Width-generic forms, as in Fuchsia: T is any integer (or enum) of 1, 2,
  // 4 or 8 bytes. Bit positions outside T abort like an out-of-range offset.
  template <typename T>
  T Read(uint64_t offs) const {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8,
                  "MMIO accesses are 8, 16, 32 or 64 bits wide");
    if constexpr (sizeof(T) == 1) {
      return static_cast<T>(Read8(offs));
    } else if constexpr (sizeof(T) == 2) {
      return static_cast<T>(Read16(offs));
    } else if constexpr (sizeof(T) == 4) {
      return static_cast<T>(Read32(offs));
    } else {
      return static_cast<T>(Read64(offs));
    }
  }

  template <typename T>
  void Write(T value, uint64_t offs) const {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8,
                  "MMIO accesses are 8, 16, 32 or 64 bits wide");
    if constexpr (sizeof(T) == 1) {
      Write8(static_cast<uint8_t>(value), offs);
    } else if constexpr (sizeof(T) == 2) {
      Write16(static_cast<uint16_t>(value), offs);
    } else if constexpr (sizeof(T) == 4) {
      Write32(static_cast<uint32_t>(value), offs);
    } else {
      Write64(static_cast<uint64_t>(value), offs);
    }
  }

  template <typename T>
  T ReadMasked(T mask, uint64_t offs) const {
    return static_cast<T>(Read<T>(offs) & mask);
  }

  // Read-modify-write: the bits of `mask` take their values from `bits`.
  template <typename T>
  void ModifyBits(T bits, T mask, uint64_t offs) const {
    T value = Read<T>(offs);
    Write<T>(static_cast<T>((value & ~mask) | (bits & mask)), offs);
  }

  // Read-modify-write of the `count`-bit field at `shift` to `value`
  // (excess high bits of `value` are dropped).
  template <typename T>
  void ModifyBits(T value, size_t shift, size_t count, uint64_t offs) const {
    T mask = FieldMask<T>("ModifyBits", shift, count);
    T old = Read<T>(offs);
    Write<T>(static_cast<T>((old & ~mask) | ((value << shift) & mask)), offs);
  }

  template <typename T>
  void SetBits(T bits, uint64_t offs) const {
    ModifyBits<T>(bits, bits, offs);
  }
  template <typename T>
  void ClearBits(T bits, uint64_t offs) const {
    ModifyBits<T>(T{0}, bits, offs);
  }

  template <typename T>
  T GetBits(size_t shift, size_t count, uint64_t offs) const {
    T mask = FieldMask<T>("GetBits", shift, count);
    return static_cast<T>((Read<T>(offs) & mask) >> shift);
  }
  template <typename T>
  T GetBit(size_t shift, uint64_t offs) const {
    return GetBits<T>(shift, 1, offs);
  }
  template <typename T>
  void ModifyBit(bool value, size_t shift, uint64_t offs) const {
    ModifyBits<T>(static_cast<T>(value), shift, 1, offs);
  }
  template <typename T>
  void SetBit(size_t shift, uint64_t offs) const {
    ModifyBit<T>(true, shift, offs);
  }
  template <typename T>
  void ClearBit(size_t shift, uint64_t offs) const {
    ModifyBit<T>(false, shift, offs);
  }

  // `count` T-wide reads from `source` written here, one at a time.
  template <typename T>
  void CopyFrom(const MmioBuffer& source, uint64_t source_offs, uint64_t dest_offs,
                size_t count) const {
    for (size_t i = 0; i < count; i++) {
      Write<T>(source.Read<T>(source_offs), dest_offs);
      source_offs += sizeof(T);
      dest_offs += sizeof(T);
    }
  }

  // The 32-bit names drivers use most.
  uint32_t ReadMasked32(uint32_t mask, uint64_t offs) const {
    return ReadMasked<uint32_t>(mask, offs);
  }
  void ModifyBits32(uint32_t bits, uint32_t mask, uint64_t offs) const {
    ModifyBits<uint32_t>(bits, mask, offs);
  }
  void ModifyBits32(uint32_t value, uint32_t start, uint32_t width, uint64_t offs) const {
    ModifyBits<uint32_t>(value, start, width, offs);
  }
  void SetBits32(uint32_t bits, uint64_t offs) const { SetBits<uint32_t>(bits, offs); }
  void ClearBits32(uint32_t bits, uint64_t offs) const { ClearBits<uint32_t>(bits, offs); }
  uint32_t GetBits32(uint32_t start, uint32_t width, uint64_t offs) const {
    return GetBits<uint32_t>(start, width, offs);
  }
  uint32_t GetBit32(uint32_t pos, uint64_t offs) const { return GetBit<uint32_t>(pos, offs); }
  void SetBit32(uint32_t pos, uint64_t offs) const { SetBit<uint32_t>(pos, offs); }
  void ClearBit32(uint32_t pos, uint64_t offs) const { ClearBit<uint32_t>(pos, offs); }
  void CopyFrom32(const MmioBuffer& source, uint64_t source_offs, uint64_t dest_offs,
                  size_t count) const {
    CopyFrom<uint32_t>(source, source_offs, dest_offs, count);
  }

 protected:
  // For MmioView: a window that shares `vmo` but owns nothing.
  MmioBuffer(MmioRange range, const MmioBufferOps* ops, const void* ctx, const Vmo* vmo)
      : range_(range), ops_(ops), ctx_(ctx), vmo_(vmo) {}

  MmioRange range_;
  const MmioBufferOps* ops_ = nullptr;  // null: the arch accessors on range_.vaddr
  const void* ctx_ = nullptr;
  const Vmo* vmo_ = nullptr;

 private:
  // The mapping and the VMO, on the heap so views keep a stable get_vmo()
  // when the buffer that owns them is moved. Defined in the .cc file.
  struct Mapping;
  struct MappingDeleter {
    void operator()(Mapping* mapping) const;
  };

  bool Fits(uint64_t offs, size_t width) const {
    uint64_t end;
    return !__builtin_add_overflow(offs, width, &end) && end <= range_.size &&
           ((range_.vaddr + offs) & (width - 1)) == 0;
  }
  bool BlockFits(uint64_t offs, size_t size) const {
    return offs <= range_.size && range_.size - offs >= size;
  }

  template <typename T>
  volatile T* Address(uint64_t offs) const {
    return reinterpret_cast<volatile T*>(range_.vaddr + offs);
  }

  template <typename T, bool kOrdered>
  T Load(const char* op, uint64_t offs) const {
    if (!Fits(offs, sizeof(T))) [[unlikely]] {
      internal::FatalAccess(op, offs, sizeof(T), range_);
    }
    return Dispatch<T, kOrdered>(offs);
  }

  template <typename T, bool kOrdered>
  void Store(const char* op, T value, uint64_t offs) const {
    if (!Fits(offs, sizeof(T))) [[unlikely]] {
      internal::FatalAccess(op, offs, sizeof(T), range_);
    }
    Dispatch<T, kOrdered>(value, offs);
  }

  template <typename T>
  Result<T> TryLoad(const char* op, uint64_t offs) const {
    if (!Fits(offs, sizeof(T))) return internal::AccessError(op, offs, sizeof(T), range_);
    return Dispatch<T, true>(offs);
  }

  template <typename T>
  Result<void> TryStore(const char* op, T value, uint64_t offs) const {
    if (!Fits(offs, sizeof(T))) return internal::AccessError(op, offs, sizeof(T), range_);
    Dispatch<T, true>(value, offs);
    return {};
  }

  template <typename T, bool kOrdered>
  T Dispatch(uint64_t offs) const {
    const volatile T* addr = Address<T>(offs);
    if constexpr (sizeof(T) == 1) {
      if (ops_) [[unlikely]]
        return ops_->Read8(ctx_, range_, offs);
      if constexpr (kOrdered) return MmioRead8(addr);
      return MmioRead8Relaxed(addr);
    } else if constexpr (sizeof(T) == 2) {
      if (ops_) [[unlikely]]
        return ops_->Read16(ctx_, range_, offs);
      if constexpr (kOrdered) return MmioRead16(addr);
      return MmioRead16Relaxed(addr);
    } else if constexpr (sizeof(T) == 4) {
      if (ops_) [[unlikely]]
        return ops_->Read32(ctx_, range_, offs);
      if constexpr (kOrdered) return MmioRead32(addr);
      return MmioRead32Relaxed(addr);
    } else {
      if (ops_) [[unlikely]]
        return ops_->Read64(ctx_, range_, offs);
      if constexpr (kOrdered) return MmioRead64(addr);
      return MmioRead64Relaxed(addr);
    }
  }

  template <typename T, bool kOrdered>
  void Dispatch(T value, uint64_t offs) const {
    volatile T* addr = Address<T>(offs);
    if constexpr (sizeof(T) == 1) {
      if (ops_) [[unlikely]]
        return ops_->Write8(ctx_, range_, value, offs);
      if constexpr (kOrdered) return MmioWrite8(value, addr);
      MmioWrite8Relaxed(value, addr);
    } else if constexpr (sizeof(T) == 2) {
      if (ops_) [[unlikely]]
        return ops_->Write16(ctx_, range_, value, offs);
      if constexpr (kOrdered) return MmioWrite16(value, addr);
      MmioWrite16Relaxed(value, addr);
    } else if constexpr (sizeof(T) == 4) {
      if (ops_) [[unlikely]]
        return ops_->Write32(ctx_, range_, value, offs);
      if constexpr (kOrdered) return MmioWrite32(value, addr);
      MmioWrite32Relaxed(value, addr);
    } else {
      if (ops_) [[unlikely]]
        return ops_->Write64(ctx_, range_, value, offs);
      if constexpr (kOrdered) return MmioWrite64(value, addr);
      MmioWrite64Relaxed(value, addr);
    }
  }

  void BlockRead(uint64_t offs, void* buffer, size_t size) const {
    if (ops_) return ops_->ReadBuffer(ctx_, range_, offs, buffer, size);
    internal::ReadBlock(range_.vaddr + offs, buffer, size);
  }
  void BlockWrite(uint64_t offs, const void* buffer, size_t size) const {
    if (ops_) return ops_->WriteBuffer(ctx_, range_, offs, buffer, size);
    internal::WriteBlock(range_.vaddr + offs, buffer, size);
  }

  // The mask of `count` bits from `shift` in a T; aborts when they do not fit.
  template <typename T>
  static T FieldMask(const char* op, size_t shift, size_t count) {
    constexpr size_t kBits = sizeof(T) * 8;
    if (shift >= kBits || count > kBits - shift) [[unlikely]] {
      internal::FatalBits(op, shift, count, kBits);
    }
    using Wide = uint64_t;
    Wide ones = count >= 64 ? ~Wide{0} : (Wide{1} << count) - 1;
    return static_cast<T>(ones << shift);
  }

  std::unique_ptr<Mapping, MappingDeleter> mapping_;
};

// A window of an MmioBuffer (or of another view) with the same accessors. It
// owns nothing: it must not outlive the buffer it came from. Copyable.
class MmioView : public MmioBuffer {
 public:
  MmioView(const MmioView& other) : MmioBuffer(other.range_, other.ops_, other.ctx_, other.vmo_) {}
  MmioView& operator=(const MmioView& other) {
    range_ = other.range_;
    ops_ = other.ops_;
    ctx_ = other.ctx_;
    vmo_ = other.vmo_;
    return *this;
  }

 private:
  friend class MmioBuffer;
  MmioView(MmioRange range, const MmioBufferOps* ops, const void* ctx, const Vmo* vmo)
      : MmioBuffer(range, ops, ctx, vmo) {}
};

}  // namespace udrv::mmio
