// A driver for QEMU's educational PCI device, edu (1234:11e8), written on
// udrv's public API only: a pci::Device from any route, hwreg registers over
// BAR 0, one Interrupt for completions and a dma::Bti for the DMA engine.
//
// edu (QEMU hw/misc/edu.c, docs/specs/edu.rst) checks liveness, computes
// factorials, and copies memory with a DMA engine between host memory and a
// 4 KiB buffer of its own at device address 0x40000. QEMU 7.2's quirks, which
// the driver keeps inside:
//  - a transfer that reaches the buffer's last byte (0x40fff) trips an
//    off-by-one range check that aborts the whole VM, so transfers end at
//    0x40ffe: the largest is kMaxTransfer = 4095 bytes;
//  - DMA addresses are masked to 28 bits: the Bti gets that limit
//    (kDmaLimit) and device addresses past it are refused, never wrapped;
//  - a DMA completes ~100 ms after it starts (a QEMU timer).
//
// Not thread safe: one operation at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/vmar.h"
#include "udrv/dma/bti.h"
#include "udrv/dma/buffer.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/pci/device.h"

namespace udrv::drivers::edu {

inline constexpr uint16_t kVendorId = 0x1234;
inline constexpr uint16_t kDeviceId = 0x11e8;
// The first device address edu cannot reach.
inline constexpr uint64_t kDmaLimit = uint64_t{1} << 28;
// edu's own buffer, as its DMA engine addresses it.
inline constexpr uint64_t kBufferAddress = 0x40000;
inline constexpr uint32_t kBufferSize = 4096;
// The most bytes one transfer may move (see the top of this file).
inline constexpr uint32_t kMaxTransfer = kBufferSize - 1;
// 13! does not fit edu's 32-bit factorial register.
inline constexpr uint32_t kMaxFactorialInput = 12;

struct Options {
  // How long a factorial or a DMA may take before it is TIMED_OUT.
  Duration completion_timeout = 5'000'000'000;
  // How long Create waits for a factorial or DMA that an earlier owner left
  // running (a driver host killed mid-DMA, say; edu has no reset) to end.
  Duration idle_timeout = 2'000'000'000;
};

// Host memory a transfer reads or writes, as the device and the CPU see it:
// the device reaches byte 0 at `device_address` (a pin's address), the CPU
// reads the same bytes through `cpu`.
struct HostMemory {
  uint64_t device_address = 0;
  std::span<std::byte> cpu;
};
HostMemory HostMemoryOf(const dma::ContiguousBuffer& buffer);

class Edu {
 public:
  // Takes `device` (which must outlive the driver): checks that it is edu
  // (config space IDs, then the ID register), maps BAR 0, waits up to
  // idle_timeout for work an earlier owner left running to end (BAD_STATE
  // if it does not), sets an interrupt mode (MSI where the route has it,
  // else legacy INTx), gets the Bti with edu's DMA limit and enables bus
  // mastering. NOT_SUPPORTED for another device or an ID register edu would
  // not show; errors name the device and the step.
  static Result<Edu> Create(pci::Device& device, Options options = {});

  Edu(Edu&& other) noexcept;
  Edu& operator=(Edu&& other) noexcept;
  Edu(const Edu&) = delete;
  Edu& operator=(const Edu&) = delete;
  // Quiesces edu: no completion interrupts, the interrupt mode DISABLED, bus
  // mastering off (a DMA still running after a timeout can no longer reach
  // memory).
  ~Edu();

  // "edu 0000:00:03.0 (vfio)", as errors name it.
  const std::string& name() const { return name_; }
  uint32_t major_version() const { return major_version_; }
  uint32_t minor_version() const { return minor_version_; }
  pci::InterruptMode interrupt_mode() const { return interrupt_mode_; }
  // What buffers for this device pin through.
  const dma::Bti& bti() const { return bti_; }

  // Writes patterns to the liveness register and checks that edu answers
  // each with its bitwise inverse (IO otherwise, naming the values).
  Result<void> CheckLiveness();

  // n!, completed by edu's interrupt. OUT_OF_RANGE past kMaxFactorialInput;
  // BAD_STATE while edu still computes one that timed out.
  Result<uint32_t> Factorial(uint32_t n);

  // One DMA, completed by edu's interrupt: `size` bytes from device address
  // `source` into edu's buffer at `offset` (CopyToDevice), or from edu's
  // buffer to `destination` (CopyFromDevice). INVALID_ARGS for size 0;
  // OUT_OF_RANGE when the transfer would reach past kMaxTransfer in edu's
  // buffer or past kDmaLimit in host memory; BAD_STATE while a DMA that
  // timed out still runs; TIMED_OUT when no completion arrives in time (the
  // DMA may still run: the next one is BAD_STATE until it is done). The
  // device reports no faults: a transfer the IOMMU blocks completes as any
  // other (RoundTrip finds out).
  Result<void> CopyToDevice(uint64_t source, uint32_t offset, uint32_t size);
  Result<void> CopyFromDevice(uint32_t offset, uint64_t destination, uint32_t size);

  // `size` bytes from `source` to edu's buffer and on to `destination`,
  // verified byte for byte. The destination is first filled with the
  // inverse of the source, so bytes that never arrive cannot pass for data.
  // IO_DATA_INTEGRITY when the data came back different, saying how much
  // differed and whether any of it arrived at all (nothing arriving is what
  // an IOMMU blocking the transfer looks like). INVALID_ARGS when `size`
  // exceeds either CPU view or the two overlap; the rest as CopyToDevice.
  Result<void> RoundTrip(const HostMemory& source, const HostMemory& destination, uint32_t size);
  Result<void> RoundTrip(const dma::ContiguousBuffer& source,
                         const dma::ContiguousBuffer& destination, uint32_t size);

 private:
  Edu(pci::Device& device, std::string name, Options options, Vmar vmar,
      mmio::MmioBuffer registers, uint32_t major_version, uint32_t minor_version);

  Result<void> WaitUntilIdle();
  Result<void> EnableInterruptsAndDma();
  // Runs one DMA between edu's buffer and host memory.
  Result<void> Dma(bool to_ram, uint64_t host_address, uint32_t offset, uint32_t size);
  // Waits until edu raises one of `bits` in its interrupt status, acking
  // every bit it raised on the way.
  Result<void> WaitForInterrupt(uint32_t bits, Time deadline, std::string_view step);
  void Quiesce();

  std::unexpected<Error> Failure(Status status, std::string what) const;
  std::unexpected<Error> Failure(Error inner, std::string_view step) const;

  pci::Device* device_;  // null once moved from
  std::string name_;
  Options options_;
  Vmar vmar_;  // where BAR 0 is mapped
  mmio::MmioBuffer registers_;
  uint32_t major_version_ = 0;
  uint32_t minor_version_ = 0;
  pci::InterruptMode interrupt_mode_ = pci::InterruptMode::DISABLED;
  Interrupt interrupt_;
  dma::Bti bti_;
};

}  // namespace udrv::drivers::edu
