// Shared state behind Interrupt and Port handles (private to udrv_core).
//
// Locking: an InterruptObject's mutex may be held while taking its port's
// mutex (Bind, Unbind, Destroy), never the other way round: PortObject::Wait
// drops the port's mutex before it asks an interrupt for its packet.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "udrv/core/interrupt.h"
#include "udrv/core/port.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"

namespace udrv {

class InterruptObject;

// What the interrupt's fd is: an eventfd (an 8-byte counter the kernel or
// Trigger adds to) or a /dev/uioN (reads give the 4-byte interrupt count).
enum class InterruptFdKind : uint8_t { EVENTFD, UIO };

// Creates an eventfd with EFD_CLOEXEC | EFD_NONBLOCK.
Result<UniqueFd> MakeEventfd(std::string_view purpose, const std::string& object);

// OK if `fd` is an eventfd (by its /proc/self/fd link), WRONG_TYPE otherwise.
Result<void> CheckIsEventfd(int fd, std::string_view what, const std::string& object);

// The object for an interrupt signalled through `eventfd` (which must be one:
// WRONG_TYPE otherwise); makes it non-blocking and adds the cancel eventfd.
Result<std::shared_ptr<InterruptObject>> MakeInterruptObject(UniqueFd eventfd, bool is_virtual,
                                                             std::string name,
                                                             std::function<Result<void>()> on_ack);

class PortObject {
 public:
  PortObject(UniqueFd epoll_fd, UniqueFd user_event_fd, std::string name);

  std::string Describe() const;
  Result<void> Queue(const PortPacket& packet);
  Result<PortPacket> Wait(Time deadline);

  // Interrupt bindings; the caller holds the interrupt's mutex. The interrupt's
  // eventfd is watched with EPOLLONESHOT: after one packet it stays quiet
  // until RearmInterrupt (from Interrupt::Ack).
  Result<uint64_t> AddInterrupt(std::weak_ptr<InterruptObject> interrupt, int event_fd);
  Result<void> RearmInterrupt(uint64_t binding_id, int event_fd);
  void RemoveInterrupt(uint64_t binding_id, int event_fd);

 private:
  const UniqueFd epoll_fd_;
  // Readable while user_packets_ is not empty (written and drained under mutex_).
  const UniqueFd user_event_fd_;
  const std::string name_;
  std::mutex mutex_;
  std::deque<PortPacket> user_packets_;
  std::unordered_map<uint64_t, std::weak_ptr<InterruptObject>> interrupts_;
  uint64_t next_binding_id_ = 1;  // epoll tag 0 is the user packet eventfd
};

class InterruptObject : public std::enable_shared_from_this<InterruptObject> {
 public:
  InterruptObject(UniqueFd event_fd, UniqueFd cancel_fd, InterruptFdKind fd_kind, bool is_virtual,
                  std::string name, std::function<Result<void>()> on_ack);
  ~InterruptObject();
  InterruptObject(const InterruptObject&) = delete;
  InterruptObject& operator=(const InterruptObject&) = delete;

  std::string Describe() const;
  bool is_virtual() const { return is_virtual_; }
  const std::string& name() const { return name_; }
  int event_fd() const { return event_fd_.get(); }

  Result<Time> Wait(Time deadline);
  Result<void> Trigger(Time timestamp);
  Result<void> Ack();
  Result<void> Destroy();
  bool destroyed();
  Result<void> Bind(std::shared_ptr<PortObject> port, uint64_t key);
  Result<void> Unbind(const PortObject* port);

  // OK when the interrupt can be sent to another process: not destroyed
  // (CANCELED), not bound to a port (BAD_STATE), since the eventfd would
  // then have two consumers, and signalled through an eventfd (a UIO
  // interrupt is NOT_SUPPORTED: the receiver rebuilds eventfds only).
  Result<void> CheckTransferable();

  // For PortObject::Wait after epoll reported binding `binding_id`: the
  // INTERRUPT packet, or nullopt when there is none to deliver (the binding is
  // gone, or the eventfd was already drained; it is then re-armed).
  Result<std::optional<PortPacket>> TakePortPacket(uint64_t binding_id);

 private:
  // Reads the eventfd: the interrupt's timestamp, or nullopt if nothing was
  // pending. Holds mutex_.
  Result<std::optional<Time>> ConsumeLocked();
  // Wait's blocking part, without mutex_ held.
  Result<Time> WaitUnlocked(Time deadline);
  // Runs on_ack_ for an interrupt that was delivered and not yet acked.
  Result<void> AckDeliveredLocked(std::string_view op);

  const UniqueFd event_fd_;  // an eventfd or, for InterruptFdKind::UIO, a /dev/uioN
  // Becomes readable at Destroy and stays so: every waiter wakes.
  const UniqueFd cancel_fd_;
  const InterruptFdKind fd_kind_;
  const bool is_virtual_;
  const std::string name_;
  const std::function<Result<void>()> on_ack_;

  std::mutex mutex_;
  bool destroyed_ = false;
  // An interrupt went out (Wait returned or a packet was queued) and was not acked.
  bool awaiting_ack_ = false;
  int waiters_ = 0;
  // Timestamp of the first Trigger since the eventfd was last read.
  std::optional<Time> trigger_timestamp_;
  std::shared_ptr<PortObject> port_;  // keeps the port alive while bound
  uint64_t key_ = 0;
  uint64_t binding_id_ = 0;
};

namespace internal {

// Lets udrv_core's own code (handle transfer) reach the object behind an
// Interrupt and make handles for received ones.
struct InterruptAccess {
  static const std::shared_ptr<InterruptObject>& Object(const Interrupt& interrupt) {
    return interrupt.object();
  }
  static Interrupt Make(std::shared_ptr<InterruptObject> object, Rights rights) {
    return Interrupt(std::move(object), rights);
  }
};

}  // namespace internal
}  // namespace udrv
