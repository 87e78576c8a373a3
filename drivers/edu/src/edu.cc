// The edu driver (see edu.h).
#include "udrv/drivers/edu/edu.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <thread>
#include <utility>

#include "registers.h"
#include "udrv/core/cache.h"
#include "udrv/pci/config.h"
#include "udrv/pci/driver_support.h"

namespace udrv::drivers::edu {

namespace {

constexpr uint64_t kBar0Size = 1 << 20;
// Values for the liveness check: every bit both ways.
constexpr std::array<uint32_t, 4> kLivenessPatterns = {0x00000000, 0xffffffff, 0x12345678,
                                                       0xa5a55a5a};

std::string DescribeTransfer(bool to_ram, uint64_t host_address, uint32_t offset, uint32_t size) {
  const std::string edu_side = "edu " + Hex(kBufferAddress + offset);
  const std::string host_side = Hex(host_address);
  return "DMA of " + std::to_string(size) + " bytes " +
         (to_ram ? edu_side + " -> " + host_side : host_side + " -> " + edu_side);
}

// `inner` as the step `step` of the driver for `device` saw it: the step
// goes in front of what failed, and the driver's name into the object,
// unless the object named the device already.

}  // namespace

HostMemory HostMemoryOf(const dma::ContiguousBuffer& buffer) {
  return HostMemory{buffer.phys(),
                    std::span<std::byte>(static_cast<std::byte*>(buffer.virt()), buffer.size())};
}

Result<Edu> Edu::Create(pci::Device& device, Options options) {
  const std::string name = "edu " + device.address().ToString() + " (" +
                           std::string(device.route()) + ")";
  auto fail = [&](Error inner, std::string_view step) {
    return pci::DriverStepError(std::move(inner), step, name, device);
  };

  if (auto ids = pci::CheckDeviceIds(device, kVendorId, kDeviceId, "edu"); !ids) {
    return fail(ids.error(), "check the device");
  }
  auto mapped = pci::MapRegisters(device, 0, kBar0Size, registers::kRegistersEnd, "edu");
  if (!mapped) return fail(mapped.error(), "map the registers");
  auto& [vmar, registers] = *mapped;

  auto id = registers::Identification::Get().ReadFrom(&registers);
  if (id.magic() != registers::Identification::kMagic || id.major_version() != 1) {
    return Fail(Status::NOT_SUPPORTED,
                "check the ID register: it reads " + Hex(id.reg_value()) +
                    ", edu 1.x reads 0x01rr00ed (all ones: the device does not answer)",
                name);
  }

  Edu edu(device, name, options, std::move(vmar), std::move(registers), id.major_version(),
          id.minor_version());
  // Before bus mastering: whatever the earlier owner started must end
  // while it can no longer reach memory.
  if (auto idle = edu.WaitUntilIdle(); !idle) return std::unexpected(idle.error());
  // From here the driver's destructor undoes whatever was set up.
  auto enabled = edu.EnableInterruptsAndDma();
  if (!enabled) return std::unexpected(enabled.error());
  return edu;
}

Edu::Edu(pci::Device& device, std::string name, Options options, Vmar vmar,
         mmio::MmioBuffer registers, uint32_t major_version, uint32_t minor_version)
    : device_(&device),
      name_(std::move(name)),
      options_(options),
      vmar_(std::move(vmar)),
      registers_(std::move(registers)),
      major_version_(major_version),
      minor_version_(minor_version) {}

Edu::Edu(Edu&& other) noexcept
    : device_(std::exchange(other.device_, nullptr)),
      name_(std::move(other.name_)),
      options_(other.options_),
      vmar_(std::move(other.vmar_)),
      registers_(std::move(other.registers_)),
      major_version_(other.major_version_),
      minor_version_(other.minor_version_),
      interrupt_mode_(other.interrupt_mode_),
      interrupt_(std::move(other.interrupt_)),
      bti_(std::move(other.bti_)) {}

Edu& Edu::operator=(Edu&& other) noexcept {
  if (this == &other) return *this;
  if (device_ != nullptr) Quiesce();
  device_ = std::exchange(other.device_, nullptr);
  name_ = std::move(other.name_);
  options_ = other.options_;
  bti_ = std::move(other.bti_);
  interrupt_ = std::move(other.interrupt_);
  interrupt_mode_ = other.interrupt_mode_;
  registers_ = std::move(other.registers_);
  vmar_ = std::move(other.vmar_);
  major_version_ = other.major_version_;
  minor_version_ = other.minor_version_;
  return *this;
}

Edu::~Edu() {
  if (device_ != nullptr) Quiesce();
}

Result<void> Edu::WaitUntilIdle() {
  // A DMA completes ~100 ms after it starts (a QEMU timer), a factorial at
  // once; a device left busy by a dead owner is normal, not an error.
  const Time deadline = DeadlineAfter(options_.idle_timeout);
  for (;;) {
    const bool dma = registers::DmaCommand::Get().ReadFrom(&registers_).start() != 0;
    const bool factorial = registers::Status::Get().ReadFrom(&registers_).computing() != 0;
    if (!dma && !factorial) return {};
    if (Now() >= deadline) {
      return Failure(Status::BAD_STATE,
                     std::string("wait for edu to be idle: ") +
                         (dma ? "a DMA" : "a factorial") + " an earlier owner started still runs after " +
                         std::to_string(options_.idle_timeout / 1'000'000) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<void> Edu::EnableInterruptsAndDma() {
  // Nothing left over from an earlier driver may pass for a completion.
  registers::Status::Get().ReadFrom(&registers_).set_interrupt_on_factorial(0).WriteTo(&registers_);
  registers::Interrupts::GetAcknowledge().FromValue(0xffffffff).WriteTo(&registers_);

  auto mode = device_->SetInterruptModeWithFallback(1);
  if (!mode) return Failure(mode.error(), "set an interrupt mode");
  interrupt_mode_ = *mode;
  auto interrupt = device_->MapInterrupt(0);
  if (!interrupt) return Failure(interrupt.error(), "map the interrupt");
  interrupt_ = std::move(*interrupt);

  auto bti = device_->GetBti(0, kDmaLimit);
  if (!bti) return Failure(bti.error(), "get the BTI");
  bti_ = std::move(*bti);

  // Also what lets an MSI, a memory write, leave the device.
  auto mastering = device_->SetBusMastering(true);
  if (!mastering) return Failure(mastering.error(), "enable bus mastering");
  return {};
}

// Errors here have nowhere to go: each step is tried whatever the one before
// did, so that as much as possible is off.
void Edu::Quiesce() {
  registers::Status::Get().ReadFrom(&registers_).set_interrupt_on_factorial(0).WriteTo(&registers_);
  registers::Interrupts::GetAcknowledge().FromValue(0xffffffff).WriteTo(&registers_);
  (void)device_->SetInterruptMode(pci::InterruptMode::DISABLED, 0);
  (void)device_->SetBusMastering(false);
}

std::unexpected<Error> Edu::Failure(Status status, std::string what) const {
  return Fail(status, std::move(what), name_);
}

std::unexpected<Error> Edu::Failure(Error inner, std::string_view step) const {
  return pci::DriverStepError(std::move(inner), step, name_, *device_);
}

Result<void> Edu::WaitForInterrupt(uint32_t bits, Time deadline, std::string_view step) {
  for (;;) {
    auto fired = interrupt_.Wait(deadline);
    if (!fired) {
      if (fired.error().status != Status::TIMED_OUT) {
        return Failure(fired.error(), std::string(step) + ": wait for the interrupt");
      }
      const uint32_t pending = registers::Interrupts::GetStatus().ReadFrom(&registers_).reg_value();
      const std::string timeout =
          std::to_string(options_.completion_timeout / 1'000'000) + " ms";
      if ((pending & bits) != 0) {
        return Failure(Status::TIMED_OUT,
                       std::string(step) + ": edu raised its interrupt (status " + Hex(pending) +
                           ") but none arrived within " + timeout + " (" +
                           std::string(pci::InterruptModeName(interrupt_mode_)) + ")");
      }
      return Failure(Status::TIMED_OUT, std::string(step) + ": not done within " + timeout +
                                            " (interrupt status " + Hex(pending) + ")");
    }
    const uint32_t raised = registers::Interrupts::GetStatus().ReadFrom(&registers_).reg_value();
    // Lower the line before the unmask, or INTx fires again at once.
    if (raised != 0) registers::Interrupts::GetAcknowledge().FromValue(raised).WriteTo(&registers_);
    auto acked = device_->AckInterrupt(0);
    if (!acked) return Failure(acked.error(), std::string(step) + ": acknowledge the interrupt");
    if ((raised & bits) != 0) return {};
    // Left over from an operation that timed out: keep waiting for ours.
  }
}

Result<void> Edu::CheckLiveness() {
  for (uint32_t pattern : kLivenessPatterns) {
    registers::Liveness::Get().FromValue(pattern).WriteTo(&registers_);
    const uint32_t answer = registers::Liveness::Get().ReadFrom(&registers_).value();
    if (answer != ~pattern) {
      return Failure(Status::IO, "liveness check: wrote " + Hex(pattern) + ", read back " +
                                     Hex(answer) + " instead of " + Hex(~pattern));
    }
  }
  return {};
}

Result<uint32_t> Edu::Factorial(uint32_t n) {
  const std::string step = "factorial of " + std::to_string(n);
  if (n > kMaxFactorialInput) {
    return Failure(Status::OUT_OF_RANGE, step + ": " + std::to_string(n) +
                                             "! does not fit edu's 32-bit register (at most " +
                                             std::to_string(kMaxFactorialInput) + "!)");
  }
  auto status = registers::Status::Get().ReadFrom(&registers_);
  if (status.computing()) {
    return Failure(Status::BAD_STATE, step + ": edu is still computing an earlier one");
  }
  registers::Interrupts::GetAcknowledge()
      .FromValue(0)
      .set_factorial_done(1)
      .WriteTo(&registers_);
  status.set_interrupt_on_factorial(1).WriteTo(&registers_);
  const Time deadline = DeadlineAfter(options_.completion_timeout);
  registers::Factorial::Get().FromValue(n).WriteTo(&registers_);
  auto done = WaitForInterrupt(
      registers::Interrupts::GetStatus().FromValue(0).set_factorial_done(1).reg_value(), deadline,
      step);
  if (!done) return std::unexpected(done.error());
  return registers::Factorial::Get().ReadFrom(&registers_).value();
}

Result<void> Edu::CopyToDevice(uint64_t source, uint32_t offset, uint32_t size) {
  return Dma(false, source, offset, size);
}

Result<void> Edu::CopyFromDevice(uint32_t offset, uint64_t destination, uint32_t size) {
  return Dma(true, destination, offset, size);
}

Result<void> Edu::Dma(bool to_ram, uint64_t host_address, uint32_t offset, uint32_t size) {
  const std::string step = DescribeTransfer(to_ram, host_address, offset, size);
  if (size == 0) return Failure(Status::INVALID_ARGS, step + ": nothing to copy");
  if (offset > kMaxTransfer || size > kMaxTransfer - offset) {
    return Failure(Status::OUT_OF_RANGE,
                   step + ": past the end of edu's buffer (transfers must stay within " +
                       Hex(kBufferAddress) + ".." + Hex(kBufferAddress + kMaxTransfer - 1) +
                       "; QEMU aborts the VM on one that reaches " +
                       Hex(kBufferAddress + kMaxTransfer) + ")");
  }
  if (host_address >= kDmaLimit || size > kDmaLimit - host_address) {
    return Failure(Status::OUT_OF_RANGE, step + ": past edu's DMA reach (device addresses below " +
                                             Hex(kDmaLimit) + ")");
  }
  if (registers::DmaCommand::Get().ReadFrom(&registers_).start()) {
    return Failure(Status::BAD_STATE, step + ": an earlier DMA is still running");
  }

  const auto dma_done = registers::Interrupts::GetStatus().FromValue(0).set_dma_done(1);
  registers::Interrupts::GetAcknowledge().FromValue(dma_done.reg_value()).WriteTo(&registers_);
  const uint64_t edu_address = kBufferAddress + offset;
  registers::DmaAddress::GetSource()
      .FromValue(to_ram ? edu_address : host_address)
      .WriteTo(&registers_);
  registers::DmaAddress::GetDestination()
      .FromValue(to_ram ? host_address : edu_address)
      .WriteTo(&registers_);
  registers::DmaCount::Get().FromValue(size).WriteTo(&registers_);
  const Time deadline = DeadlineAfter(options_.completion_timeout);
  registers::DmaCommand::Get()
      .FromValue(0)
      .set_direction(to_ram ? registers::DmaDirection::EDU_TO_RAM
                            : registers::DmaDirection::RAM_TO_EDU)
      .set_interrupt_when_done(1)
      .set_start(1)
      .WriteTo(&registers_);
  return WaitForInterrupt(dma_done.reg_value(), deadline, step);
}

Result<void> Edu::RoundTrip(const HostMemory& source, const HostMemory& destination,
                            uint32_t size) {
  const std::string step = "DMA round trip of " + std::to_string(size) + " bytes " +
                           Hex(source.device_address) + " -> edu -> " +
                           Hex(destination.device_address);
  if (size > source.cpu.size() || size > destination.cpu.size()) {
    return Failure(Status::INVALID_ARGS,
                   step + ": larger than the source (" + std::to_string(source.cpu.size()) +
                       " bytes) or the destination (" + std::to_string(destination.cpu.size()) +
                       " bytes)");
  }
  const auto in = source.cpu.first(size);
  const auto out = destination.cpu.first(size);
  if (size != 0 && in.data() < out.data() + out.size() && out.data() < in.data() + in.size()) {
    return Failure(Status::INVALID_ARGS, step + ": the source and the destination overlap");
  }

  // The inverse of each byte: whatever does not arrive shows.
  std::transform(in.begin(), in.end(), out.begin(), [](std::byte b) { return ~b; });
  auto cleaned = CacheFlush(in.data(), size, kCacheFlushData);
  if (!cleaned) return Failure(cleaned.error(), step + ": clean the source from the cache");
  // Clean the poison out too: a dirty line written back later would land
  // over what the device wrote.
  cleaned = CacheFlush(out.data(), size, kCacheFlushData | kCacheFlushInvalidate);
  if (!cleaned) return Failure(cleaned.error(), step + ": clean the destination from the cache");

  auto copied = CopyToDevice(source.device_address, 0, size);
  if (!copied) return std::unexpected(copied.error());
  copied = CopyFromDevice(0, destination.device_address, size);
  if (!copied) return std::unexpected(copied.error());

  auto invalidated = CacheFlush(out.data(), size, kCacheFlushData | kCacheFlushInvalidate);
  if (!invalidated) {
    return Failure(invalidated.error(), step + ": invalidate the destination in the cache");
  }
  size_t differing = 0;
  size_t arrived = 0;
  size_t first = size;
  for (size_t i = 0; i < size; ++i) {
    if (out[i] == in[i]) continue;
    ++differing;
    if (out[i] != ~in[i]) ++arrived;
    if (first == size) first = i;
  }
  if (differing == 0) return {};
  std::string what = step + ": " + std::to_string(differing) + " of " + std::to_string(size) +
                     " bytes came back wrong, the first at offset " + std::to_string(first) +
                     " (" + Hex(std::to_integer<uint8_t>(out[first])) + ", sent " +
                     Hex(std::to_integer<uint8_t>(in[first])) + ")";
  if (arrived == 0) {
    what += "; none of them arrived (the destination still holds what the driver put there): "
            "a DMA the IOMMU blocked looks like this, see the kernel log";
  }
  return Failure(Status::IO_DATA_INTEGRITY, std::move(what));
}

Result<void> Edu::RoundTrip(const dma::ContiguousBuffer& source,
                            const dma::ContiguousBuffer& destination, uint32_t size) {
  return RoundTrip(HostMemoryOf(source), HostMemoryOf(destination), size);
}

}  // namespace udrv::drivers::edu
