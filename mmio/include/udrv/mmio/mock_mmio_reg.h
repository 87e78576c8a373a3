// A mock register region for driver unit tests: each register gets an
// ordered list of expected accesses; the code under test runs against
// GetMmioBuffer(); VerifyAll() then reports everything that went otherwise.
//
//   MockMmioRegRegion regs(sizeof(uint32_t), 16);
//   MmioBuffer mmio = regs.GetMmioBuffer();
//   regs[0x10].ExpectRead(0x1).ExpectWrite(0x3);   // read-modify-write of 0x10
//   regs[0x14].ExpectWrite(0xff);
//   driver.Start(mmio);
//   REQUIRE(regs.VerifyAll());                     // or print .error().ToString()
//
// Unlike Fuchsia's mock (separate read and write queues, test failure on the
// spot), a register's expectations are one sequence, so order is checked
// too, and a mismatch is recorded rather than failing at once: VerifyAll()
// lists every mismatched, unexpected and missing access in one error.
// A mismatched access uses up the expectation it met. Access widths are not
// matched; an access must start at a register boundary.
//
// Ordered and relaxed accessors look the same to the mock. ReadBuffer and
// WriteBuffer reach it as one register-wide access per register touched
// (a partly written register is read first).
//
// The region must outlive every buffer and view made from it, and is not
// thread-safe: code under test that touches it from several threads needs
// the test to serialize them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/mmio/mmio_buffer.h"

namespace udrv::mmio {

namespace internal {
template <typename Region>
class RegisterDoubleOps;
}  // namespace internal

class MockMmioReg {
 public:
  // The next access is a read, which returns `value`.
  MockMmioReg& ExpectRead(uint64_t value);
  // The next access is a read, which returns the register's last value.
  MockMmioReg& ExpectRead();
  // The next access is a write of `value`.
  MockMmioReg& ExpectWrite(uint64_t value);
  // The next access is a write of any value.
  MockMmioReg& ExpectWrite();

 private:
  friend class MockMmioRegRegion;
  struct Expectation {
    bool is_write = false;
    bool any_value = false;
    uint64_t value = 0;
  };

  std::vector<Expectation> expectations_;
  size_t next_ = 0;
  uint64_t last_value_ = 0;  // what an any-value read returns
};

class MockMmioRegRegion {
 public:
  // `reg_count` registers of `reg_size` bytes (1, 2, 4 or 8); aborts with a
  // message otherwise (a bug in the test itself).
  MockMmioRegRegion(size_t reg_size, size_t reg_count);
  MockMmioRegRegion(const MockMmioRegRegion&) = delete;
  MockMmioRegRegion& operator=(const MockMmioRegRegion&) = delete;

  // The register at byte `offset` (not index), as in Fuchsia; aborts past
  // the end.
  MockMmioReg& operator[](size_t offset);

  // A buffer of reg_size * reg_count bytes whose accesses come here.
  MmioBuffer GetMmioBuffer();

  // OK if every expectation was met and nothing else happened; otherwise
  // BAD_STATE listing each failure. Clears all expectations, failures and
  // register values either way, so the region can be reused.
  Result<void> VerifyAll();

 private:
  friend class internal::RegisterDoubleOps<MockMmioRegRegion>;
  unsigned reg_size() const { return static_cast<unsigned>(reg_size_); }
  uint64_t Access(uint64_t offset, unsigned width, bool is_write, uint64_t value);

  size_t reg_size_;
  std::vector<MockMmioReg> regs_;
  std::vector<std::string> failures_;
};

}  // namespace udrv::mmio
