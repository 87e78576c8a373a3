#include "udrv/drivers/edu/self_test.h"

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <thread>

#include "udrv/dma/buffer.h"
#include "udrv/pci/device.h"

namespace udrv::drivers::edu {

namespace {

// A pattern that differs from run to run and from byte to byte (xorshift64).
void FillPattern(std::span<std::byte> bytes, uint64_t seed) {
  uint64_t state = seed | 1;
  for (std::byte& b : bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    b = static_cast<std::byte>(state >> 56);
  }
}

}  // namespace

Result<void> SelfTest(Edu& driver, const SelfTestOptions& options,
                      const SelfTestProgress& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  if (options.dma_size == 0 || options.dma_size > kMaxTransfer) {
    return Fail(Status::OUT_OF_RANGE,
                "self test: a DMA of " + std::to_string(options.dma_size) + " bytes (1.." +
                    std::to_string(kMaxTransfer) + ")",
                driver.name());
  }
  auto info = driver.bti().GetInfo();
  if (!info) return Wrap(info.error(), "BTI info");
  say(driver.name() + ": edu " + std::to_string(driver.major_version()) + "." +
      std::to_string(driver.minor_version()) + ", interrupts " +
      std::string(pci::InterruptModeName(driver.interrupt_mode())) +
      ", device addresses below " + Hex(info->aspace_size) +
      (driver.bti().is_physical() ? " (physical: no IOMMU)" : " (IOMMU)"));

  auto alive = driver.CheckLiveness();
  if (!alive) return std::unexpected(alive.error());
  say("liveness check passed");

  uint32_t expected = 1;
  for (uint32_t n = 1; n <= kMaxFactorialInput; ++n) {
    expected *= n;
    auto factorial = driver.Factorial(n);
    if (!factorial) return std::unexpected(factorial.error());
    if (*factorial != expected) {
      return Fail(Status::IO,
                  "factorial of " + std::to_string(n) + ": edu says " +
                      std::to_string(*factorial) + ", not " + std::to_string(expected),
                  driver.name());
    }
  }
  say("factorials 1! to " + std::to_string(kMaxFactorialInput) + "! = " +
      std::to_string(expected) + " correct, each completed by interrupt");

  auto source = dma::ContiguousBuffer::Create(driver.bti(), options.dma_size, dma::kBtiPermRead,
                                              "edu-dma-source");
  if (!source) return Wrap(source.error(), "allocate and pin the DMA source");
  auto destination = dma::ContiguousBuffer::Create(driver.bti(), options.dma_size,
                                                   dma::kBtiPermWrite, "edu-dma-destination");
  if (!destination) return Wrap(destination.error(), "allocate and pin the DMA destination");
  say("pinned the source at " + Hex(source->phys()) + " and the destination at " +
      Hex(destination->phys()));
  if (options.hold_pins > 0) {
    say("holding the pins for " + std::to_string(options.hold_pins / 1'000'000'000) + " s");
    std::this_thread::sleep_for(std::chrono::nanoseconds(options.hold_pins));
  }

  const uint64_t seed = static_cast<uint64_t>(Now()) ^ static_cast<uint64_t>(::getpid());
  FillPattern(HostMemoryOf(*source).cpu.first(options.dma_size), seed);
  auto round_trip = driver.RoundTrip(*source, *destination, options.dma_size);
  if (!round_trip) return std::unexpected(round_trip.error());
  say("DMA round trip of " + std::to_string(options.dma_size) +
      " bytes host -> edu -> host verified byte for byte (pattern seed " + Hex(seed) +
      "), each DMA completed by interrupt");
  return {};
}

}  // namespace udrv::drivers::edu
