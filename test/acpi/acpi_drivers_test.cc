// The HPET driver (drivers/timer/hpet) against a fake timer block whose
// main counter runs off CLOCK_MONOTONIC at a rate the test picks: the
// period check, the enable bit and the measurement against the clock.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "udrv/core/time.h"
#include "udrv/drivers/hpet/hpet.h"
#include "udrv/mmio/fake_mmio_reg.h"

namespace {

using udrv::Status;
namespace hpet = udrv::drivers::hpet;

// An HPET's general registers: GCAP_ID as QEMU's (vendor 0x8086, 3
// timers, 64-bit counter, legacy route, revision 1), GEN_CONF, and a main
// counter at `rate` times the rate `period_fs` states while enabled.
class FakeHpet {
 public:
  FakeHpet(uint32_t period_fs, double rate) : regs_(8, hpet::kRegistersEnd / 8) {
    regs_[hpet::kCapabilities].SetReadCallback(
        [period_fs] { return (uint64_t{period_fs} << 32) | 0x8086A201u; });
    regs_[hpet::kConfiguration].SetReadCallback([this] { return config_; });
    regs_[hpet::kConfiguration].SetWriteCallback([this](uint64_t value) {
      if ((value & hpet::kEnable) != 0 && (config_ & hpet::kEnable) == 0) started_ = udrv::Now();
      config_ = value;
    });
    regs_[hpet::kMainCounter].SetReadCallback([this, period_fs, rate]() -> uint64_t {
      if ((config_ & hpet::kEnable) == 0) return 0;
      const double ns = static_cast<double>(udrv::Now() - started_);
      return static_cast<uint64_t>(ns * 1e6 / period_fs * rate);
    });
  }

  udrv::mmio::MmioBuffer buffer() { return regs_.GetMmioBuffer(); }
  uint64_t config() const { return config_; }

 private:
  udrv::mmio::FakeMmioRegRegion regs_;
  uint64_t config_ = 0;
  udrv::Time started_ = 0;
};

constexpr uint32_t kQemuPeriod = 10'000'000;  // 10 ns: 100 MHz

TEST_CASE("the HPET's capabilities, its enable bit and its counter measured against the clock", "[hpet]") {
  FakeHpet fake(kQemuPeriod, 1.0);
  auto timer = hpet::Hpet::FromRegisters(fake.buffer(), 0xfed00000, "acpi/_SB_/HPET");
  REQUIRE(timer);
  const hpet::Capabilities& caps = timer->capabilities();
  CHECK(caps.period_fs == kQemuPeriod);
  CHECK(caps.vendor == 0x8086);
  CHECK(caps.timers == 3);
  CHECK(caps.counter_64bit);
  CHECK(caps.legacy_route);
  CHECK(caps.revision == 1);
  CHECK(caps.Hz() == Approx(100e6));
  CHECK_FALSE(timer->enabled_before());

  timer->Enable();
  CHECK((fake.config() & hpet::kEnable) != 0);
  std::vector<std::string> lines;
  auto measured = hpet::SelfTest(*timer, 100'000'000, 10'000,
                                 [&lines](const std::string& line) { lines.push_back(line); });
  REQUIRE(measured);
  CHECK(measured->elapsed >= 100'000'000);
  CHECK(std::abs(measured->error_ppm) < 10'000);
  REQUIRE(lines.size() == 2);
  CHECK(
      lines[0].starts_with("capabilities: period 10000000 fs (100.000000 MHz), 3 timer(s), 64-bit counter"));
  CHECK(lines[1].starts_with("main counter: "));

  timer->Restore();
  CHECK((fake.config() & hpet::kEnable) == 0);
}

TEST_CASE("an HPET counting 5% fast fails the self test, naming both rates", "[hpet]") {
  FakeHpet fake(kQemuPeriod, 1.05);
  auto timer = hpet::Hpet::FromRegisters(fake.buffer(), 0xfed00000, "hpet");
  REQUIRE(timer);
  timer->Enable();
  auto measured = hpet::SelfTest(*timer, 50'000'000, 10'000, [](const std::string&) {});
  REQUIRE_FALSE(measured);
  CHECK(measured.error().status == Status::OUT_OF_RANGE);
  CHECK(measured.error().what.find("from the 100.000000 MHz its period states") != std::string::npos);
}

TEST_CASE("a stopped counter and impossible periods are refused", "[hpet]") {
  for (const uint32_t period : {0u, hpet::kMaxPeriodFs + 1}) {
    FakeHpet fake(period, 1.0);
    auto timer = hpet::Hpet::FromRegisters(fake.buffer(), 0xfed00000, "hpet");
    REQUIRE_FALSE(timer);
    CHECK(timer.error().status == Status::NOT_SUPPORTED);
    CHECK(timer.error().what.find("at most 100000000 fs (100 ns)") != std::string::npos);
  }
  FakeHpet stopped(kQemuPeriod, 1.0);
  auto timer = hpet::Hpet::FromRegisters(stopped.buffer(), 0xfed00000, "hpet");
  REQUIRE(timer);
  auto measured = timer->Measure(10'000'000);  // never enabled
  REQUIRE_FALSE(measured);
  CHECK(measured.error().status == Status::BAD_STATE);
  CHECK(measured.error().what.find("did not advance") != std::string::npos);
}

}  // namespace
