// A small driver for QEMU's educational PCI device, edu (1234:11e8), written
// against udrv as an installed library: only headers and libraries that
// `find_package(udrv)` or `pkg-config udrv-pci` give.
//
// It does two of the things edu can do: the liveness check (edu answers a
// value written to 0x04 with its bitwise inverse) and factorials (write n to
// 0x08, wait until the status register's `computing` bit clears, read n!).
// It polls instead of waiting for edu's interrupt, and does no DMA, so that
// the whole driver fits on a page; udrv's own edu driver (drivers/edu in
// udrv's tree) does both.
//
// The register logic takes an mmio::MmioBuffer, not a pci::Device: on a
// machine it is BAR 0 mapped by Open, in a unit test a fake register file
// from udrv::mmio_testing (edu_test.cc). That split is what makes the driver
// testable without the device.
#pragma once

#include <cstdint>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/pci/device.h"

namespace edu_example {

inline constexpr uint16_t kVendorId = 0x1234;
inline constexpr uint16_t kDeviceId = 0x11e8;
// 13! does not fit edu's 32-bit factorial register.
inline constexpr uint32_t kMaxFactorialInput = 12;

class Edu {
 public:
  // Checks that `registers` (BAR 0 or a fake of it) answer as edu 1.x does
  // in the ID register: NOT_SUPPORTED otherwise, saying what they read.
  static udrv::Result<Edu> Create(udrv::mmio::MmioBuffer registers);

  // Checks the device's IDs in config space, maps BAR 0 and calls Create.
  // `device` is what the PCI bus gives the driver (a vfio-pci or
  // uio_pci_generic function); it must outlive the Edu.
  static udrv::Result<Edu> Open(udrv::pci::Device& device);

  uint32_t major_version() const { return major_version_; }
  uint32_t minor_version() const { return minor_version_; }

  // Writes a few patterns to the liveness register and checks that each
  // reads back inverted: IO naming the values otherwise.
  udrv::Result<void> CheckLiveness();

  // n!, polled until edu stops computing. OUT_OF_RANGE for n past
  // kMaxFactorialInput (nothing is written), TIMED_OUT when edu still
  // computes after `timeout` nanoseconds.
  udrv::Result<uint32_t> Factorial(uint32_t n, udrv::Duration timeout = 1'000'000'000);

 private:
  // Create, keeping the region Open mapped BAR 0 in.
  static udrv::Result<Edu> Create(udrv::Vmar vmar, udrv::mmio::MmioBuffer registers);
  Edu(udrv::Vmar vmar, udrv::mmio::MmioBuffer registers, uint32_t major_version,
      uint32_t minor_version);

  // Where Open mapped BAR 0; empty for a fake. Declared before registers_ so
  // that the mapping goes after the buffer that uses it.
  udrv::Vmar vmar_;
  udrv::mmio::MmioBuffer registers_;
  uint32_t major_version_ = 0;
  uint32_t minor_version_ = 0;
};

}  // namespace edu_example
