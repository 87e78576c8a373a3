// Google Benchmark timings of MmioBuffer accessors against raw volatile
// accesses to the same mapped memory. Wall-clock numbers vary with the
// machine; mmio_callgrind.sh gives the stable instruction counts that
// docs/PERFORMANCE.md records.
#include <benchmark/benchmark.h>

#include "mapped_registers.h"

namespace udrv::mmio::bench {
namespace {

MappedRegisters& Registers() {
  static MappedRegisters registers;
  return registers;
}

void BM_RawVolatileRead32(benchmark::State& state) {
  volatile uint32_t* raw = Registers().raw();
  uint64_t offs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(raw[offs / 4]);
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_RawVolatileRead32);

void BM_RawVolatileWrite32(benchmark::State& state) {
  volatile uint32_t* raw = Registers().raw();
  uint64_t offs = 0;
  uint32_t value = 0;
  for (auto _ : state) {
    raw[offs / 4] = value++;
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_RawVolatileWrite32);

void BM_ArchMmioRead32(benchmark::State& state) {
  volatile uint32_t* raw = Registers().raw();
  uint64_t offs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(MmioRead32(raw + offs / 4));
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_ArchMmioRead32);

void BM_ArchMmioWrite32(benchmark::State& state) {
  volatile uint32_t* raw = Registers().raw();
  uint64_t offs = 0;
  uint32_t value = 0;
  for (auto _ : state) {
    MmioWrite32(value++, raw + offs / 4);
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_ArchMmioWrite32);

void BM_MmioBufferRead32(benchmark::State& state) {
  const MmioBuffer& mmio = *Registers().mmio;
  uint64_t offs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(mmio.Read32(offs));
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_MmioBufferRead32);

void BM_MmioBufferWrite32(benchmark::State& state) {
  const MmioBuffer& mmio = *Registers().mmio;
  uint64_t offs = 0;
  uint32_t value = 0;
  for (auto _ : state) {
    mmio.Write32(value++, offs);
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_MmioBufferWrite32);

void BM_MmioBufferRead32Relaxed(benchmark::State& state) {
  const MmioBuffer& mmio = *Registers().mmio;
  uint64_t offs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(mmio.Read32Relaxed(offs));
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_MmioBufferRead32Relaxed);

void BM_MmioBufferWrite32Relaxed(benchmark::State& state) {
  const MmioBuffer& mmio = *Registers().mmio;
  uint64_t offs = 0;
  uint32_t value = 0;
  for (auto _ : state) {
    mmio.Write32Relaxed(value++, offs);
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_MmioBufferWrite32Relaxed);

void BM_MmioBufferTryRead32(benchmark::State& state) {
  const MmioBuffer& mmio = *Registers().mmio;
  uint64_t offs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(mmio.TryRead32(offs));
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_MmioBufferTryRead32);

void BM_MmioBufferTryWrite32(benchmark::State& state) {
  const MmioBuffer& mmio = *Registers().mmio;
  uint64_t offs = 0;
  uint32_t value = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(mmio.TryWrite32(value++, offs));
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_MmioBufferTryWrite32);

void BM_MmioViewRead32(benchmark::State& state) {
  const MmioView view = Registers().mmio->View(0x100, 0x100);
  uint64_t offs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(view.Read32(offs));
    offs = (offs + 4) & kRegisterMask;
  }
}
BENCHMARK(BM_MmioViewRead32);

}  // namespace
}  // namespace udrv::mmio::bench

BENCHMARK_MAIN();
