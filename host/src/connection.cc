// The driver host's side of the socket to the root bus (connection.h).
#include "udrv/host/connection.h"

#include <fcntl.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "udrv/core/transfer.h"

namespace udrv::host {

namespace {

// A remote Bti's pins: the root bus's BTI `bti_` pins what this host sends.
class RemotePinner final : public dma::RemotePinner {
 public:
  RemotePinner(std::shared_ptr<Connection> connection, uint64_t bti)
      : connection_(std::move(connection)), bti_(bti) {}

  Result<RemotePin> Pin(uint32_t options, const Vmo& vmo, uint64_t offset, uint64_t size) override {
    auto copy = vmo.Duplicate(kRightSameRights);
    if (!copy) return Wrap(copy.error(), "pin: a handle to send the root bus");
    // Checked before the request goes: the root bus would wait for a VMO
    // that cannot be sent.
    if ((copy->rights() & kRightTransfer) == 0) {
      return Fail(Status::ACCESS_DENIED, "pin: the vmo handle lacks TRANSFER: the root bus pins it");
    }
    // The root bus pins only memory sealed against shrinking, and cannot
    // add the seal through the read-only fd a device-read pin sends: seal
    // it here, where the fd may still be writable.
    if (auto backing = copy->GetBacking(); backing) {
      const int seals = ::fcntl(backing->fd, F_GET_SEALS);
      if (seals >= 0 && (seals & F_SEAL_SHRINK) == 0 &&
          (::fcntl(backing->fd, F_GETFL) & O_ACCMODE) == O_RDWR) {
        (void)::fcntl(backing->fd, F_ADD_SEALS, F_SEAL_SHRINK);  // the root bus says if it failed
      }
    }
    RemotePin pin;
    auto reply = connection_->Call(
        wire::PinRequest{.bti = bti_, .options = options, .offset = offset, .size = size},
        [&](int fd) { return SendHandle(fd, std::move(*copy)); },
        [&](int fd, const wire::PinReply& answer) -> Result<void> {
          const uint64_t count = answer.address_count;
          if (count == 0 || count > size / PageSize() + 1) {
            return Fail(Status::IO_INVALID, "pin: the root bus sent " + std::to_string(count) +
                                                " addresses for " + Hex(size) + " bytes");
          }
          pin.addresses.resize(count);
          for (uint64_t at = 0; at < count; at += wire::kAddressesPerMessage) {
            const uint64_t chunk = std::min<uint64_t>(wire::kAddressesPerMessage, count - at);
            UDRV_TRY(wire::Receive(fd, std::as_writable_bytes(std::span(pin.addresses.data() + at, chunk)),
                                   kInfinite, "pin addresses from the root bus"));
          }
          return {};
        });
    if (!reply) return std::unexpected(reply.error());
    pin.id = reply->pin;
    return pin;
  }

  Result<void> Unpin(uint64_t id) override {
    UDRV_TRY(connection_->Call(wire::UnpinRequest{.bti = bti_, .pin = id}));
    return {};
  }
  void Quarantine(uint64_t id) override {
    (void)connection_->Call(wire::QuarantineRequest{.bti = bti_, .pin = id});
  }
  Result<void> ReleaseQuarantine() override {
    UDRV_TRY(connection_->Call(wire::ReleaseQuarantineRequest{.bti = bti_}));
    return {};
  }

  Result<dma::BtiInfo> GetInfo() override {
    UDRV_TRY_ASSIGN(const wire::BtiInfoReply info, connection_->Call(wire::BtiInfoRequest{.bti = bti_}));
    return dma::BtiInfo{.minimum_contiguity = info.minimum_contiguity,
                        .aspace_size = info.aspace_size,
                        .pmo_count = info.pmo_count,
                        .quarantine_count = info.quarantine_count};
  }

 private:
  std::shared_ptr<Connection> connection_;
  uint64_t bti_;
};

}  // namespace

std::shared_ptr<Connection> Connection::Create(UniqueFd socket) {
  return std::shared_ptr<Connection>(new Connection(std::move(socket)));
}

std::unexpected<Error> Connection::Broken(Error error) {
  broken_ = true;
  return std::unexpected(std::move(error));
}

Result<void> Connection::CallRaw(uint16_t op, std::span<const std::byte> request, size_t reply_size,
                                 const SendMore& send_more, const ReceiveBody& receive) {
  std::lock_guard lock(mutex_);
  if (broken_) return Fail(Status::PEER_CLOSED, "the connection to the root bus is broken");
  if (auto sent = wire::Send(socket_.get(), wire::Frame(op, request), "request to the root bus"); !sent) {
    return Broken(sent.error());
  }
  Result<void> sent_more;
  if (send_more) sent_more = send_more(socket_.get());
  std::vector<std::byte> buffer(wire::kMaxMessageSize);
  auto received = wire::ReceiveUpTo(socket_.get(), buffer, kInfinite, "reply from the root bus");
  if (!received) return Broken(received.error());
  auto reply = wire::ParseMessage(std::span(buffer).first(*received));
  if (!reply) return Broken(reply.error());
  auto answer = wire::ParseReply(*reply, op);
  if (!answer) return Broken(answer.error());
  if (answer->status.status == 0 && answer->body.size() != reply_size) {
    return Broken(wire::BodySizeError(answer->body.size(), reply_size, "reply from the root bus").error());
  }
  if (!sent_more) return std::unexpected(sent_more.error());
  UDRV_TRY(wire::StatusResult(answer->status));
  if (auto more = receive(socket_.get(), answer->body); !more) return Broken(more.error());
  return {};
}

Result<Greeting> Connection::Hello() {
  Greeting greeting;
  auto reply = Call(wire::HelloRequest{}, {}, [&](int fd, const wire::HelloReply&) -> Result<void> {
    UDRV_TRY_ASSIGN(greeting.node_vmo, ReceiveVmo(fd));
    return {};
  });
  if (!reply) return Wrap(reply.error(), "connect to the root bus");
  auto vmo_size = greeting.node_vmo.GetSize();
  if (!vmo_size) return Wrap(vmo_size.error(), "connect to the root bus: the node VMO");
  if (reply->node_size > *vmo_size) {
    return Fail(Status::IO_INVALID, "connect to the root bus: node text of " +
                                        std::to_string(reply->node_size) + " bytes in a VMO of " +
                                        std::to_string(*vmo_size));
  }
  std::string text(reply->node_size, '\0');
  if (auto read = greeting.node_vmo.Read(std::as_writable_bytes(std::span(text)), 0); !read) {
    return Wrap(read.error(), "connect to the root bus: read the node VMO");
  }
  auto node = bus::ParseNode(text);
  if (!node) return Wrap(node.error(), "connect to the root bus");
  greeting.node = std::move(*node);
  greeting.route = wire::GetText(reply->route);
  greeting.device = wire::GetText(reply->device);
  return greeting;
}

Result<void> Connection::ReportStarted(const Result<void>& started) {
  wire::StartedRequest request;
  if (!started) {
    // The status travels on its own; the root bus names the node itself.
    const Error& error = started.error();
    request.status = static_cast<int32_t>(error.status);
    wire::SetText(request.error, error.object.empty() ? error.what : error.what + " [" + error.object + "]");
  }
  UDRV_TRY(Call(request));
  return {};
}

Result<Interrupt> Connection::MapInterrupt(uint32_t vector, std::function<Result<void>()> on_ack) {
  Interrupt interrupt;
  UDRV_TRY(Call(wire::MapInterruptRequest{.vector = vector}, {},
                [&](int fd, const wire::Empty&) -> Result<void> {
                  UDRV_TRY_ASSIGN(interrupt, ReceiveInterrupt(fd, kRightSameRights, kInfinite,
                                                              std::move(on_ack)));
                  return {};
                }));
  return interrupt;
}

Result<dma::Bti> Connection::GetBti(uint32_t index, uint64_t dma_limit, std::string name) {
  UDRV_TRY_ASSIGN(const wire::GetBtiReply reply,
                  Call(wire::GetBtiRequest{.index = index, .dma_limit = dma_limit}));
  return dma::Bti::CreateRemote(std::make_shared<RemotePinner>(shared_from_this(), reply.bti),
                                std::move(name));
}

}  // namespace udrv::host
