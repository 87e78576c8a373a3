#include "udrv/host/wire.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "udrv/core/transfer.h"

namespace udrv::host::wire {

std::vector<std::byte> Frame(uint16_t op, std::span<const std::byte> body, uint32_t device) {
  Header header;
  header.op = op;
  header.size = static_cast<uint32_t>(body.size());
  header.device = device;
  std::vector<std::byte> bytes(sizeof(header) + body.size());
  std::memcpy(bytes.data(), &header, sizeof(header));
  if (!body.empty()) std::memcpy(bytes.data() + sizeof(header), body.data(), body.size());
  return bytes;
}

std::vector<std::byte> FrameReply(uint16_t op, std::span<const std::byte> body) {
  std::vector<std::byte> payload(sizeof(ReplyStatus) + body.size());
  const ReplyStatus ok;
  std::memcpy(payload.data(), &ok, sizeof(ok));
  if (!body.empty()) std::memcpy(payload.data() + sizeof(ok), body.data(), body.size());
  return Frame(op, payload);
}

std::vector<std::byte> FrameError(uint16_t op, const Error& error) {
  ReplyStatus status;
  status.status = static_cast<int32_t>(error.status);
  status.err_no = error.err_no;
  SetText(status.what, error.what);
  SetText(status.object, error.object);
  return Frame(op, std::as_bytes(std::span(&status, 1)));
}

Result<Message> ParseMessage(std::span<const std::byte> bytes) {
  Message message;
  if (bytes.size() < sizeof(Header)) {
    return Fail(Status::IO_INVALID, "a message of " + std::to_string(bytes.size()) +
                                        " bytes, shorter than a header (" +
                                        std::to_string(sizeof(Header)) + ")");
  }
  std::memcpy(&message.header, bytes.data(), sizeof(Header));
  const Header& header = message.header;
  if (header.magic != kMagic || header.version != kVersion) {
    return Fail(Status::IO_INVALID, "a message of magic " + Hex(header.magic) + ", version " +
                                        std::to_string(header.version) + " (this is " +
                                        Hex(kMagic) + ", version " + std::to_string(kVersion) + ")");
  }
  message.body = bytes.subspan(sizeof(Header));
  if (header.size != message.body.size()) {
    return Fail(Status::IO_INVALID, "a message whose header says " + std::to_string(header.size) +
                                        " bytes follow, and " +
                                        std::to_string(message.body.size()) + " do");
  }
  return message;
}

std::unexpected<Error> BodySizeError(size_t size, size_t expected, std::string_view what) {
  return Fail(Status::IO_INVALID, std::string(what) + ": a body of " + std::to_string(size) +
                                      " bytes, not " + std::to_string(expected));
}

Result<ParsedReply> ParseReply(const Message& reply, uint16_t op) {
  if (reply.header.op != op) {
    return Fail(Status::IO_INVALID, "a reply that does not answer the request (op " +
                                        std::to_string(reply.header.op) + ", asked " +
                                        std::to_string(op) + ")",
                "root bus");
  }
  if (reply.body.size() < sizeof(ReplyStatus)) {
    return BodySizeError(reply.body.size(), sizeof(ReplyStatus), "a reply's status");
  }
  ParsedReply parsed;
  std::memcpy(&parsed.status, reply.body.data(), sizeof(ReplyStatus));
  parsed.body = reply.body.subspan(sizeof(ReplyStatus));
  if (parsed.status.status != 0 && !parsed.body.empty()) {
    return BodySizeError(parsed.body.size(), 0, "an error reply's body");
  }
  return parsed;
}

Result<void> StatusResult(const ReplyStatus& status) {
  if (status.status == 0) return {};
  return std::unexpected(Error{static_cast<Status>(status.status), GetText(status.what),
                               GetText(status.object), status.err_no});
}

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

Result<size_t> ReceiveUpTo(int socket_fd, std::span<std::byte> out, Time deadline,
                           std::string_view what) {
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
    const bool had_fds = !TakeReceivedFds(msg).empty();
    if (n == 0 && !had_fds) {
      return Fail(Status::PEER_CLOSED, std::string(what) + ": the other end closed the socket");
    }
    if (had_fds || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) {
      return Fail(Status::IO_INVALID,
                  std::string(what) + ": a malformed message (" + std::to_string(n) +
                      " bytes, at most " + std::to_string(out.size()) +
                      (had_fds ? ", with unexpected fds" : "") + ")");
    }
    return static_cast<size_t>(n);
  }
}

Result<void> Receive(int socket_fd, std::span<std::byte> out, Time deadline, std::string_view what) {
  UDRV_TRY_ASSIGN(const size_t n, ReceiveUpTo(socket_fd, out, deadline, what));
  if (n != out.size()) {
    return Fail(Status::IO_INVALID, std::string(what) + ": a malformed message (" +
                                        std::to_string(n) + " bytes, expected " +
                                        std::to_string(out.size()) + ")");
  }
  return {};
}

}  // namespace udrv::host::wire
