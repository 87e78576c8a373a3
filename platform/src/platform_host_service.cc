// The platform service of isolated driver hosts (isolation.h): regions and
// relayed interrupts over host::HostServer, and the host's RemoteDevice.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <thread>
#include <utility>

#include "local_device.h"
#include "platform_host_messages.h"
#include "udrv/core/port.h"
#include "udrv/core/transfer.h"
#include "udrv/platform/isolation.h"

namespace udrv::platform {
namespace {

using wire::PlatformOp;

// One interrupt relayed to the host: the device's interrupt is bound to a
// port; each packet becomes a count on the eventfd the host holds, and the
// port lets the next one out only after the host's ack.
class InterruptRelay {
 public:
  static Result<std::unique_ptr<InterruptRelay>> Start(Interrupt source, const std::string& name) {
    UDRV_TRY_ASSIGN(Port port, Port::Create("relay " + name));
    UDRV_TRY(source.Bind(port, kInterruptKey));
    UniqueFd event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!event) return FailErrno(errno, "relay interrupt: eventfd", name);
    auto relay = std::unique_ptr<InterruptRelay>(
        new InterruptRelay(std::move(source), std::move(port), std::move(event)));
    relay->thread_ = std::thread([raw = relay.get()] { raw->Run(); });
    return relay;
  }
  ~InterruptRelay() {
    PortPacket stop;
    stop.key = kStopKey;
    (void)port_.Queue(stop);
    if (thread_.joinable()) thread_.join();
    (void)source_.Destroy();
  }
  InterruptRelay(const InterruptRelay&) = delete;
  InterruptRelay& operator=(const InterruptRelay&) = delete;

  // The host's end: an interrupt over a duplicate of the eventfd.
  Result<Interrupt> HostInterrupt(const std::string& name) const {
    UniqueFd fd(::fcntl(event_.get(), F_DUPFD_CLOEXEC, 0));
    if (!fd) return FailErrno(errno, "relay interrupt: dup(eventfd)", name);
    return Interrupt::CreateFromEventfd(std::move(fd), name, nullptr);
  }
  Result<void> Ack() const { return source_.Ack(); }

 private:
  static constexpr uint64_t kInterruptKey = 1;
  static constexpr uint64_t kStopKey = 2;

  InterruptRelay(Interrupt source, Port port, UniqueFd event)
      : source_(std::move(source)), port_(std::move(port)), event_(std::move(event)) {}

  void Run() {
    for (;;) {
      auto packet = port_.Wait(kInfinite);
      if (!packet || packet->key == kStopKey) return;
      const uint64_t one = 1;
      (void)::write(event_.get(), &one, sizeof(one));
    }
  }

  Interrupt source_;
  Port port_;
  UniqueFd event_;
  std::thread thread_;
};

class PlatformHostService final : public host::HostService {
 public:
  explicit PlatformHostService(internal::LocalDevice& device)
      : device_(device), object_("driver host of " + device.tree_device().path) {}

  std::string DeviceName() const override { return device_.tree_device().path; }
  std::string Route() const override { return std::string(device_.route()); }

  std::optional<size_t> RequestSize(uint16_t op) const override {
    switch (static_cast<PlatformOp>(op)) {
      case PlatformOp::GET_MMIO: return host::wire::kBodySize<wire::GetMmioRequest>;
      case PlatformOp::ACK_INTERRUPT: return host::wire::kBodySize<wire::AckInterruptRequest>;
    }
    return std::nullopt;
  }
  std::string OpName(uint16_t op) const override {
    switch (static_cast<PlatformOp>(op)) {
      case PlatformOp::GET_MMIO: return "get MMIO";
      case PlatformOp::ACK_INTERRUPT: return "ack interrupt";
    }
    return "op " + std::to_string(op);
  }

  Result<host::ServiceReply> Handle(uint16_t op, std::span<const std::byte> body) override {
    switch (static_cast<PlatformOp>(op)) {
      case PlatformOp::GET_MMIO: {
        UDRV_TRY_ASSIGN(const auto request, host::wire::DecodeBody<wire::GetMmioRequest>(body, "get MMIO"));
        UDRV_TRY(CheckReserved("get MMIO", request.reserved));
        UDRV_TRY_ASSIGN(Mmio mmio, device_.GetMmio(request.index));
        host::ServiceReply reply =
            host::ServiceReply::Of(wire::MmioReply{mmio.offset, mmio.size, mmio.phys});
        reply.vmo = std::move(mmio.vmo);
        reply.vmo_rights = kHostMmioRights;
        return reply;
      }
      case PlatformOp::ACK_INTERRUPT: {
        UDRV_TRY_ASSIGN(const auto request,
                        host::wire::DecodeBody<wire::AckInterruptRequest>(body, "ack interrupt"));
        UDRV_TRY(CheckReserved("ack interrupt", request.reserved));
        const auto relay = relays_.find(request.index);
        if (relay == relays_.end()) {
          return Fail(Status::BAD_STATE,
                      "ack interrupt " + std::to_string(request.index) + ": it is not mapped", object_);
        }
        UDRV_TRY(relay->second->Ack());
        return host::ServiceReply::Of(wire::Empty{});
      }
    }
    return Fail(Status::NOT_SUPPORTED, "op " + std::to_string(op), object_);
  }

  Result<Interrupt> MapInterrupt(uint32_t vector) override {
    const std::string name = device_.tree_device().path + " irq " + std::to_string(vector);
    auto existing = relays_.find(vector);
    if (existing == relays_.end()) {
      UDRV_TRY_ASSIGN(Interrupt source, device_.GetInterrupt(vector));
      UDRV_TRY_ASSIGN(auto relay, InterruptRelay::Start(std::move(source), name));
      existing = relays_.emplace(vector, std::move(relay)).first;
    }
    return existing->second->HostInterrupt(name);
  }

  Result<dma::Bti> GetBti(uint32_t, uint64_t) override {
    return Fail(Status::NOT_SUPPORTED,
                "get BTI: a platform device has no IOMMU here, and its DMA would reach all memory; "
                "an isolated driver host gets no BTI",
                object_);
  }

  bool Quiesce(bus::ReleaseReport& report) override {
    relays_.clear();
    report.steps.push_back(bus::StepOf("interrupts off", device_.MaskInterrupts()));
    // The host never had a Bti: whatever DMA the device does, it was not
    // given memory for.
    return true;
  }

 private:
  Result<void> CheckReserved(std::string_view op, uint32_t reserved) const {
    if (reserved == 0) return {};
    return Fail(Status::INVALID_ARGS, std::string(op) + ": reserved field is " + Hex(reserved) + ", not 0",
                object_);
  }

  internal::LocalDevice& device_;
  const std::string object_;
  std::map<uint32_t, std::unique_ptr<InterruptRelay>> relays_;
};

}  // namespace

host::ServiceFactory MakeServiceFactory() {
  return [](bus::DriverContext& context) -> Result<std::unique_ptr<host::HostService>> {
    UDRV_TRY_ASSIGN(Device* device, context.GetProtocol<Device>());
    auto* local = dynamic_cast<internal::LocalDevice*>(device);
    if (local == nullptr) {
      return Fail(Status::WRONG_TYPE, "isolate: the device is not one the platform bus opened",
                  context.node().id);
    }
    if (local->uio_fd() < 0) {
      // /dev/mem reaches all memory; a VFIO device fd is the daemon's
      // (its IOMMU container stays here), and no host was tried with one.
      return Fail(Status::NOT_SUPPORTED,
                  "isolate: the device is open over " + std::string(local->route()) +
                      ", whose fd never goes to a driver host; isolated platform drivers take the "
                      "uio route",
                  context.node().id);
    }
    return std::unique_ptr<host::HostService>(std::make_unique<PlatformHostService>(*local));
  };
}

Result<std::unique_ptr<RemoteDevice>> RemoteDevice::Create(std::shared_ptr<host::Connection> connection,
                                                           host::Greeting greeting) {
  if (greeting.node.bus != kBusName) {
    return Fail(Status::IO_INVALID, "connect: the root bus gave a node of bus '" + greeting.node.bus +
                                        "' to a platform driver host");
  }
  return std::unique_ptr<RemoteDevice>(new RemoteDevice(std::move(connection), std::move(greeting.node)));
}

RemoteDevice::~RemoteDevice() = default;

Result<Mmio> RemoteDevice::GetMmio(uint32_t index) {
  Vmo vmo;
  UDRV_TRY_ASSIGN(const wire::MmioReply reply,
                  connection_->Call(wire::GetMmioRequest{.index = index}, {},
                                    [&](int fd, const wire::MmioReply&) -> Result<void> {
                                      UDRV_TRY_ASSIGN(vmo, ReceiveVmo(fd));
                                      return {};
                                    }));
  UDRV_TRY_ASSIGN(const uint64_t vmo_size, vmo.GetSize());
  if (reply.offset > vmo_size || reply.size > vmo_size - reply.offset) {
    return Fail(Status::IO_INVALID,
                "get MMIO: the root bus sent a region " + Hex(reply.offset) + "+" + Hex(reply.size) +
                    " outside its VMO of " + Hex(vmo_size),
                node_.id);
  }
  return Mmio{std::move(vmo), reply.offset, reply.size, reply.phys};
}

Result<Interrupt> RemoteDevice::GetInterrupt(uint32_t index) {
  std::weak_ptr<host::Connection> weak = connection_;
  return connection_->MapInterrupt(index, [weak, index]() -> Result<void> {
    auto connection = weak.lock();
    if (!connection) return Fail(Status::BAD_STATE, "ack interrupt: the connection is gone");
    UDRV_TRY(connection->Call(wire::AckInterruptRequest{.index = index}));
    return {};
  });
}

Result<dma::Bti> RemoteDevice::GetBti() {
  return Fail(Status::NOT_SUPPORTED,
              "get BTI: an isolated platform driver gets no BTI (no IOMMU confines the device)",
              node_.id);
}

}  // namespace udrv::platform
