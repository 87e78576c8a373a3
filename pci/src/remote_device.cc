// The driver host's side of an isolated device (isolation.h).
#include <fcntl.h>

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "isolation_wire.h"
#include "udrv/core/transfer.h"
#include "udrv/pci/isolation.h"

namespace udrv::pci {

using wire::Op;
using wire::Reply;
using wire::Request;

// The socket to the root bus: one request and its reply (and whatever
// follows either) at a time.
class RemoteDevice::Connection {
 public:
  explicit Connection(UniqueFd socket) : socket_(std::move(socket)) {}

  using SendMore = std::function<Result<void>(int socket_fd)>;
  using ReceiveMore = std::function<Result<void>(int socket_fd, const Reply& reply)>;

  // Sends `request` (and what `send_more` sends after it), then receives
  // the reply and, when it says OK, what `receive_more` reads. The daemon's
  // error comes back as this call's error.
  Result<Reply> Call(Op op, Request request, const SendMore& send_more = {},
                     const ReceiveMore& receive_more = {}) {
    std::lock_guard lock(mutex_);
    if (broken_) return Fail(Status::PEER_CLOSED, "the connection to the root bus is broken");
    request.op = static_cast<uint16_t>(op);
    const std::string what = "request to the root bus";
    if (auto sent = wire::SendMessage(socket_.get(), request, what); !sent) return Broken(sent.error());
    Result<void> sent_more;
    if (send_more) sent_more = send_more(socket_.get());
    auto reply = wire::ReceiveMessage<Reply>(socket_.get(), kInfinite, "reply from the root bus");
    if (!reply) return Broken(reply.error());
    if (reply->magic != wire::kMagic || reply->version != wire::kVersion || reply->op != request.op) {
      return Broken(Error{Status::IO_INVALID,
                          "a reply that does not answer the request (op " +
                              std::to_string(reply->op) + ", asked " + std::to_string(request.op) + ")",
                          "root bus"});
    }
    if (!sent_more) return std::unexpected(sent_more.error());
    if (auto result = wire::ReplyResult(*reply); !result) return std::unexpected(result.error());
    if (receive_more) {
      if (auto more = receive_more(socket_.get(), *reply); !more) return Broken(more.error());
    }
    return *reply;
  }

 private:
  // After a transport error the two ends no longer agree on what comes
  // next: no more requests.
  std::unexpected<Error> Broken(Error error) {
    broken_ = true;
    return std::unexpected(std::move(error));
  }

  std::mutex mutex_;
  UniqueFd socket_;
  bool broken_ = false;
};

// A remote Bti's pins: the daemon's BTI `bti_` pins what this host sends.
class RemoteDevice::Pinner final : public dma::RemotePinner {
 public:
  Pinner(std::shared_ptr<Connection> connection, uint64_t bti)
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
    Request request;
    request.args[0] = bti_;
    request.args[1] = options;
    request.args[2] = offset;
    request.args[3] = size;
    RemotePin pin;
    auto reply = connection_->Call(
        Op::BTI_PIN, request,
        [&](int fd) { return SendHandle(fd, std::move(*copy)); },
        [&](int fd, const Reply& answer) -> Result<void> {
          const uint64_t count = answer.values[1];
          if (count == 0 || count > size / PageSize() + 1) {
            return Fail(Status::IO_INVALID, "pin: the root bus sent " + std::to_string(count) +
                                                " addresses for " + Hex(size) + " bytes");
          }
          pin.addresses.resize(count);
          for (uint64_t at = 0; at < count; at += wire::kAddressesPerMessage) {
            const uint64_t chunk = std::min<uint64_t>(wire::kAddressesPerMessage, count - at);
            auto received = wire::Receive(
                fd, std::as_writable_bytes(std::span(pin.addresses.data() + at, chunk)), kInfinite,
                "pin addresses from the root bus");
            if (!received) return received;
          }
          return {};
        });
    if (!reply) return std::unexpected(reply.error());
    pin.id = reply->values[0];
    return pin;
  }

  Result<void> Unpin(uint64_t id) override { return Simple(Op::BTI_UNPIN, id); }
  void Quarantine(uint64_t id) override { (void)Simple(Op::BTI_QUARANTINE, id); }
  Result<void> ReleaseQuarantine() override { return Simple(Op::BTI_RELEASE_QUARANTINE, 0); }

  Result<dma::BtiInfo> GetInfo() override {
    Request request;
    request.args[0] = bti_;
    auto reply = connection_->Call(Op::BTI_INFO, request);
    if (!reply) return std::unexpected(reply.error());
    return dma::BtiInfo{.minimum_contiguity = reply->values[0],
                        .aspace_size = reply->values[1],
                        .pmo_count = reply->values[2],
                        .quarantine_count = reply->values[3]};
  }

 private:
  Result<void> Simple(Op op, uint64_t pin) {
    Request request;
    request.args[0] = bti_;
    request.args[1] = pin;
    auto reply = connection_->Call(op, request);
    if (!reply) return std::unexpected(reply.error());
    return {};
  }

  std::shared_ptr<Connection> connection_;
  uint64_t bti_;
};

Result<std::unique_ptr<RemoteDevice>> RemoteDevice::Connect(UniqueFd socket) {
  auto connection = std::make_shared<Connection>(std::move(socket));
  Vmo node_vmo;
  auto reply = connection->Call(Op::HELLO, Request{}, {}, [&](int fd, const Reply&) -> Result<void> {
    auto vmo = ReceiveVmo(fd);
    if (!vmo) return std::unexpected(vmo.error());
    node_vmo = std::move(*vmo);
    return {};
  });
  if (!reply) return Wrap(reply.error(), "connect to the root bus");
  auto address = Address::Parse(wire::GetText(reply->object));
  if (!address) return Wrap(address.error(), "connect to the root bus: the device's address");
  const uint64_t config_size = reply->values[0];
  if (config_size != 64 && config_size != 256 && config_size != 4096) {
    return Fail(Status::IO_INVALID,
                "connect to the root bus: config space of " + std::to_string(config_size) + " bytes");
  }
  const uint64_t text_size = reply->values[1];
  auto vmo_size = node_vmo.GetSize();
  if (!vmo_size) return Wrap(vmo_size.error(), "connect to the root bus: the node VMO");
  if (text_size > *vmo_size) {
    return Fail(Status::IO_INVALID, "connect to the root bus: node text of " +
                                        std::to_string(text_size) + " bytes in a VMO of " +
                                        std::to_string(*vmo_size));
  }
  std::string text(text_size, '\0');
  if (auto read = node_vmo.Read(std::as_writable_bytes(std::span(text)), 0); !read) {
    return Wrap(read.error(), "connect to the root bus: read the node VMO");
  }
  auto node = bus::ParseNode(text);
  if (!node) return Wrap(node.error(), "connect to the root bus");
  HostDeviceDescription description{*address, wire::GetText(reply->text), config_size};
  return std::unique_ptr<RemoteDevice>(new RemoteDevice(std::move(connection), std::move(description),
                                                        std::move(*node), std::move(node_vmo)));
}

RemoteDevice::RemoteDevice(std::shared_ptr<Connection> connection, HostDeviceDescription description,
                           bus::DeviceNode node, Vmo node_vmo)
    : Device(description.address),
      connection_(std::move(connection)),
      description_(std::move(description)),
      node_(std::move(node)),
      node_vmo_(std::move(node_vmo)) {}

RemoteDevice::~RemoteDevice() = default;

Result<void> RemoteDevice::ReportStarted(const Result<void>& started) {
  Request request;
  if (!started) {
    request.args[0] = static_cast<uint64_t>(static_cast<int64_t>(started.error().status));
    // The status travels in args[0]; the root bus names the node itself.
    const Error& error = started.error();
    wire::SetText(request.text, error.object.empty() ? error.what : error.what + " [" + error.object + "]");
  }
  auto reply = connection_->Call(Op::STARTED, request);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<DeviceInfo> RemoteDevice::GetDeviceInfo() const {
  wire::DeviceInfoMessage message;
  auto reply = connection_->Call(Op::GET_DEVICE_INFO, Request{}, {}, [&](int fd, const Reply&) {
    auto received = wire::ReceiveMessage<wire::DeviceInfoMessage>(fd, kInfinite,
                                                                  "device info from the root bus");
    if (!received) return Result<void>(std::unexpected(received.error()));
    message = *received;
    return Result<void>();
  });
  if (!reply) return std::unexpected(reply.error());
  DeviceInfo info;
  info.address = address();
  info.vendor_id = message.vendor_id;
  info.device_id = message.device_id;
  info.subsystem_vendor_id = message.subsystem_vendor_id;
  info.subsystem_id = message.subsystem_id;
  info.class_code = message.class_code;
  info.revision = message.revision;
  info.irq = message.irq;
  info.numa_node = message.numa_node;
  for (uint32_t i = 0; i < message.bar_count && i < std::size(message.bars); ++i) {
    const wire::BarMessage& bar = message.bars[i];
    info.bars.push_back(BarInfo{.index = bar.index,
                                .address = bar.address,
                                .size = bar.size,
                                .is_io = (bar.flags & wire::kBarIo) != 0,
                                .is_64bit = (bar.flags & wire::kBar64) != 0,
                                .is_prefetchable = (bar.flags & wire::kBarPrefetchable) != 0});
  }
  return info;
}

Result<Bar> RemoteDevice::GetBar(uint32_t index) {
  Request request;
  request.args[0] = index;
  Bar bar;
  auto reply = connection_->Call(Op::GET_BAR, request, {}, [&](int fd, const Reply& answer) -> Result<void> {
    if ((answer.values[1] & wire::kBarIo) != 0) return {};
    auto vmo = ReceiveVmo(fd);
    if (!vmo) return std::unexpected(vmo.error());
    bar.vmo = std::move(*vmo);
    return {};
  });
  if (!reply) return std::unexpected(reply.error());
  bar.index = index;
  bar.size = reply->values[0];
  bar.is_io = (reply->values[1] & wire::kBarIo) != 0;
  bar.is_64bit = (reply->values[1] & wire::kBar64) != 0;
  bar.is_prefetchable = (reply->values[1] & wire::kBarPrefetchable) != 0;
  bar.io_base = reply->values[2];
  if (!bar.is_io) bar.mappable = {{0, bar.size}};
  return bar;
}

Result<void> RemoteDevice::SetBusMastering(bool enable) {
  Request request;
  request.args[0] = enable;
  auto reply = connection_->Call(Op::SET_BUS_MASTERING, request);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<InterruptModes> RemoteDevice::GetInterruptModes() const {
  auto reply = connection_->Call(Op::GET_INTERRUPT_MODES, Request{});
  if (!reply) return std::unexpected(reply.error());
  return InterruptModes{.has_legacy = reply->values[0] != 0,
                        .msi_count = static_cast<uint32_t>(reply->values[1]),
                        .msix_count = static_cast<uint32_t>(reply->values[2])};
}

Result<void> RemoteDevice::SetInterruptMode(InterruptMode mode, uint32_t count) {
  Request request;
  request.args[0] = static_cast<uint64_t>(mode);
  request.args[1] = count;
  auto reply = connection_->Call(Op::SET_INTERRUPT_MODE, request);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<Interrupt> RemoteDevice::MapInterrupt(uint32_t which) {
  Request request;
  request.args[0] = which;
  Interrupt interrupt;
  auto reply = connection_->Call(Op::MAP_INTERRUPT, request, {}, [&](int fd, const Reply&) -> Result<void> {
    auto received = ReceiveInterrupt(fd);
    if (!received) return std::unexpected(received.error());
    interrupt = std::move(*received);
    return {};
  });
  if (!reply) return std::unexpected(reply.error());
  return interrupt;
}

Result<void> RemoteDevice::AckInterrupt(uint32_t which) {
  Request request;
  request.args[0] = which;
  auto reply = connection_->Call(Op::ACK_INTERRUPT, request);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<void> RemoteDevice::ResetDevice() {
  auto reply = connection_->Call(Op::RESET_DEVICE, Request{});
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<dma::Bti> RemoteDevice::GetBti(uint32_t index, uint64_t dma_limit) {
  Request request;
  request.args[0] = index;
  request.args[1] = dma_limit;
  auto reply = connection_->Call(Op::GET_BTI, request);
  if (!reply) return std::unexpected(reply.error());
  return dma::Bti::CreateRemote(std::make_shared<Pinner>(connection_, reply->values[0]),
                                address().ToString() + " bti " + std::to_string(index) + " (remote)");
}

Result<uint32_t> RemoteDevice::DoReadConfig(uint16_t offset, size_t width) const {
  Request request;
  request.args[0] = offset;
  request.args[1] = width;
  auto reply = connection_->Call(Op::READ_CONFIG, request);
  if (!reply) return std::unexpected(reply.error());
  return static_cast<uint32_t>(reply->values[0]);
}

Result<void> RemoteDevice::DoWriteConfig(uint16_t offset, size_t width, uint32_t value) {
  Request request;
  request.args[0] = offset;
  request.args[1] = width;
  request.args[2] = value;
  auto reply = connection_->Call(Op::WRITE_CONFIG, request);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

}  // namespace udrv::pci
