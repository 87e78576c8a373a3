// What the guest PCI suites share: finding a function on the guest's bus,
// binding and opening it for a test, and edu's DMA engine driven by hand.
// A function that is not there fails the test: a guest machine without its
// devices is a broken testbed, never a reason to skip.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "result_helpers.h"
#include "udrv/core/time.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/device.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/uio.h"
#include "udrv/pci/vfio.h"

namespace udrv::guest {

inline pci::Address FindFunction(uint16_t vendor, uint16_t device) {
  pci::SysfsPci sysfs;
  auto addresses = sysfs.List();
  REQUIRE_OK(addresses);
  for (const pci::Address& address : *addresses) {
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    if (info->vendor_id == vendor && info->device_id == device) return address;
  }
  FAIL("no PCI function " << std::hex << vendor << ":" << device << " in this guest");
  return {};
}

// QEMU's edu device.
inline pci::Address FindEdu() { return FindFunction(0x1234, 0x11e8); }

// How many fds this process has open.
inline size_t OpenFdCount() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// A function bound to `driver` (pci::BindDriver) and opened by `open`; the
// previous driver comes back when it goes. Declare it before anything that
// maps the device: an unbind from vfio-pci waits for every mapping to go.
class BoundDevice {
 public:
  using Open = std::function<Result<std::unique_ptr<pci::Device>>(const pci::Address&)>;

  BoundDevice(const pci::Address& address, const std::string& driver, const Open& open)
      : address_(address) {
    auto record = pci::BindDriver(address_, driver);
    REQUIRE_OK(record);
    record_ = *record;
    auto device = open(address_);
    REQUIRE_OK(device);
    device_ = std::move(*device);
  }
  ~BoundDevice() {
    if (!record_) return;
    device_.reset();
    auto restored = pci::RestoreDriver(*record_);
    if (std::uncaught_exceptions() == 0) REQUIRE_OK(restored);
  }
  BoundDevice(const BoundDevice&) = delete;
  BoundDevice& operator=(const BoundDevice&) = delete;

  pci::Device& device() { return *device_; }
  const pci::Address& address() const { return address_; }

 private:
  pci::Address address_;
  std::optional<pci::BindRecord> record_;
  std::unique_ptr<pci::Device> device_;
};

// edu (or `address`) over vfio-pci.
class VfioEdu : public BoundDevice {
 public:
  VfioEdu() : VfioEdu(FindEdu()) {}
  explicit VfioEdu(const pci::Address& address)
      : BoundDevice(address, "vfio-pci", [](const pci::Address& a) { return pci::OpenVfioDevice(a); }) {}
};

// edu over uio_pci_generic, opened with `options`.
class UioEdu : public BoundDevice {
 public:
  explicit UioEdu(const pci::UioOptions& options = {})
      : BoundDevice(FindEdu(), "uio",
                    [&options](const pci::Address& a) { return pci::OpenUioDevice(a, options); }) {}
};

// edu's DMA engine (QEMU docs/specs/edu.rst): 0x80 source, 0x88
// destination, 0x90 count, 0x98 command (bit 0 start/busy, bit 1 direction:
// 1 = edu -> RAM). edu's buffer is at 0x40000; QEMU masks edu's addresses to
// 28 bits; a transfer reaching 0x40fff aborts QEMU 7.2, so stay below it.
inline constexpr uint32_t kEduDmaSource = 0x80;
inline constexpr uint32_t kEduDmaDestination = 0x88;
inline constexpr uint32_t kEduDmaCount = 0x90;
inline constexpr uint32_t kEduDmaCommand = 0x98;
inline constexpr uint32_t kEduDmaStart = 1u << 0;
inline constexpr uint32_t kEduDmaToRam = 1u << 1;
inline constexpr uint64_t kEduBuffer = 0x40000;
inline constexpr uint64_t kEduDmaLimit = uint64_t{1} << 28;

// Starts one edu DMA by hand and polls until its busy bit clears (a DMA
// completes ~100 ms later).
inline void RunEduDma(const mmio::MmioBuffer& regs, uint64_t source, uint64_t destination,
                      uint32_t count, uint32_t command) {
  regs.Write64(source, kEduDmaSource);
  regs.Write64(destination, kEduDmaDestination);
  regs.Write64(count, kEduDmaCount);
  regs.Write64(command | kEduDmaStart, kEduDmaCommand);
  const Time deadline = DeadlineAfter(std::chrono::seconds(5));
  while (regs.Read64(kEduDmaCommand) & kEduDmaStart) {
    REQUIRE(Now() < deadline);
    ::usleep(1000);
  }
}

}  // namespace udrv::guest
