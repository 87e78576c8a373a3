#include "udrv/core/interrupt.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "interrupt_object.h"

namespace udrv {

Result<UniqueFd> MakeEventfd(std::string_view purpose, const std::string& object) {
  UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) {
    return FailErrno(errno, "eventfd(EFD_CLOEXEC|EFD_NONBLOCK) for " + std::string(purpose),
                     object);
  }
  return fd;
}

Result<void> CheckIsEventfd(int fd, std::string_view what, const std::string& object) {
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  char target[64] = {};
  const ssize_t len = readlink(link.c_str(), target, sizeof(target) - 1);
  if (len < 0)
    return FailErrno(errno, "readlink(" + link + ") to check " + std::string(what), object);
  if (std::string_view(target, static_cast<size_t>(len)) != "anon_inode:[eventfd]") {
    return Fail(Status::WRONG_TYPE,
                std::string(what) + " is not an eventfd but " +
                    std::string(target, static_cast<size_t>(len)),
                object);
  }
  return {};
}

namespace {

// OK if `fd` is a UIO device (a character device of the uio class:
// /sys/dev/char/MAJOR:MINOR leads to .../uio/uioN), WRONG_TYPE otherwise.
Result<void> CheckIsUioDevice(int fd, std::string_view what, const std::string& object) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return FailErrno(errno, "fstat(" + std::string(what) + ")", object);
  const std::string proc_link = "/proc/self/fd/" + std::to_string(fd);
  char opened[256] = {};
  const ssize_t opened_len = readlink(proc_link.c_str(), opened, sizeof(opened) - 1);
  const std::string opened_name = opened_len > 0 ? opened : "fd " + std::to_string(fd);
  if (!S_ISCHR(st.st_mode)) {
    return Fail(Status::WRONG_TYPE, std::string(what) + " is not a UIO device but " + opened_name,
                object);
  }
  const std::string class_link = "/sys/dev/char/" + std::to_string(major(st.st_rdev)) + ":" +
                                 std::to_string(minor(st.st_rdev));
  char target[512] = {};
  const ssize_t len = readlink(class_link.c_str(), target, sizeof(target) - 1);
  if (len < 0) {
    return FailErrno(errno, "readlink(" + class_link + ") to check " + std::string(what), object);
  }
  const std::string_view path(target, static_cast<size_t>(len));
  const size_t last = path.rfind('/');
  if (last == std::string_view::npos || !path.substr(0, last).ends_with("/uio") ||
      !path.substr(last + 1).starts_with("uio")) {
    return Fail(Status::WRONG_TYPE,
                std::string(what) + " is not a UIO device but " + opened_name + " (" +
                    std::string(path) + ")",
                object);
  }
  return {};
}

}  // namespace

InterruptObject::InterruptObject(UniqueFd event_fd, UniqueFd cancel_fd, InterruptFdKind fd_kind,
                                 bool is_virtual, std::string name,
                                 std::function<Result<void>()> on_ack)
    : event_fd_(std::move(event_fd)),
      cancel_fd_(std::move(cancel_fd)),
      fd_kind_(fd_kind),
      is_virtual_(is_virtual),
      name_(std::move(name)),
      on_ack_(std::move(on_ack)) {}

InterruptObject::~InterruptObject() {
  // The eventfd's file may stay open elsewhere (another process, the PCI
  // layer's copy), so closing ours would not take it out of the port's epoll
  // set: remove it explicitly.
  if (port_) port_->RemoveInterrupt(binding_id_, event_fd_.get());
}

std::string InterruptObject::Describe() const {
  return std::string(is_virtual_ ? "virtual interrupt '" : "interrupt '") + name_ + "'";
}

Result<std::optional<Time>> InterruptObject::ConsumeLocked() {
  const bool uio = fd_kind_ == InterruptFdKind::UIO;
  const char* const call = uio ? "read(interrupt uio fd)" : "read(interrupt eventfd)";
  // The value does not matter, only that there was one: an eventfd gives an
  // 8-byte counter, a UIO device a 4-byte count (it refuses any other size).
  uint64_t count = 0;
  const size_t size = uio ? sizeof(uint32_t) : sizeof(uint64_t);
  ssize_t n;
  do {
    n = read(event_fd_.get(), &count, size);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int err = errno;
    if (err == EAGAIN) return std::optional<Time>();
    // uio_read says EIO only once its device is unregistered.
    if (uio && err == EIO) {
      return Fail(Status::IO_NOT_PRESENT,
                  std::string(call) +
                      ": the UIO device is gone (the PCI device was removed or unbound from its "
                      "driver)",
                  Describe(), err);
    }
    return FailErrno(err, call, Describe());
  }
  if (static_cast<size_t>(n) != size) {
    return Fail(Status::IO, std::string(call) + " returned " + std::to_string(n) + " bytes",
                Describe());
  }
  const Time timestamp = trigger_timestamp_.value_or(Now());
  trigger_timestamp_.reset();
  return std::optional<Time>(timestamp);
}

Result<void> InterruptObject::AckDeliveredLocked(std::string_view op) {
  if (!awaiting_ack_) return {};
  if (on_ack_) {
    auto acked = on_ack_();
    if (!acked) {
      Error error = std::move(acked.error());
      if (error.object.empty()) error.object = Describe();
      return Wrap(std::move(error), std::string(op) + ": re-enabling the previous interrupt");
    }
  }
  awaiting_ack_ = false;
  return {};
}

Result<Time> InterruptObject::Wait(Time deadline) {
  {
    std::lock_guard lock(mutex_);
    if (destroyed_) return Fail(Status::CANCELED, "wait: interrupt was destroyed", Describe());
    if (port_) return Fail(Status::BAD_STATE, "wait: interrupt is bound to a port", Describe());
    // Zircon semantics: waiting again acknowledges the interrupt the last wait returned.
    if (auto acked = AckDeliveredLocked("wait"); !acked) return std::unexpected(acked.error());
    ++waiters_;  // Bind refuses while a thread waits
  }
  auto timestamp = WaitUnlocked(deadline);
  std::lock_guard lock(mutex_);
  --waiters_;
  if (timestamp) awaiting_ack_ = true;
  return timestamp;
}

Result<Time> InterruptObject::WaitUnlocked(Time deadline) {
  pollfd fds[2] = {{event_fd_.get(), POLLIN, 0}, {cancel_fd_.get(), POLLIN, 0}};
  for (;;) {
    const int ready = poll(fds, 2, TimeoutMsUntil(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "poll(interrupt eventfd)", Describe());
    }
    if (fds[1].revents != 0)
      return Fail(Status::CANCELED, "wait: interrupt was destroyed", Describe());
    if (ready == 0) return Fail(Status::TIMED_OUT, "wait: deadline passed", Describe());
    const bool poll_error = (fds[0].revents & (POLLERR | POLLNVAL)) != 0;
    // A UIO device reports its removal as a poll error; the read says which (IO_NOT_PRESENT).
    if (poll_error && fd_kind_ != InterruptFdKind::UIO) {
      return Fail(Status::IO, "poll(interrupt eventfd) reported an error", Describe());
    }
    std::lock_guard lock(mutex_);
    if (destroyed_) return Fail(Status::CANCELED, "wait: interrupt was destroyed", Describe());
    auto timestamp = ConsumeLocked();
    if (!timestamp) return std::unexpected(timestamp.error());
    if (*timestamp) return **timestamp;
    if (poll_error) return Fail(Status::IO, "poll(interrupt uio fd) reported an error", Describe());
    // Another waiter, or another process sharing the eventfd, took it: wait on.
  }
}

Result<void> InterruptObject::Trigger(Time timestamp) {
  std::lock_guard lock(mutex_);
  if (destroyed_) return Fail(Status::CANCELED, "trigger: interrupt was destroyed", Describe());
  if (!is_virtual_) {
    return Fail(Status::BAD_STATE, "trigger: only virtual interrupts can be triggered", Describe());
  }
  if (!trigger_timestamp_) trigger_timestamp_ = timestamp;
  const uint64_t one = 1;
  ssize_t n;
  do {
    n = write(event_fd_.get(), &one, sizeof(one));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno(errno, "write(interrupt eventfd)", Describe());
  return {};
}

Result<void> InterruptObject::Ack() {
  std::lock_guard lock(mutex_);
  if (destroyed_) return Fail(Status::CANCELED, "ack: interrupt was destroyed", Describe());
  if (!port_) return Fail(Status::BAD_STATE, "ack: interrupt is not bound to a port", Describe());
  if (!awaiting_ack_) return {};
  if (auto acked = AckDeliveredLocked("ack"); !acked) return acked;
  if (auto rearmed = port_->RearmInterrupt(binding_id_, event_fd_.get()); !rearmed) {
    return Wrap(std::move(rearmed.error()), "ack " + Describe());
  }
  return {};
}

bool InterruptObject::destroyed() {
  std::lock_guard lock(mutex_);
  return destroyed_;
}

Result<void> InterruptObject::Destroy() {
  std::lock_guard lock(mutex_);
  if (destroyed_) return {};
  destroyed_ = true;
  const uint64_t one = 1;
  if (write(cancel_fd_.get(), &one, sizeof(one)) < 0) {
    return FailErrno(errno, "write(cancel eventfd) to wake waiters", Describe());
  }
  if (port_) {
    port_->RemoveInterrupt(binding_id_, event_fd_.get());
    port_.reset();
  }
  return {};
}

Result<void> InterruptObject::Bind(std::shared_ptr<PortObject> port, uint64_t key) {
  std::lock_guard lock(mutex_);
  if (destroyed_) return Fail(Status::CANCELED, "bind: interrupt was destroyed", Describe());
  if (port_) {
    return Fail(Status::ALREADY_BOUND, "bind: interrupt is already bound to " + port_->Describe(),
                Describe());
  }
  if (waiters_ > 0) {
    return Fail(Status::BAD_STATE, "bind: a thread is waiting on the interrupt", Describe());
  }
  // An interrupt the last Wait returned is acked now, or it could never fire again.
  if (auto acked = AckDeliveredLocked("bind"); !acked) return acked;
  auto binding = port->AddInterrupt(weak_from_this(), event_fd_.get());
  if (!binding) return Wrap(std::move(binding.error()), "bind " + Describe());
  port_ = std::move(port);
  key_ = key;
  binding_id_ = *binding;
  return {};
}

Result<void> InterruptObject::Unbind(const PortObject* port) {
  std::lock_guard lock(mutex_);
  if (destroyed_) return Fail(Status::CANCELED, "unbind: interrupt was destroyed", Describe());
  if (port_.get() != port) {
    return Fail(Status::NOT_FOUND, "unbind: interrupt is not bound to this port", Describe());
  }
  port_->RemoveInterrupt(binding_id_, event_fd_.get());
  port_.reset();
  return {};
}

Result<void> InterruptObject::CheckTransferable() {
  std::lock_guard lock(mutex_);
  if (destroyed_) return Fail(Status::CANCELED, "interrupt was destroyed", Describe());
  if (port_) {
    return Fail(Status::BAD_STATE,
                "interrupt is bound to " + port_->Describe() + "; unbind it first", Describe());
  }
  if (fd_kind_ == InterruptFdKind::UIO) {
    return Fail(Status::NOT_SUPPORTED,
                "a UIO interrupt cannot be sent to another process (its fd is a /dev/uioN, not "
                "an eventfd); open the device there instead",
                Describe());
  }
  return {};
}

Result<std::optional<PortPacket>> InterruptObject::TakePortPacket(uint64_t binding_id) {
  std::lock_guard lock(mutex_);
  if (destroyed_ || !port_ || binding_id_ != binding_id) return std::optional<PortPacket>();
  auto timestamp = ConsumeLocked();
  if (!timestamp) return std::unexpected(timestamp.error());
  if (!*timestamp) {
    if (auto rearmed = port_->RearmInterrupt(binding_id_, event_fd_.get()); !rearmed) {
      return std::unexpected(rearmed.error());
    }
    return std::optional<PortPacket>();
  }
  awaiting_ack_ = true;
  PortPacket packet;
  packet.key = key_;
  packet.type = PacketType::INTERRUPT;
  packet.status = Status::OK;
  packet.interrupt.timestamp = **timestamp;
  return std::optional<PortPacket>(packet);
}

Result<std::shared_ptr<InterruptObject>> MakeInterruptObject(UniqueFd eventfd, bool is_virtual,
                                                             std::string name,
                                                             std::function<Result<void>()> on_ack) {
  const std::string object =
      std::string(is_virtual ? "virtual interrupt '" : "interrupt '") + name + "'";
  if (!eventfd) return Fail(Status::BAD_HANDLE, "create interrupt: invalid eventfd", object);
  if (auto checked = CheckIsEventfd(eventfd.get(), "create interrupt: the fd", object); !checked) {
    return std::unexpected(checked.error());
  }
  // Wait reads the eventfd after poll; another reader may have drained it by
  // then, and that read must not block.
  const int flags = fcntl(eventfd.get(), F_GETFL);
  if (flags < 0 || fcntl(eventfd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return FailErrno(errno, "fcntl(interrupt eventfd, F_SETFL, O_NONBLOCK)", object);
  }
  auto cancel_fd = MakeEventfd("cancelation", object);
  if (!cancel_fd) return std::unexpected(cancel_fd.error());
  return std::make_shared<InterruptObject>(std::move(eventfd), std::move(*cancel_fd),
                                           InterruptFdKind::EVENTFD, is_virtual, std::move(name),
                                           std::move(on_ack));
}

Result<Interrupt> Interrupt::CreateVirtual(std::string name) {
  auto event_fd = MakeEventfd("the interrupt", "virtual interrupt '" + name + "'");
  if (!event_fd) return std::unexpected(event_fd.error());
  auto object =
      MakeInterruptObject(std::move(*event_fd), /*is_virtual=*/true, std::move(name), nullptr);
  if (!object) return std::unexpected(object.error());
  return Interrupt(std::move(*object), kDefaultInterruptRights);
}

Result<Interrupt> Interrupt::CreateFromEventfd(UniqueFd eventfd, std::string name,
                                               std::function<Result<void>()> on_ack) {
  auto object = MakeInterruptObject(std::move(eventfd), /*is_virtual=*/false, std::move(name),
                                    std::move(on_ack));
  if (!object) return std::unexpected(object.error());
  return Interrupt(std::move(*object), kDefaultInterruptRights);
}

Result<Interrupt> Interrupt::CreateFromUio(UniqueFd uio_fd, std::string name,
                                           std::function<Result<void>()> on_ack) {
  const std::string object = "interrupt '" + name + "'";
  if (!uio_fd) return Fail(Status::BAD_HANDLE, "create interrupt: invalid uio fd", object);
  if (auto checked = CheckIsUioDevice(uio_fd.get(), "create interrupt: the fd", object); !checked) {
    return std::unexpected(checked.error());
  }
  // As for an eventfd: the read after poll must not block when another
  // reader of the same open file took the interrupt first.
  const int flags = fcntl(uio_fd.get(), F_GETFL);
  if (flags < 0 || fcntl(uio_fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return FailErrno(errno, "fcntl(interrupt uio fd, F_SETFL, O_NONBLOCK)", object);
  }
  auto cancel_fd = MakeEventfd("cancelation", object);
  if (!cancel_fd) return std::unexpected(cancel_fd.error());
  auto interrupt_object = std::make_shared<InterruptObject>(
      std::move(uio_fd), std::move(*cancel_fd), InterruptFdKind::UIO, /*is_virtual=*/false,
      std::move(name), std::move(on_ack));
  return Interrupt(std::move(interrupt_object), kDefaultInterruptRights);
}

Result<Time> Interrupt::Wait(Time deadline) const {
  auto object = Check(kRightWait, "wait");
  if (!object) return std::unexpected(object.error());
  return (*object)->Wait(deadline);
}

Result<void> Interrupt::Trigger(Time timestamp) const {
  auto object = Check(kRightSignal, "trigger");
  if (!object) return std::unexpected(object.error());
  return (*object)->Trigger(timestamp);
}

Result<void> Interrupt::Ack() const {
  auto object = Check(kRightWrite, "ack");
  if (!object) return std::unexpected(object.error());
  return (*object)->Ack();
}

Result<void> Interrupt::Destroy() const {
  auto object = Check(kRightNone, "destroy");
  if (!object) return std::unexpected(object.error());
  return (*object)->Destroy();
}

bool Interrupt::destroyed() const { return object() != nullptr && object()->destroyed(); }

Result<void> Interrupt::Bind(const Port& port, uint64_t key) const {
  auto object = Check(kRightRead, "bind");
  if (!object) return std::unexpected(object.error());
  auto port_object = port.Check(kRightWrite, "bind interrupt to port");
  if (!port_object) return std::unexpected(port_object.error());
  return (*object)->Bind(port.object(), key);
}

Result<void> Interrupt::Unbind(const Port& port) const {
  auto object = Check(kRightRead, "unbind");
  if (!object) return std::unexpected(object.error());
  auto port_object = port.Check(kRightWrite, "unbind interrupt from port");
  if (!port_object) return std::unexpected(port_object.error());
  return (*object)->Unbind(*port_object);
}

}  // namespace udrv
