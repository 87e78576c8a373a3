// A driver host's end of the isolation protocol (host/wire.h) spoken raw:
// for tests and the rogue host, which send what the library never would
// (another device, a forged VMO after a pin, a request never read).
#pragma once

#include <functional>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/host/wire.h"

namespace udrv::testing {

// Sends `request`, naming `device`.
template <typename Request>
Result<void> SendRawRequest(int fd, const Request& request,
                            uint32_t device = host::wire::kGivenDevice) {
  return host::wire::Send(fd, host::wire::FrameRequest(request, device), "raw request");
}

// The reply to a request of `Request`: its typed body, or the error it
// carries (IO_INVALID for one that does not answer it).
template <typename Request>
Result<typename Request::Reply> ReceiveRawReply(int fd, Time deadline) {
  namespace wire = host::wire;
  std::vector<std::byte> buffer(wire::kMaxMessageSize);
  UDRV_TRY_ASSIGN(const size_t size, wire::ReceiveUpTo(fd, buffer, deadline, "raw reply"));
  UDRV_TRY_ASSIGN(const wire::Message message, wire::ParseMessage(std::span(buffer).first(size)));
  UDRV_TRY_ASSIGN(const wire::ParsedReply reply, wire::ParseReply(message, Request::kOp));
  UDRV_TRY(wire::StatusResult(reply.status));
  return wire::DecodeBody<typename Request::Reply>(reply.body, "raw reply");
}

// One request as `device`, then what `follow` sends (a pin's VMO); its reply.
template <typename Request>
Result<typename Request::Reply> RawCall(int fd, const Request& request,
                                        uint32_t device = host::wire::kGivenDevice,
                                        const std::function<void()>& follow = {},
                                        Duration timeout = 30'000'000'000) {
  UDRV_TRY(SendRawRequest(fd, request, device));
  if (follow) follow();
  return ReceiveRawReply<Request>(fd, DeadlineAfter(timeout));
}

}  // namespace udrv::testing
