// The e1000e driver (drivers/net/e1000e) over VFIO in the x86_64 guest with
// an IOMMU, with Linux as the oracle: the guest has two 82574Ls on one QEMU
// hub; the test drives the first through the driver's bus::Driver (as the
// driver manager would, capturing the net child it publishes) and leaves
// the second to Linux's e1000e, whose statistics and arping check what
// went over the wire.
//   [e1000e-driver]  bring-up (MAC as Linux read it, link), frames sent
//                    (Linux counts exactly them) and received (Linux's
//                    ARPs) in each interrupt mode and polling, and stop
#include <unistd.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
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
#include "udrv/core/time.h"
#include "udrv/drivers/e1000e/bus_driver.h"
#include "udrv/drivers/e1000e/e1000e.h"
#include "udrv/net/device.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/pci/sysfs.h"
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

constexpr uint16_t kEtherTypeTest = 0x88b5;  // IEEE local experimental
constexpr uint16_t kEtherTypeArp = 0x0806;

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

// The second NIC, Linux's: up, quiet (no IPv6), carrier on, an address for
// arping.
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
  Shell("ip addr flush dev " + peer.interface + " && ip addr add 10.99.0.2/24 dev " + peer.interface);
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
  RunningNic(const pci::Address& address, const std::string& interrupts)
      : bound_(address, "vfio-pci", [](const pci::Address& a) { return pci::OpenVfioDevice(a); }) {
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
  ~RunningNic() {
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

void PutEthernetHeader(std::byte* frame, const net::MacAddress& destination,
                       const net::MacAddress& source, uint16_t ether_type) {
  for (size_t i = 0; i < 6; ++i) {
    frame[i] = std::byte{destination.bytes[i]};
    frame[6 + i] = std::byte{source.bytes[i]};
  }
  frame[12] = std::byte(ether_type >> 8);
  frame[13] = std::byte(ether_type & 0xff);
}

uint16_t EtherTypeOf(const net::Packet& packet) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(packet.data[12]) << 8 |
                               std::to_integer<uint16_t>(packet.data[13]));
}

net::MacAddress SourceOf(const net::Packet& packet) {
  net::MacAddress mac;
  for (size_t i = 0; i < 6; ++i) mac.bytes[i] = std::to_integer<uint8_t>(packet.data[6 + i]);
  return mac;
}

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

// Sends `sizes.size()` frames to the peer, as fast as the ring takes them.
void SendFrames(net::Device& nic, const net::MacAddress& from, const net::MacAddress& to,
                const std::vector<uint32_t>& sizes, bool interrupts) {
  size_t sent = 0;
  const Time deadline = udrv::DeadlineAfter(20s);
  while (sent < sizes.size()) {
    std::array<net::Packet, 8> batch;
    const size_t want = std::min(batch.size(), sizes.size() - sent);
    const size_t got = nic.AllocBuffers(std::span(batch).first(want));
    REQUIRE(got > 0);
    for (size_t i = 0; i < got; ++i) {
      const uint32_t size = sizes[sent + i];
      PutEthernetHeader(batch[i].data, to, from, kEtherTypeTest);
      for (uint32_t b = 14; b < size; ++b) batch[i].data[b] = std::byte(static_cast<uint8_t>(b + sent + i));
      batch[i].length = size;
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

TEST_CASE("e1000e driver: bring-up, frames both ways, stop, in every interrupt mode",
          "[e1000e-driver]") {
  const auto nics = FindNics();
  REQUIRE(nics.size() >= 2);
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
  net::Device& nic = running.nic();

  // The child node, as the driver manager would publish it.
  CHECK(running.child().name == "port0");
  CHECK(running.child().bus == "net");
  CHECK(running.child().properties.FindString(std::string(net::kPropMac)) ==
        linux_mac->ToString());
  CHECK(running.child().properties.FindString(std::string(net::kPropDriver)) == "e1000e");
  const net::DeviceInfo info = nic.GetInfo();
  CHECK(info.driver == "e1000e");
  CHECK(info.mac == *linux_mac);
  CHECK(info.interrupt_mode == mode.reported);
  CHECK(info.buffer_size == e1000e::kBufferSize);
  CHECK(info.pool_size == info.rx_ring_size + info.tx_ring_size + 512);
  WaitForLink(nic);

  // Frames out: Linux counts exactly them.
  const std::vector<uint32_t> sizes = {60, 1514, 61, 127, 1000, 64, 1513, 333,
                                       60, 1514, 99, 1499, 60,  60, 1514, 777};
  auto counters_before = nic.GetCounters();
  REQUIRE_OK(counters_before);
  const uint64_t linux_rx_before = LinuxStatistic(peer.interface, "rx_packets");
  const uint64_t linux_rx_bytes_before = LinuxStatistic(peer.interface, "rx_bytes");
  SendFrames(nic, info.mac, peer.mac, sizes, mode.interrupts);
  CHECK(SettledLinuxStatistic(peer.interface, "rx_packets", linux_rx_before + sizes.size()) ==
        linux_rx_before + sizes.size());
  uint64_t bytes = 0;
  for (uint32_t size : sizes) bytes += size;
  // Linux's e1000e reports the NIC's GORC: with the FCS.
  CHECK(LinuxStatistic(peer.interface, "rx_bytes") - linux_rx_bytes_before ==
        bytes + 4 * sizes.size());
  auto counters_after = nic.GetCounters();
  REQUIRE_OK(counters_after);
  CHECK(counters_after->tx_packets - counters_before->tx_packets == sizes.size());
  CHECK(counters_after->tx_bytes - counters_before->tx_bytes == bytes);

  // Frames in: Linux's ARP requests (broadcast), two of them a second apart.
  const uint64_t linux_tx_before = LinuxStatistic(peer.interface, "tx_packets");
  Shell("arping -c 2 -I " + peer.interface + " 10.99.0.1 > /dev/null 2>&1 &");
  size_t arps = 0;
  size_t timeouts = 0;
  const Time deadline = udrv::DeadlineAfter(15s);
  while (arps < 2 && Now() < deadline) {
    std::array<net::Packet, 16> received;
    auto count = nic.RxBurst(received);
    REQUIRE_OK(count);
    for (size_t i = 0; i < *count; ++i) {
      if (EtherTypeOf(received[i]) == kEtherTypeArp && SourceOf(received[i]) == peer.mac) {
        CHECK(received[i].length == 60);  // 42 bytes of ARP, padded by Linux's NIC
        ++arps;
      }
    }
    nic.FreeBuffers(std::span(received).first(*count));
    if (*count > 0) continue;
    if (mode.interrupts) {
      auto waited = nic.WaitForWork(udrv::DeadlineAfter(3s));
      if (!waited) {
        REQUIRE(waited.error().status == Status::TIMED_OUT);
        ++timeouts;
      }
    } else {
      REQUIRE_OK(nic.WaitForWork(udrv::DeadlineAfter(3s)));  // at once
      std::this_thread::sleep_for(1ms);
    }
  }
  CHECK(arps == 2);
  // arping sends one a second: the second arrived while the driver waited,
  // and only its interrupt could end that wait in time.
  CHECK(timeouts == 0);
  CHECK(SettledLinuxStatistic(peer.interface, "tx_packets", linux_tx_before + 2) ==
        linux_tx_before + 2);
  auto counters_rx = nic.GetCounters();
  REQUIRE_OK(counters_rx);
  CHECK(counters_rx->rx_packets - counters_after->rx_packets == 2);
  CHECK(counters_rx->rx_bytes - counters_after->rx_bytes == 2 * 60);
  CHECK(counters_rx->rx_errors == 0);

  // Stop: nothing works afterwards, and says so.
  REQUIRE_OK(running.instance().Stop());
  CHECK(StatusOf(nic.GetLinkState()) == "BAD_STATE");
  std::array<net::Packet, 1> none;
  CHECK(nic.AllocBuffers(none) == 0);
  CHECK(StatusOf(nic.RxBurst(none)) == "BAD_STATE");
}
