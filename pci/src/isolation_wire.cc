#include "isolation_wire.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

#include "udrv/core/transfer.h"

namespace udrv::pci::wire {

Result<void> Send(int socket_fd, std::span<const std::byte> bytes, std::string_view what) {
  ssize_t sent;
  do {
    sent = ::send(socket_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    if (errno == EPIPE || errno == ECONNRESET) {
      return Fail(Status::PEER_CLOSED, std::string(what) + ": the other end closed the socket");
    }
    return FailErrno(errno, std::string(what) + ": send");
  }
  if (static_cast<size_t>(sent) != bytes.size()) {
    return Fail(Status::IO, std::string(what) + ": sent " + std::to_string(sent) + " of " +
                                std::to_string(bytes.size()) + " bytes");
  }
  return {};
}

Result<void> Receive(int socket_fd, std::span<std::byte> out, Time deadline, std::string_view what) {
  for (;;) {
    pollfd pfd{socket_fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, TimeoutMsUntil(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return FailErrno(errno, std::string(what) + ": poll");
    if (ready == 0) return Fail(Status::TIMED_OUT, std::string(what) + ": no message in time");

    iovec iov{out.data(), out.size()};
    // Room for a few fds: a peer that attaches any to a plain message has
    // them closed, not leaked.
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 16)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(socket_fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      if (errno == ECONNRESET) {
        return Fail(Status::PEER_CLOSED, std::string(what) + ": the other end closed the socket");
      }
      return FailErrno(errno, std::string(what) + ": recvmsg");
    }
    // A peer that attaches fds to a plain message has them closed here.
    const bool had_fds = !TakeReceivedFds(msg).empty();
    if (n == 0 && !had_fds) {
      return Fail(Status::PEER_CLOSED, std::string(what) + ": the other end closed the socket");
    }
    if (had_fds || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0 ||
        static_cast<size_t>(n) != out.size()) {
      return Fail(Status::IO_INVALID,
                  std::string(what) + ": a malformed message (" + std::to_string(n) +
                      " bytes, expected " + std::to_string(out.size()) +
                      (had_fds ? ", with unexpected fds" : "") + ")");
    }
    return {};
  }
}

Reply ErrorReply(Op op, const Error& error) {
  Reply reply;
  reply.op = static_cast<uint16_t>(op);
  reply.status = static_cast<int32_t>(error.status);
  reply.err_no = error.err_no;
  SetText(reply.text, error.what);
  SetText(reply.object, error.object);
  return reply;
}

Result<void> ReplyResult(const Reply& reply) {
  if (reply.status == 0) return {};
  return std::unexpected(Error{static_cast<Status>(reply.status), GetText(reply.text),
                               GetText(reply.object), reply.err_no});
}

}  // namespace udrv::pci::wire
