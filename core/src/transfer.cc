#include "udrv/core/transfer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "interrupt_object.h"

namespace udrv {
namespace {

using wire::HandleMessage;
using wire::ObjectType;

static_assert(std::is_trivially_copyable_v<HandleMessage>);

// Rights with a meaning (bits 0..15); SAME_RIGHTS never travels.
constexpr Rights kKnownRights = (1u << 16) - 1;
// Control room for as many fds as Linux lets one message carry (SCM_MAX_FD),
// plus credentials should the socket have SO_PASSCRED: every fd a misbehaving
// peer attaches is then received, counted in the error, and closed.
constexpr size_t kScmMaxFd = 253;
constexpr size_t kControlSize = CMSG_SPACE(sizeof(int) * kScmMaxFd) + CMSG_SPACE(sizeof(ucred));

std::string SocketName(int socket_fd) { return "socket fd " + std::to_string(socket_fd); }

void CopyName(const std::string& name, HandleMessage& message) {
  const size_t len = std::min(name.size(), wire::kNameSize - 1);
  std::memcpy(message.name, name.data(), len);
  message.name[len] = '\0';
}

// For a handle without WRITE: an fd on the same file that the kernel lets
// only read. Empty when `fd` is read-only already or cannot be reopened
// (ENXIO: anonymous inodes such as a VFIO device fd); then `fd` itself
// travels and udrv's rights are the only guard. A write-only fd is refused:
// reopening it for reading (as root, through /proc) would grant access that
// whoever opened it did not have.
Result<UniqueFd> ReopenReadOnly(int fd, const std::string& object) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return FailErrno(errno, "fcntl(F_GETFL) on the VMO's fd", object);
  if ((flags & O_ACCMODE) == O_RDONLY) return UniqueFd();
  if ((flags & O_ACCMODE) == O_WRONLY) {
    return Fail(Status::ACCESS_DENIED,
                "a read-only handle of a write-only fd: reopening it for reading would grant "
                "more than the fd had",
                object);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  // O_SYNC picks the cache policy of /dev/mem mappings: keep it.
  UniqueFd reopened(open(path.c_str(), O_RDONLY | O_CLOEXEC | (flags & O_SYNC)));
  if (!reopened) {
    if (errno == ENXIO) return UniqueFd();
    return FailErrno(errno, "open(" + path + ", O_RDONLY) for a read-only copy", object);
  }
  return reopened;
}

Result<void> SendMessage(int socket_fd, const HandleMessage& message, int fd,
                         const std::string& object) {
  iovec iov{const_cast<HandleMessage*>(&message), sizeof(message)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));

  ssize_t sent;
  do {
    sent = sendmsg(socket_fd, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0)
    return FailErrno(errno, "sendmsg(" + SocketName(socket_fd) + ", SCM_RIGHTS)", object);
  // A stream socket may take part of it; the fd went with the first byte.
  const auto* rest = reinterpret_cast<const char*>(&message) + sent;
  size_t left = sizeof(message) - static_cast<size_t>(sent);
  while (left > 0) {
    const ssize_t n = send(socket_fd, rest, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return FailErrno(errno, "send(" + SocketName(socket_fd) + ") of the rest of a handle message",
                       object);
    }
    rest += n;
    left -= static_cast<size_t>(n);
  }
  return {};
}

// The rights a handle with `held` travels with when its sender asks for
// `wanted`: the same, or a subset.
Result<Rights> SentRights(Rights held, Rights wanted, std::string_view op) {
  if (wanted == kRightSameRights) return held;
  if ((wanted & ~held) != 0) {
    return Fail(Status::INVALID_ARGS,
                std::string(op) + ": cannot send rights the handle lacks (" +
                    RightsToString(wanted & ~held) + ")");
  }
  return wanted;
}

Result<void> WaitReadable(int socket_fd, Time deadline) {
  pollfd pfd{socket_fd, POLLIN, 0};
  for (;;) {
    const int ready = poll(&pfd, 1, TimeoutMsUntil(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return FailErrno(errno, "poll(" + SocketName(socket_fd) + ")");
    if (ready == 0) {
      return Fail(Status::TIMED_OUT, "receive handle: no message before the deadline",
                  SocketName(socket_fd));
    }
    return {};
  }
}

struct RawMessage {
  HandleMessage header;
  std::vector<UniqueFd> fds;
};

// Reads one whole message: several reads on a stream socket, exactly one on
// a packet socket, where a shorter or longer message is malformed.
Result<RawMessage> ReceiveMessage(int socket_fd, Time deadline) {
  const std::string socket = SocketName(socket_fd);
  int type = 0;
  socklen_t type_len = sizeof(type);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_TYPE, &type, &type_len) < 0) {
    return FailErrno(errno, "getsockopt(SO_TYPE)", socket);
  }
  const bool is_stream = type == SOCK_STREAM;

  RawMessage raw;
  auto* bytes = reinterpret_cast<char*>(&raw.header);
  size_t received = 0;
  while (received < sizeof(HandleMessage)) {
    if (auto readable = WaitReadable(socket_fd, deadline); !readable) {
      if (received == 0) return std::unexpected(readable.error());
      return Wrap(std::move(readable.error()),
                  "after " + std::to_string(received) + " bytes of a handle message");
    }
    iovec iov{bytes + received, sizeof(HandleMessage) - received};
    alignas(cmsghdr) char control[kControlSize];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(socket_fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      // EAGAIN: a non-blocking socket that another reader drained after poll.
      if (errno == EINTR || errno == EAGAIN) continue;
      return FailErrno(errno, "recvmsg(" + socket + ")");
    }
    for (UniqueFd& fd : TakeReceivedFds(msg)) raw.fds.push_back(std::move(fd));
    if ((msg.msg_flags & MSG_CTRUNC) != 0) {
      return Fail(Status::IO_INVALID,
                  "receive handle: control data truncated (more than " + std::to_string(kScmMaxFd) +
                      " fds?)",
                  socket);
    }
    if (n == 0) {
      if (received == 0 && raw.fds.empty()) {
        return Fail(Status::PEER_CLOSED, "receive handle: the peer closed the socket", socket);
      }
      return Fail(Status::IO_INVALID,
                  "receive handle: truncated message, the peer closed after " +
                      std::to_string(received) + " of " + std::to_string(sizeof(HandleMessage)) +
                      " bytes",
                  socket);
    }
    received += static_cast<size_t>(n);
    if (!is_stream) {
      if ((msg.msg_flags & MSG_TRUNC) != 0) {
        return Fail(Status::IO_INVALID,
                    "receive handle: message longer than the " +
                        std::to_string(sizeof(HandleMessage)) + " bytes of a handle message",
                    socket);
      }
      if (received < sizeof(HandleMessage)) {
        return Fail(Status::IO_INVALID,
                    "receive handle: truncated message of " + std::to_string(received) + " of " +
                        std::to_string(sizeof(HandleMessage)) + " bytes",
                    socket);
      }
    }
  }
  return raw;
}

Result<Rights> ReceivedRights(Rights sent, Rights wanted, const std::string& object) {
  if (wanted == kRightSameRights) return sent;
  if ((wanted & ~sent) != 0) {
    return Fail(Status::ACCESS_DENIED,
                "receive handle: asks for " + RightsToString(wanted & ~sent) +
                    ", which the sender did not grant (sent " + RightsToString(sent) + ")",
                object);
  }
  return wanted;
}

Result<Vmo> BuildVmo(const HandleMessage& message, UniqueFd fd, Rights rights,
                     const std::string& object) {
  if (message.flags != 0 || message.vmo_kind > static_cast<uint32_t>(VmoKind::CONTIGUOUS) ||
      message.route > static_cast<uint32_t>(PhysicalRoute::TEST_FILE) ||
      message.cache_policy > static_cast<uint32_t>(CachePolicy::WRITE_COMBINING)) {
    return Fail(Status::IO_INVALID,
                "receive vmo: malformed description (flags " + Hex(message.flags) + ", kind " +
                    std::to_string(message.vmo_kind) + ", route " + std::to_string(message.route) +
                    ", cache policy " + std::to_string(message.cache_policy) + ")",
                object);
  }
  // The sender narrowed the fd to its handle's rights; narrow it to ours.
  if ((rights & kRightWrite) == 0) {
    auto read_only = ReopenReadOnly(fd.get(), object);
    if (!read_only) return Wrap(std::move(read_only.error()), "receive vmo");
    if (*read_only) fd = std::move(*read_only);
  }
  Vmo::Description description;
  description.kind = static_cast<VmoKind>(message.vmo_kind);
  description.size = message.size;
  description.offset = message.offset;
  description.route = static_cast<PhysicalRoute>(message.route);
  description.cache_policy = static_cast<CachePolicy>(message.cache_policy);
  description.name = message.name;
  // Only a VMO whose fd reaches its region alone is sent (SendHandle).
  description.reach = FdReach::REGION_ONLY;
  auto vmo = Vmo::FromDescription(std::move(fd), description, rights);
  if (!vmo) return Wrap(std::move(vmo.error()), "receive vmo");
  return vmo;
}

Result<Interrupt> BuildInterrupt(const HandleMessage& message, UniqueFd fd, Rights rights,
                                 const std::string& object, std::function<Result<void>()> on_ack) {
  if ((message.flags & ~wire::kFlagVirtualInterrupt) != 0 || message.size != 0 ||
      message.offset != 0 || message.vmo_kind != 0 || message.route != 0 ||
      message.cache_policy != 0) {
    return Fail(Status::IO_INVALID,
                "receive interrupt: malformed message (flags " + Hex(message.flags) +
                    ", VMO fields must be 0)",
                object);
  }
  const bool is_virtual = (message.flags & wire::kFlagVirtualInterrupt) != 0;
  // A virtual interrupt has no source to re-enable.
  auto interrupt = MakeInterruptObject(std::move(fd), is_virtual, message.name,
                                       is_virtual ? nullptr : std::move(on_ack));
  if (!interrupt) {
    Error error = std::move(interrupt.error());
    if (error.status == Status::WRONG_TYPE) error.status = Status::IO_INVALID;  // a lying peer
    return Wrap(std::move(error), "receive interrupt");
  }
  return internal::InterruptAccess::Make(std::move(*interrupt), rights);
}

}  // namespace

Result<void> SendHandle(int socket_fd, Vmo&& vmo, Rights sent_rights) {
  const Vmo sending = std::move(vmo);  // consumed, whatever happens
  if (!sending) return Fail(Status::BAD_HANDLE, "send vmo: invalid handle");
  if ((sending.rights() & kRightTransfer) == 0) {
    return Fail(Status::ACCESS_DENIED, "send vmo: handle lacks TRANSFER");
  }
  auto rights = SentRights(sending.rights(), sent_rights, "send vmo");
  if (!rights) return std::unexpected(rights.error());
  auto description = sending.Describe();
  if (!description) return Wrap(std::move(description.error()), "send vmo");
  auto backing = sending.GetBacking();
  if (!backing) return Wrap(std::move(backing.error()), "send vmo");
  const std::string object = "vmo '" + description->name + "'";
  // The route that made a physical VMO said whether its fd reaches more
  // than the region (a VFIO device fd reaches the whole device): such an fd
  // stays in this process, whatever the handle's rights.
  if (description->kind == VmoKind::PHYSICAL && description->reach == FdReach::BEYOND_REGION) {
    return Fail(Status::ACCESS_DENIED,
                "send vmo: its fd reaches more than its region (route " +
                    std::string(PhysicalRouteName(description->route)) +
                    "), so it never leaves the process that made it",
                object);
  }

  HandleMessage message;
  message.type = static_cast<uint16_t>(ObjectType::VMO);
  message.rights = *rights;
  message.size = description->size;
  message.offset = description->offset;
  message.vmo_kind = static_cast<uint32_t>(description->kind);
  message.route = static_cast<uint32_t>(description->route);
  message.cache_policy = static_cast<uint32_t>(description->cache_policy);
  CopyName(description->name, message);

  UniqueFd read_only;
  if ((*rights & kRightWrite) == 0) {
    auto reopened = ReopenReadOnly(backing->fd, object);
    if (!reopened) return Wrap(std::move(reopened.error()), "send vmo");
    read_only = std::move(*reopened);
  }
  return SendMessage(socket_fd, message, read_only ? read_only.get() : backing->fd, object);
}

Result<void> SendHandle(int socket_fd, Interrupt&& interrupt, Rights sent_rights) {
  const Interrupt sending = std::move(interrupt);  // consumed, whatever happens
  if (!sending) return Fail(Status::BAD_HANDLE, "send interrupt: invalid handle");
  const std::shared_ptr<InterruptObject>& object = internal::InterruptAccess::Object(sending);
  if ((sending.rights() & kRightTransfer) == 0) {
    return Fail(Status::ACCESS_DENIED, "send interrupt: handle lacks TRANSFER", object->Describe());
  }
  auto rights = SentRights(sending.rights(), sent_rights, "send interrupt");
  if (!rights) return std::unexpected(Error{rights.error().status, rights.error().what, object->Describe()});
  if (auto transferable = object->CheckTransferable(); !transferable) {
    return Wrap(std::move(transferable.error()), "send interrupt");
  }
  HandleMessage message;
  message.type = static_cast<uint16_t>(ObjectType::INTERRUPT);
  message.rights = *rights;
  message.flags = object->is_virtual() ? wire::kFlagVirtualInterrupt : 0;
  CopyName(object->name(), message);
  return SendMessage(socket_fd, message, object->event_fd(), object->Describe());
}

Result<void> SendHandleMessage(int socket_fd, const HandleMessage& message, int fd) {
  const std::string name(message.name, strnlen(message.name, sizeof(message.name)));
  return SendMessage(socket_fd, message, fd, "handle message '" + name + "'");
}

std::vector<UniqueFd> TakeReceivedFds(msghdr& msg) {
  std::vector<UniqueFd> fds;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  return fds;
}

namespace {

// A received message whose header is well formed and names a type this
// build knows, with its one fd.
struct CheckedMessage {
  HandleMessage header;
  ObjectType type = ObjectType::VMO;
  UniqueFd fd;
  std::string object;  // "vmo 'name'"
};

std::string ObjectName(ObjectType type, const char* name) {
  switch (type) {
    case ObjectType::VMO: return std::string("vmo '") + name + "'";
    case ObjectType::INTERRUPT: return std::string("interrupt '") + name + "'";
    case ObjectType::FILE: return std::string("file '") + name + "'";
  }
  return name;
}

Result<CheckedMessage> ReceiveChecked(int socket_fd, Time deadline) {
  auto raw = ReceiveMessage(socket_fd, deadline);
  if (!raw) return std::unexpected(raw.error());
  const HandleMessage& message = raw->header;
  const std::string socket = SocketName(socket_fd);
  if (message.magic != wire::kMagic) {
    return Fail(Status::IO_INVALID,
                "receive handle: not a udrv handle message (magic " + Hex(message.magic) + ")",
                socket);
  }
  if (message.version != wire::kVersion) {
    return Fail(Status::PROTOCOL_NOT_SUPPORTED,
                "receive handle: message version " + std::to_string(message.version) +
                    ", this build speaks " + std::to_string(wire::kVersion),
                socket);
  }
  const auto type = static_cast<ObjectType>(message.type);
  if (type != ObjectType::VMO && type != ObjectType::INTERRUPT && type != ObjectType::FILE) {
    return Fail(Status::PROTOCOL_NOT_SUPPORTED,
                "receive handle: unknown object type " + std::to_string(message.type), socket);
  }
  if (raw->fds.size() != 1) {
    return Fail(Status::IO_INVALID,
                "receive handle: message carries " + std::to_string(raw->fds.size()) +
                    " fds; a handle message carries exactly 1",
                socket);
  }
  if (std::memchr(message.name, '\0', sizeof(message.name)) == nullptr) {
    return Fail(Status::IO_INVALID, "receive handle: the name is not NUL-terminated", socket);
  }
  std::string object = ObjectName(type, message.name);
  if (message.reserved != 0 || (message.rights & ~kKnownRights) != 0) {
    return Fail(Status::IO_INVALID,
                "receive handle: malformed message (rights " + Hex(message.rights) + ", reserved " +
                    Hex(message.reserved) + ")",
                object);
  }
  return CheckedMessage{message, type, std::move(raw->fds.front()), std::move(object)};
}

Result<ReceivedHandle> ReceiveHandleWithAck(int socket_fd, Rights wanted, Time deadline,
                                            std::function<Result<void>()> on_ack) {
  UDRV_TRY_ASSIGN(CheckedMessage checked, ReceiveChecked(socket_fd, deadline));
  const HandleMessage& message = checked.header;
  if (checked.type == ObjectType::FILE) {
    return Fail(Status::WRONG_TYPE,
                "receive handle: the message carries a plain file, not a handle (closed it)",
                checked.object);
  }
  auto rights = ReceivedRights(message.rights, wanted, checked.object);
  if (!rights) return std::unexpected(rights.error());

  if (checked.type == ObjectType::VMO) {
    auto vmo = BuildVmo(message, std::move(checked.fd), *rights, checked.object);
    if (!vmo) return std::unexpected(vmo.error());
    return ReceivedHandle(std::move(*vmo));
  }
  auto interrupt =
      BuildInterrupt(message, std::move(checked.fd), *rights, checked.object, std::move(on_ack));
  if (!interrupt) return std::unexpected(interrupt.error());
  return ReceivedHandle(std::move(*interrupt));
}

}  // namespace

Result<ReceivedHandle> ReceiveHandle(int socket_fd, Rights wanted, Time deadline) {
  return ReceiveHandleWithAck(socket_fd, wanted, deadline, nullptr);
}

Result<void> SendFile(int socket_fd, UniqueFd&& file, std::string_view name) {
  const UniqueFd sending = std::move(file);  // consumed, whatever happens
  const std::string object = "file '" + std::string(name) + "'";
  if (!sending) return Fail(Status::BAD_HANDLE, "send file: invalid fd", object);
  HandleMessage message;
  message.type = static_cast<uint16_t>(ObjectType::FILE);
  CopyName(std::string(name), message);
  return SendMessage(socket_fd, message, sending.get(), object);
}

Result<ReceivedFile> ReceiveFile(int socket_fd, Time deadline) {
  UDRV_TRY_ASSIGN(CheckedMessage checked, ReceiveChecked(socket_fd, deadline));
  const HandleMessage& message = checked.header;
  if (checked.type != ObjectType::FILE) {
    return Fail(Status::WRONG_TYPE,
                "receive file: the message carries a handle, not a plain file (closed it)",
                checked.object);
  }
  if (message.rights != 0 || message.flags != 0 || message.size != 0 || message.offset != 0 ||
      message.vmo_kind != 0 || message.route != 0 || message.cache_policy != 0) {
    return Fail(Status::IO_INVALID,
                "receive file: malformed message (rights " + Hex(message.rights) + ", flags " +
                    Hex(message.flags) + "; a file carries only its name)",
                checked.object);
  }
  return ReceivedFile{std::move(checked.fd), message.name};
}

Result<Vmo> ReceiveVmo(int socket_fd, Rights wanted, Time deadline) {
  auto handle = ReceiveHandle(socket_fd, wanted, deadline);
  if (!handle) return std::unexpected(handle.error());
  if (auto* vmo = std::get_if<Vmo>(&*handle)) return std::move(*vmo);
  return Fail(Status::WRONG_TYPE, "receive vmo: the message carried an interrupt (closed it)",
              SocketName(socket_fd));
}

Result<Interrupt> ReceiveInterrupt(int socket_fd, Rights wanted, Time deadline,
                                   std::function<Result<void>()> on_ack) {
  auto handle = ReceiveHandleWithAck(socket_fd, wanted, deadline, std::move(on_ack));
  if (!handle) return std::unexpected(handle.error());
  if (auto* interrupt = std::get_if<Interrupt>(&*handle)) return std::move(*interrupt);
  return Fail(Status::WRONG_TYPE, "receive interrupt: the message carried a VMO (closed it)",
              SocketName(socket_fd));
}

}  // namespace udrv
