// Exact-width device register accessors and I/O barriers, one instruction per
// access, in inline assembly so the compiler can neither split, merge, widen
// nor re-address an access.
//
// Why assembly and not a volatile pointer: on arm64 the compiler may emit a
// load or store with writeback addressing (`ldr w0, [x1, #4]!`) for a volatile
// access. Such an instruction does not report a valid syndrome when it faults
// on emulated device memory, so KVM cannot emulate it and the guest dies. The
// arm64 accessors here use a bare register address (`[xN]`) only.
//
// Ordering. The plain accessors are ordered like Linux readl/writel:
//  - aarch64: `dmb oshst` before a write, so normal-memory writes (a DMA
//    descriptor) are visible to the device before the register write that
//    tells it to look; `dmb oshld` after a read, so later normal-memory reads
//    (DMA results) are not satisfied before the register read (a status).
//  - x86_64: uncached (UC) device memory is strongly ordered and x86 keeps
//    stores in order with respect to other stores and loads with respect to
//    other loads, so a plain mov suffices; the "memory" clobber stops the
//    compiler from moving memory accesses across it. Write-combining mappings
//    are weakly ordered: use MmioWriteBarrier() where order matters there.
// The *Relaxed accessors are the same single instruction without the barrier
// (readl_relaxed/writel_relaxed): device accesses stay in program order with
// respect to each other (volatile asm statements are not reordered), but not
// with respect to normal memory, for the CPU or the compiler: like Linux's,
// they carry no "memory" clobber, only the register itself as an operand
// ("Q" on arm64: a base register with no offset and no writeback). That lets
// the compiler keep a buffer's bounds in registers across a run of relaxed
// accesses; the ordered accessors' barriers are compiler barriers too.
#pragma once

#include <cstdint>

namespace udrv::mmio {

#if defined(__aarch64__)

inline uint8_t MmioRead8Relaxed(const volatile uint8_t* addr) {
  uint32_t value;
  __asm__ volatile("ldrb %w0, %1" : "=r"(value) : "Q"(*addr));
  return static_cast<uint8_t>(value);
}
inline uint16_t MmioRead16Relaxed(const volatile uint16_t* addr) {
  uint32_t value;
  __asm__ volatile("ldrh %w0, %1" : "=r"(value) : "Q"(*addr));
  return static_cast<uint16_t>(value);
}
inline uint32_t MmioRead32Relaxed(const volatile uint32_t* addr) {
  uint32_t value;
  __asm__ volatile("ldr %w0, %1" : "=r"(value) : "Q"(*addr));
  return value;
}
inline uint64_t MmioRead64Relaxed(const volatile uint64_t* addr) {
  uint64_t value;
  __asm__ volatile("ldr %x0, %1" : "=r"(value) : "Q"(*addr));
  return value;
}

inline void MmioWrite8Relaxed(uint8_t value, volatile uint8_t* addr) {
  __asm__ volatile("strb %w1, %0" : "=Q"(*addr) : "rZ"(value));
}
inline void MmioWrite16Relaxed(uint16_t value, volatile uint16_t* addr) {
  __asm__ volatile("strh %w1, %0" : "=Q"(*addr) : "rZ"(value));
}
inline void MmioWrite32Relaxed(uint32_t value, volatile uint32_t* addr) {
  __asm__ volatile("str %w1, %0" : "=Q"(*addr) : "rZ"(value));
}
inline void MmioWrite64Relaxed(uint64_t value, volatile uint64_t* addr) {
  __asm__ volatile("str %x1, %0" : "=Q"(*addr) : "rZ"(value));
}

// Full barriers, as Linux mb()/wmb()/rmb(): complete before anything later
// starts, including device memory and instruction effects.
inline void MmioBarrier() { __asm__ volatile("dsb sy" ::: "memory"); }
inline void MmioWriteBarrier() { __asm__ volatile("dsb st" ::: "memory"); }
inline void MmioReadBarrier() { __asm__ volatile("dsb ld" ::: "memory"); }

// The ordering halves of readl/writel (Linux __iormb/__iowmb).
inline void MmioOrderBeforeWrite() { __asm__ volatile("dmb oshst" ::: "memory"); }
inline void MmioOrderAfterRead() { __asm__ volatile("dmb oshld" ::: "memory"); }

#elif defined(__x86_64__)

inline uint8_t MmioRead8Relaxed(const volatile uint8_t* addr) {
  uint8_t value;
  __asm__ volatile("movb %1, %0" : "=q"(value) : "m"(*addr));
  return value;
}
inline uint16_t MmioRead16Relaxed(const volatile uint16_t* addr) {
  uint16_t value;
  __asm__ volatile("movw %1, %0" : "=r"(value) : "m"(*addr));
  return value;
}
inline uint32_t MmioRead32Relaxed(const volatile uint32_t* addr) {
  uint32_t value;
  __asm__ volatile("movl %1, %0" : "=r"(value) : "m"(*addr));
  return value;
}
inline uint64_t MmioRead64Relaxed(const volatile uint64_t* addr) {
  uint64_t value;
  __asm__ volatile("movq %1, %0" : "=r"(value) : "m"(*addr));
  return value;
}

inline void MmioWrite8Relaxed(uint8_t value, volatile uint8_t* addr) {
  __asm__ volatile("movb %1, %0" : "=m"(*addr) : "qi"(value));
}
inline void MmioWrite16Relaxed(uint16_t value, volatile uint16_t* addr) {
  __asm__ volatile("movw %1, %0" : "=m"(*addr) : "ri"(value));
}
inline void MmioWrite32Relaxed(uint32_t value, volatile uint32_t* addr) {
  __asm__ volatile("movl %1, %0" : "=m"(*addr) : "ri"(value));
}
inline void MmioWrite64Relaxed(uint64_t value, volatile uint64_t* addr) {
  __asm__ volatile("movq %1, %0" : "=m"(*addr) : "er"(value));
}

inline void MmioBarrier() { __asm__ volatile("mfence" ::: "memory"); }
inline void MmioWriteBarrier() { __asm__ volatile("sfence" ::: "memory"); }
inline void MmioReadBarrier() { __asm__ volatile("lfence" ::: "memory"); }

// x86 orders UC accesses itself; only the compiler needs stopping.
inline void MmioOrderBeforeWrite() { __asm__ volatile("" ::: "memory"); }
inline void MmioOrderAfterRead() { __asm__ volatile("" ::: "memory"); }

#else

// Other architectures: volatile accesses and C++ fences. Correct for
// ordinary memory; a port to real hardware there should add its accessors.
inline uint8_t MmioRead8Relaxed(const volatile uint8_t* addr) { return *addr; }
inline uint16_t MmioRead16Relaxed(const volatile uint16_t* addr) { return *addr; }
inline uint32_t MmioRead32Relaxed(const volatile uint32_t* addr) { return *addr; }
inline uint64_t MmioRead64Relaxed(const volatile uint64_t* addr) { return *addr; }
inline void MmioWrite8Relaxed(uint8_t value, volatile uint8_t* addr) { *addr = value; }
inline void MmioWrite16Relaxed(uint16_t value, volatile uint16_t* addr) { *addr = value; }
inline void MmioWrite32Relaxed(uint32_t value, volatile uint32_t* addr) { *addr = value; }
inline void MmioWrite64Relaxed(uint64_t value, volatile uint64_t* addr) { *addr = value; }

inline void MmioBarrier() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void MmioWriteBarrier() { __atomic_thread_fence(__ATOMIC_RELEASE); }
inline void MmioReadBarrier() { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
inline void MmioOrderBeforeWrite() { __atomic_thread_fence(__ATOMIC_RELEASE); }
inline void MmioOrderAfterRead() { __atomic_thread_fence(__ATOMIC_ACQUIRE); }

#endif

// Ordered accessors (readb..readq / writeb..writeq).
inline uint8_t MmioRead8(const volatile uint8_t* addr) {
  uint8_t value = MmioRead8Relaxed(addr);
  MmioOrderAfterRead();
  return value;
}
inline uint16_t MmioRead16(const volatile uint16_t* addr) {
  uint16_t value = MmioRead16Relaxed(addr);
  MmioOrderAfterRead();
  return value;
}
inline uint32_t MmioRead32(const volatile uint32_t* addr) {
  uint32_t value = MmioRead32Relaxed(addr);
  MmioOrderAfterRead();
  return value;
}
inline uint64_t MmioRead64(const volatile uint64_t* addr) {
  uint64_t value = MmioRead64Relaxed(addr);
  MmioOrderAfterRead();
  return value;
}

inline void MmioWrite8(uint8_t value, volatile uint8_t* addr) {
  MmioOrderBeforeWrite();
  MmioWrite8Relaxed(value, addr);
}
inline void MmioWrite16(uint16_t value, volatile uint16_t* addr) {
  MmioOrderBeforeWrite();
  MmioWrite16Relaxed(value, addr);
}
inline void MmioWrite32(uint32_t value, volatile uint32_t* addr) {
  MmioOrderBeforeWrite();
  MmioWrite32Relaxed(value, addr);
}
inline void MmioWrite64(uint64_t value, volatile uint64_t* addr) {
  MmioOrderBeforeWrite();
  MmioWrite64Relaxed(value, addr);
}

}  // namespace udrv::mmio
