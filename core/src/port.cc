#include "udrv/core/port.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "interrupt_object.h"

namespace udrv {
namespace {

// epoll tag of the user packet eventfd; interrupt bindings count from 1.
constexpr uint64_t kUserPacketsTag = 0;

}  // namespace

PortObject::PortObject(UniqueFd epoll_fd, UniqueFd user_event_fd, std::string name)
    : epoll_fd_(std::move(epoll_fd)),
      user_event_fd_(std::move(user_event_fd)),
      name_(std::move(name)) {}

std::string PortObject::Describe() const { return "port '" + name_ + "'"; }

Result<void> PortObject::Queue(const PortPacket& packet) {
  std::lock_guard lock(mutex_);
  if (user_packets_.size() >= Port::kMaxQueuedPackets) {
    return Fail(Status::SHOULD_WAIT,
                "queue: " + std::to_string(user_packets_.size()) + " packets already pending",
                Describe());
  }
  if (user_packets_.empty()) {
    const uint64_t one = 1;
    if (write(user_event_fd_.get(), &one, sizeof(one)) < 0) {
      return FailErrno(errno, "write(port user packet eventfd)", Describe());
    }
  }
  PortPacket& queued = user_packets_.emplace_back(packet);
  queued.type = PacketType::USER;
  queued.interrupt = {};
  return {};
}

Result<PortPacket> PortObject::Wait(Time deadline) {
  for (;;) {
    epoll_event event{};
    const int ready = epoll_wait(epoll_fd_.get(), &event, 1, TimeoutMsUntil(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "epoll_wait(port)", Describe());
    }
    if (ready == 0) return Fail(Status::TIMED_OUT, "wait: deadline passed", Describe());

    std::unique_lock lock(mutex_);
    if (event.data.u64 == kUserPacketsTag) {
      // Another waiter may have taken the last packet since epoll_wait returned.
      if (user_packets_.empty()) continue;
      PortPacket packet = user_packets_.front();
      user_packets_.pop_front();
      if (user_packets_.empty()) {
        uint64_t count = 0;
        if (read(user_event_fd_.get(), &count, sizeof(count)) < 0) {
          return FailErrno(errno, "read(port user packet eventfd)", Describe());
        }
      }
      return packet;
    }
    auto found = interrupts_.find(event.data.u64);
    if (found == interrupts_.end()) continue;  // unbound meanwhile
    std::shared_ptr<InterruptObject> interrupt = found->second.lock();
    lock.unlock();  // the interrupt's mutex comes first (see interrupt_object.h)
    if (!interrupt) continue;
    auto packet = interrupt->TakePortPacket(event.data.u64);
    if (!packet) return Wrap(std::move(packet.error()), "wait on " + Describe());
    if (*packet) return **packet;
  }
}

Result<uint64_t> PortObject::AddInterrupt(std::weak_ptr<InterruptObject> interrupt, int event_fd) {
  std::lock_guard lock(mutex_);
  const uint64_t binding_id = next_binding_id_++;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.u64 = binding_id;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, event_fd, &event) < 0) {
    return FailErrno(errno, "epoll_ctl(ADD interrupt eventfd)", Describe());
  }
  interrupts_.emplace(binding_id, std::move(interrupt));
  return binding_id;
}

Result<void> PortObject::RearmInterrupt(uint64_t binding_id, int event_fd) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.u64 = binding_id;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, event_fd, &event) < 0) {
    return FailErrno(errno, "epoll_ctl(MOD interrupt eventfd) to re-arm it", Describe());
  }
  return {};
}

void PortObject::RemoveInterrupt(uint64_t binding_id, int event_fd) {
  std::lock_guard lock(mutex_);
  // Cannot fail for an fd that AddInterrupt added and that is still open.
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, event_fd, nullptr);
  interrupts_.erase(binding_id);
}

Result<Port> Port::Create(std::string name) {
  const std::string object = "port '" + name + "'";
  UniqueFd epoll_fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return FailErrno(errno, "epoll_create1(EPOLL_CLOEXEC)", object);
  auto user_event_fd = MakeEventfd("user packets", object);
  if (!user_event_fd) return std::unexpected(user_event_fd.error());
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kUserPacketsTag;
  if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, user_event_fd->get(), &event) < 0) {
    return FailErrno(errno, "epoll_ctl(ADD user packet eventfd)", object);
  }
  return Port(
      std::make_shared<PortObject>(std::move(epoll_fd), std::move(*user_event_fd), std::move(name)),
      kDefaultPortRights);
}

Result<void> Port::Queue(const PortPacket& packet) const {
  auto object = Check(kRightWrite, "queue");
  if (!object) return std::unexpected(object.error());
  return (*object)->Queue(packet);
}

Result<PortPacket> Port::Wait(Time deadline) const {
  auto object = Check(kRightRead, "wait");
  if (!object) return std::unexpected(object.error());
  return (*object)->Wait(deadline);
}

}  // namespace udrv
