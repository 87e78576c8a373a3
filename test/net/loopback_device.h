// A net::Device in memory, for the traffic tests: a pool of buffers, a TX
// ring that a "wire" drains into a peer's RX queue (itself by default), and
// hooks to drop, duplicate, corrupt or add frames on that wire and to fail
// calls. The wire moves frames only in WaitForWork, so a sender that never
// waits sees its ring fill up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "udrv/net/device.h"

namespace udrv::testing {

struct LoopbackConfig {
  std::string name = "loop0";
  uint32_t pool_size = 64;
  uint32_t buffer_size = 2048;
  uint32_t tx_ring_size = 16;
  uint32_t rx_ring_size = 64;  // received frames waiting; more are missed
};

class LoopbackDevice final : public net::Device {
 public:
  using Frame = std::vector<std::byte>;
  // What the wire delivers for frame number `index` (from 0): the frame
  // itself by default; none drops it, two duplicate it.
  using WireHook = std::function<std::vector<Frame>(Frame frame, uint64_t index)>;

  using Config = LoopbackConfig;

  explicit LoopbackDevice(Config config = {}) : config_(std::move(config)) {
    storage_.resize(size_t{config_.pool_size} * config_.buffer_size);
    for (uint32_t i = 0; i < config_.pool_size; ++i) free_.push_back(i);
    mac_.bytes = {0x52, 0x54, 0x00, 0x12, 0x34, static_cast<uint8_t>(config_.name.size())};
  }

  // Where sent frames go (this device unless set).
  void ConnectTo(LoopbackDevice* peer) { peer_ = peer; }
  void SetWireHook(WireHook hook) { wire_hook_ = std::move(hook); }
  // The wire stops moving frames (a NIC that never completes a send).
  void SetWireStuck(bool stuck) { wire_stuck_ = stuck; }
  // Every later RxBurst and TxBurst fails with this (a device gone).
  void FailWith(Status status) { fail_with_ = status; }
  void SetLinkUp(bool up) { link_up_ = up; }

  // A frame arrives as if from the wire.
  void Inject(std::span<const std::byte> frame) {
    if (rx_.size() >= config_.rx_ring_size || free_.empty()) {
      ++counters_.rx_missed;
      return;
    }
    const uint32_t buffer = free_.back();
    free_.pop_back();
    std::memcpy(Data(buffer), frame.data(), frame.size());
    rx_.push_back(net::Packet{Data(buffer), static_cast<uint32_t>(frame.size()), buffer});
    ++counters_.rx_packets;
    counters_.rx_bytes += frame.size();
  }

  // Buffers back in the pool now: the pool's size once every caller gave
  // back what it took and the wire is idle.
  size_t free_buffers() const { return free_.size(); }
  size_t tx_in_flight() const { return tx_.size(); }
  uint64_t wait_calls() const { return wait_calls_; }

  net::DeviceInfo GetInfo() const override {
    return net::DeviceInfo{.driver = "loopback",
                           .name = config_.name,
                           .mac = mac_,
                           .rx_ring_size = config_.rx_ring_size,
                           .tx_ring_size = config_.tx_ring_size,
                           .buffer_size = config_.buffer_size,
                           .pool_size = config_.pool_size,
                           .interrupt_mode = "polling"};
  }
  Result<net::LinkState> GetLinkState() override {
    return net::LinkState{.up = link_up_, .speed_mbps = link_up_ ? 1000u : 0u, .full_duplex = link_up_};
  }
  Result<void> WatchLink(Port, uint64_t) override {
    return Fail(Status::NOT_SUPPORTED, "loopback: no link changes");
  }

  size_t AllocBuffers(std::span<net::Packet> out) override {
    size_t n = 0;
    for (; n < out.size() && !free_.empty(); ++n) {
      const uint32_t buffer = free_.back();
      free_.pop_back();
      out[n] = net::Packet{Data(buffer), 0, buffer};
    }
    return n;
  }
  void FreeBuffers(std::span<const net::Packet> packets) override {
    for (const net::Packet& packet : packets) free_.push_back(packet.buffer);
  }

  Result<size_t> RxBurst(std::span<net::Packet> out) override {
    if (fail_with_) return Fail(*fail_with_, "loopback: rx", config_.name);
    size_t n = 0;
    for (; n < out.size() && !rx_.empty(); ++n) {
      out[n] = rx_.front();
      rx_.pop_front();
    }
    return n;
  }
  Result<size_t> TxBurst(std::span<const net::Packet> packets) override {
    if (fail_with_) return Fail(*fail_with_, "loopback: tx", config_.name);
    size_t n = 0;
    for (; n < packets.size() && tx_.size() < config_.tx_ring_size; ++n) {
      const net::Packet& packet = packets[n];
      if (packet.buffer >= config_.pool_size || packet.data != Data(packet.buffer) ||
          packet.length > 1514) {
        return Fail(Status::INVALID_ARGS, "loopback: a packet not of this pool", config_.name);
      }
      tx_.push_back(packet);
    }
    return n;
  }
  Result<void> WaitForWork(Time) override {
    ++wait_calls_;
    if (!wire_stuck_) MoveWire();
    return {};
  }
  Result<net::Counters> GetCounters() override {
    if (!wire_stuck_) MoveWire();  // the NIC keeps sending while the caller reads counters
    return counters_;
  }

 private:
  std::byte* Data(uint32_t buffer) { return storage_.data() + size_t{buffer} * config_.buffer_size; }

  // Sends what the TX ring holds: to the peer, through the hook.
  void MoveWire() {
    LoopbackDevice* peer = peer_ != nullptr ? peer_ : this;
    while (!tx_.empty()) {
      const net::Packet packet = tx_.front();
      tx_.pop_front();
      Frame frame(packet.data, packet.data + packet.length);
      free_.push_back(packet.buffer);
      ++counters_.tx_packets;
      counters_.tx_bytes += frame.size();
      std::vector<Frame> delivered;
      if (wire_hook_) {
        delivered = wire_hook_(std::move(frame), wire_index_);
      } else {
        delivered.push_back(std::move(frame));
      }
      ++wire_index_;
      for (const Frame& out : delivered) peer->Inject(out);
    }
  }

  Config config_;
  net::MacAddress mac_;
  std::vector<std::byte> storage_;
  std::vector<uint32_t> free_;
  std::deque<net::Packet> tx_;
  std::deque<net::Packet> rx_;
  net::Counters counters_;
  LoopbackDevice* peer_ = nullptr;
  WireHook wire_hook_;
  bool wire_stuck_ = false;
  bool link_up_ = true;
  std::optional<Status> fail_with_;
  uint64_t wire_index_ = 0;
  uint64_t wait_calls_ = 0;
};

}  // namespace udrv::testing
