#include "udrv/mmio/mock_mmio_reg.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "register_double.h"

namespace udrv::mmio {

namespace {

std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%" PRIx64, value);
  return text;
}

// "Read32 at 0x10" / "Write32 of 0x5 at 0x10".
std::string DescribeAccess(uint64_t offset, unsigned width, bool is_write, uint64_t value) {
  std::string text = (is_write ? "Write" : "Read") + std::to_string(width * 8);
  if (is_write) text += " of " + Hex(value);
  return text + " at " + Hex(offset);
}

}  // namespace

MockMmioReg& MockMmioReg::ExpectRead(uint64_t value) {
  expectations_.push_back(Expectation{false, false, value});
  return *this;
}

MockMmioReg& MockMmioReg::ExpectRead() {
  expectations_.push_back(Expectation{false, true, 0});
  return *this;
}

MockMmioReg& MockMmioReg::ExpectWrite(uint64_t value) {
  expectations_.push_back(Expectation{true, false, value});
  return *this;
}

MockMmioReg& MockMmioReg::ExpectWrite() {
  expectations_.push_back(Expectation{true, true, 0});
  return *this;
}

MockMmioRegRegion::MockMmioRegRegion(size_t reg_size, size_t reg_count)
    : reg_size_(reg_size), regs_(reg_count) {
  if ((reg_size != 1 && reg_size != 2 && reg_size != 4 && reg_size != 8) || reg_count == 0) {
    std::fprintf(stderr,
                 "udrv MockMmioRegRegion: %zu registers of %zu bytes: need 1, 2, 4 or 8 "
                 "bytes and at least one register\n",
                 reg_count, reg_size);
    std::abort();
  }
}

MockMmioReg& MockMmioRegRegion::operator[](size_t offset) {
  if (offset / reg_size_ >= regs_.size()) {
    std::fprintf(stderr,
                 "udrv MockMmioRegRegion: offset 0x%zx past the %zu registers of %zu bytes\n",
                 offset, regs_.size(), reg_size_);
    std::abort();
  }
  return regs_[offset / reg_size_];
}

MmioBuffer MockMmioRegRegion::GetMmioBuffer() {
  return MmioBuffer(MmioRange{0, 0, reg_size_ * regs_.size()},
                    &internal::RegisterDoubleOps<MockMmioRegRegion>::kOps, this);
}

uint64_t MockMmioRegRegion::Access(uint64_t offset, unsigned width, bool is_write, uint64_t value) {
  const std::string access = DescribeAccess(offset, width, is_write, value);
  if (offset % reg_size_ != 0) {
    failures_.push_back(access + ": not at a register boundary (registers are " +
                        std::to_string(reg_size_) + " bytes)");
    return 0;
  }
  MockMmioReg& reg = regs_[offset / reg_size_];
  if (reg.next_ >= reg.expectations_.size()) {
    failures_.push_back(access + ": no access expected");
    if (is_write) reg.last_value_ = value;
    return reg.last_value_;
  }
  const MockMmioReg::Expectation& expected = reg.expectations_[reg.next_++];
  if (is_write) {
    if (!expected.is_write) {
      failures_.push_back(access + ": expected a read");
    } else if (!expected.any_value && expected.value != value) {
      failures_.push_back(access + ": expected a write of " + Hex(expected.value));
    }
    reg.last_value_ = value;
    return 0;
  }
  if (expected.is_write) {
    failures_.push_back(access + ": expected a write" +
                        (expected.any_value ? std::string() : " of " + Hex(expected.value)));
    return reg.last_value_;
  }
  if (!expected.any_value) reg.last_value_ = expected.value;
  return reg.last_value_;
}

Result<void> MockMmioRegRegion::VerifyAll() {
  std::vector<std::string> failures = std::exchange(failures_, {});
  for (size_t i = 0; i < regs_.size(); ++i) {
    MockMmioReg& reg = regs_[i];
    for (size_t e = reg.next_; e < reg.expectations_.size(); ++e) {
      const MockMmioReg::Expectation& missed = reg.expectations_[e];
      std::string text = Hex(i * reg_size_) + ": expected " + (missed.is_write ? "write" : "read");
      if (!missed.any_value) text += (missed.is_write ? " of " : " returning ") + Hex(missed.value);
      failures.push_back(text + " did not happen");
    }
    reg = MockMmioReg();
  }
  if (failures.empty()) return {};
  std::string what =
      std::to_string(failures.size()) + " mock mmio failure" + (failures.size() == 1 ? "" : "s");
  for (size_t i = 0; i < failures.size(); ++i) what += (i == 0 ? ": " : "; ") + failures[i];
  return Fail(Status::BAD_STATE, what);
}

}  // namespace udrv::mmio
