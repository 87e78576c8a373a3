// mmio_callgrind_workload MODE ITERATIONS: sets up one mapped page, then
// makes ITERATIONS 32-bit accesses of kind MODE to it. mmio_callgrind.sh runs
// it under callgrind with ITERATIONS and with 0 and divides the difference
// by ITERATIONS: the instructions one access costs, loop included ("loop"
// measures the loop alone).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "mapped_registers.h"

namespace udrv::mmio::bench {
namespace {

// Each loop is its own noinline function so the compiler treats every mode
// the same way: the register offset cycles, the value changes.
using Loop = void (*)(const MappedRegisters&, uint64_t);

[[gnu::noinline]] void Empty(const MappedRegisters&, uint64_t iterations) {
  for (uint64_t i = 0; i < iterations; i++) __asm__ volatile("" ::: "memory");
}

[[gnu::noinline]] void RawRead32(const MappedRegisters& regs, uint64_t iterations) {
  volatile uint32_t* raw = regs.raw();
  uint64_t offs = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    (void)raw[offs / 4];
    offs = (offs + 4) & kRegisterMask;
  }
}

[[gnu::noinline]] void RawWrite32(const MappedRegisters& regs, uint64_t iterations) {
  volatile uint32_t* raw = regs.raw();
  uint64_t offs = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    raw[offs / 4] = static_cast<uint32_t>(i);
    offs = (offs + 4) & kRegisterMask;
  }
}

[[gnu::noinline]] void BufferRead32(const MappedRegisters& regs, uint64_t iterations) {
  const MmioBuffer& mmio = *regs.mmio;
  uint64_t offs = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    (void)mmio.Read32(offs);
    offs = (offs + 4) & kRegisterMask;
  }
}

[[gnu::noinline]] void BufferWrite32(const MappedRegisters& regs, uint64_t iterations) {
  const MmioBuffer& mmio = *regs.mmio;
  uint64_t offs = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    mmio.Write32(static_cast<uint32_t>(i), offs);
    offs = (offs + 4) & kRegisterMask;
  }
}

[[gnu::noinline]] void BufferRead32Relaxed(const MappedRegisters& regs, uint64_t iterations) {
  const MmioBuffer& mmio = *regs.mmio;
  uint64_t offs = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    (void)mmio.Read32Relaxed(offs);
    offs = (offs + 4) & kRegisterMask;
  }
}

[[gnu::noinline]] void BufferWrite32Relaxed(const MappedRegisters& regs, uint64_t iterations) {
  const MmioBuffer& mmio = *regs.mmio;
  uint64_t offs = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    mmio.Write32Relaxed(static_cast<uint32_t>(i), offs);
    offs = (offs + 4) & kRegisterMask;
  }
}

[[gnu::noinline]] void TryRead32(const MappedRegisters& regs, uint64_t iterations) {
  const MmioBuffer& mmio = *regs.mmio;
  uint64_t offs = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    if (!mmio.TryRead32(offs)) std::abort();
    offs = (offs + 4) & kRegisterMask;
  }
}

[[gnu::noinline]] void TryWrite32(const MappedRegisters& regs, uint64_t iterations) {
  const MmioBuffer& mmio = *regs.mmio;
  uint64_t offs = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    if (!mmio.TryWrite32(static_cast<uint32_t>(i), offs)) std::abort();
    offs = (offs + 4) & kRegisterMask;
  }
}

struct Mode {
  const char* name;
  Loop loop;
};

constexpr Mode kModes[] = {
    {"loop", Empty},
    {"raw-read32", RawRead32},
    {"raw-write32", RawWrite32},
    {"mmio-read32", BufferRead32},
    {"mmio-write32", BufferWrite32},
    {"mmio-read32-relaxed", BufferRead32Relaxed},
    {"mmio-write32-relaxed", BufferWrite32Relaxed},
    {"try-read32", TryRead32},
    {"try-write32", TryWrite32},
};

int Usage() {
  std::fprintf(stderr, "usage: mmio_callgrind_workload MODE ITERATIONS\nmodes:");
  for (const Mode& mode : kModes) std::fprintf(stderr, " %s", mode.name);
  std::fprintf(stderr, "\n");
  return 2;
}

}  // namespace
}  // namespace udrv::mmio::bench

int main(int argc, char** argv) {
  using namespace udrv::mmio::bench;
  if (argc != 3) return Usage();
  char* end = nullptr;
  const uint64_t iterations = std::strtoull(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0') return Usage();
  for (const Mode& mode : kModes) {
    if (std::strcmp(mode.name, argv[1]) == 0) {
      MappedRegisters regs;
      mode.loop(regs, iterations);
      return 0;
    }
  }
  return Usage();
}
