// The driver host's side of its socket to the root bus (server.h): typed
// calls, the hello that brings the host its node, its start report,
// interrupts, and remote Btis whose pins the root bus makes (the remote
// pinner). A bus's device proxy (pci::RemoteDevice) makes its own service
// calls over the same Connection.
#pragma once

#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "udrv/bus/node.h"
#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/host/wire.h"

namespace udrv::host {

// What the root bus tells a host at the start.
struct Greeting {
  bus::DeviceNode node;
  Vmo node_vmo;        // the read-only, sealed VMO the node came in
  std::string route;   // the root bus's route ("vfio")
  std::string device;  // the device, as its bus names it ("0000:00:03.0")
};

// Thread safe: one request and its reply (and whatever follows either)
// cross the socket at a time.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  static std::shared_ptr<Connection> Create(UniqueFd socket);

  // Sends what follows a request (a pin's VMO); reads what follows an OK
  // reply (a handle, addresses).
  using SendMore = std::function<Result<void>(int socket_fd)>;
  template <typename Reply>
  using ReceiveMore = std::function<Result<void>(int socket_fd, const Reply& reply)>;

  // Sends `request`, then receives its typed reply; the root bus's error
  // comes back as this call's error. A transport error or a reply that
  // does not fit breaks the connection: no more calls.
  template <typename Request>
  Result<typename Request::Reply> Call(const Request& request, const SendMore& send_more = {},
                                       const ReceiveMore<typename Request::Reply>& receive_more = {}) {
    using Reply = typename Request::Reply;
    Reply reply{};
    auto body = std::as_bytes(std::span(&request, 1)).first(wire::kBodySize<Request>);
    UDRV_TRY(CallRaw(Request::kOp, body, wire::kBodySize<Reply>, send_more,
                     [&](int fd, std::span<const std::byte> bytes) -> Result<void> {
                       if constexpr (wire::kBodySize<Reply> != 0) {
                         std::memcpy(&reply, bytes.data(), sizeof(Reply));
                       }
                       return receive_more ? receive_more(fd, reply) : Result<void>();
                     }));
    return reply;
  }

  // Greets the root bus: the node and the device's description.
  // PROTOCOL_NOT_SUPPORTED never comes back: a root bus of another version
  // drops the connection (PEER_CLOSED).
  Result<Greeting> Hello();
  // Tells the root bus whether the driver started (its log names the error).
  Result<void> ReportStarted(const Result<void>& started);
  // The device's interrupt `vector`. `on_ack` runs at each ack (a service
  // that relays a level-triggered interrupt is told to unmask it).
  Result<Interrupt> MapInterrupt(uint32_t vector, std::function<Result<void>()> on_ack = {});
  // A remote Bti: pins are made by the root bus, through its Bti `index`.
  Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit, std::string name);

 private:
  explicit Connection(UniqueFd socket) : socket_(std::move(socket)) {}
  using ReceiveBody = std::function<Result<void>(int socket_fd, std::span<const std::byte> body)>;
  Result<void> CallRaw(uint16_t op, std::span<const std::byte> request, size_t reply_size,
                       const SendMore& send_more, const ReceiveBody& receive);
  // After a transport error the two ends no longer agree on what comes
  // next: no more requests.
  std::unexpected<Error> Broken(Error error);

  std::mutex mutex_;
  UniqueFd socket_;
  bool broken_ = false;
};

}  // namespace udrv::host
