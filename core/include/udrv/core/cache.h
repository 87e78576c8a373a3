// CPU cache maintenance from userspace (zx_cache_flush). Drivers need it for
// DMA buffers on CPUs whose caches do not snoop the device's traffic, and for
// code written at run time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "udrv/core/result.h"

namespace udrv {

// Option bits with ZX_CACHE_FLUSH_* values.
inline constexpr uint32_t kCacheFlushData = 1u << 0;
inline constexpr uint32_t kCacheFlushInstruction = 1u << 1;
inline constexpr uint32_t kCacheFlushInvalidate = 1u << 2;

// Cache maintenance over the lines covering [addr, addr+len). The range must
// be readable: an unreadable one faults as a read would (the instructions are
// loads for permission purposes), as zx_cache_flush does. len 0 does nothing.
//
// Valid `options`, as in Zircon (anything else is INVALID_ARGS):
//  - kCacheFlushData: clean, so this CPU's writes reach memory (before a
//    device reads the buffer).
//  - kCacheFlushData | kCacheFlushInvalidate: clean and invalidate, so later
//    reads see what a device wrote. There is no invalidate without clean:
//    arm64 EL0 may not run `dc ivac`, and on x86 every flush writes back.
//    For a buffer the CPU has not written since its last clean, the effect
//    is the same.
//  - kCacheFlushInstruction: make writes to this range visible to
//    instruction fetch on this CPU (code written at run time).
//  - kCacheFlushData | kCacheFlushInstruction: both.
//
// arm64: lines from CTR_EL0; `dc cvac` / `dc civac` then `dsb sy`;
// instructions: `dc cvau`, `dsb ish`, `ic ivau`, `dsb ish`, `isb`.
// x86_64: `clwb` (clean) or `clflushopt` where CPUID has them, else
// `clflush`, then `sfence`. x86 keeps instruction fetch coherent with stores
// by itself; other threads about to run new code still need their own
// serializing instruction, which no call here can execute for them.
Result<void> CacheFlush(const void* addr, size_t len, uint32_t options);

// The data cache line size the loops above step by, in bytes.
size_t DataCacheLineSize();

}  // namespace udrv
