#include "udrv/mmio/fake_mmio_reg.h"

#include <cstdio>
#include <cstdlib>

#include "register_double.h"

namespace udrv::mmio {

FakeMmioRegRegion::FakeMmioRegRegion(size_t reg_size, size_t reg_count)
    : reg_size_(reg_size), regs_(reg_count) {
  if ((reg_size != 1 && reg_size != 2 && reg_size != 4 && reg_size != 8) || reg_count == 0) {
    std::fprintf(stderr,
                 "udrv FakeMmioRegRegion: %zu registers of %zu bytes: need 1, 2, 4 or 8 "
                 "bytes and at least one register\n",
                 reg_count, reg_size);
    std::abort();
  }
}

FakeMmioReg& FakeMmioRegRegion::operator[](size_t offset) {
  if (offset / reg_size_ >= regs_.size()) {
    std::fprintf(stderr,
                 "udrv FakeMmioRegRegion: offset 0x%zx past the %zu registers of %zu bytes\n",
                 offset, regs_.size(), reg_size_);
    std::abort();
  }
  return regs_[offset / reg_size_];
}

MmioBuffer FakeMmioRegRegion::GetMmioBuffer() {
  return MmioBuffer(MmioRange{0, 0, reg_size_ * regs_.size()},
                    &internal::RegisterDoubleOps<FakeMmioRegRegion>::kOps, this);
}

uint64_t FakeMmioRegRegion::Access(uint64_t offset, unsigned, bool is_write, uint64_t value) {
  FakeMmioReg& reg = regs_[offset / reg_size_];
  if (is_write) {
    if (reg.write_) reg.write_(value);
    return 0;
  }
  return reg.read_ ? reg.read_() : 0;
}

}  // namespace udrv::mmio
