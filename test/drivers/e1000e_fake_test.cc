// The e1000e driver over a fake 82574L: config space in memory, BAR 0 a
// memfd, and a device thread that does what the NIC does with it (clears
// CTRL.RST, sends what the transmit ring holds, fills the receive ring
// with frames the test injects) through a fake IOMMU domain. Covers what a
// guest cannot make happen on demand: ring wraps with tiny rings, receive
// errors, a link that drops, a device that vanishes, a reset that never ends.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_config_device.h"
#include "fake_iommu_domain.h"
#include "registers.h"
#include "result_helpers.h"
#include "udrv/core/interrupt.h"
#include "udrv/core/port.h"
#include "udrv/core/vmo.h"
#include "udrv/drivers/e1000e/e1000e.h"
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
namespace net = udrv::net;
namespace e1000e = udrv::drivers::e1000e;
namespace reg = udrv::drivers::e1000e::registers;

namespace {

constexpr uint64_t kBar0Size = 128 * 1024;
constexpr uint32_t kCtrl = 0x0000;
constexpr uint32_t kStatus = 0x0008;
constexpr uint32_t kEecd = 0x0010;
constexpr uint32_t kRctl = 0x0100;
constexpr uint32_t kTctl = 0x0400;
constexpr uint32_t kRfctl = 0x5008;
constexpr uint32_t kRal0 = 0x5400;
constexpr uint32_t kRah0 = 0x5404;
constexpr uint32_t kReset = 1u << 26;
constexpr uint32_t kLinkUp = 1u << 1;
constexpr uint32_t kStatusUp1000Full = (2u << 6) | kLinkUp | 1u;

struct Frame {
  std::vector<uint8_t> bytes;
  uint8_t status = reg::kRxStatusDone | reg::kRxStatusEndOfPacket;
  uint8_t errors = 0;
  uint16_t claimed_length = 0;  // what the descriptor says, when not the bytes' length
};

class FakeNic final : public udrv::testing::FakeConfigDevice {
 public:
  FakeNic() : FakeConfigDevice(pci::Address{0, 0, 3, 0}, 0x8086, 0x10d3) {
    bar = UniqueFd(::memfd_create("fake-e1000e-bar0", MFD_CLOEXEC));
    REQUIRE(bar);
    REQUIRE(::ftruncate(bar.get(), kBar0Size) == 0);
    registers = static_cast<uint8_t*>(
        ::mmap(nullptr, kBar0Size, PROT_READ | PROT_WRITE, MAP_SHARED, bar.get(), 0));
    REQUIRE(registers != MAP_FAILED);
    Write32(kStatus, kStatusUp1000Full);
    Write32(kEecd, (1u << 9) | (1u << 8));  // AUTO_RD, PRES
    Write32(kRal0, 0x12005452);             // 52:54:00:12:34:56
    Write32(kRah0, 0x5634);
    device_thread = std::thread([this] { Run(); });
  }
  ~FakeNic() override {
    stop = true;
    device_thread.join();
    ::munmap(registers, kBar0Size);
  }

  uint32_t Read32(uint32_t offset) const {
    return __atomic_load_n(reinterpret_cast<uint32_t*>(registers + offset), __ATOMIC_SEQ_CST);
  }
  void Write32(uint32_t offset, uint32_t value) {
    __atomic_store_n(reinterpret_cast<uint32_t*>(registers + offset), value, __ATOMIC_SEQ_CST);
  }

  void Inject(Frame frame) {
    std::lock_guard lock(mutex);
    to_receive.push_back(std::move(frame));
  }
  std::vector<std::vector<uint8_t>> Sent() {
    std::lock_guard lock(mutex);
    return sent;
  }
  size_t Pending() {
    std::lock_guard lock(mutex);
    return to_receive.size();
  }

  std::string_view route() const override { return "fake"; }
  Result<pci::DeviceInfo> GetDeviceInfo() const override {
    pci::DeviceInfo info;
    info.address = address();
    info.vendor_id = 0x8086;
    info.device_id = 0x10d3;
    return info;
  }
  Result<pci::Bar> GetBar(uint32_t index) override {
    if (index != 0) return Fail(Status::NOT_FOUND, "fake e1000e: BAR 0 only");
    pci::Bar result;
    result.index = 0;
    result.size = kBar0Size;
    result.mappable = {{0, kBar0Size}};
    auto vmo = Vmo::CreatePhysical(UniqueFd(::dup(bar.get())), 0, kBar0Size,
                                   udrv::PhysicalRoute::SYSFS_RESOURCE, "fake e1000e BAR 0");
    if (!vmo) return std::unexpected(vmo.error());
    result.vmo = std::move(*vmo);
    return result;
  }
  Result<void> SetBusMastering(bool enable) override {
    bus_master = enable;
    if (!enable) {
      std::lock_guard lock(domain->mutex_);
      unmaps_at_bus_master_off = domain->unmap_calls;
      rctl_at_bus_master_off = Read32(kRctl);
      tctl_at_bus_master_off = Read32(kTctl);
    }
    return {};
  }
  Result<pci::InterruptModes> GetInterruptModes() const override {
    return pci::InterruptModes{.has_legacy = true, .msi_count = 1, .msix_count = 3};
  }
  Result<void> SetInterruptMode(pci::InterruptMode, uint32_t) override { return {}; }
  Result<Interrupt> MapInterrupt(uint32_t) override { return Interrupt::CreateVirtual("fake e1000e"); }
  Result<void> AckInterrupt(uint32_t) override { return {}; }
  Result<void> ResetDevice() override { return {}; }
  Result<udrv::dma::Bti> GetBti(uint32_t, uint64_t dma_limit) override {
    return udrv::dma::Bti::Create(domain, dma_limit, "fake e1000e bti");
  }

  UniqueFd bar;
  uint8_t* registers = nullptr;
  std::shared_ptr<udrv::testing::FakeDomain> domain = std::make_shared<udrv::testing::FakeDomain>();
  std::atomic<bool> clears_reset = true;
  std::atomic<bool> transmits = true;
  // Returns once the device has run a whole pass of its loop after the
  // call: a setting changed before it is seen by every later pass (a pass
  // that read the old setting, then was descheduled, has ended).
  void Settle() {
    const uint64_t start = passes.load();
    while (passes.load() < start + 2) std::this_thread::sleep_for(100us);
  }
  std::atomic<bool> vanished = false;
  std::atomic<bool> bus_master = false;
  int unmaps_at_bus_master_off = -1;
  uint32_t rctl_at_bus_master_off = 0;
  uint32_t tctl_at_bus_master_off = 0;

 private:
  // The CPU address of device address `iova`, or nullptr.
  uint8_t* Translate(uint64_t iova, uint64_t size) {
    std::lock_guard lock(domain->mutex_);
    auto it = domain->mappings.upper_bound(iova);
    if (it == domain->mappings.begin()) return nullptr;
    --it;
    if (iova + size > it->first + it->second.size) return nullptr;
    return reinterpret_cast<uint8_t*>(it->second.vaddr + (iova - it->first));
  }
  uint64_t RingBase(uint32_t ring) {
    return uint64_t{Read32(ring)} | uint64_t{Read32(ring + 4)} << 32;
  }

  void Run() {
    for (; !stop; passes.fetch_add(1)) {
      std::this_thread::sleep_for(100us);
      if (vanished) {
        std::memset(registers, 0xff, kBar0Size);
        continue;
      }
      const uint32_t ctrl = Read32(kCtrl);
      if ((ctrl & kReset) != 0 && clears_reset) Write32(kCtrl, ctrl & ~kReset);
      if (!bus_master) continue;
      if ((Read32(kTctl) & 2) != 0 && transmits) Transmit();
      if ((Read32(kRctl) & 2) != 0) Receive();
    }
  }

  void Transmit() {
    const uint32_t size = Read32(reg::kTxRing + 0x08) / 16;
    uint32_t head = Read32(reg::kTxRing + 0x10);
    const uint32_t tail = Read32(reg::kTxRing + 0x18);
    while (size != 0 && head != tail) {
      auto* descriptor = Translate(RingBase(reg::kTxRing) + uint64_t{head} * 16, 16);
      REQUIRE(descriptor != nullptr);
      uint64_t address;
      uint16_t length;
      std::memcpy(&address, descriptor, 8);
      std::memcpy(&length, descriptor + 8, 2);
      const uint8_t* data = Translate(address, length);
      std::vector<uint8_t> frame;
      if (data != nullptr) frame.assign(data, data + length);
      // Done before it shows as sent: a test that saw it sent finds DD.
      __atomic_store_n(descriptor + 12, reg::kTxStatusDone, __ATOMIC_RELEASE);
      {
        std::lock_guard lock(mutex);
        sent.push_back(std::move(frame));
      }
      head = head + 1 == size ? 0 : head + 1;
      Write32(reg::kTxRing + 0x10, head);
    }
  }

  void Receive() {
    const uint32_t size = Read32(reg::kRxRing + 0x08) / 16;
    uint32_t head = Read32(reg::kRxRing + 0x10);
    const uint32_t tail = Read32(reg::kRxRing + 0x18);
    std::lock_guard lock(mutex);
    while (size != 0 && head != tail && !to_receive.empty()) {
      const Frame& frame = to_receive.front();
      auto* descriptor = Translate(RingBase(reg::kRxRing) + uint64_t{head} * 16, 16);
      REQUIRE(descriptor != nullptr);
      uint64_t address;
      std::memcpy(&address, descriptor, 8);
      uint8_t* data = Translate(address, frame.bytes.size());
      REQUIRE(data != nullptr);
      std::memcpy(data, frame.bytes.data(), frame.bytes.size());
      const auto length = frame.claimed_length != 0 ? frame.claimed_length
                                                    : static_cast<uint16_t>(frame.bytes.size());
      std::memcpy(descriptor + 8, &length, 2);
      descriptor[13] = frame.errors;
      __atomic_store_n(descriptor + 12, frame.status, __ATOMIC_RELEASE);
      to_receive.pop_front();
      head = head + 1 == size ? 0 : head + 1;
      Write32(reg::kRxRing + 0x10, head);
    }
  }

  std::atomic<bool> stop = false;
  std::atomic<uint64_t> passes = 0;  // of Run's loop
  std::mutex mutex;
  std::deque<Frame> to_receive;
  std::vector<std::vector<uint8_t>> sent;
  std::thread device_thread;
};

e1000e::Options SmallRings() {
  e1000e::Options options;
  options.interrupts = e1000e::InterruptChoice::POLLING;
  options.rx_ring_size = 8;
  options.tx_ring_size = 8;
  options.pool_size = 24;
  return options;
}

std::unique_ptr<e1000e::E1000e> MakeDriver(FakeNic& device, e1000e::Options options = SmallRings()) {
  auto driver = e1000e::E1000e::Create(device, options);
  REQUIRE_OK(driver);
  return std::move(*driver);
}

std::vector<uint8_t> TestFrame(size_t number, size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 7 + number);
  return bytes;
}

}  // namespace

TEST_CASE("e1000e fake: bring-up leaves the NIC as the datasheet wants it", "[e1000e]") {
  FakeNic device;
  auto driver = MakeDriver(device);
  CHECK(driver->GetInfo().mac.ToString() == "52:54:00:12:34:56");
  CHECK((device.Read32(kRah0) & (1u << 31)) != 0);   // AV
  CHECK((device.Read32(kCtrl) & (1u << 6)) != 0);    // SLU
  CHECK((device.Read32(kCtrl) & kReset) == 0);
  const uint32_t rctl = device.Read32(kRctl);
  CHECK((rctl & 2) != 0);                            // EN
  CHECK((rctl & (1u << 26)) != 0);                   // SECRC
  CHECK((rctl & (1u << 15)) != 0);                   // BAM
  CHECK((rctl & (3u << 16)) == 0);                   // BSIZE 2048
  CHECK((device.Read32(kRfctl) & (1u << 15)) == 0);  // EXTEN: legacy descriptors
  CHECK((device.Read32(kTctl) & 0xa) == 0xa);        // EN, PSP
  CHECK(device.Read32(reg::kRxRing + 0x18) == 7);    // RDT: all but one slot
  CHECK(device.bus_master);
  auto link = driver->GetLinkState();
  REQUIRE_OK(link);
  CHECK(*link == net::LinkState{.up = true, .speed_mbps = 1000, .full_duplex = true});
}

TEST_CASE("e1000e fake: a reset that never ends, a device that reads all ones", "[e1000e]") {
  FakeNic device;
  SECTION("CTRL.RST stays set") {
    device.clears_reset = false;
    auto options = SmallRings();
    options.reset_timeout = 50'000'000;
    auto driver = e1000e::E1000e::Create(device, options);
    REQUIRE(StatusOf(driver) == "TIMED_OUT");
    CHECK(driver.error().what.find("CTRL.RST still set after 50 ms") != std::string::npos);
  }
  SECTION("all ones") {
    device.vanished = true;
    device.Settle();
    auto driver = e1000e::E1000e::Create(device, SmallRings());
    REQUIRE(StatusOf(driver) == "IO_NOT_PRESENT");
  }
  CHECK_FALSE(device.bus_master);
}

TEST_CASE("e1000e fake: frames both ways through rings that wrap many times", "[e1000e]") {
  FakeNic device;
  auto driver = MakeDriver(device);
  constexpr size_t kFrames = 50;

  size_t sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (sent < kFrames) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::array<net::Packet, 5> batch;
    const size_t got = driver->AllocBuffers(std::span(batch).first(std::min<size_t>(5, kFrames - sent)));
    for (size_t i = 0; i < got; ++i) {
      const auto bytes = TestFrame(sent + i, 60 + (sent + i) * 29);
      std::memcpy(batch[i].data, bytes.data(), bytes.size());
      batch[i].length = static_cast<uint32_t>(bytes.size());
    }
    auto taken = driver->TxBurst(std::span(batch).first(got));
    REQUIRE_OK(taken);
    CHECK(*taken <= 7);  // never more than the ring less its empty slot
    driver->FreeBuffers(std::span(batch).subspan(*taken, got - *taken));
    sent += *taken;
    if (*taken < got) std::this_thread::sleep_for(1ms);
  }
  while (device.Sent().size() < kFrames) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(1ms);
  }
  const auto wire = device.Sent();
  REQUIRE(wire.size() == kFrames);
  uint64_t bytes = 0;
  for (size_t i = 0; i < kFrames; ++i) {
    CHECK(wire[i] == TestFrame(i, 60 + i * 29));
    bytes += 60 + i * 29;
  }
  // Counted as the driver takes the descriptors back: a burst does that.
  REQUIRE_OK(driver->TxBurst({}));
  auto counters = driver->GetCounters();
  REQUIRE_OK(counters);
  CHECK(counters->tx_bytes == bytes);

  for (size_t i = 0; i < kFrames; ++i) device.Inject(Frame{TestFrame(i, 1514 - i * 20)});
  size_t received = 0;
  while (received < kFrames) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::array<net::Packet, 4> burst;
    auto count = driver->RxBurst(burst);
    REQUIRE_OK(count);
    for (size_t i = 0; i < *count; ++i) {
      const auto expected = TestFrame(received, 1514 - received * 20);
      REQUIRE(burst[i].length == expected.size());
      CHECK(std::memcmp(burst[i].data, expected.data(), expected.size()) == 0);
      ++received;
    }
    driver->FreeBuffers(std::span(burst).first(*count));
    if (*count == 0) std::this_thread::sleep_for(1ms);
  }
  // Every buffer came back: the whole pool can be allocated (the receive
  // ring holds 8 of 24).
  std::array<net::Packet, 24> all;
  const size_t free = driver->AllocBuffers(all);
  CHECK(free == 16);
  driver->FreeBuffers(std::span(all).first(free));
}

TEST_CASE("e1000e fake: bad frames dropped and counted, checksum verdicts passed on", "[e1000e]") {
  FakeNic device;
  auto driver = MakeDriver(device);
  const uint8_t whole = reg::kRxStatusDone | reg::kRxStatusEndOfPacket;
  device.Inject(Frame{TestFrame(0, 64), whole, reg::kRxErrorCrc});
  device.Inject(Frame{TestFrame(1, 100), reg::kRxStatusDone, 0});  // a first part ...
  device.Inject(Frame{TestFrame(2, 100), whole, 0});               // ... and its end
  device.Inject(Frame{TestFrame(3, 70),
                      static_cast<uint8_t>(whole | reg::kRxStatusIpChecksummed |
                                           reg::kRxStatusTcpChecksummed),
                      reg::kRxErrorL4Checksum});
  device.Inject(Frame{TestFrame(4, 64), whole, 0, 9000});  // more than its buffer holds
  device.Inject(Frame{TestFrame(5, 80), whole, 0});
  std::vector<net::Packet> got;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < 2) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::array<net::Packet, 8> burst;
    auto count = driver->RxBurst(burst);
    REQUIRE_OK(count);
    got.insert(got.end(), burst.begin(), burst.begin() + static_cast<ptrdiff_t>(*count));
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].length == 70);
  CHECK(got[0].ip_checksum == net::ChecksumStatus::GOOD);
  CHECK(got[0].l4_checksum == net::ChecksumStatus::BAD);
  CHECK(got[1].length == 80);
  CHECK(got[1].ip_checksum == net::ChecksumStatus::NOT_CHECKED);
  driver->FreeBuffers(got);
  auto counters = driver->GetCounters();
  REQUIRE_OK(counters);
  CHECK(counters->rx_errors == 3);  // the CRC error, the two-part frame, the 9000 bytes
  CHECK(counters->rx_checksum_bad == 1);
}

TEST_CASE("e1000e fake: buffers not the caller's are refused", "[e1000e]") {
  FakeNic device;
  auto driver = MakeDriver(device);
  std::array<net::Packet, 1> packet;
  REQUIRE(driver->AllocBuffers(packet) == 1);
  net::Packet stranger = packet[0];
  stranger.buffer = 1000;
  stranger.length = 60;
  CHECK(StatusOf(driver->TxBurst(std::span(&stranger, 1))) == "INVALID_ARGS");
  packet[0].length = 1515;
  CHECK(StatusOf(driver->TxBurst(packet)) == "INVALID_ARGS");
  driver->FreeBuffers(packet);
  packet[0].length = 60;
  // Freed: no longer the caller's.
  CHECK(StatusOf(driver->TxBurst(packet)) == "INVALID_ARGS");

  // One buffer twice in a burst would sit in two ring slots: refused, and
  // nothing of the burst is queued or kept.
  std::array<net::Packet, 2> two;
  REQUIRE(driver->AllocBuffers(two) == 2);
  two[0].length = 60;
  two[1] = two[0];
  auto twice = driver->TxBurst(two);
  REQUIRE(StatusOf(twice) == "INVALID_ARGS");
  CHECK(twice.error().what.find("packet 1") != std::string::npos);
  // The first is still the caller's: it can be sent, once.
  auto once = driver->TxBurst(std::span(two).first(1));
  REQUIRE_OK(once);
  CHECK(*once == 1);
  CHECK(StatusOf(driver->TxBurst(std::span(two).first(1))) == "INVALID_ARGS");
}

TEST_CASE("e1000e fake: link changes reach the watcher's port", "[e1000e]") {
  FakeNic device;
  auto driver = MakeDriver(device);
  auto port = udrv::Port::Create("link watcher");
  REQUIRE_OK(port);
  auto watcher = port->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(watcher);
  REQUIRE_OK(driver->WatchLink(std::move(*watcher), 42));
  device.Write32(kStatus, kStatusUp1000Full & ~kLinkUp);
  auto down = port->Wait(udrv::DeadlineAfter(2s));
  REQUIRE_OK(down);
  CHECK(down->key == 42);
  CHECK(down->user[0] == 0);
  auto state = driver->GetLinkState();
  REQUIRE_OK(state);
  CHECK_FALSE(state->up);
  device.Write32(kStatus, kStatusUp1000Full);
  auto up = port->Wait(udrv::DeadlineAfter(2s));
  REQUIRE_OK(up);
  CHECK(up->user[0] == 1);
}

TEST_CASE("e1000e fake: a device that vanishes is IO_NOT_PRESENT, never a hang", "[e1000e]") {
  FakeNic device;
  auto driver = MakeDriver(device);
  device.vanished = true;
  const auto start = std::chrono::steady_clock::now();
  Result<size_t> received = 0;
  while (received) {
    REQUIRE(std::chrono::steady_clock::now() - start < 2s);
    std::array<net::Packet, 4> burst;
    received = driver->RxBurst(burst);
    std::this_thread::sleep_for(1ms);
  }
  CHECK(StatusOf(received) == "IO_NOT_PRESENT");
  std::array<net::Packet, 1> none;
  CHECK(StatusOf(driver->TxBurst(std::span(none).first(0))) == "IO_NOT_PRESENT");
  CHECK(StatusOf(driver->GetLinkState()) == "IO_NOT_PRESENT");
  CHECK(StatusOf(driver->WaitForWork(udrv::DeadlineAfter(1s))) == "IO_NOT_PRESENT");
  (void)driver->Stop();
  CHECK(std::chrono::steady_clock::now() - start < 3s);
}

TEST_CASE("e1000e fake: stop turns DMA off before any memory is unpinned", "[e1000e]") {
  FakeNic device;
  auto driver = MakeDriver(device);
  const int unmaps_before = [&] {
    std::lock_guard lock(device.domain->mutex_);
    return device.domain->unmap_calls;
  }();
  REQUIRE_OK(driver->Stop());
  CHECK(device.unmaps_at_bus_master_off == unmaps_before);
  CHECK((device.rctl_at_bus_master_off & 2) == 0);
  CHECK((device.tctl_at_bus_master_off & 2) == 0);
  {
    std::lock_guard lock(device.domain->mutex_);
    CHECK(device.domain->unmap_calls > unmaps_before);
    CHECK(device.domain->mappings.empty());
  }
  CHECK(StatusOf(driver->RxBurst({})) == "BAD_STATE");
  REQUIRE_OK(driver->Stop());  // again: nothing to do
}

TEST_CASE("e1000e fake: a transmit ring that never drains delays stop, never hangs it",
          "[e1000e]") {
  FakeNic device;
  auto options = SmallRings();
  options.stop_timeout = 200'000'000;
  auto driver = MakeDriver(device, options);
  device.transmits = false;
  device.Settle();
  std::array<net::Packet, 1> packet;
  REQUIRE(driver->AllocBuffers(packet) == 1);
  packet[0].length = 60;
  REQUIRE(*driver->TxBurst(packet) == 1);
  SECTION("link up: the wait ends at its deadline, and stop says so") {
    const auto start = std::chrono::steady_clock::now();
    auto stopped = driver->Stop();
    REQUIRE(StatusOf(stopped) == "TIMED_OUT");
    CHECK(stopped.error().what.find("did not drain") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
  }
  SECTION("link down: nothing can go out, stop does not wait") {
    device.Write32(kStatus, kStatusUp1000Full & ~kLinkUp);
    REQUIRE_OK(driver->Stop());
  }
  // Either way the NIC was quiet before the memory went.
  CHECK((device.tctl_at_bus_master_off & 2) == 0);
  CHECK_FALSE(device.bus_master);
  std::lock_guard lock(device.domain->mutex_);
  CHECK(device.domain->mappings.empty());
}
