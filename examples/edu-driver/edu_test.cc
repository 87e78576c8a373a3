// The edu driver against a fake edu: a register file from udrv::mmio_testing
// whose callbacks behave as QEMU's hw/misc/edu.c does for the registers the
// driver uses. A plain test program (no framework, so the example needs
// nothing but udrv): it prints each failed check and exits 1 if any failed.
#include <cstdint>
#include <cstdio>
#include <source_location>
#include <string>
#include <string_view>

#include "edu.h"
#include "udrv/core/status.h"
#include "udrv/mmio/fake_mmio_reg.h"

namespace {

int checks = 0;
int failures = 0;

void Expect(bool ok, std::string_view what,
            std::source_location where = std::source_location::current()) {
  ++checks;
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "%s:%u: FAILED: %.*s\n", where.file_name(), where.line(),
               static_cast<int>(what.size()), what.data());
}

template <typename T>
std::string StatusOf(const udrv::Result<T>& result) {
  return result ? "OK" : std::string(udrv::StatusName(result.error().status));
}

template <typename T>
bool Says(const udrv::Result<T>& result, std::string_view text) {
  return !result && result.error().what.find(text) != std::string::npos;
}

// edu's registers 0x00..0x20, 32 bits each. QEMU starts a factorial on a
// thread of its own: until it is done, `computing` reads 1 and the
// factorial register still holds n. The fake keeps that up for
// `busy_reads` reads of the status register, so a driver that does not
// wait reads n instead of n!.
class FakeEdu {
 public:
  FakeEdu() {
    registers_[0x00].SetReadCallback([this] { return id; });
    registers_[0x04].SetWriteCallback([this](uint64_t value) {
      liveness_ = stuck_liveness ? static_cast<uint32_t>(value) : ~static_cast<uint32_t>(value);
    });
    registers_[0x04].SetReadCallback([this] { return liveness_; });
    registers_[0x08].SetWriteCallback([this](uint64_t value) {
      ++factorial_writes;
      if (computing_reads_left != 0) return;  // edu ignores it while computing
      factorial_ = static_cast<uint32_t>(value);
      result_ = 1;
      for (uint32_t i = 2; i <= factorial_; ++i) result_ *= i;  // wraps as edu's does
      computing_reads_left = busy_reads;
    });
    registers_[0x08].SetReadCallback([this] { return factorial_; });
    registers_[0x20].SetReadCallback([this]() -> uint64_t {
      if (computing_reads_left == 0) return 0;
      if (computing_reads_left > 0 && --computing_reads_left == 0) factorial_ = result_;
      return 1;
    });
  }
  FakeEdu(const FakeEdu&) = delete;  // the callbacks hold `this`
  FakeEdu& operator=(const FakeEdu&) = delete;

  udrv::mmio::MmioBuffer GetMmioBuffer() { return registers_.GetMmioBuffer(); }

  uint32_t id = 0x010000ed;     // edu 1.0
  bool stuck_liveness = false;  // a register that reads back what was written
  int busy_reads = 3;           // status reads that say `computing` per factorial
  int computing_reads_left = 0; // < 0: computes forever
  int factorial_writes = 0;

 private:
  udrv::mmio::FakeMmioRegRegion registers_{sizeof(uint32_t), 0x24 / sizeof(uint32_t)};
  uint32_t liveness_ = 0;
  uint32_t factorial_ = 0;
  uint32_t result_ = 0;
};

void TestIdentification() {
  FakeEdu device;
  device.id = 0x010200ed;
  auto edu = edu_example::Edu::Create(device.GetMmioBuffer());
  Expect(edu.has_value(), "edu 1.2's ID register is accepted");
  if (edu) Expect(edu->major_version() == 1 && edu->minor_version() == 2, "version 1.2 read");

  FakeEdu absent;
  absent.id = 0xffffffff;  // what a device that does not answer reads
  auto refused = edu_example::Edu::Create(absent.GetMmioBuffer());
  Expect(StatusOf(refused) == "NOT_SUPPORTED", "all ones is NOT_SUPPORTED, got " + StatusOf(refused));
  Expect(Says(refused, "it reads 0xffffffff"), "the error says what the ID register read");
}

void TestLiveness() {
  FakeEdu device;
  auto edu = edu_example::Edu::Create(device.GetMmioBuffer());
  if (!edu) return Expect(false, "create: " + edu.error().ToString());
  auto alive = edu->CheckLiveness();
  Expect(alive.has_value(), "edu answering with the inverse is alive");

  device.stuck_liveness = true;
  auto stuck = edu->CheckLiveness();
  Expect(StatusOf(stuck) == "IO", "a register that does not invert is IO, got " + StatusOf(stuck));
  Expect(Says(stuck, "wrote 0x0, read back 0x0 instead of 0xffffffff"),
         "the error names the values");
}

void TestFactorial() {
  // n! for n = 0..12, written out rather than computed as the fake does.
  constexpr uint32_t kExpected[] = {1,      1,       2,        6,        24,        120,      720,
                                    5040,   40320,   362880,   3628800,  39916800,  479001600};
  FakeEdu device;
  auto edu = edu_example::Edu::Create(device.GetMmioBuffer());
  if (!edu) return Expect(false, "create: " + edu.error().ToString());
  for (uint32_t n = 0; n <= edu_example::kMaxFactorialInput; ++n) {
    auto value = edu->Factorial(n);
    Expect(value && *value == kExpected[n],
           std::to_string(n) + "! is " + std::to_string(kExpected[n]) + ", got " +
               (value ? std::to_string(*value) : value.error().ToString()));
  }

  const int writes = device.factorial_writes;
  auto too_large = edu->Factorial(13);
  Expect(StatusOf(too_large) == "OUT_OF_RANGE", "13! is OUT_OF_RANGE, got " + StatusOf(too_large));
  Expect(device.factorial_writes == writes, "13 is never written to edu");
}

void TestBusyDevice() {
  FakeEdu device;
  auto edu = edu_example::Edu::Create(device.GetMmioBuffer());
  if (!edu) return Expect(false, "create: " + edu.error().ToString());

  device.computing_reads_left = -1;  // a factorial someone else started never ends
  auto busy = edu->Factorial(5);
  Expect(StatusOf(busy) == "BAD_STATE", "a busy edu is BAD_STATE, got " + StatusOf(busy));
  Expect(device.factorial_writes == 0, "nothing is written to a busy edu");

  device.computing_reads_left = 0;
  device.busy_reads = -1;  // ours never ends
  auto hung = edu->Factorial(5, 10'000'000);
  Expect(StatusOf(hung) == "TIMED_OUT", "a factorial that never ends is TIMED_OUT, got " + StatusOf(hung));
  Expect(Says(hung, "still computes after 10 ms"), "the error says how long it waited");
}

}  // namespace

int main() {
  TestIdentification();
  TestLiveness();
  TestFactorial();
  TestBusyDevice();
  std::printf("edu_test: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
