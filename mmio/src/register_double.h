// The MmioBufferOps table shared by the register test doubles. A Region
// provides reg_size() and
//   uint64_t Access(uint64_t offset, unsigned width, bool is_write, uint64_t value)
// which returns the value read (ignored for writes). Block transfers
// (ReadBuffer/WriteBuffer) reach it as one register-wide access per register
// they touch, little-endian; a register only partly written is read first
// and merged, as a device with byte enables would not need but a register
// file does.
#pragma once

#include <algorithm>

#include "udrv/mmio/mmio_buffer.h"

namespace udrv::mmio::internal {

template <typename Region>
class RegisterDoubleOps {
 private:
  // The region handed out its own non-const address as ctx.
  static Region& Get(const void* ctx) {
    return *const_cast<Region*>(static_cast<const Region*>(ctx));
  }

  static void ReadBuffer(const void* ctx, const MmioRange& range, uint64_t offs, void* buffer,
                         size_t size) {
    Region& region = Get(ctx);
    const unsigned reg_size = region.reg_size();
    auto* out = static_cast<uint8_t*>(buffer);
    uint64_t pos = range.offset + offs;
    const uint64_t end = pos + size;
    while (pos < end) {
      const uint64_t reg_offset = pos - pos % reg_size;
      const uint64_t value = region.Access(reg_offset, reg_size, false, 0);
      const uint64_t chunk_end = std::min<uint64_t>(reg_offset + reg_size, end);
      for (; pos < chunk_end; ++pos) {
        *out++ = static_cast<uint8_t>(value >> (8 * (pos - reg_offset)));
      }
    }
  }

  static void WriteBuffer(const void* ctx, const MmioRange& range, uint64_t offs,
                          const void* buffer, size_t size) {
    Region& region = Get(ctx);
    const unsigned reg_size = region.reg_size();
    const auto* in = static_cast<const uint8_t*>(buffer);
    uint64_t pos = range.offset + offs;
    const uint64_t end = pos + size;
    while (pos < end) {
      const uint64_t reg_offset = pos - pos % reg_size;
      const uint64_t chunk_end = std::min<uint64_t>(reg_offset + reg_size, end);
      const bool whole = pos == reg_offset && chunk_end == reg_offset + reg_size;
      uint64_t value = whole ? 0 : region.Access(reg_offset, reg_size, false, 0);
      for (; pos < chunk_end; ++pos) {
        const unsigned shift = static_cast<unsigned>(8 * (pos - reg_offset));
        value = (value & ~(uint64_t{0xff} << shift)) | (uint64_t{*in++} << shift);
      }
      region.Access(reg_offset, reg_size, true, value);
    }
  }

 public:
  static constexpr MmioBufferOps kOps = {
      .Read8 =
          [](const void* ctx, const MmioRange& range, uint64_t offs) {
            return static_cast<uint8_t>(Get(ctx).Access(range.offset + offs, 1, false, 0));
          },
      .Read16 =
          [](const void* ctx, const MmioRange& range, uint64_t offs) {
            return static_cast<uint16_t>(Get(ctx).Access(range.offset + offs, 2, false, 0));
          },
      .Read32 =
          [](const void* ctx, const MmioRange& range, uint64_t offs) {
            return static_cast<uint32_t>(Get(ctx).Access(range.offset + offs, 4, false, 0));
          },
      .Read64 = [](const void* ctx, const MmioRange& range,
                   uint64_t offs) { return Get(ctx).Access(range.offset + offs, 8, false, 0); },
      .ReadBuffer = ReadBuffer,
      .Write8 = [](const void* ctx, const MmioRange& range, uint8_t value,
                   uint64_t offs) { Get(ctx).Access(range.offset + offs, 1, true, value); },
      .Write16 = [](const void* ctx, const MmioRange& range, uint16_t value,
                    uint64_t offs) { Get(ctx).Access(range.offset + offs, 2, true, value); },
      .Write32 = [](const void* ctx, const MmioRange& range, uint32_t value,
                    uint64_t offs) { Get(ctx).Access(range.offset + offs, 4, true, value); },
      .Write64 = [](const void* ctx, const MmioRange& range, uint64_t value,
                    uint64_t offs) { Get(ctx).Access(range.offset + offs, 8, true, value); },
      .WriteBuffer = WriteBuffer,
  };
};

}  // namespace udrv::mmio::internal
