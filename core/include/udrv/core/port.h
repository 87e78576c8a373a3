// Ports, as Zircon's (zx_port_*): a queue of packets a driver thread waits
// on. User packets come from Queue; interrupts bound to the port add
// INTERRUPT packets. On Linux a port is an epoll instance watching the bound
// interrupts' eventfds and an eventfd that stands for the user packet queue.
//
// Rights, as the syscalls: Queue needs WRITE, Wait needs READ; binding an
// interrupt needs WRITE on the port.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "udrv/core/handle.h"
#include "udrv/core/result.h"
#include "udrv/core/status.h"
#include "udrv/core/time.h"

namespace udrv {

// Values as ZX_PKT_TYPE_*.
enum class PacketType : uint32_t { USER = 0, INTERRUPT = 8 };

// zx_port_packet_t. Only the payload its type names is meaningful.
struct PortPacket {
  uint64_t key = 0;
  PacketType type = PacketType::USER;
  Status status = Status::OK;
  std::array<uint8_t, 32> user{};  // USER: whatever the sender queued
  struct InterruptPayload {
    Time timestamp = 0;  // when the interrupt fired (see Interrupt::Wait)
  };
  InterruptPayload interrupt{};  // INTERRUPT
};

class PortObject;
std::string DescribeObject(const PortObject& object);

class Port : public Handle<Port, PortObject> {
 public:
  Port() = default;

  // Default port rights. `name` appears in errors.
  static Result<Port> Create(std::string name = "port");

  // Queues a USER packet (zx_port_queue): `type` is taken as USER whatever it
  // says; key, status and the user payload travel as given. SHOULD_WAIT when
  // kMaxQueuedPackets user packets are already waiting.
  Result<void> Queue(const PortPacket& packet) const;

  // The next packet, or TIMED_OUT once `deadline` passes (zx_port_wait).
  Result<PortPacket> Wait(Time deadline) const;

  // As Zircon's per-port limit on pending packets.
  static constexpr size_t kMaxQueuedPackets = 16 * 1024;

 private:
  friend class Handle<Port, PortObject>;
  friend class Interrupt;
  Port(std::shared_ptr<PortObject> object, Rights rights) : Handle(std::move(object), rights) {}
};

}  // namespace udrv
