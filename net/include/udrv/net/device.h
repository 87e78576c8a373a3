// net::Device: the protocol every NIC driver implements, after DPDK's ethdev
// burst API and ixy's ixy_device, kept small. A NIC driver publishes one as
// a child node of its PCI device (bus "net", protocol "net"); tools
// (udrv-net) and drivers of the net bus (net-traffic) use it.
//
// Zero copy: a Packet is a buffer of the device's own pool, pinned once for
// that device when the driver started. RxBurst hands received buffers to the
// caller; TxBurst takes them back (the driver returns each to the pool once
// the NIC has sent it); AllocBuffers/FreeBuffers take from and give back to
// the pool without a system call. A buffer belongs to one device: moving a
// frame to another port copies it (the other device cannot reach it).
//
// One thread at a time calls a Device's methods (as a DPDK queue); only
// WatchLink's notifications arrive from elsewhere (the driver's own thread).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/bus/protocol.h"
#include "udrv/core/port.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"

namespace udrv::net {

// The bus and protocol name of the nodes NIC drivers publish, and their
// properties.
inline constexpr std::string_view kBusName = "net";
inline constexpr std::string_view kPropMac = "net.mac";          // "52:54:00:12:34:56"
inline constexpr std::string_view kPropDriver = "net.driver";    // the NIC driver: "e1000e"

struct MacAddress {
  std::array<uint8_t, 6> bytes{};
  // "52:54:00:12:34:56".
  std::string ToString() const;
  // INVALID_ARGS quoting `text` for anything but six ':'-separated hex bytes.
  static Result<MacAddress> Parse(std::string_view text);
  bool operator==(const MacAddress&) const = default;
};

struct LinkState {
  bool up = false;
  uint32_t speed_mbps = 0;  // 0 while down
  bool full_duplex = false;
  bool operator==(const LinkState&) const = default;
};

// What the NIC's receive checksum offload said of a frame: a hint the NIC
// computed, never a guarantee (a user verifies what matters to it).
enum class ChecksumStatus : uint8_t {
  NOT_CHECKED = 0,  // the NIC did not look (not IP/TCP/UDP, or offload off)
  GOOD = 1,
  BAD = 2,
};
std::string_view ChecksumStatusName(ChecksumStatus status);

// One buffer of a device's pool: `length` bytes of a frame (Ethernet header
// first, no FCS) at `data`, which has room for DeviceInfo::buffer_size.
struct Packet {
  std::byte* data = nullptr;
  uint32_t length = 0;
  uint32_t buffer = 0;  // the buffer's index in its pool
  // Receive only: the NIC's checksum verdicts.
  ChecksumStatus ip_checksum = ChecksumStatus::NOT_CHECKED;
  ChecksumStatus l4_checksum = ChecksumStatus::NOT_CHECKED;
};

// Counters since the driver started: the NIC's own (named as its datasheet
// names them: "GPRC", "GPTC", ...) and the driver's.
struct NamedCounter {
  std::string name;
  uint64_t value = 0;
};
struct Counters {
  // From the NIC: good frames and their bytes (FCS excluded), as Linux
  // reports rx_packets/tx_packets/rx_bytes/tx_bytes.
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  // Frames the NIC dropped for want of a free receive descriptor.
  uint64_t rx_missed = 0;
  // The driver's: frames the NIC flagged bad and the driver dropped; frames
  // the NIC's checksum offload called bad (delivered, flagged).
  uint64_t rx_errors = 0;
  uint64_t rx_checksum_bad = 0;
  // Every statistics register the driver reads, by its datasheet name.
  std::vector<NamedCounter> device;
};

struct DeviceInfo {
  std::string driver;  // "e1000e"
  std::string name;    // the device as its bus names it: "0000:00:03.0"
  MacAddress mac;
  uint32_t rx_ring_size = 0;  // descriptors
  uint32_t tx_ring_size = 0;
  uint32_t buffer_size = 0;   // bytes each Packet can hold
  uint32_t pool_size = 0;     // buffers in the pool
  // "msi-x", "msi", "legacy" or "polling" (no interrupts at all).
  std::string interrupt_mode;
};

class Device {
 public:
  virtual ~Device() = default;

  virtual DeviceInfo GetInfo() const = 0;

  // The link as the NIC reports it now.
  virtual Result<LinkState> GetLinkState() = 0;
  // From now on, each change of the link queues a USER packet with `key` on
  // `port` (user[0]: 1 up, 0 down). One watcher; a second call replaces it.
  virtual Result<void> WatchLink(Port port, uint64_t key) = 0;

  // Up to out.size() free buffers of the pool, for frames to send; returns
  // how many (0 when none is free).
  virtual size_t AllocBuffers(std::span<Packet> out) = 0;
  // Gives buffers back to the pool (received ones the caller is done with,
  // allocated ones it did not send).
  virtual void FreeBuffers(std::span<const Packet> packets) = 0;

  // Up to out.size() received frames, in order; the caller owns them.
  // IO_NOT_PRESENT once the device is gone.
  virtual Result<size_t> RxBurst(std::span<Packet> out) = 0;
  // Queues packets to send, in order; returns how many it took (the rest
  // stay the caller's: the ring is full). IO_NOT_PRESENT once the device is
  // gone; INVALID_ARGS for a packet not of this pool or longer than a frame.
  virtual Result<size_t> TxBurst(std::span<const Packet> packets) = 0;

  // Interrupt modes: waits until a frame arrived or a sent one completed
  // (TIMED_OUT at `deadline`). Polling mode returns at once.
  virtual Result<void> WaitForWork(Time deadline) = 0;

  virtual Result<Counters> GetCounters() = 0;
};

}  // namespace udrv::net

template <>
struct udrv::bus::ProtocolTraits<udrv::net::Device> {
  static constexpr std::string_view kName = "net";
};
