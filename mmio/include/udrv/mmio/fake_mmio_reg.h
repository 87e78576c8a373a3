// A fake register region for driver unit tests: each register is a pair of
// callbacks the test supplies, so it can model a device (a status register
// that reads back what the last command did, a FIFO, a write-one-to-clear
// interrupt register).
//
//   FakeMmioRegRegion regs(sizeof(uint32_t), 16);
//   uint32_t status = 0;
//   regs[0x04].SetReadCallback([&] { return status; });
//   regs[0x00].SetWriteCallback([&](uint64_t cmd) { if (cmd == kReset) status = kReady; });
//   driver.Reset(regs.GetMmioBuffer());
//
// A register without a read callback reads 0; without a write callback,
// writes to it are dropped (as in Fuchsia). An access at offset `o` goes to
// register o / reg_size whatever its width; the read value is truncated to
// the access width. ReadBuffer and WriteBuffer reach the callbacks as one
// register-wide access per register touched (a partly written register is
// read first).
//
// The region must outlive every buffer and view made from it, and is not
// thread-safe: code under test that touches it from several threads needs
// the test to serialize them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "udrv/mmio/mmio_buffer.h"

namespace udrv::mmio {

namespace internal {
template <typename Region>
class RegisterDoubleOps;
}  // namespace internal

class FakeMmioReg {
 public:
  void SetReadCallback(std::function<uint64_t()> read) { read_ = std::move(read); }
  void SetWriteCallback(std::function<void(uint64_t)> write) { write_ = std::move(write); }

 private:
  friend class FakeMmioRegRegion;
  std::function<uint64_t()> read_;
  std::function<void(uint64_t)> write_;
};

class FakeMmioRegRegion {
 public:
  // `reg_count` registers of `reg_size` bytes (1, 2, 4 or 8); aborts with a
  // message otherwise (a bug in the test itself).
  FakeMmioRegRegion(size_t reg_size, size_t reg_count);
  FakeMmioRegRegion(const FakeMmioRegRegion&) = delete;
  FakeMmioRegRegion& operator=(const FakeMmioRegRegion&) = delete;

  // The register at byte `offset` (not index); aborts past the end.
  FakeMmioReg& operator[](size_t offset);

  // A buffer of reg_size * reg_count bytes whose accesses come here.
  MmioBuffer GetMmioBuffer();

 private:
  friend class internal::RegisterDoubleOps<FakeMmioRegRegion>;
  unsigned reg_size() const { return static_cast<unsigned>(reg_size_); }
  uint64_t Access(uint64_t offset, unsigned width, bool is_write, uint64_t value);

  size_t reg_size_;
  std::vector<FakeMmioReg> regs_;
};

}  // namespace udrv::mmio
