// The isolated-driver protocol (pci/isolation.h) over a socketpair: a
// host::HostServer with the PCI service serving a fake device on a thread, a
// RemoteDevice (or a raw peer speaking host/wire.h and pci_host_messages.h,
// for what the library would never send) on
// the other end. Each case checks what the host gets, with which rights,
// what the server refuses, and what the fake device and IOMMU domain saw.
// Nothing here touches a real PCI device.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <linux/magic.h>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "fake_config_device.h"
#include "fake_iommu_domain.h"
#include "forged_handle.h"
#include "pci_host_messages.h"
#include "program_dir.h"
#include "raw_host_peer.h"
#include "result_helpers.h"
#include "udrv/core/interrupt.h"
#include "udrv/core/transfer.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/dma/buffer.h"
#include "udrv/pci/config.h"
#include "udrv/pci/isolated_runner.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/pci/isolation.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using udrv::CachePolicy;
using udrv::Fail;
using udrv::Interrupt;
using udrv::Result;
using udrv::Rights;
using udrv::Status;
using udrv::UniqueFd;
using udrv::Vmar;
using udrv::Vmo;
using udrv::bus::DeviceNode;
using udrv::bus::ReleaseReport;
using udrv::bus::ReleaseStep;
using udrv::testing::FakeDomain;
using udrv::testing::StatusOf;
using namespace udrv::pci;
namespace wire = udrv::pci::wire;
namespace hw = udrv::host::wire;
using udrv::host::HostServer;
using udrv::host::kHostInterruptRights;
using udrv::host::kHostNodeRights;
using udrv::host::HostServerOptions;
namespace dma = udrv::dma;

namespace {

constexpr uint16_t kVendor = 0x1234;
constexpr uint16_t kDeviceId = 0x11e8;
constexpr uint8_t kMsixCap = 0x80;  // MSI-X capability, its table in BAR 2
constexpr uint8_t kPmCap = 0x50;    // power management, then
constexpr uint8_t kMsiCap = 0x60;   // MSI with 64-bit addresses (14 bytes)

// The daemon's device: config space in a byte array (vendor 0x1234, device
// 0x11e8, capabilities MSI-X naming BAR 2, power management and 64-bit
// MSI), BAR 0 a memfd standing in for
// device memory, MSI with one vector whose interrupts are virtual (the test
// triggers them through `interrupts`), a Bti over `domain`. Records what
// reaches it. Called on Serve's thread; the test reads the records after
// the reply that followed them.
class FakeIsoDevice final : public udrv::testing::FakeConfigDevice {
 public:
  FakeIsoDevice() : FakeConfigDevice(Address{0, 0, 3, 0}, kVendor, kDeviceId) {
    config[0x06] = 0x10;  // status: capability list
    config[0x0b] = 0x00;  // class: unclassified
    config[0x34] = kMsixCap;
    config[kMsixCap + 0] = kCapMsix;
    config[kMsixCap + 1] = kPmCap;
    config[kMsixCap + 2] = 0x00;  // table size 1
    config[kMsixCap + 4] = 2;     // table in BAR 2 at 0
    config[kMsixCap + 8] = 2;     // PBA in BAR 2 at 0
    config[kPmCap + 0] = kCapPowerManagement;
    config[kPmCap + 1] = kMsiCap;
    config[kPmCap + 2] = 0x03;  // version 3
    config[kMsiCap + 0] = kCapMsi;
    config[kMsiCap + 1] = 0;     // last capability
    config[kMsiCap + 2] = 0x80;  // 64-bit addresses
    bar_file = UniqueFd(::memfd_create("fake-iso-bar0", MFD_CLOEXEC));
    REQUIRE(bar_file);
    REQUIRE(::ftruncate(bar_file.get(), static_cast<off_t>(kBarSize)) == 0);
  }

  static inline const uint64_t kBarSize = 4 * udrv::PageSize();

  std::string_view route() const override { return "fake"; }
  Result<DeviceInfo> GetDeviceInfo() const override {
    DeviceInfo info;
    info.address = address();
    info.vendor_id = kVendor;
    info.device_id = kDeviceId;
    info.bars.push_back(BarInfo{.index = 0, .address = 0xfe000000, .size = kBarSize});
    return info;
  }

  Result<Bar> GetBar(uint32_t index) override {
    if (index != 0) return Fail(Status::NOT_FOUND, "no BAR " + std::to_string(index));
    Bar bar;
    bar.index = 0;
    bar.size = kBarSize;
    bar.mappable = {{0, kBarSize}};
    auto vmo = Vmo::CreatePhysical(UniqueFd(::dup(bar_file.get())), 0, kBarSize,
                                   udrv::PhysicalRoute::TEST_FILE, "fake BAR 0",
                                   udrv::FdReach::REGION_ONLY);
    if (!vmo) return std::unexpected(vmo.error());
    bar.vmo = std::move(*vmo);
    return bar;
  }

  Result<void> SetBusMastering(bool enable) override {
    bus_mastering_calls.push_back(enable);
    return Device::SetBusMastering(enable);
  }

  Result<InterruptModes> GetInterruptModes() const override {
    return InterruptModes{.has_legacy = true, .msi_count = 1, .msix_count = 0};
  }
  Result<void> SetInterruptMode(InterruptMode mode, uint32_t count) override {
    mode_calls.emplace_back(mode, count);
    if (mode == InterruptMode::MSI_X) return Fail(Status::NOT_SUPPORTED, "fake: no MSI-X");
    if (mode == InterruptMode::MSI && count > 1) return Fail(Status::OUT_OF_RANGE, "fake: 1 MSI");
    return {};
  }
  Result<Interrupt> MapInterrupt(uint32_t which) override {
    if (which != 0) return Fail(Status::OUT_OF_RANGE, "fake: one vector");
    auto interrupt = Interrupt::CreateVirtual("fake msi 0");
    if (!interrupt) return std::unexpected(interrupt.error());
    auto kept = interrupt->Duplicate(udrv::kRightSameRights);
    if (!kept) return std::unexpected(kept.error());
    interrupts.push_back(std::move(*kept));
    return interrupt;
  }
  Result<void> AckInterrupt(uint32_t) override {
    ++acks;
    return {};
  }
  Result<void> ResetDevice() override {
    ++resets;
    return {};
  }
  Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit) override {
    bti_requests.emplace_back(index, dma_limit);
    return dma::Bti::Create(domain, dma_limit, "fake bti");
  }

  UniqueFd bar_file;
  std::vector<bool> bus_mastering_calls;
  std::vector<std::pair<InterruptMode, uint32_t>> mode_calls;
  std::vector<Interrupt> interrupts;  // the daemon's side of each MapInterrupt
  int acks = 0;
  int resets = 0;
  std::vector<std::pair<uint32_t, uint64_t>> bti_requests;
  std::shared_ptr<FakeDomain> domain = std::make_shared<FakeDomain>();
};

DeviceNode TestNode() {
  DeviceNode node;
  node.bus = "pci";
  node.id = "pci/0000:00:03.0";
  node.parent = "";
  node.properties.Set("pci.vendor", uint32_t{kVendor});
  node.properties.Set("pci.device", uint32_t{kDeviceId});
  node.properties.Set("pci.address", std::string("0000:00:03.0"));
  node.properties.Set("test.text", std::string("two\nlines \\ and a backslash"));
  return node;
}

// A HostServer with the PCI service over the fake device, serving on a thread, and the host's
// end of the socket (`host`), which a case gives to RemoteDevice::Connect
// or speaks raw on (or both: `raw` is a dup of the host's end).
class Harness {
 public:
  explicit Harness(const std::function<void(HostServerOptions&)>& adjust = {}) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    host = UniqueFd(fds[1]);
    raw = UniqueFd(::dup(host.get()));
    REQUIRE(raw);
    HostServerOptions options;
    options.on_started = [this](const Result<void>& started) {
      std::lock_guard lock(mutex_);
      started_.push_back(started);
    };
    options.log = [this](std::string_view line) {
      std::lock_guard lock(mutex_);
      log_.emplace_back(line);
    };
    if (adjust) adjust(options);
    server = std::make_unique<HostServer>(*service, node, UniqueFd(fds[0]), std::move(options));
    thread_ = std::thread([this] {
      served_ = server->Serve();
      served_done_ = true;
    });
  }
  ~Harness() {
    if (thread_.joinable()) {
      (void)::shutdown(raw.get(), SHUT_RDWR);
      thread_.join();
    }
  }

  // The host's RemoteDevice, over the host's end.
  std::unique_ptr<RemoteDevice> Connect() {
    auto remote = RemoteDevice::Connect(std::move(host));
    REQUIRE_OK(remote);
    return std::move(*remote);
  }

  // The host goes away (or has already broken the connection): Serve's result.
  Result<void> Finish() {
    (void)::shutdown(raw.get(), SHUT_RDWR);
    thread_.join();
    return served_;
  }
  // Waits for Serve to end on its own (a malformed request).
  Result<void> Join() {
    thread_.join();
    return served_;
  }
  // Waits up to `limit` for Serve to end on its own; false if it did not
  // (then the socket is shut down, so that the test ends either way).
  bool JoinWithin(std::chrono::milliseconds limit) {
    const udrv::Time deadline = udrv::DeadlineAfter(limit);
    while (!served_done_.load() && udrv::Now() < deadline) std::this_thread::sleep_for(10ms);
    const bool ended = served_done_.load();
    if (!ended) (void)::shutdown(raw.get(), SHUT_RDWR);
    thread_.join();
    return ended;
  }
  Result<void> served() const { return served_; }

  std::vector<Result<void>> started() {
    std::lock_guard lock(mutex_);
    return started_;
  }
  std::vector<std::string> log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

  FakeIsoDevice device;
  // TEST_FILE BARs never need the sysfs root.
  std::unique_ptr<udrv::host::HostService> service =
      MakeHostService(device, {.paths = {.sys = "/nonexistent-sysfs"}});
  DeviceNode node = TestNode();
  UniqueFd host;
  UniqueFd raw;
  std::unique_ptr<HostServer> server;

 private:
  std::mutex mutex_;
  std::vector<Result<void>> started_;
  std::vector<std::string> log_;
  Result<void> served_;
  std::atomic<bool> served_done_ = false;
  std::thread thread_;
};

// ---- a raw peer ----

// One request, its reply (nothing follows either).
template <typename Request>
Result<typename Request::Reply> RawCall(int fd, const Request& request, uint32_t device = 0) {
  return udrv::testing::RawCall(fd, request, device, {}, 10'000'000'000);
}

template <typename T>
Result<void> ResultOf(const Result<T>& result) {
  if (!result) return std::unexpected(result.error());
  return {};
}

// The text of a refusal.
template <typename T>
std::string ErrorText(const Result<T>& result) {
  return result ? std::string() : result.error().what;
}

wire::ReadConfigRequest ReadConfig(uint16_t offset, uint8_t width) {
  return {.offset = offset, .width = width};
}
wire::WriteConfigRequest WriteConfig(uint16_t offset, uint8_t width, uint32_t value) {
  return {.offset = offset, .width = width, .value = value};
}

// A raw BTI_PIN: the request, then `vmo` sent with `sent_rights`; the reply,
// then the addresses when it says OK.
struct RawPin {
  Result<hw::PinReply> reply;
  std::vector<uint64_t> addresses;
};
RawPin RawPinCall(int fd, uint64_t bti, uint32_t options, uint64_t offset, uint64_t size, Vmo vmo,
                  Rights sent_rights = udrv::kRightSameRights) {
  REQUIRE_OK(udrv::testing::SendRawRequest(
      fd, hw::PinRequest{.bti = bti, .options = options, .offset = offset, .size = size}));
  REQUIRE_OK(udrv::SendHandle(fd, std::move(vmo), sent_rights));
  RawPin pin{udrv::testing::ReceiveRawReply<hw::PinRequest>(fd, udrv::DeadlineAfter(10s)), {}};
  if (pin.reply) {
    pin.addresses.resize(pin.reply->address_count);
    REQUIRE(pin.addresses.size() <= hw::kAddressesPerMessage);
    REQUIRE_OK(hw::Receive(fd, std::as_writable_bytes(std::span(pin.addresses)),
                           udrv::DeadlineAfter(10s), "test pin addresses"));
  }
  return pin;
}

const ReleaseStep* FindStep(const ReleaseReport& report, std::string_view name) {
  for (const ReleaseStep& step : report.steps) {
    if (step.name == name) return &step;
  }
  return nullptr;
}

bool Contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// A directory on a filesystem that is not tmpfs (for a pin of a regular
// file), or empty when every candidate is tmpfs.
std::string NonTmpfsDirectory() {
  std::vector<std::string> candidates;
  std::error_code ec;
  candidates.push_back(fs::current_path(ec).string());
  candidates.push_back("/var/tmp");
  candidates.push_back(fs::temp_directory_path(ec).string());
  for (const std::string& dir : candidates) {
    if (dir.empty()) continue;
    struct statfs st{};
    if (::statfs(dir.c_str(), &st) != 0) continue;
    if (st.f_type == TMPFS_MAGIC || st.f_type == HUGETLBFS_MAGIC) continue;
    if (::access(dir.c_str(), W_OK) != 0) continue;
    return dir;
  }
  return {};
}

}  // namespace

TEST_CASE("isolation: the host receives its node in a sealed, read-only VMO", "[isolation]") {
  Harness harness;
  auto device = harness.Connect();
  CHECK(device->node() == harness.node);
  CHECK(device->address().ToString() == "0000:00:03.0");
  CHECK(device->route() == "fake");
  CHECK(device->description().config_size == 256);

  const Vmo& vmo = device->node_vmo();
  CHECK(vmo.rights() == kHostNodeRights);
  auto size = vmo.GetSize();
  REQUIRE_OK(size);
  auto backing = vmo.GetBacking();
  REQUIRE_OK(backing);
  const int fd = backing->fd;
  CHECK((::fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);

  // Through its own fd: read-only.
  void* writable = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(writable == MAP_FAILED);
  if (writable != MAP_FAILED) ::munmap(writable, *size);

  // Reopened for writing (memfds are 0777): the seal still holds.
  const int seals = ::fcntl(fd, F_GET_SEALS);
  CHECK((seals & F_SEAL_WRITE) != 0);
  CHECK((seals & F_SEAL_SHRINK) != 0);
  CHECK((seals & F_SEAL_GROW) != 0);
  CHECK((seals & F_SEAL_SEAL) != 0);
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  UniqueFd reopened(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!reopened) {
    WARN("could not reopen the node memfd O_RDWR (errno " << errno << "): seal checked by F_GET_SEALS only");
  } else {
    errno = 0;
    void* mapped = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_SHARED, reopened.get(), 0);
    CHECK(mapped == MAP_FAILED);
    CHECK(errno == EPERM);
    if (mapped != MAP_FAILED) ::munmap(mapped, *size);
    const char byte = 'x';
    errno = 0;
    CHECK(::pwrite(reopened.get(), &byte, 1, 0) < 0);
    CHECK(errno == EPERM);
    CHECK(::ftruncate(reopened.get(), 0) != 0);
  }

  // udrv's own rights: no WRITE, so no writable mapping, no Write.
  auto vmar = Vmar::Create(16 * udrv::PageSize(), "isolation-node");
  REQUIRE_OK(vmar);
  CHECK(StatusOf(vmar->Map(udrv::kVmPermRead | udrv::kVmPermWrite, 0, vmo, 0, *size)) ==
        "ACCESS_DENIED");
  CHECK(StatusOf(vmo.Write(std::as_bytes(std::span("x", 1)), 0)) == "ACCESS_DENIED");
  // Nor can it pass it on.
  CHECK(StatusOf(vmo.Duplicate(udrv::kRightSameRights)) == "ACCESS_DENIED");
  auto mapped = vmar->Map(udrv::kVmPermRead, 0, vmo, 0, *size);
  REQUIRE_OK(mapped);
  const std::string text = udrv::bus::SerializeNode(harness.node);
  CHECK(std::string(reinterpret_cast<const char*>(*mapped), text.size()) == text);

  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: config space goes through the server, whose header check is its own",
          "[isolation]") {
  Harness harness;
  auto device = harness.Connect();

  CHECK(device->ReadConfig16(0).value() == kVendor);
  CHECK(device->ReadConfig16(2).value() == kDeviceId);
  CHECK(device->ReadConfig32(0).value() == (uint32_t{kDeviceId} << 16 | kVendor));
  CHECK(device->ReadConfig8(0x34).value() == kMsixCap);
  CHECK(StatusOf(device->ReadConfig8(0x100)) == "OUT_OF_RANGE");  // the host's own check

  REQUIRE_OK(device->WriteConfig32(0x40, 0xcafef00d));
  REQUIRE(harness.device.writes.size() == 1);
  CHECK(harness.device.writes[0].offset == 0x40);
  CHECK(harness.device.writes[0].width == 4);
  CHECK(harness.device.config[0x40] == 0x0d);
  CHECK(harness.device.config[0x43] == 0xca);
  CHECK(device->ReadConfig32(0x40).value() == 0xcafef00d);

  // The host library refuses the header itself...
  CHECK(StatusOf(device->WriteConfig16(0x04, 0x0007)) == "ACCESS_DENIED");
  // ...and a host that bypasses it is refused by the server.
  const std::vector<uint8_t> before = harness.device.config;
  for (uint64_t width : {1, 2, 4}) {
    INFO("width " << width);
    auto reply = RawCall(harness.raw.get(), WriteConfig(0x04, static_cast<uint8_t>(width), 0x0007));
    CHECK(StatusOf(ResultOf(reply)) == "ACCESS_DENIED");
  }
  auto bar_write = RawCall(harness.raw.get(), WriteConfig(0x10, 4, 0xffffffff));
  CHECK(StatusOf(ResultOf(bar_write)) == "ACCESS_DENIED");
  auto bad_width = RawCall(harness.raw.get(), WriteConfig(0x40, 3, 0));
  CHECK(StatusOf(ResultOf(bad_width)) == "INVALID_ARGS");
  auto bad_read = RawCall(harness.raw.get(), ReadConfig(0, 8));
  CHECK(StatusOf(ResultOf(bad_read)) == "INVALID_ARGS");
  CHECK(harness.device.config == before);
  CHECK(harness.device.writes.size() == 1);
  // Each refusal was logged; the connection is still good.
  auto log = harness.log();
  CHECK(std::count_if(log.begin(), log.end(),
                      [](const std::string& l) { return Contains(l, "refused write config"); }) >= 4);
  CHECK(device->ReadConfig16(0).value() == kVendor);

  auto info = device->GetDeviceInfo();
  REQUIRE_OK(info);
  CHECK(info->vendor_id == kVendor);
  CHECK(info->device_id == kDeviceId);
  CHECK(info->address.ToString() == "0000:00:03.0");
  REQUIRE(info->bars.size() == 1);
  CHECK(info->bars[0].size == FakeIsoDevice::kBarSize);

  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: a request naming another device is refused, the connection goes on",
          "[isolation]") {
  Harness harness;
  auto device = harness.Connect();

  auto refused = RawCall(harness.raw.get(), ReadConfig(0, 2), 1);
  CHECK(StatusOf(ResultOf(refused)) == "ACCESS_DENIED");
  CHECK(Contains(ErrorText(refused), "names device 1"));

  // A pin naming another device: its VMO is taken with it, the next
  // request is read as a request.
  REQUIRE_OK(udrv::testing::SendRawRequest(
      harness.raw.get(),
      hw::PinRequest{.bti = 0, .options = dma::kBtiPermRead, .offset = 0, .size = udrv::PageSize()}, 7));
  auto memory = Vmo::Create(udrv::PageSize(), "other device's pin");
  REQUIRE_OK(memory);
  REQUIRE_OK(udrv::SendHandle(harness.raw.get(), std::move(*memory)));
  CHECK(StatusOf(udrv::testing::ReceiveRawReply<hw::PinRequest>(harness.raw.get(),
                                                                 udrv::DeadlineAfter(10s))) ==
        "ACCESS_DENIED");

  CHECK(device->ReadConfig16(0).value() == kVendor);
  auto modes = device->GetInterruptModes();
  REQUIRE_OK(modes);
  CHECK(modes->msi_count == 1);
  CHECK(harness.device.bti_requests.empty());

  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: a BAR comes mappable but not passable", "[isolation]") {
  Harness harness;
  auto device = harness.Connect();

  auto bar = device->GetBar(0);
  REQUIRE_OK(bar);
  CHECK(bar->size == FakeIsoDevice::kBarSize);
  CHECK_FALSE(bar->is_io);
  CHECK(bar->vmo.rights() == kHostBarRights);
  CHECK((bar->vmo.rights() & (udrv::kRightDuplicate | udrv::kRightTransfer)) == 0);
  CHECK(StatusOf(bar->vmo.Duplicate(udrv::kRightSameRights)) == "ACCESS_DENIED");
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
  UniqueFd a(fds[0]), b(fds[1]);
  auto sent = udrv::SendHandle(a.get(), std::move(bar->vmo));
  CHECK(StatusOf(sent) == "ACCESS_DENIED");
  CHECK(Contains(sent.error().what, "TRANSFER"));

  auto vmar = Vmar::Create(16 * udrv::PageSize(), "isolation-bar");
  REQUIRE_OK(vmar);
  auto mmio = device->MapMmio(0, CachePolicy::CACHED, *vmar);
  REQUIRE_OK(mmio);
  mmio->Write32(0x12345678, 0x10);
  uint32_t stored = 0;
  REQUIRE(::pread(harness.device.bar_file.get(), &stored, 4, 0x10) == 4);
  CHECK(stored == 0x12345678);
  const uint32_t from_device = 0xa5a5f00d;
  REQUIRE(::pwrite(harness.device.bar_file.get(), &from_device, 4, 0x20) == 4);
  CHECK(mmio->Read32(0x20) == from_device);

  // A BAR holding the MSI-X table (BAR 2 here) is never handed out; the
  // device is not even asked.
  auto msix_bar = device->GetBar(2);
  CHECK(StatusOf(msix_bar) == "NOT_SUPPORTED");
  CHECK(Contains(msix_bar.error().what, "MSI-X"));
  CHECK(StatusOf(device->GetBar(1)) == "NOT_FOUND");
  CHECK(StatusOf(device->GetBar(6)) == "OUT_OF_RANGE");

  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: interrupts come without SIGNAL; the daemon's trigger wakes the host",
          "[isolation]") {
  Harness harness;
  auto device = harness.Connect();

  REQUIRE_OK(device->SetInterruptMode(InterruptMode::MSI, 1));
  REQUIRE(harness.device.mode_calls.size() == 1);
  CHECK(harness.device.mode_calls[0] == std::pair{InterruptMode::MSI, uint32_t{1}});
  // The route's refusal comes back as itself.
  CHECK(StatusOf(device->SetInterruptMode(InterruptMode::MSI_X, 1)) == "NOT_SUPPORTED");

  auto interrupt = device->MapInterrupt(0);
  REQUIRE_OK(interrupt);
  CHECK(interrupt->rights() == kHostInterruptRights);
  CHECK(StatusOf(interrupt->Trigger(udrv::Now())) == "ACCESS_DENIED");
  CHECK(StatusOf(interrupt->Duplicate(udrv::kRightSameRights)) == "ACCESS_DENIED");
  REQUIRE(harness.device.interrupts.size() == 1);

  CHECK(StatusOf(interrupt->Wait(udrv::Now())) == "TIMED_OUT");
  REQUIRE_OK(harness.device.interrupts[0].Trigger(udrv::Now()));
  REQUIRE_OK(interrupt->Wait(udrv::DeadlineAfter(5s)));
  CHECK(StatusOf(interrupt->Wait(udrv::Now())) == "TIMED_OUT");  // consumed once

  CHECK(StatusOf(device->MapInterrupt(1)) == "OUT_OF_RANGE");
  REQUIRE_OK(device->AckInterrupt(0));
  CHECK(harness.device.acks == 1);

  // Legacy INTx would need the daemon to unmask every interrupt: refused by
  // the server, the device never asked.
  const size_t calls = harness.device.mode_calls.size();
  auto legacy = device->SetInterruptMode(InterruptMode::LEGACY, 1);
  CHECK(StatusOf(legacy) == "NOT_SUPPORTED");
  CHECK(Contains(legacy.error().what, "legacy"));
  CHECK(harness.device.mode_calls.size() == calls);

  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: a remote Bti pins through the daemon's IOMMU domain", "[isolation]") {
  const uint64_t page = udrv::PageSize();
  Harness harness;
  auto device = harness.Connect();
  FakeDomain& domain = *harness.device.domain;

  auto bti = device->GetBti(0, uint64_t{1} << 32);
  REQUIRE_OK(bti);
  CHECK_FALSE(bti->is_physical());
  REQUIRE(harness.device.bti_requests.size() == 1);
  CHECK(harness.device.bti_requests[0] == std::pair{uint32_t{0}, uint64_t{1} << 32});
  auto info = bti->GetInfo();
  REQUIRE_OK(info);
  CHECK(info->aspace_size <= uint64_t{1} << 32);
  CHECK(info->minimum_contiguity == page);
  CHECK(info->pmo_count == 0);

  SECTION("a contiguous buffer: mapped at the address it reports, unmapped when it goes") {
    {
      auto buffer = dma::ContiguousBuffer::Create(*bti, 3 * page, dma::kBtiPermRead | dma::kBtiPermWrite);
      REQUIRE_OK(buffer);
      {
        std::lock_guard lock(domain.mutex_);
        REQUIRE(domain.mappings.size() == 1);
        const auto& [iova, mapping] = *domain.mappings.begin();
        CHECK(iova == buffer->phys());
        CHECK(mapping.size == 3 * page);
        CHECK(mapping.read);
        CHECK(mapping.write);
        CHECK(iova + mapping.size <= uint64_t{1} << 32);
        // The daemon maps the same pages the host writes.
        std::memset(buffer->virt(), 0x5a, 16);
        CHECK(reinterpret_cast<const uint8_t*>(mapping.vaddr)[15] == 0x5a);
      }
      auto live = bti->GetInfo();
      REQUIRE_OK(live);
      CHECK(live->pmo_count == 1);
      CHECK(harness.server->live_pins() == 1);
      // The daemon sealed the host's memory against shrinking.
      auto backing = buffer->vmo().GetBacking();
      REQUIRE_OK(backing);
      CHECK((::fcntl(backing->fd, F_GET_SEALS) & F_SEAL_SHRINK) != 0);
    }
    std::lock_guard lock(domain.mutex_);
    CHECK(domain.mappings.empty());
    CHECK(domain.unmap_calls == 1);
  }
  SECTION("a paged buffer gets one address per page") {
    auto buffer = dma::PagedBuffer::Create(*bti, 2 * page, dma::kBtiPermWrite);
    REQUIRE_OK(buffer);
    REQUIRE(buffer->addresses().size() == 2);
    CHECK(buffer->addresses()[1] == buffer->addresses()[0] + page);
    std::lock_guard lock(domain.mutex_);
    REQUIRE(domain.mappings.size() == 1);
    CHECK(domain.mappings.begin()->first == buffer->addresses()[0]);
    CHECK_FALSE(domain.mappings.begin()->second.read);
    CHECK(domain.mappings.begin()->second.write);
  }
  SECTION("a Pmt dropped without Unpin is quarantined by the daemon until released") {
    auto memory = Vmo::Create(page, "quarantined");
    REQUIRE_OK(memory);
    {
      auto pmt = bti->Pin(dma::kBtiPermRead, *memory, 0, page);
      REQUIRE_OK(pmt);
      REQUIRE(pmt->addresses().size() == 1);
    }
    auto quarantined = bti->GetInfo();
    REQUIRE_OK(quarantined);
    CHECK(quarantined->quarantine_count == 1);
    CHECK(quarantined->pmo_count == 1);
    {
      std::lock_guard lock(domain.mutex_);
      CHECK(domain.mappings.size() == 1);  // still mapped: the device may be using it
    }
    REQUIRE_OK(bti->ReleaseQuarantine());
    auto released = bti->GetInfo();
    REQUIRE_OK(released);
    CHECK(released->quarantine_count == 0);
    CHECK(released->pmo_count == 0);
    std::lock_guard lock(domain.mutex_);
    CHECK(domain.mappings.empty());
  }
  SECTION("an explicit Unpin unmaps at once") {
    auto memory = Vmo::Create(2 * page, "unpinned");
    REQUIRE_OK(memory);
    auto pmt = bti->Pin(dma::kBtiPermRead | dma::kBtiContiguous, *memory, page, page);
    REQUIRE_OK(pmt);
    REQUIRE_OK(pmt->Unpin());
    std::lock_guard lock(domain.mutex_);
    CHECK(domain.mappings.empty());
  }

  bti = dma::Bti();
  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: the daemon pins only shared memory the host may use that way",
          "[isolation]") {
  const uint64_t page = udrv::PageSize();
  Harness harness;
  const int fd = harness.raw.get();
  auto got = RawCall(fd, hw::GetBtiRequest{.index = 0, .dma_limit = dma::kNoDmaLimit});
  REQUIRE_OK(ResultOf(got));
  const uint64_t bti = got->bti;
  FakeDomain& domain = *harness.device.domain;

  SECTION("a raw pin of a memfd works: the baseline") {
    auto memory = Vmo::Create(page, "baseline");
    REQUIRE_OK(memory);
    auto pin = RawPinCall(fd, bti, dma::kBtiPermRead | dma::kBtiPermWrite, 0, page, std::move(*memory));
    REQUIRE_OK(ResultOf(pin.reply));
    REQUIRE(pin.addresses.size() == 1);
    std::lock_guard lock(domain.mutex_);
    CHECK(domain.mappings.count(pin.addresses[0]) == 1);
  }
  SECTION("a regular file is not shared memory: ACCESS_DENIED") {
    const std::string dir = NonTmpfsDirectory();
    if (dir.empty()) {
      WARN("no writable directory off tmpfs: the regular-file pin is not checked");
      return;
    }
    const std::string path = dir + "/udrv-isolation-test-" + std::to_string(::getpid());
    UniqueFd file(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    REQUIRE(file);
    ::unlink(path.c_str());
    REQUIRE(::ftruncate(file.get(), static_cast<off_t>(page)) == 0);
    Vmo::Description description;
    description.kind = udrv::VmoKind::PAGED;
    description.size = page;
    description.name = "regular file";
    auto vmo = Vmo::FromDescription(std::move(file), description, udrv::kDefaultVmoRights);
    REQUIRE_OK(vmo);

    // Through a RemoteDevice's Bti::Pin, which checks nothing of the kind itself.
    auto device = RemoteDevice::Connect(std::move(harness.host));
    REQUIRE_OK(device);
    auto remote_bti = (*device)->GetBti(0);
    REQUIRE_OK(remote_bti);
    auto pinned = remote_bti->Pin(dma::kBtiPermRead, *vmo, 0, page);
    REQUIRE(StatusOf(pinned) == "ACCESS_DENIED");
    CHECK(Contains(pinned.error().what, "not shared memory"));
    CHECK(Contains(pinned.error().object, "driver host of 0000:00:03.0"));
    // And raw.
    auto raw = RawPinCall(fd, bti, dma::kBtiPermRead, 0, page, std::move(*vmo));
    CHECK(StatusOf(ResultOf(raw.reply)) == "ACCESS_DENIED");
    CHECK(Contains(ErrorText(raw.reply), "shared memory"));
  }
  SECTION("a memfd sent read-only cannot be pinned for the device to write") {
    auto memory = Vmo::Create(page, "read-only");
    REQUIRE_OK(memory);
    auto copy = memory->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(copy);
    auto memory_fd_holder = memory->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(memory_fd_holder);
    auto pin = RawPinCall(fd, bti, dma::kBtiPermRead | dma::kBtiPermWrite, 0, page, std::move(*memory),
                          udrv::kDefaultVmoRights & ~udrv::kRightWrite);
    CHECK(StatusOf(ResultOf(pin.reply)) == "ACCESS_DENIED");
    CHECK(Contains(ErrorText(pin.reply), "read-only"));
    // For the device to read it is fine, once sealed: the root bus cannot
    // add the seal through a read-only fd, and never reopens it writable.
    auto backing = memory_fd_holder->GetBacking();
    REQUIRE_OK(backing);
    REQUIRE(::fcntl(backing->fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
    auto read_pin = RawPinCall(fd, bti, dma::kBtiPermRead, 0, page, std::move(*copy),
                               udrv::kDefaultVmoRights & ~udrv::kRightWrite);
    REQUIRE_OK(ResultOf(read_pin.reply));
    std::lock_guard lock(domain.mutex_);
    REQUIRE(domain.mappings.size() == 1);
    CHECK_FALSE(domain.mappings.begin()->second.write);
  }
  SECTION("memory sent read-only and unsealed is refused: no reopening it writable to seal it") {
    auto memory = Vmo::Create(page, "unsealed");
    REQUIRE_OK(memory);
    auto holder = memory->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(holder);
    auto pin = RawPinCall(fd, bti, dma::kBtiPermRead, 0, page, std::move(*memory),
                          udrv::kDefaultVmoRights & ~udrv::kRightWrite);
    CHECK(StatusOf(ResultOf(pin.reply)) == "ACCESS_DENIED");
    CHECK(Contains(ErrorText(pin.reply), "must come sealed"));
    auto backing = holder->GetBacking();
    REQUIRE_OK(backing);
    CHECK((::fcntl(backing->fd, F_GET_SEALS) & F_SEAL_SHRINK) == 0);  // the root bus added nothing
    std::lock_guard lock(domain.mutex_);
    CHECK(domain.mappings.empty());
  }
  SECTION("the host's library seals what it sends for a device-read pin") {
    auto memory = Vmo::Create(page, "library");
    REQUIRE_OK(memory);
    auto device = RemoteDevice::Connect(std::move(harness.host));
    REQUIRE_OK(device);
    auto remote_bti = (*device)->GetBti(0);
    REQUIRE_OK(remote_bti);
    auto pinned = remote_bti->Pin(dma::kBtiPermRead, *memory, 0, page);
    REQUIRE_OK(pinned);
    auto backing = memory->GetBacking();
    REQUIRE_OK(backing);
    CHECK((::fcntl(backing->fd, F_GET_SEALS) & F_SEAL_SHRINK) != 0);
    REQUIRE_OK(pinned->Unpin());
  }
  SECTION("a memfd that cannot be sealed against shrinking is refused") {
    UniqueFd unsealable(::memfd_create("no-sealing", MFD_CLOEXEC));  // comes with F_SEAL_SEAL
    REQUIRE(unsealable);
    REQUIRE(::ftruncate(unsealable.get(), static_cast<off_t>(page)) == 0);
    Vmo::Description description;
    description.size = page;
    description.name = "no sealing";
    auto vmo = Vmo::FromDescription(std::move(unsealable), description, udrv::kDefaultVmoRights);
    REQUIRE_OK(vmo);
    auto pin = RawPinCall(fd, bti, dma::kBtiPermRead, 0, page, std::move(*vmo));
    CHECK(StatusOf(ResultOf(pin.reply)) == "ACCESS_DENIED");
    CHECK(Contains(ErrorText(pin.reply), "sealed against shrinking"));
    std::lock_guard lock(domain.mutex_);
    CHECK(domain.mappings.empty());
  }
  SECTION("a range past the memfd's end is OUT_OF_RANGE") {
    auto memory = Vmo::Create(page, "short");
    REQUIRE_OK(memory);
    auto copy = memory->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(copy);
    auto pin = RawPinCall(fd, bti, dma::kBtiPermRead, 0, 2 * page, std::move(*memory));
    CHECK(StatusOf(ResultOf(pin.reply)) == "OUT_OF_RANGE");
    auto wrapped = RawPinCall(fd, bti, dma::kBtiPermRead, ~uint64_t{0} - page + 1, 2 * page,
                              std::move(*copy));
    CHECK(StatusOf(ResultOf(wrapped.reply)) == "OUT_OF_RANGE");
    std::lock_guard lock(domain.mutex_);
    CHECK(domain.mappings.empty());
  }
  SECTION("unpinning what was never pinned is NOT_FOUND; an unknown BTI is BAD_HANDLE") {
    auto unpin = RawCall(fd, hw::UnpinRequest{.bti = bti, .pin = 999});
    CHECK(StatusOf(ResultOf(unpin)) == "NOT_FOUND");
    auto quarantine = RawCall(fd, hw::QuarantineRequest{.bti = bti, .pin = 999});
    CHECK(StatusOf(ResultOf(quarantine)) == "NOT_FOUND");
    auto info = RawCall(fd, hw::BtiInfoRequest{.bti = bti + 5});
    CHECK(StatusOf(ResultOf(info)) == "BAD_HANDLE");
    auto memory = Vmo::Create(page, "unknown bti");
    REQUIRE_OK(memory);
    auto pin = RawPinCall(fd, bti + 5, dma::kBtiPermRead, 0, page, std::move(*memory));
    CHECK(StatusOf(ResultOf(pin.reply)) == "BAD_HANDLE");
  }
  // None of the refusals ended the connection.
  auto info = RawCall(fd, hw::BtiInfoRequest{.bti = bti});
  CHECK(StatusOf(ResultOf(info)) == "OK");
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: a host that goes away with pins live: quarantine, quiesce, release",
          "[isolation]") {
  const uint64_t page = udrv::PageSize();
  Harness harness;
  auto device = harness.Connect();
  FakeDomain& domain = *harness.device.domain;

  REQUIRE_OK(device->SetBusMastering(true));
  CHECK((harness.device.config[0x04] & 0x04) != 0);
  REQUIRE_OK(device->SetInterruptMode(InterruptMode::MSI, 1));
  auto bti = device->GetBti(0);
  REQUIRE_OK(bti);
  auto memory = Vmo::Create(4 * page, "left behind");
  REQUIRE_OK(memory);
  auto first = bti->Pin(dma::kBtiPermRead | dma::kBtiPermWrite, *memory, 0, page);
  REQUIRE_OK(first);
  auto second = bti->Pin(dma::kBtiPermWrite, *memory, 2 * page, 2 * page);
  REQUIRE_OK(second);
  {
    std::lock_guard lock(domain.mutex_);
    REQUIRE(domain.mappings.size() == 2);
  }

  // The host dies: its socket closes with the pins still held.
  REQUIRE_OK(harness.Finish());
  CHECK(harness.server->live_pins() == 2);
  harness.device.bus_mastering_calls.clear();
  harness.device.mode_calls.clear();

  const ReleaseReport report = harness.server->Reclaim();
  INFO(report.ToString());
  CHECK(report.ok());
  REQUIRE(report.steps.size() == 5);
  CHECK(report.steps[0].name == "pins quarantined");
  CHECK(Contains(report.steps[0].detail, "2 pin(s)"));
  CHECK(report.steps[1].name == "interrupts off");
  CHECK(report.steps[2].name == "bus mastering off");
  CHECK(report.steps[3].name == "reset");
  CHECK(report.steps[4].name == "quarantine released");
  for (const ReleaseStep* step : {FindStep(report, "interrupts off"), FindStep(report, "bus mastering off"),
                                  FindStep(report, "reset"), FindStep(report, "quarantine released")}) {
    REQUIRE(step != nullptr);
    CHECK(step->outcome == ReleaseStep::Outcome::DONE);
  }
  CHECK(Contains(FindStep(report, "quarantine released")->detail, "2 pin(s)"));

  {
    std::lock_guard lock(domain.mutex_);
    CHECK(domain.mappings.empty());
  }
  CHECK(harness.server->live_pins() == 0);
  REQUIRE(harness.device.mode_calls.size() == 1);
  CHECK(harness.device.mode_calls[0].first == InterruptMode::DISABLED);
  REQUIRE(harness.device.bus_mastering_calls.size() == 1);
  CHECK(harness.device.bus_mastering_calls[0] == false);
  CHECK((harness.device.config[0x04] & 0x04) == 0);
  CHECK(harness.device.resets == 1);

  // The host's leftovers fail quietly against a closed connection.
  CHECK(StatusOf(first->Unpin()) != "OK");
  CHECK(StatusOf(device->ReadConfig16(0)) != "OK");
}

TEST_CASE("isolation: a host that left nothing: Reclaim still quiesces", "[isolation]") {
  Harness harness;
  {
    auto device = harness.Connect();
    auto bti = device->GetBti(0);
    REQUIRE_OK(bti);
  }
  REQUIRE_OK(harness.Finish());
  const ReleaseReport report = harness.server->Reclaim();
  INFO(report.ToString());
  CHECK(report.ok());
  REQUIRE_FALSE(report.steps.empty());
  CHECK(Contains(report.steps[0].detail, "0 pin(s)"));
  CHECK(harness.device.resets == 1);
}

TEST_CASE("isolation: a malformed request ends Serve with IO_INVALID", "[isolation]") {
  Harness harness;
  auto device = harness.Connect();
  CHECK(device->ReadConfig16(0).value() == kVendor);

  SECTION("bad magic") {
    auto bytes = hw::FrameRequest(ReadConfig(0, 2));
    const uint32_t magic = 0xdeadbeef;
    std::memcpy(bytes.data(), &magic, sizeof(magic));
    REQUIRE_OK(hw::Send(harness.raw.get(), bytes, "bad magic"));
  }
  SECTION("the last protocol version") {
    auto bytes = hw::FrameRequest(ReadConfig(0, 2));
    const uint16_t version = 1;
    std::memcpy(bytes.data() + offsetof(hw::Header, version), &version, sizeof(version));
    REQUIRE_OK(hw::Send(harness.raw.get(), bytes, "old version"));
  }
  SECTION("unknown ops, generic and the service's") {
    const uint16_t op = GENERATE(uint16_t{0}, uint16_t{hw::kLastOp + 1}, uint16_t{wire::kLastPciOp + 1});
    REQUIRE_OK(hw::Send(harness.raw.get(), hw::Frame(op, {}), "unknown op"));
  }
  SECTION("a body of another op's size") {
    // A read-config header with a write-config body.
    const auto write = WriteConfig(0x40, 4, 0);
    REQUIRE_OK(hw::Send(harness.raw.get(),
                        hw::Frame(wire::ReadConfigRequest::kOp, std::as_bytes(std::span(&write, 1))),
                        "wrong size"));
  }
  SECTION("a header whose size is not what follows") {
    auto bytes = hw::FrameRequest(ReadConfig(0, 2));
    bytes.push_back(std::byte{0});
    REQUIRE_OK(hw::Send(harness.raw.get(), bytes, "size mismatch"));
  }
  SECTION("a short message") {
    const uint32_t magic = hw::kMagic;
    REQUIRE_OK(hw::Send(harness.raw.get(), std::as_bytes(std::span(&magic, 1)), "short"));
  }
  auto served = harness.Join();
  CHECK(StatusOf(served) == "IO_INVALID");
  auto log = harness.log();
  REQUIRE_FALSE(log.empty());
  CHECK(Contains(log.back(), "dropped the connection"));
  // The connection is dropped: the host sees it gone at once, not when the
  // server object goes.
  pollfd pfd{harness.raw.get(), POLLIN | POLLRDHUP, 0};
  REQUIRE(::poll(&pfd, 1, 5000) == 1);
  CHECK((pfd.revents & (POLLHUP | POLLRDHUP)) != 0);
  CHECK(StatusOf(device->ReadConfig16(0)) == "PEER_CLOSED");
}

TEST_CASE("isolation: the host's start report reaches on_started", "[isolation]") {
  Harness harness;
  auto device = harness.Connect();

  REQUIRE_OK(device->ReportStarted(Fail(Status::NOT_SUPPORTED, "edu: no DMA engine", "0000:00:03.0")));
  // Once: a host cannot take its report back.
  CHECK(StatusOf(device->ReportStarted({})) == "BAD_STATE");
  auto started = harness.started();
  REQUIRE(started.size() == 1);
  REQUIRE_FALSE(started[0].has_value());
  CHECK(started[0].error().status == Status::NOT_SUPPORTED);
  CHECK(Contains(started[0].error().what, "edu: no DMA engine"));
  CHECK(started[0].error().object == harness.node.id);
  // A status that is no udrv status is refused, not taken for one.
  auto odd = RawCall(harness.raw.get(), hw::StartedRequest{.status = 1});
  CHECK(StatusOf(ResultOf(odd)) == "INVALID_ARGS");
  CHECK(harness.started().size() == 1);

  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: the MSI, MSI-X and power management registers are the root bus's",
          "[isolation]") {
  Harness harness;
  auto device = harness.Connect();
  const std::vector<uint8_t> before = harness.device.config;
  // Where the device's interrupts go, and its power state: refused, however
  // much vfio-pci (permissive=1, say) would let through.
  struct Attempt {
    uint16_t offset;
    size_t width;
    const char* what;
  };
  for (const Attempt& attempt : {Attempt{kMsiCap + 4, 4, "MSI address"},
                                 Attempt{kMsiCap + 8, 4, "MSI upper address"},
                                 Attempt{kMsiCap + 12, 2, "MSI data"},
                                 Attempt{kMsiCap + 2, 2, "MSI control"},
                                 Attempt{kMsiCap + 13, 1, "MSI data's last byte"},
                                 Attempt{kMsixCap + 2, 2, "MSI-X control"},
                                 Attempt{kMsixCap + 4, 4, "MSI-X table offset/BIR"},
                                 Attempt{kPmCap + 4, 2, "PM control/status (D3hot)"},
                                 Attempt{kPmCap + 6, 2, "PM bridge/data"},
                                 Attempt{kPmCap + 2, 4, "PM capabilities and control"}}) {
    INFO(attempt.what);
    auto reply = RawCall(harness.raw.get(),
                         WriteConfig(attempt.offset, static_cast<uint8_t>(attempt.width), 3));
    CHECK(StatusOf(ResultOf(reply)) == "ACCESS_DENIED");
  }
  CHECK(StatusOf(device->WriteConfig16(kPmCap + 4, 3)) == "ACCESS_DENIED");
  CHECK(harness.device.config == before);
  CHECK(harness.device.writes.empty());
  // Just past each one, the device's own registers are the driver's.
  REQUIRE_OK(device->WriteConfig16(kMsiCap + 14, 0x1234));
  REQUIRE_OK(device->WriteConfig32(kMsixCap + 12, 0x1234));
  REQUIRE_OK(device->WriteConfig8(kPmCap + 8, 0x12));
  CHECK(harness.device.writes.size() == 3);
  auto log = harness.log();
  CHECK(std::count_if(log.begin(), log.end(), [](const std::string& l) {
          return Contains(l, "refused write config") && Contains(l, "the root bus's");
        }) >= 10);

  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: a capability list the root bus cannot follow refuses writes past the header",
          "[isolation]") {
  Harness harness;
  harness.device.config[kMsiCap + 1] = kMsixCap;  // a loop
  auto device = harness.Connect();
  CHECK(StatusOf(device->WriteConfig32(0x40, 1)) == "IO_INVALID");
  CHECK(harness.device.writes.empty());
  device.reset();
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: one BTI per index, however often the host asks", "[isolation]") {
  Harness harness;
  const int fd = harness.raw.get();
  uint64_t first = 0;
  for (int i = 0; i < 1000; ++i) {
    auto got = RawCall(fd, hw::GetBtiRequest{.index = 0, .dma_limit = uint64_t{1} << 32});
    REQUIRE_OK(ResultOf(got));
    if (i == 0) first = got->bti;
    REQUIRE(got->bti == first);
  }
  CHECK(harness.device.bti_requests.size() == 1);
  // Another limit for the same index is not another BTI.
  auto other = RawCall(fd, hw::GetBtiRequest{.index = 0, .dma_limit = uint64_t{1} << 28});
  CHECK(StatusOf(ResultOf(other)) == "ALREADY_EXISTS");
  CHECK(harness.device.bti_requests.size() == 1);
  // A reserved field that is not 0 is refused, not ignored.
  auto reserved = RawCall(fd, hw::GetBtiRequest{.index = 0, .reserved = 1, .dma_limit = uint64_t{1} << 32});
  CHECK(StatusOf(ResultOf(reserved)) == "INVALID_ARGS");
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: a host's pins are bounded by its budget, quarantined ones included",
          "[isolation]") {
  const uint64_t page = udrv::PageSize();
  Harness harness([&](HostServerOptions& options) {
    options.budget.max_pinned_bytes = 8 * page;
    options.budget.max_pins = 3;
  });
  const int fd = harness.raw.get();
  auto got = RawCall(fd, hw::GetBtiRequest{.index = 0, .dma_limit = dma::kNoDmaLimit});
  REQUIRE_OK(ResultOf(got));
  const uint64_t bti = got->bti;
  FakeDomain& domain = *harness.device.domain;
  auto pin = [&](uint64_t offset, uint64_t size, uint64_t file_size) {
    auto memory = Vmo::Create(file_size, "budget");
    REQUIRE_OK(memory);
    return RawPinCall(fd, bti, dma::kBtiPermRead | dma::kBtiPermWrite, offset, size, std::move(*memory));
  };
  auto mappings = [&] {
    std::lock_guard lock(domain.mutex_);
    return domain.mappings.size();
  };

  SECTION("a sparse memfd is charged for every page of the pin: refused past the budget") {
    // The host never touched these pages; the root bus would populate them.
    auto big = pin(0, 64 * page, 64 * page);
    REQUIRE(StatusOf(ResultOf(big.reply)) == "NO_RESOURCES");
    CHECK(Contains(ErrorText(big.reply), "budget of 32 KiB"));
    CHECK(mappings() == 0);
    auto two = pin(0, 2 * page, 2 * page);
    REQUIRE_OK(ResultOf(two.reply));
    auto rest = pin(0, 6 * page, 6 * page);
    REQUIRE_OK(ResultOf(rest.reply));
    auto one_more = pin(0, page, page);
    CHECK(StatusOf(ResultOf(one_more.reply)) == "NO_RESOURCES");
    // Unpinning gives it back.
    REQUIRE_OK(ResultOf(RawCall(fd, hw::UnpinRequest{.bti = bti, .pin = two.reply->pin})));
    REQUIRE_OK(ResultOf(pin(0, 2 * page, 2 * page).reply));
  }
  SECTION("the pin count, and quarantined pins count until released") {
    std::vector<uint64_t> ids;
    for (int i = 0; i < 3; ++i) {
      auto made = pin(0, page, page);
      REQUIRE_OK(ResultOf(made.reply));
      ids.push_back(made.reply->pin);
    }
    auto fourth = pin(0, page, page);
    REQUIRE(StatusOf(ResultOf(fourth.reply)) == "NO_RESOURCES");
    CHECK(Contains(ErrorText(fourth.reply), "budget of 3 pins"));
    // Quarantined: still mapped, still charged.
    REQUIRE_OK(ResultOf(RawCall(fd, hw::QuarantineRequest{.bti = bti, .pin = ids[0]})));
    CHECK(mappings() == 3);
    CHECK(StatusOf(ResultOf(pin(0, page, page).reply)) == "NO_RESOURCES");
    REQUIRE_OK(ResultOf(RawCall(fd, hw::ReleaseQuarantineRequest{.bti = bti})));
    CHECK(mappings() == 2);
    REQUIRE_OK(ResultOf(pin(0, page, page).reply));
  }
  SECTION("an empty range is no pin; one that wraps is out of range") {
    CHECK(StatusOf(ResultOf(pin(0, 0, page).reply)) == "INVALID_ARGS");
    CHECK(StatusOf(ResultOf(pin(~uint64_t{0} - page + 1, 2 * page, page).reply)) == "OUT_OF_RANGE");
  }
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: a host that does not read its replies is disconnected", "[isolation]") {
  Harness harness([](HostServerOptions& options) { options.reply_timeout = 200'000'000; });
  // Requests, and no read of a single reply: the host's receive queue fills
  // and the root bus's send would block.
  const auto request = hw::FrameRequest(wire::GetDeviceInfoRequest{});
  std::thread flood([&] {
    for (int i = 0; i < 2000; ++i) {
      if (!hw::Send(harness.raw.get(), request, "flood")) return;
    }
  });
  const bool ended = harness.JoinWithin(20s);
  flood.join();
  REQUIRE(ended);
  CHECK(StatusOf(harness.served()) == "TIMED_OUT");
  CHECK(Contains(harness.served().error().what, "did not read its replies for 200 ms"));
  auto log = harness.log();
  CHECK(std::count_if(log.begin(), log.end(), [](const std::string& l) {
          return Contains(l, "dropped the connection") && Contains(l, "TIMED_OUT");
        }) == 1);
}

TEST_CASE("isolation: Serve ends when the host ends, even while its socket lives on",
          "[isolation]") {
  // A child of the host would keep the socket: the host's pidfd (an eventfd
  // here) says it ended.
  UniqueFd host_ended(::eventfd(0, EFD_CLOEXEC));
  REQUIRE(host_ended);
  Harness harness([&](HostServerOptions& options) { options.host_ended_fd = host_ended.get(); });
  auto reply = RawCall(harness.raw.get(), ReadConfig(0, 2));
  REQUIRE_OK(ResultOf(reply));
  const uint64_t one = 1;
  REQUIRE(::write(host_ended.get(), &one, sizeof(one)) == sizeof(one));
  REQUIRE(harness.JoinWithin(10s));
  REQUIRE_OK(harness.served());
  // The socket is still open on the host's side, and was shut down.
  pollfd pfd{harness.raw.get(), POLLIN | POLLRDHUP, 0};
  REQUIRE(::poll(&pfd, 1, 5000) == 1);
  CHECK((pfd.revents & (POLLHUP | POLLRDHUP)) != 0);
}

TEST_CASE("isolation: what the host says reaches the daemon's log escaped", "[isolation]") {
  Harness harness;
  auto device = harness.Connect();
  // A forged log line, a screen clear and a window title.
  const std::string words = "ok\nudrv-driver-manager: PASS\x1b[2J\x1b]0;owned\x07";
  REQUIRE_OK(device->ReportStarted(Fail(Status::IO, words)));
  auto started = harness.started();
  REQUIRE(started.size() == 1);
  REQUIRE_FALSE(started[0].has_value());
  const std::string what = started[0].error().what;
  CHECK(what == "ok\\nudrv-driver-manager: PASS\\e[2J\\e]0;owned\\x07");
  // And a VMO name the host chose, in a refusal the root bus logs: a
  // write-only fd claimed as read-only memory, forged by hand.
  auto memory = Vmo::Create(udrv::PageSize(), "evil");
  REQUIRE_OK(memory);
  auto backing = memory->GetBacking();
  REQUIRE_OK(backing);
  UniqueFd write_only(::open(("/proc/self/fd/" + std::to_string(backing->fd)).c_str(),
                             O_WRONLY | O_CLOEXEC));
  REQUIRE(write_only);
  auto got = RawCall(harness.raw.get(), hw::GetBtiRequest{.index = 0, .dma_limit = dma::kNoDmaLimit});
  REQUIRE_OK(ResultOf(got));
  REQUIRE_OK(udrv::testing::SendRawRequest(
      harness.raw.get(),
      hw::PinRequest{.bti = got->bti, .options = dma::kBtiPermRead, .offset = 0, .size = udrv::PageSize()}));
  REQUIRE(udrv::testing::SendForgedVmo(harness.raw.get(), write_only.get(), udrv::PageSize(),
                                       udrv::kRightRead | udrv::kRightMap | udrv::kRightInspect |
                                           udrv::kRightTransfer,
                                       "x\x1b[2J\nudrv: forged"));
  CHECK(StatusOf(udrv::testing::ReceiveRawReply<hw::PinRequest>(harness.raw.get(),
                                                                 udrv::DeadlineAfter(10s))) ==
        "ACCESS_DENIED");
  auto log = harness.log();
  CHECK(std::count_if(log.begin(), log.end(), [](const std::string& l) {
          return Contains(l, "refused pin") && Contains(l, "x\\e[2J\\nudrv: forged");
        }) == 1);
  for (const std::string& line : harness.log()) {
    INFO(line);
    CHECK(line.find_first_of("\n\x1b\x07") == std::string::npos);
  }
  device.reset();
  REQUIRE_OK(harness.Finish());
}

// ---- the isolated runner, launching real hosts (isolation-test-host) ----
// These need root (a host's uid and namespaces) and a real kernel, not
// qemu-user (the aarch64 guest plan runs them there).

namespace {

// The runner's log, kept for the test to read (the supervisors log from
// their own threads).
class RunnerLog {
 public:
  udrv::bus::Logger Sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    };
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  // The first match of `pattern` in a line, waiting up to `limit` for it.
  std::optional<std::smatch> WaitFor(const std::string& pattern, std::chrono::milliseconds limit) {
    const std::regex re(pattern);
    const udrv::Time deadline = udrv::DeadlineAfter(limit);
    for (;;) {
      for (const std::string& line : lines()) {
        kept_ = line;
        std::smatch match;
        if (std::regex_search(kept_, match, re)) return match;
      }
      if (udrv::Now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(20ms);
    }
  }
  std::string Text() {
    std::string text;
    for (const std::string& line : lines()) text += line + "\n";
    return text;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
  std::string kept_;  // what the last match refers to
};

IsolatedRunnerOptions RunnerOptions(uid_t first_uid, const std::string& mode, RunnerLog& log) {
  IsolatedRunnerOptions options;
  options.host_program = udrv::testing::ProgramDir() + "isolation-test-host";
  options.host_arguments = {"--mode", mode};
  options.first_uid = first_uid;
  options.restarts = 0;
  options.start_timeout = 30'000'000'000;
  options.stop_grace = 2'000'000'000;
  options.paths.sys = "/nonexistent-sysfs";
  options.log = log.Sink();
  return options;
}

DeviceNode GroupNode(const std::string& id, uint32_t group) {
  DeviceNode node = TestNode();
  node.id = id;
  node.properties.Set(std::string(kPropIommuGroup), group);
  return node;
}

Result<std::unique_ptr<udrv::bus::DriverInstance>> StartHost(const udrv::bus::DriverRunner& runner,
                                                             FakeIsoDevice& device,
                                                             const DeviceNode& node) {
  udrv::bus::ProtocolSet protocols;
  protocols.Add<Device>(&device);
  udrv::bus::DriverContext context("test", node, std::move(protocols), {});
  const udrv::bus::Driver driver{.name = "test", .rules = {}, .options = {}, .start = {}};
  return runner(driver, context);
}

// The pids of the processes running as `uid`.
std::vector<pid_t> ProcessesOf(uid_t uid) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("Uid:\t" + std::to_string(uid) + "\t")) found.push_back(std::stoi(name));
    }
  }
  return found;
}

void RequireRoot() {
  if (::geteuid() != 0) {
    FAIL("the isolated runner's tests launch driver hosts: they need root (a uid of the host's "
         "own, its PID and network namespaces)");
  }
}

}  // namespace

TEST_CASE("isolated runner: a host never runs as root; uids past the last are refused, not wrapped",
          "[isolation][isolated-runner]") {
  RequireRoot();
  RunnerLog log;
  for (uid_t first : {uid_t{0}, static_cast<uid_t>(-1)}) {
    auto runner = MakeIsolatedRunner(RunnerOptions(first, "ok", log));
    REQUIRE(StatusOf(runner) == "INVALID_ARGS");
    CHECK(Contains(runner.error().what, "never run as root"));
  }
  // The first host gets the last uid a host may have; the second would get
  // (uid_t)-1, which set*id reads as "no change" (root), and the third 0.
  auto runner = MakeIsolatedRunner(RunnerOptions(0xfffffffe, "ok", log));
  REQUIRE_OK(runner);
  FakeIsoDevice first_device;
  FakeIsoDevice second_device;
  auto first = StartHost(*runner, first_device, GroupNode("pci/0000:00:03.0", 1));
  REQUIRE_OK(first);
  auto launched = log.WaitFor("launched driver host pid ([0-9]+) \\(uid ([0-9]+)\\)", 1s);
  REQUIRE(launched);
  CHECK((*launched)[2] == "4294967294");
  CHECK(ProcessesOf(0xfffffffe).size() == 1);
  auto second = StartHost(*runner, second_device, GroupNode("pci/0000:00:04.0", 2));
  REQUIRE(StatusOf(second) == "OUT_OF_RANGE");
  CHECK(Contains(second.error().what, "uid 4294967295, past the last one a host may have"));
  // Refused before anything was launched for it.
  const std::vector<std::string> lines = log.lines();
  CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& line) {
          return Contains(line, "launched driver host");
        }) == 1);
  REQUIRE_OK((*first)->Stop());
  CHECK(ProcessesOf(0xfffffffe).empty());
}

TEST_CASE("isolated runner: one driver host per IOMMU group", "[isolation][isolated-runner]") {
  RequireRoot();
  RunnerLog log;
  auto runner = MakeIsolatedRunner(RunnerOptions(61980, "ok", log));
  REQUIRE_OK(runner);
  FakeIsoDevice first_device;
  FakeIsoDevice second_device;
  FakeIsoDevice other_group_device;
  auto first = StartHost(*runner, first_device, GroupNode("pci/0000:00:03.0", 7));
  REQUIRE_OK(first);
  // Two functions of one group share one IOVA space: a second host would
  // let each device DMA into the other host's pins.
  auto second = StartHost(*runner, second_device, GroupNode("pci/0000:00:03.1", 7));
  REQUIRE(StatusOf(second) == "ALREADY_BOUND");
  CHECK(Contains(second.error().what, "IOMMU group 7 already has a driver host (for pci/0000:00:03.0)"));
  CHECK(second.error().object == "pci/0000:00:03.1");
  // Another group is another host.
  auto other = StartHost(*runner, other_group_device, GroupNode("pci/0000:00:05.0", 8));
  REQUIRE_OK(other);
  // Once the group's host is gone, the group can have another.
  REQUIRE_OK((*first)->Stop());
  first->reset();
  auto again = StartHost(*runner, second_device, GroupNode("pci/0000:00:03.1", 7));
  REQUIRE_OK(again);
  REQUIRE_OK((*again)->Stop());
  REQUIRE_OK((*other)->Stop());
}

TEST_CASE("isolated runner: what a host forks dies with it; serving ends; Stop is bounded",
          "[isolation][isolated-runner]") {
  RequireRoot();
  constexpr uid_t kUid = 61981;
  RunnerLog log;
  auto runner = MakeIsolatedRunner(RunnerOptions(kUid, "fork", log));
  REQUIRE_OK(runner);
  FakeIsoDevice device;
  auto instance = StartHost(*runner, device, GroupNode("pci/0000:00:03.0", 9));
  REQUIRE_OK(instance);
  auto launched = log.WaitFor("launched driver host pid ([0-9]+)", 1s);
  REQUIRE(launched);
  const pid_t host = std::stoi((*launched)[1]);
  // The host and the child it forked, which holds the host's socket.
  std::vector<pid_t> tree;
  const udrv::Time deadline = udrv::DeadlineAfter(10s);
  while ((tree = ProcessesOf(kUid)).size() < 2 && udrv::Now() < deadline) std::this_thread::sleep_for(10ms);
  REQUIRE(tree.size() == 2);

  // The host dies; its child must not keep the device's connection.
  REQUIRE(::kill(host, SIGKILL) == 0);
  REQUIRE(log.WaitFor("driver host pid " + std::to_string(host) + " ended: killed by SIGKILL", 20s));
  REQUIRE(log.WaitFor("reclaimed after driver host pid " + std::to_string(host), 20s));
  CHECK(ProcessesOf(kUid).empty());
  // Not restarted (restarts 0): Stop says so, at once.
  const udrv::Time before = udrv::Now();
  auto stopped = (*instance)->Stop();
  CHECK(StatusOf(stopped) == "IO_NOT_PRESENT");
  CHECK(udrv::Now() - before < 10'000'000'000);
}

TEST_CASE("isolated runner: stopping a host whose child holds its socket ends both",
          "[isolation][isolated-runner]") {
  RequireRoot();
  constexpr uid_t kUid = 61982;
  RunnerLog log;
  IsolatedRunnerOptions options = RunnerOptions(kUid, "fork", log);
  options.stop_grace = 500'000'000;
  auto runner = MakeIsolatedRunner(std::move(options));
  REQUIRE_OK(runner);
  FakeIsoDevice device;
  auto instance = StartHost(*runner, device, GroupNode("pci/0000:00:03.0", 9));
  REQUIRE_OK(instance);
  // Stop: SIGTERM, which the test host takes and exits; its child keeps
  // the socket but dies with it.
  REQUIRE_OK((*instance)->Stop());
  CHECK(ProcessesOf(kUid).empty());
  CHECK(Contains(log.Text(), "ended: exit code 0"));
}

TEST_CASE("isolated runner: a host's words reach the log escaped", "[isolation][isolated-runner]") {
  RequireRoot();
  RunnerLog log;
  auto runner = MakeIsolatedRunner(RunnerOptions(61983, "say", log));
  REQUIRE_OK(runner);
  FakeIsoDevice device;
  auto instance = StartHost(*runner, device, GroupNode("pci/0000:00:03.0", 9));
  REQUIRE(StatusOf(instance) == "IO");
  CHECK(Contains(instance.error().what, "no\\nudrv-driver-manager: PASS\\e[2J\\e]0;owned\\x07"));
  for (const std::string& line : log.lines()) {
    INFO(line);
    CHECK(line.find_first_of("\n\x1b\x07") == std::string::npos);
  }
  CHECK(Contains(log.Text(), "failed to start in driver host pid"));
}

TEST_CASE("isolation: values are typed to their width; what is none of them is refused",
          "[isolation]") {
  Harness harness;
  const int fd = harness.raw.get();
  // Every field has its value's width (a 32-bit vector, count, index or pin
  // option cannot carry more), and a request of any other size ends the
  // connection (the malformed-request case). What the width allows but the
  // value is none of is refused, never cut or taken for another.
  CHECK(StatusOf(ResultOf(RawCall(fd, wire::SetInterruptModeRequest{.mode = 99, .count = 1}))) ==
        "INVALID_ARGS");
  CHECK(StatusOf(ResultOf(RawCall(fd, wire::SetInterruptModeRequest{.mode = 2, .count = 1}))) ==
        "INVALID_ARGS");
  CHECK(harness.device.mode_calls.empty());
  CHECK(StatusOf(ResultOf(RawCall(fd, wire::SetBusMasteringRequest{.enable = 2}))) == "INVALID_ARGS");
  CHECK(StatusOf(ResultOf(RawCall(fd, hw::StartedRequest{.status = 5}))) == "INVALID_ARGS");
  CHECK(harness.started().empty());
  CHECK(StatusOf(ResultOf(RawCall(fd, ReadConfig(0, 3)))) == "INVALID_ARGS");
  // Pin options are the device's access, nothing else.
  auto got = RawCall(fd, hw::GetBtiRequest{.index = 0, .dma_limit = dma::kNoDmaLimit});
  REQUIRE_OK(ResultOf(got));
  auto memory = Vmo::Create(udrv::PageSize(), "options");
  REQUIRE_OK(memory);
  auto pin = RawPinCall(fd, got->bti, 0x80000000u | dma::kBtiPermRead, 0, udrv::PageSize(),
                        std::move(*memory));
  CHECK(StatusOf(ResultOf(pin.reply)) == "INVALID_ARGS");
  {
    std::lock_guard lock(harness.device.domain->mutex_);
    CHECK(harness.device.domain->mappings.empty());
  }
  REQUIRE_OK(harness.Finish());
}

TEST_CASE("isolation: a host's refused requests cannot flood the log", "[isolation]") {
  Harness harness;
  for (int i = 0; i < 500; ++i) {
    auto reply = RawCall(harness.raw.get(), WriteConfig(0x04, 2, 0));
    REQUIRE(StatusOf(ResultOf(reply)) == "ACCESS_DENIED");  // every one is still answered
  }
  const auto log = harness.log();
  CHECK(log.size() == 65);  // 64 refusals and the line saying the rest go unlogged
  CHECK(Contains(log.back(), "further refusals are answered, not logged"));
  REQUIRE_OK(harness.Finish());
}
