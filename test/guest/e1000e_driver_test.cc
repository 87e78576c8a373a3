// The e1000e driver (drivers/net/e1000e) in the x86_64 guests, with Linux
// as the oracle: the guest has two 82574Ls on one QEMU
// hub; the test drives nic0 (00:03.0) through the driver's bus::Driver (as
// the driver manager would, capturing the net child it publishes) and
// leaves nic1 (00:06.0) to Linux's e1000e (loaded for the test), whose
// linux_peer sends and verifies udrv's test frames, and whose statistics
// count what went over the wire.
//   [e1000e-driver]  in each interrupt mode (MSI-X, MSI, legacy) and
//                    polling: bring-up (the MAC Linux read, link up), test
//                    frames of several sizes sent (Linux receives each, byte
//                    for byte, in order, and counts exactly them) and
//                    received (each, in order), the link dropped and back
//                    through QEMU's monitor (the driver's notification),
//                    and stop; and a frame from an IOVA never pinned (the
//                    IOMMU blocks the NIC's read, the kernel logs it, the
//                    driver's ring reset brings transmit back)
//   [e1000e-remove]  nic0 removed from the bus (vfio-pci's removal request)
//                    while frames go out: the driver's calls say
//                    IO_NOT_PRESENT, nothing hangs; run last, it rescans
//   [e1000e-driver-uio]  the guest without an IOMMU: the same over
//                    uio_pci_generic with a physical Bti, in polling mode
//                    and legacy INTx
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/bus/driver.h"
#include "udrv/core/port.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/drivers/e1000e/bus_driver.h"
#include "udrv/drivers/e1000e/e1000e.h"
#include "udrv/net/device.h"
#include "udrv/net/test_frame.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/uio.h"
#include "udrv/pci/vfio.h"

using udrv::Now;
using udrv::Result;
using udrv::Status;
using udrv::Time;
using udrv::testing::StatusOf;
using namespace std::chrono_literals;
namespace bus = udrv::bus;
namespace net = udrv::net;
namespace pci = udrv::pci;
namespace e1000e = udrv::drivers::e1000e;

namespace {


std::vector<pci::Address> FindNics() {
  pci::SysfsPci sysfs;
  auto addresses = sysfs.List();
  REQUIRE_OK(addresses);
  std::vector<pci::Address> nics;
  for (const pci::Address& address : *addresses) {
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    if (info->vendor_id == e1000e::kVendorId && info->device_id == e1000e::kDeviceId) {
      nics.push_back(address);
    }
  }
  return nics;
}

std::string ReadLine(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The Linux interface of a NIC bound to Linux's e1000e.
std::string InterfaceOf(const pci::Address& address) {
  const std::filesystem::path net = "/sys/bus/pci/devices/" + address.ToString() + "/net";
  const Time deadline = udrv::DeadlineAfter(5s);
  while (!std::filesystem::exists(net) || std::filesystem::is_empty(net)) {
    if (Now() >= deadline) {
      FAIL("no Linux interface for " << address.ToString() << " (is e1000e.ko loaded?)");
    }
    std::this_thread::sleep_for(50ms);
  }
  return std::filesystem::directory_iterator(net)->path().filename().string();
}

uint64_t LinuxStatistic(const std::string& interface, const std::string& name) {
  return std::stoull(ReadLine("/sys/class/net/" + interface + "/statistics/" + name));
}

void Shell(const std::string& command) {
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

// Linux's e1000e, loaded for the test (the guest carries it unloaded) and
// unloaded after. MSI (IntMode=1): QEMU 7.2 raises a second link change in
// MSI-X mode only to a driver that clears ICR, which Linux's does not.
class LinuxE1000e {
 public:
  LinuxE1000e() {
    if (std::filesystem::exists("/sys/module/e1000e")) return;
    Shell("insmod /lib/modules/e1000e.ko IntMode=1");
    loaded_ = true;
  }
  ~LinuxE1000e() {
    if (loaded_) (void)std::system("rmmod e1000e");
  }
  LinuxE1000e(const LinuxE1000e&) = delete;
  LinuxE1000e& operator=(const LinuxE1000e&) = delete;

 private:
  bool loaded_ = false;
};

// The second NIC, Linux's: up, quiet (no IPv6), carrier on.
struct Peer {
  pci::Address address;
  std::string interface;
  net::MacAddress mac;
};

Peer SetUpPeer(const pci::Address& address) {
  Peer peer{address, InterfaceOf(address), {}};
  auto mac = net::MacAddress::Parse(ReadLine("/sys/class/net/" + peer.interface + "/address"));
  REQUIRE_OK(mac);
  peer.mac = *mac;
  Shell("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6");
  Shell("echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6");
  Shell("ip link set " + peer.interface + " up");
  const Time deadline = udrv::DeadlineAfter(10s);
  while (ReadLine("/sys/class/net/" + peer.interface + "/carrier") != "1") {
    if (Now() >= deadline) FAIL("Linux's " << peer.interface << " has no carrier after 10 s");
    std::this_thread::sleep_for(100ms);
  }
  return peer;
}

// The driver started as the driver manager starts it, on a NIC bound to
// vfio-pci; the net child it publishes is captured.
class RunningNic {
 public:
  RunningNic(const pci::Address& address, const std::string& interrupts,
             const std::string& kernel_driver = "vfio-pci",
             const udrv::guest::BoundDevice::Open& open =
                 [](const pci::Address& a) { return pci::OpenVfioDevice(a); })
      : bound_(address, kernel_driver, open) {
    const bus::Driver driver = e1000e::MakeBusDriver();
    auto options = bus::DriverOptionValues::Defaults(driver.name, driver.options);
    REQUIRE_OK(options);
    REQUIRE_OK(options->Set("interrupts", interrupts));
    bus::DeviceNode node{.bus = "pci", .id = "pci/" + address.ToString(), .parent = "", .properties = {}};
    bus::ProtocolSet protocols;
    protocols.Add<pci::Device>(&bound_.device());
    context_ = std::make_unique<bus::DriverContext>(
        driver.name, node, protocols,
        [](std::string_view line) { UNSCOPED_INFO(std::string(line)); }, *options,
        [this, node](bus::ChildNode child) -> Result<bus::DeviceNode> {
          bus::DeviceNode published{.bus = child.bus,
                                    .id = node.id + "/" + child.name,
                                    .parent = node.id,
                                    .properties = child.properties};
          child_ = std::move(child);
          return published;
        });
    auto instance = driver.start(*context_);
    REQUIRE_OK(instance);
    instance_ = std::move(*instance);
    REQUIRE(child_.has_value());
    auto device = child_->protocols.Get<net::Device>();
    REQUIRE_OK(device);
    nic_ = *device;
  }
  ~RunningNic() { DropDriver(); }

  // Destroys the driver instance (it stops and drops its BAR mapping); the
  // device stays bound until the RunningNic goes.
  void DropDriver() {
    instance_.reset();
    context_.reset();
  }

  net::Device& nic() { return *nic_; }
  const bus::ChildNode& child() const { return *child_; }
  bus::DriverInstance& instance() { return *instance_; }

 private:
  udrv::guest::BoundDevice bound_;
  std::unique_ptr<bus::DriverContext> context_;
  std::optional<bus::ChildNode> child_;
  std::unique_ptr<bus::DriverInstance> instance_;
  net::Device* nic_ = nullptr;
};

void WaitForLink(net::Device& nic) {
  const Time deadline = udrv::DeadlineAfter(10s);
  for (;;) {
    auto link = nic.GetLinkState();
    REQUIRE_OK(link);
    if (link->up) {
      CHECK(link->speed_mbps == 1000);
      CHECK(link->full_duplex);
      return;
    }
    if (Now() >= deadline) FAIL("the link is not up after 10 s");
    std::this_thread::sleep_for(50ms);
  }
}

// Sends udrv's test frames 0..sizes.size()-1 to `to`, as fast as the ring
// takes them.
void SendTestFrames(net::Device& nic, const net::MacAddress& from, const net::MacAddress& to,
                    const std::vector<uint32_t>& sizes, bool interrupts) {
  size_t sent = 0;
  const Time deadline = udrv::DeadlineAfter(20s);
  while (sent < sizes.size()) {
    std::array<net::Packet, 8> batch;
    const size_t want = std::min(batch.size(), sizes.size() - sent);
    const size_t got = nic.AllocBuffers(std::span(batch).first(want));
    REQUIRE(got > 0);
    for (size_t i = 0; i < got; ++i) {
      const net::TestFrameSpec spec{
          .dst = to, .src = from, .stream = 0, .sequence = sent + i, .length = sizes[sent + i]};
      REQUIRE_OK(net::BuildTestFrame(std::span(batch[i].data, spec.length), spec));
      batch[i].length = spec.length;
    }
    auto taken = nic.TxBurst(std::span(batch).first(got));
    REQUIRE_OK(taken);
    nic.FreeBuffers(std::span(batch).subspan(*taken, got - *taken));
    sent += *taken;
    if (*taken < got) {
      REQUIRE(Now() < deadline);
      if (interrupts) {
        auto waited = nic.WaitForWork(udrv::DeadlineAfter(2s));
        if (!waited) REQUIRE(waited.error().status == Status::TIMED_OUT);
      } else {
        std::this_thread::sleep_for(1ms);
      }
    }
  }
}

// A linux_peer run in the background; its output and exit status land in
// files.
class BackgroundPeer {
 public:
  explicit BackgroundPeer(const std::string& arguments) {
    std::filesystem::remove(kOutput);
    std::filesystem::remove(kStatus);
    Shell("(linux_peer " + arguments + " > " + kOutput + " 2>&1; echo $? > " + kStatus + ".tmp; mv " +
          kStatus + ".tmp " + kStatus + ") &");
  }
  // Waits until its output holds `text`.
  void WaitForOutput(const std::string& text) {
    const Time deadline = udrv::DeadlineAfter(20s);
    while (Output().find(text) == std::string::npos) {
      if (Now() >= deadline) FAIL("linux_peer did not say '" << text << "': " << Output());
      std::this_thread::sleep_for(20ms);
    }
  }
  // Its exit status, once it ended (up to 60 s).
  int Wait() {
    const Time deadline = udrv::DeadlineAfter(60s);
    while (!std::filesystem::exists(kStatus)) {
      if (Now() >= deadline) FAIL("linux_peer did not end: " << Output());
      std::this_thread::sleep_for(50ms);
    }
    return std::stoi(ReadLine(kStatus));
  }
  std::string Output() const {
    std::ifstream in(kOutput);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  static constexpr const char* kOutput = "/tmp/e1000e-linux-peer.out";
  static constexpr const char* kStatus = "/tmp/e1000e-linux-peer.status";
};

// Waits up to 20 s for the driver's link notification on `port`.
bool NextLinkNotification(const udrv::Port& port, uint64_t key) {
  auto packet = port.Wait(udrv::DeadlineAfter(20s));
  REQUIRE_OK(packet);
  CHECK(packet->type == udrv::PacketType::USER);
  CHECK(packet->key == key);
  return packet->user[0] == 1;
}

// Waits until Linux's `statistic` of `interface` reached `target` (e1000e
// updates it every 2 s), then a little more: it must stay there.
uint64_t SettledLinuxStatistic(const std::string& interface, const std::string& statistic,
                               uint64_t target) {
  const Time deadline = udrv::DeadlineAfter(10s);
  uint64_t value = LinuxStatistic(interface, statistic);
  while (value < target && Now() < deadline) {
    std::this_thread::sleep_for(100ms);
    value = LinuxStatistic(interface, statistic);
  }
  std::this_thread::sleep_for(2500ms);
  return LinuxStatistic(interface, statistic);
}

struct ModeCase {
  const char* option;
  const char* reported;
  bool interrupts;
};

}  // namespace

// Everything the suite checks of one running NIC: its child node and info,
// the link, test frames both ways against Linux, the link flapped through
// QEMU's monitor, and stop.
void CheckRunningNic(RunningNic& running, const ModeCase& mode, const net::MacAddress& linux_mac,
                     const Peer& peer) {
  net::Device& nic = running.nic();
  // The child node, as the driver manager would publish it.
  CHECK(running.child().name == "port0");
  CHECK(running.child().bus == "net");
  CHECK(running.child().properties.FindString(std::string(net::kPropMac)) ==
        linux_mac.ToString());
  CHECK(running.child().properties.FindString(std::string(net::kPropDriver)) == "e1000e");
  const net::DeviceInfo info = nic.GetInfo();
  CHECK(info.driver == "e1000e");
  CHECK(info.mac == linux_mac);
  CHECK(info.interrupt_mode == mode.reported);
  CHECK(info.buffer_size == e1000e::kBufferSize);
  CHECK(info.pool_size == info.rx_ring_size + info.tx_ring_size + 512);
  WaitForLink(nic);

  // Frames out: Linux receives each, byte for byte and in order, and
  // counts exactly them.
  const std::vector<uint32_t> sizes = {60, 1514, 61, 127, 1000, 64, 1513, 333,
                                       60, 1514, 99, 1499, 60,  60, 1514, 777};
  auto counters_before = nic.GetCounters();
  REQUIRE_OK(counters_before);
  const uint64_t linux_rx_before = LinuxStatistic(peer.interface, "rx_packets");
  const uint64_t linux_rx_bytes_before = LinuxStatistic(peer.interface, "rx_bytes");
  {
    BackgroundPeer receiver("recv --iface " + peer.interface + " --count " +
                            std::to_string(sizes.size()) + " --timeout 30");
    receiver.WaitForOutput("ready");
    SendTestFrames(nic, info.mac, peer.mac, sizes, mode.interrupts);
    INFO(receiver.Output());
    CHECK(receiver.Wait() == 0);
  }
  CHECK(SettledLinuxStatistic(peer.interface, "rx_packets", linux_rx_before + sizes.size()) ==
        linux_rx_before + sizes.size());
  uint64_t bytes = 0;
  for (uint32_t size : sizes) bytes += size;
  // Linux's e1000e reports the NIC's GORC: with the FCS.
  CHECK(LinuxStatistic(peer.interface, "rx_bytes") - linux_rx_bytes_before ==
        bytes + 4 * sizes.size());
  REQUIRE_OK(nic.TxBurst({}));  // takes the last descriptors back
  auto counters_after = nic.GetCounters();
  REQUIRE_OK(counters_after);
  CHECK(counters_after->tx_packets - counters_before->tx_packets == sizes.size());
  CHECK(counters_after->tx_bytes - counters_before->tx_bytes == bytes);

  // Frames in: Linux sends, the driver receives each, in order.
  constexpr size_t kIncoming = 48;
  net::StreamVerifier verifier;
  size_t timeouts = 0;
  {
    BackgroundPeer sender("send --iface " + peer.interface + " --count " +
                          std::to_string(kIncoming) + " --size 60 --size 1514 --size 61 --size 999" +
                          " --dst " + info.mac.ToString());
    const Time deadline = udrv::DeadlineAfter(30s);
    while (verifier.tally().good < kIncoming && verifier.tally().ok() && Now() < deadline) {
      std::array<net::Packet, 16> received;
      auto count = nic.RxBurst(received);
      REQUIRE_OK(count);
      for (size_t i = 0; i < *count; ++i) {
        (void)verifier.Check(std::span<const std::byte>(received[i].data, received[i].length));
      }
      nic.FreeBuffers(std::span(received).first(*count));
      if (*count > 0) continue;
      if (mode.interrupts) {
        // Frames arrive while the driver waits: only their interrupt can
        // end the wait before its deadline.
        auto waited = nic.WaitForWork(udrv::DeadlineAfter(10s));
        if (!waited) {
          REQUIRE(waited.error().status == Status::TIMED_OUT);
          ++timeouts;
        }
      } else {
        REQUIRE_OK(nic.WaitForWork(udrv::DeadlineAfter(10s)));  // at once
        std::this_thread::sleep_for(1ms);
      }
    }
    INFO(sender.Output());
    CHECK(sender.Wait() == 0);
  }
  INFO(verifier.tally().first_error);
  CHECK(verifier.tally().ok());
  CHECK(verifier.tally().good == kIncoming);
  CHECK(timeouts == 0);
  auto counters_rx = nic.GetCounters();
  REQUIRE_OK(counters_rx);
  CHECK(counters_rx->rx_packets - counters_after->rx_packets == verifier.tally().frames + verifier.tally().other);
  CHECK(counters_rx->rx_errors == 0);
  CHECK(counters_rx->rx_missed == 0);

  // The link, dropped and back through QEMU's monitor: the driver says so.
  auto port = udrv::Port::Create("e1000e link watcher");
  REQUIRE_OK(port);
  auto watcher = port->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(watcher);
  REQUIRE_OK(nic.WatchLink(std::move(*watcher), 7));
  Shell("udrv-guest-request set_link nic0 off");
  CHECK_FALSE(NextLinkNotification(*port, 7));
  auto down = nic.GetLinkState();
  REQUIRE_OK(down);
  CHECK_FALSE(down->up);
  Shell("udrv-guest-request set_link nic0 on");
  CHECK(NextLinkNotification(*port, 7));
  WaitForLink(nic);

  // Stop: nothing works afterwards, and says so.
  REQUIRE_OK(running.instance().Stop());
  CHECK(StatusOf(nic.GetLinkState()) == "BAD_STATE");
  std::array<net::Packet, 1> none;
  CHECK(nic.AllocBuffers(none) == 0);
  CHECK(StatusOf(nic.RxBurst(none)) == "BAD_STATE");}

TEST_CASE("e1000e driver: bring-up, frames both ways, stop, in every interrupt mode",
          "[e1000e-driver]") {
  const auto nics = FindNics();
  REQUIRE(nics.size() >= 2);
  LinuxE1000e linux_driver;
  const pci::Address ours = nics[0];
  // Linux read the MAC address from the same EEPROM the driver reads.
  auto linux_mac =
      net::MacAddress::Parse(ReadLine("/sys/class/net/" + InterfaceOf(ours) + "/address"));
  REQUIRE_OK(linux_mac);
  CHECK(linux_mac->ToString() == "52:54:00:12:34:56");
  const Peer peer = SetUpPeer(nics[1]);
  CHECK(peer.mac.ToString() == "52:54:00:12:34:57");

  const ModeCase mode = GENERATE(ModeCase{"polling", "polling", false},
                                 ModeCase{"msix", "msi-x", true}, ModeCase{"msi", "msi", true},
                                 ModeCase{"legacy", "legacy", true});
  INFO("interrupts=" << mode.option);
  RunningNic running(ours, mode.option);
  CheckRunningNic(running, mode, *linux_mac, peer);
}

// The guest without an IOMMU: uio_pci_generic, a physical Bti (the pool and
// rings in 2 MiB huge pages), legacy INTx (uio offers no MSI) or polling.
TEST_CASE("e1000e driver over UIO: physical DMA, INTx and polling", "[e1000e-driver-uio]") {
  const auto nics = FindNics();
  REQUIRE(nics.size() >= 2);
  LinuxE1000e linux_driver;
  const pci::Address ours = nics[0];
  auto linux_mac =
      net::MacAddress::Parse(ReadLine("/sys/class/net/" + InterfaceOf(ours) + "/address"));
  REQUIRE_OK(linux_mac);
  const Peer peer = SetUpPeer(nics[1]);

  const ModeCase mode =
      GENERATE(ModeCase{"polling", "polling", false}, ModeCase{"auto", "legacy", true});
  INFO("interrupts=" << mode.option);
  pci::UioOptions options;
  options.physical_dma.device_may_reach_all_memory = true;
  RunningNic running(ours, mode.option, "uio",
                     [&options](const pci::Address& a) { return pci::OpenUioDevice(a, options); });
  CheckRunningNic(running, mode, *linux_mac, peer);
}

namespace {

// An IOVA nothing pins: the Bti hands out the lowest free IOVAs first, and
// the driver pins a few MiB.
constexpr uint64_t kNeverPinned = uint64_t{0x40} << 32;

// The kernel's log from now on (/dev/kmsg), for the IOMMU's fault report.
class KernelLog {
 public:
  KernelLog() : fd_(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
    REQUIRE(fd_.is_valid());
    REQUIRE(::lseek(fd_.get(), 0, SEEK_END) >= 0);
  }
  // Waits until `deadline` for a line holding both `first` and `second`.
  bool WaitFor(const std::string& first, const std::string& second, Time deadline) {
    for (;;) {
      char record[8192];
      for (;;) {
        const ssize_t n = ::read(fd_.get(), record, sizeof(record) - 1);
        if (n < 0 && errno == EPIPE) continue;
        if (n <= 0) break;
        record[n] = '\0';
        const std::string text(record);
        const size_t start = text.find(';');
        if (start != std::string::npos) lines_ += text.substr(start + 1, text.find('\n') - start) + "\n";
      }
      for (size_t at = lines_.find(first); at != std::string::npos; at = lines_.find(first, at + 1)) {
        const size_t end = lines_.find('\n', at);
        if (lines_.substr(at, end - at).find(second) != std::string::npos) return true;
      }
      if (Now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
  }
  const std::string& text() const { return lines_; }

 private:
  udrv::UniqueFd fd_;
  std::string lines_;
};

}  // namespace

TEST_CASE("e1000e driver: a frame from an IOVA never pinned is blocked, the ring recovers",
          "[e1000e-driver]") {
  const auto nics = FindNics();
  REQUIRE(nics.size() >= 2);
  LinuxE1000e linux_driver;
  const Peer peer = SetUpPeer(nics[1]);
  udrv::guest::BoundDevice bound(nics[0], "vfio-pci",
                                 [](const pci::Address& a) { return pci::OpenVfioDevice(a); });
  auto created = e1000e::E1000e::Create(bound.device());
  REQUIRE_OK(created);
  e1000e::E1000e& nic = **created;
  WaitForLink(nic);
  const net::MacAddress mac = nic.GetInfo().mac;

  KernelLog log;
  const uint64_t linux_rx_before = LinuxStatistic(peer.interface, "rx_packets");
  auto outcome = nic.SendUnpinnedForTest(kNeverPinned, 60, 2'000'000'000);
  REQUIRE_OK(outcome);
  const bool faulted = log.WaitFor("DMAR: [DMA Read", "fault addr " + udrv::Hex(kNeverPinned),
                                   udrv::DeadlineAfter(5s));
  INFO("unpinned transmit: descriptor done " << outcome->descriptor_done << ", head advanced "
                                             << outcome->head_advanced << ", frames sent "
                                             << outcome->frames_sent << "\nkernel log:\n"
                                             << log.text());
  // The IOMMU refused the NIC's read of the buffer, and said so.
  CHECK(faulted);
  // QEMU 7.2's e1000e then carries on as if the read had worked: it writes
  // DD back and sends the frame (GPTC counts it) with the zeros the failed
  // read gave, a frame to 00:00:00:00:00:00 that Linux's NIC filters out.
  // None of the guest's memory left the machine.
  CHECK(outcome->descriptor_done);
  CHECK(SettledLinuxStatistic(peer.interface, "rx_packets", linux_rx_before) == linux_rx_before);

  // Recovery: the ring reset, frames go out again, byte for byte.
  REQUIRE_OK(nic.ResetTxRing());
  const std::vector<uint32_t> sizes = {60, 1514, 200, 61, 1000, 60, 77, 1514};
  BackgroundPeer receiver("recv --iface " + peer.interface + " --count " +
                          std::to_string(sizes.size()) + " --timeout 30");
  receiver.WaitForOutput("ready");
  SendTestFrames(nic, mac, peer.mac, sizes, true);
  INFO(receiver.Output());
  CHECK(receiver.Wait() == 0);
  REQUIRE_OK(nic.Stop());
}

TEST_CASE("e1000e driver: the NIC taken away mid-burst says IO_NOT_PRESENT, nothing hangs",
          "[e1000e-remove]") {
  const std::vector<pci::Address> nics = FindNics();
  REQUIRE(nics.size() == 2);
  const pci::Address address = nics[0];
  const std::string path = "/sys/bus/pci/devices/" + address.ToString();
  {
    RunningNic running(address, "msix");
    net::Device& nic = running.nic();
    WaitForLink(nic);
    const net::MacAddress mac = nic.GetInfo().mac;

    // Frames out as fast as the ring takes them, waiting for completions,
    // until a call fails.
    std::atomic<uint64_t> sent = 0;
    Result<void> outcome;
    Time failed_at = 0;
    std::thread sender([&] {
      const Time deadline = udrv::DeadlineAfter(60s);
      for (uint64_t sequence = 0; Now() < deadline; ) {
        std::array<net::Packet, 16> batch;
        const size_t got = nic.AllocBuffers(batch);
        for (size_t i = 0; i < got; ++i) {
          const net::TestFrameSpec spec{.dst = net::kBroadcastMac, .src = mac, .stream = 0,
                                        .sequence = sequence + i, .length = 60};
          (void)net::BuildTestFrame(std::span(batch[i].data, 60), spec);
          batch[i].length = 60;
        }
        auto taken = nic.TxBurst(std::span(batch).first(got));
        if (!taken) {
          nic.FreeBuffers(std::span(batch).first(got));
          outcome = std::unexpected(taken.error());
          break;
        }
        nic.FreeBuffers(std::span(batch).subspan(*taken, got - *taken));
        sequence += *taken;
        sent.store(sequence);
        auto waited = nic.WaitForWork(udrv::DeadlineAfter(30s));
        if (!waited && waited.error().status != Status::TIMED_OUT) {
          outcome = std::unexpected(waited.error());
          break;
        }
      }
      failed_at = Now();
    });
    while (sent.load() < 1000) std::this_thread::sleep_for(10ms);

    const std::string command = "echo 1 > " + path + "/remove";
    const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
    pid_t remover = 0;
    REQUIRE(::posix_spawn(&remover, "/bin/sh", nullptr, nullptr,
                          const_cast<char* const*>(argv), environ) == 0);
    const Time removed_at = Now();
    sender.join();
    INFO("frames sent before: " << sent.load());
    REQUIRE_FALSE(outcome);
    CHECK(StatusOf(outcome) == "IO_NOT_PRESENT");
    // Seen within a few service-thread periods (100 ms), not a 30 s wait.
    CHECK(failed_at - removed_at < udrv::Duration{2'000'000'000});
    CHECK(StatusOf(nic.RxBurst(std::span<net::Packet>())) == "IO_NOT_PRESENT");
    CHECK(StatusOf(nic.GetLinkState()) == "IO_NOT_PRESENT");

    // Stop ends on its deadlines, the mapping goes with the driver, and
    // the kernel's removal, which waited for it, completes.
    const Time stop_start = Now();
    (void)running.instance().Stop();
    CHECK(Now() - stop_start < udrv::Duration{5'000'000'000});
    running.DropDriver();
    int status = 0;
    const Time deadline = udrv::DeadlineAfter(20s);
    while (::waitpid(remover, &status, WNOHANG) == 0) {
      REQUIRE(Now() < deadline);
      std::this_thread::sleep_for(20ms);
    }
    CHECK(!std::filesystem::exists(path));
    // Back on the bus before the binding is undone (RunningNic's end).
    Shell("echo 1 > /sys/bus/pci/rescan");
    const Time back = udrv::DeadlineAfter(10s);
    while (!std::filesystem::exists(path)) {
      REQUIRE(Now() < back);
      std::this_thread::sleep_for(50ms);
    }
  }
  CHECK(FindNics().size() == 2);
}
