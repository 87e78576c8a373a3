// The edu driver over a fake edu: config space in memory, BAR 0 a memfd the
// test writes as the device would. Covers what a guest cannot make happen
// on demand: a device an earlier owner left busy.
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "fake_config_device.h"
#include "fake_iommu_domain.h"
#include "result_helpers.h"
#include "udrv/core/interrupt.h"
#include "udrv/core/vmo.h"
#include "udrv/drivers/edu/edu.h"
#include "udrv/pci/device.h"

using namespace std::chrono_literals;
using udrv::Fail;
using udrv::Interrupt;
using udrv::Result;
using udrv::Status;
using udrv::UniqueFd;
using udrv::Vmo;
using udrv::testing::StatusOf;
namespace pci = udrv::pci;
namespace edu = udrv::drivers::edu;

namespace {

constexpr uint64_t kBar0Size = 1 << 20;
constexpr uint64_t kDmaCommand = 0x98;
constexpr uint64_t kStatus = 0x20;

// edu as the driver sees it: IDs in config space, registers in a memfd
// (the ID register reads edu 1.0), one MSI vector, a Bti over a fake
// IOMMU domain. Records the DMA command register each time bus mastering
// is switched on: what the device was doing when it got to reach memory.
class FakeEdu final : public udrv::testing::FakeConfigDevice {
 public:
  FakeEdu() : FakeConfigDevice(pci::Address{0, 0, 3, 0}, 0x1234, 0x11e8) {
    bar = UniqueFd(::memfd_create("fake-edu-bar0", MFD_CLOEXEC));
    REQUIRE(bar);
    REQUIRE(::ftruncate(bar.get(), kBar0Size) == 0);
    registers = static_cast<volatile uint8_t*>(
        ::mmap(nullptr, kBar0Size, PROT_READ | PROT_WRITE, MAP_SHARED, bar.get(), 0));
    REQUIRE(registers != MAP_FAILED);
    Write32(0x00, 0x010000ed);
  }
  ~FakeEdu() override { ::munmap(const_cast<uint8_t*>(registers), kBar0Size); }

  void Write32(uint64_t offset, uint32_t value) {
    std::memcpy(const_cast<uint8_t*>(registers + offset), &value, sizeof(value));
  }
  void Write64(uint64_t offset, uint64_t value) {
    std::memcpy(const_cast<uint8_t*>(registers + offset), &value, sizeof(value));
  }
  uint64_t Read64(uint64_t offset) const {
    uint64_t value;
    std::memcpy(&value, const_cast<const uint8_t*>(registers + offset), sizeof(value));
    return value;
  }

  std::string_view route() const override { return "fake"; }
  Result<pci::DeviceInfo> GetDeviceInfo() const override {
    pci::DeviceInfo info;
    info.address = address();
    info.vendor_id = 0x1234;
    info.device_id = 0x11e8;
    info.bars.push_back(pci::BarInfo{.index = 0, .address = 0xfea00000, .size = kBar0Size});
    return info;
  }
  Result<pci::Bar> GetBar(uint32_t index) override {
    if (index != 0) return Fail(Status::NOT_FOUND, "fake edu: BAR 0 only");
    pci::Bar result;
    result.index = 0;
    result.size = kBar0Size;
    result.mappable = {{0, kBar0Size}};
    // A memfd standing in for BAR 0's sysfs resource file, which edu's
    // UNCACHED_DEVICE mapping needs (TEST_FILE maps CACHED only).
    auto vmo = Vmo::CreatePhysical(UniqueFd(::dup(bar.get())), 0, kBar0Size,
                                   udrv::PhysicalRoute::SYSFS_RESOURCE, "fake edu BAR 0");
    if (!vmo) return std::unexpected(vmo.error());
    result.vmo = std::move(*vmo);
    return result;
  }
  Result<void> SetBusMastering(bool enable) override {
    if (enable) dma_command_at_bus_master.push_back(Read64(kDmaCommand));
    return {};
  }
  Result<pci::InterruptModes> GetInterruptModes() const override {
    return pci::InterruptModes{.has_legacy = false, .msi_count = 1, .msix_count = 0};
  }
  Result<void> SetInterruptMode(pci::InterruptMode, uint32_t) override { return {}; }
  Result<Interrupt> MapInterrupt(uint32_t) override { return Interrupt::CreateVirtual("fake edu msi"); }
  Result<void> AckInterrupt(uint32_t) override { return {}; }
  Result<void> ResetDevice() override { return Fail(Status::NOT_SUPPORTED, "edu has no reset"); }
  Result<udrv::dma::Bti> GetBti(uint32_t, uint64_t dma_limit) override {
    return udrv::dma::Bti::Create(domain, dma_limit, "fake edu bti");
  }

  UniqueFd bar;
  volatile uint8_t* registers = nullptr;
  std::vector<uint64_t> dma_command_at_bus_master;
  std::shared_ptr<udrv::testing::FakeDomain> domain = std::make_shared<udrv::testing::FakeDomain>();
};

}  // namespace

TEST_CASE("edu: a DMA an earlier owner left running ends before bus mastering is on",
          "[edu]") {
  FakeEdu device;
  device.Write64(kDmaCommand, 0x5);  // running, interrupt when done: a killed host's DMA
  // edu completes it a while later, as QEMU's timer does.
  std::thread device_side([&] {
    std::this_thread::sleep_for(150ms);
    device.Write64(kDmaCommand, 0x4);
  });
  auto driver = edu::Edu::Create(device);
  device_side.join();
  REQUIRE_OK(driver);
  REQUIRE(device.dma_command_at_bus_master.size() == 1);
  CHECK((device.dma_command_at_bus_master[0] & 1) == 0);
}

TEST_CASE("edu: work that never ends is BAD_STATE, and the device never masters the bus",
          "[edu]") {
  FakeEdu device;
  edu::Options options;
  options.idle_timeout = 100'000'000;
  SECTION("a DMA") {
    device.Write64(kDmaCommand, 0x1);
    auto driver = edu::Edu::Create(device, options);
    REQUIRE(StatusOf(driver) == "BAD_STATE");
    CHECK(driver.error().what.find("a DMA an earlier owner started still runs after 100 ms") !=
          std::string::npos);
    CHECK(driver.error().object.find("0000:00:03.0") != std::string::npos);
  }
  SECTION("a factorial") {
    device.Write32(kStatus, 0x1);
    auto driver = edu::Edu::Create(device, options);
    REQUIRE(StatusOf(driver) == "BAD_STATE");
    CHECK(driver.error().what.find("a factorial") != std::string::npos);
  }
  CHECK(device.dma_command_at_bus_master.empty());
}
