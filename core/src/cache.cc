#include "udrv/core/cache.h"

#include <cinttypes>
#include <cstdio>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace udrv {

namespace {

std::string RangeText(const void* addr, size_t len) {
  char text[64];
  std::snprintf(text, sizeof(text), "[%p, +0x%zx)", addr, len);
  return text;
}

bool IsValidOptions(uint32_t options) {
  switch (options) {
    case kCacheFlushData:
    case kCacheFlushData | kCacheFlushInvalidate:
    case kCacheFlushInstruction:
    case kCacheFlushData | kCacheFlushInstruction:
      return true;
    default:
      return false;
  }
}

// Runs `op` on the start address of every `line`-byte line covering
// [begin, end). `line` is a power of two.
template <typename Op>
void ForEachLine(uintptr_t begin, uintptr_t end, size_t line, Op op) {
  for (uintptr_t p = begin & ~(uintptr_t{line} - 1); p < end; p += line) op(p);
}

#if defined(__x86_64__)

struct X86CacheFeatures {
  size_t line_size;  // CPUID.1:EBX[15:8] * 8, the CLFLUSH line size
  bool clflushopt;   // CPUID.(7,0):EBX[23]
  bool clwb;         // CPUID.(7,0):EBX[24]
};

X86CacheFeatures DetectX86CacheFeatures() {
  X86CacheFeatures features{64, false, false};
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0) {
    const size_t line = ((ebx >> 8) & 0xff) * 8;
    if (line != 0) features.line_size = line;
  }
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0) {
    features.clflushopt = (ebx & (1u << 23)) != 0;
    features.clwb = (ebx & (1u << 24)) != 0;
  }
  return features;
}

const X86CacheFeatures& CacheFeatures() {
  static const X86CacheFeatures features = DetectX86CacheFeatures();
  return features;
}

void FlushData(uintptr_t begin, uintptr_t end, bool invalidate) {
  const X86CacheFeatures& cpu = CacheFeatures();
  // The "memory" clobbers keep the compiler from moving the caller's stores
  // past the flushes.
  if (!invalidate && cpu.clwb) {
    ForEachLine(begin, end, cpu.line_size,
                [](uintptr_t p) { asm volatile("clwb (%0)" ::"r"(p) : "memory"); });
  } else if (cpu.clflushopt) {
    ForEachLine(begin, end, cpu.line_size,
                [](uintptr_t p) { asm volatile("clflushopt (%0)" ::"r"(p) : "memory"); });
  } else {
    ForEachLine(begin, end, cpu.line_size,
                [](uintptr_t p) { asm volatile("clflush (%0)" ::"r"(p) : "memory"); });
  }
  // clwb and clflushopt are ordered only by fences; sfence orders them before
  // later stores, such as the doorbell write that starts the DMA.
  asm volatile("sfence" ::: "memory");
}

// Instruction fetch is coherent with this CPU's stores; only the compiler
// must not sink the stores that wrote the code past this point.
void SyncInstructions(uintptr_t, uintptr_t) { asm volatile("" ::: "memory"); }

size_t LineSize() { return CacheFeatures().line_size; }

#elif defined(__aarch64__)

struct Arm64CacheLines {
  size_t data;         // CTR_EL0.DminLine: log2 of the line in 4-byte words
  size_t instruction;  // CTR_EL0.IminLine
};

// Linux lets EL0 read CTR_EL0 (SCTLR_EL1.UCT); where cores differ it traps
// the read and answers the system-wide safe (smallest) lines, so reading it
// once is correct for every core this thread may move to.
const Arm64CacheLines& CacheLines() {
  static const Arm64CacheLines lines = [] {
    uint64_t ctr = 0;
    asm volatile("mrs %0, ctr_el0" : "=r"(ctr));
    return Arm64CacheLines{size_t{4} << ((ctr >> 16) & 0xf), size_t{4} << (ctr & 0xf)};
  }();
  return lines;
}

// To the point of coherency, where a device's DMA sees the data. Linux sets
// SCTLR_EL1.UCI so EL0 may clean (cvac) and clean+invalidate (civac); a bare
// invalidate (ivac) is EL1 only.
void FlushData(uintptr_t begin, uintptr_t end, bool invalidate) {
  const size_t line = CacheLines().data;
  if (invalidate) {
    ForEachLine(begin, end, line,
                [](uintptr_t p) { asm volatile("dc civac, %0" ::"r"(p) : "memory"); });
  } else {
    ForEachLine(begin, end, line,
                [](uintptr_t p) { asm volatile("dc cvac, %0" ::"r"(p) : "memory"); });
  }
  asm volatile("dsb sy" ::: "memory");
}

// The architecture's sequence for code written at run time: clean the data to
// the point of unification, invalidate the instruction lines, then isb so
// this CPU fetches anew.
void SyncInstructions(uintptr_t begin, uintptr_t end) {
  const Arm64CacheLines& lines = CacheLines();
  ForEachLine(begin, end, lines.data,
              [](uintptr_t p) { asm volatile("dc cvau, %0" ::"r"(p) : "memory"); });
  asm volatile("dsb ish" ::: "memory");
  ForEachLine(begin, end, lines.instruction,
              [](uintptr_t p) { asm volatile("ic ivau, %0" ::"r"(p) : "memory"); });
  asm volatile("dsb ish\n\tisb" ::: "memory");
}

size_t LineSize() { return CacheLines().data; }

#else
#error "udrv cache maintenance supports x86_64 and aarch64"
#endif

}  // namespace

size_t DataCacheLineSize() { return LineSize(); }

Result<void> CacheFlush(const void* addr, size_t len, uint32_t options) {
  if (!IsValidOptions(options)) {
    char text[16];
    std::snprintf(text, sizeof(text), "0x%" PRIx32, options);
    return Fail(Status::INVALID_ARGS,
                std::string("cache flush: options ") + text +
                    " are not DATA, DATA|INVALIDATE, INSTRUCTION or DATA|INSTRUCTION",
                RangeText(addr, len));
  }
  const auto begin = reinterpret_cast<uintptr_t>(addr);
  if (len > UINTPTR_MAX - begin) {
    return Fail(Status::INVALID_ARGS, "cache flush: the range wraps around the address space",
                RangeText(addr, len));
  }
  if (len == 0) return {};
  const uintptr_t end = begin + len;
  if ((options & kCacheFlushData) != 0) {
    FlushData(begin, end, (options & kCacheFlushInvalidate) != 0);
  }
  if ((options & kCacheFlushInstruction) != 0) SyncInstructions(begin, end);
  return {};
}

}  // namespace udrv
