// The root bus's side of an isolated driver host (server.h).
#include "udrv/host/server.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>

#include <algorithm>
#include <map>
#include <utility>

#include "udrv/core/text.h"
#include "udrv/core/transfer.h"

namespace udrv::host {

using wire::Op;

namespace {

// How long a host may take to send the VMO that follows its pin request.
constexpr Duration kFollowUpTimeout = 5'000'000'000;
// How many of one host's refused requests the log shows.
constexpr uint64_t kLoggedRefusals = 64;

std::string GenericOpName(Op op) {
  switch (op) {
    case Op::HELLO: return "hello";
    case Op::MAP_INTERRUPT: return "map interrupt";
    case Op::GET_BTI: return "get BTI";
    case Op::BTI_PIN: return "pin";
    case Op::BTI_UNPIN: return "unpin";
    case Op::BTI_QUARANTINE: return "quarantine";
    case Op::BTI_INFO: return "BTI info";
    case Op::BTI_RELEASE_QUARANTINE: return "release quarantine";
    case Op::STARTED: return "started";
  }
  return "op " + std::to_string(static_cast<unsigned>(op));
}

// The body size of generic op `op`; nullopt for none.
std::optional<size_t> GenericRequestSize(uint16_t op) {
  switch (static_cast<Op>(op)) {
    case Op::HELLO: return wire::kBodySize<wire::HelloRequest>;
    case Op::MAP_INTERRUPT: return wire::kBodySize<wire::MapInterruptRequest>;
    case Op::GET_BTI: return wire::kBodySize<wire::GetBtiRequest>;
    case Op::BTI_PIN: return wire::kBodySize<wire::PinRequest>;
    case Op::BTI_UNPIN: return wire::kBodySize<wire::UnpinRequest>;
    case Op::BTI_QUARANTINE: return wire::kBodySize<wire::QuarantineRequest>;
    case Op::BTI_INFO: return wire::kBodySize<wire::BtiInfoRequest>;
    case Op::BTI_RELEASE_QUARANTINE: return wire::kBodySize<wire::ReleaseQuarantineRequest>;
    case Op::STARTED: return wire::kBodySize<wire::StartedRequest>;
  }
  return std::nullopt;
}

// The file behind a pin request must be memory the host shares: memfd,
// tmpfs or hugetlbfs, opened for what the device is to do with it
// (read-write for a device WRITE; a handle with READ has a readable fd,
// transfer.h sees to that), long enough, and sealed
// against shrinking, so that the pages the IOMMU maps stay the file's for
// the pin's life. The fd is used as it came: reopening it through /proc as
// root could grant access the host's fd did not have. A read-only fd cannot
// add the seal itself, so memory sent read-only must come sealed (the host's
// library seals what it sends).
Result<Vmo> CheckSharedMemory(Vmo vmo, uint32_t options, uint64_t offset, uint64_t size,
                              const std::string& object) {
  auto backing = vmo.GetBacking();
  if (!backing) return Wrap(backing.error(), "pin: the VMO sent");
  const int fd = backing->fd;
  struct statfs fs{};
  if (::fstatfs(fd, &fs) != 0) return FailErrno(errno, "pin: fstatfs of the VMO sent", object);
  if (fs.f_type != TMPFS_MAGIC && fs.f_type != HUGETLBFS_MAGIC) {
    return Fail(Status::ACCESS_DENIED,
                "pin: the VMO sent is not shared memory (filesystem magic " +
                    Hex(static_cast<uint64_t>(fs.f_type)) +
                    "): a driver host can have pinned only memory it shares (memfd)",
                object);
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return FailErrno(errno, "pin: fcntl(F_GETFL) of the VMO sent", object);
  const int mode = flags & O_ACCMODE;
  if ((options & dma::kBtiPermWrite) != 0 && mode != O_RDWR) {
    return Fail(Status::ACCESS_DENIED,
                "pin: the device is to write memory the host sent read-only", object);
  }
  if (mode != O_RDWR && (vmo.rights() & kRightWrite) != 0) {
    // The message claimed WRITE for a read-only fd: believe the fd.
    UDRV_TRY_ASSIGN(vmo, std::move(vmo).Replace(vmo.rights() & ~kRightWrite));
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0) return FailErrno(errno, "pin: fstat of the VMO sent", object);
  uint64_t end = 0;
  if (__builtin_add_overflow(offset, size, &end) ||
      __builtin_add_overflow(end, backing->fd_offset, &end) ||
      end > static_cast<uint64_t>(st.st_size)) {
    return Fail(Status::OUT_OF_RANGE,
                "pin: [" + Hex(offset) + ", +" + Hex(size) + ") passes the end of the memory sent (" +
                    Hex(static_cast<uint64_t>(st.st_size)) + " bytes)",
                object);
  }
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_SHRINK) != 0) return vmo;
  if (mode != O_RDWR) {
    return Fail(Status::ACCESS_DENIED,
                "pin: memory sent read-only must come sealed against shrinking (F_SEAL_SHRINK)",
                object);
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
    return Fail(Status::ACCESS_DENIED,
                "pin: the memory sent cannot be sealed against shrinking (create it with "
                "memfd_create(MFD_ALLOW_SEALING), as Vmo::Create does)",
                object, errno);
  }
  return vmo;
}

// The bytes of the pages [offset, offset + size) touches.
uint64_t PagesSpanned(uint64_t offset, uint64_t size) {
  const uint64_t page = PageSize();
  const uint64_t first = offset / page;
  const uint64_t last = (offset + size + page - 1) / page;
  return (last - first) * page;
}

std::string Bytes(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 30) == 0 && bytes != 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes % (uint64_t{1} << 20) == 0 && bytes != 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (uint64_t{1} << 10) == 0 && bytes != 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

std::string HostBudget::ToString() const {
  return "pinned memory " + Bytes(max_pinned_bytes) + ", " + std::to_string(max_pins) + " pins, " +
         std::to_string(max_processes) + " processes and threads";
}

struct HostServer::Session {
  Session(HostService& served, bus::DeviceNode given_node, UniqueFd host_socket,
          HostServerOptions server_options)
      : service(served),
        node(std::move(given_node)),
        socket(std::move(host_socket)),
        options(std::move(server_options)),
        object("driver host of " + served.DeviceName()) {}

  HostService& service;
  bus::DeviceNode node;
  UniqueFd socket;
  HostServerOptions options;
  std::string object;  // "driver host of 0000:00:03.0"

  // One Bti per index the host asked for; the host names it by its place.
  std::vector<dma::Bti> btis;
  struct GivenBti {
    size_t id = 0;  // its place in `btis`
    uint64_t dma_limit = 0;
  };
  std::map<uint32_t, GivenBti> bti_of_index;
  struct HeldPin {
    uint64_t bti = 0;
    dma::Pmt pmt;
    uint64_t bytes = 0;  // charged to the budget
  };
  std::map<uint64_t, HeldPin> pins;
  uint64_t next_pin = 1;
  // What the host's pins cost, live and quarantined; the quarantined part
  // per Bti, given back when the host releases that Bti's quarantine.
  struct Charge {
    uint64_t bytes = 0;
    uint64_t pins = 0;
  };
  Charge charged;
  std::map<uint64_t, Charge> quarantined;
  bool started_reported = false;
  uint64_t refusals = 0;

  void Log(const std::string& line) const {
    if (options.log) options.log(object + ": " + Printable(line));
  }

  std::string OpName(uint16_t op) const {
    return op >= wire::kFirstServiceOp ? service.OpName(op) : GenericOpName(static_cast<Op>(op));
  }

  // A send the host did not make room for within reply_timeout
  // (SO_SNDTIMEO) is TIMED_OUT: the connection is dropped.
  Result<void> Sent(Result<void> sent) const {
    if (!sent && (sent.error().err_no == EAGAIN || sent.error().status == Status::SHOULD_WAIT)) {
      return Fail(Status::TIMED_OUT,
                  "the host did not read its replies for " +
                      std::to_string(options.reply_timeout / 1'000'000) + " ms",
                  object);
    }
    return sent;
  }
  Result<void> SendBytes(std::span<const std::byte> bytes, std::string_view what) const {
    return Sent(wire::Send(socket.get(), bytes, std::string(what) + " to " + object));
  }
  template <typename Reply>
  Result<void> SendReply(uint16_t op, const Reply& reply) const {
    return SendBytes(wire::FrameReply(op, std::as_bytes(std::span(&reply, 1)).first(wire::kBodySize<Reply>)),
                     "reply");
  }
  template <typename Handle>
  Result<void> SendToHost(Handle&& handle, Rights rights) const {
    return Sent(SendHandle(socket.get(), std::forward<Handle>(handle), rights));
  }
  // Answers `op` with `error`. What a host asks beyond its rights or budget
  // is logged; a device's own NOT_SUPPORTED (a mode it lacks) is only
  // answered.
  Result<void> SendError(uint16_t op, const Error& error) {
    switch (error.status) {
      case Status::ACCESS_DENIED:
      case Status::BAD_HANDLE:
      case Status::BAD_STATE:
      case Status::NOT_FOUND:
      case Status::INVALID_ARGS:
      case Status::OUT_OF_RANGE:
      case Status::NO_RESOURCES:
      case Status::ALREADY_EXISTS:
        LogRefusal("refused " + OpName(op) + ": " + error.ToString());
        break;
      default:
        break;
    }
    return SendBytes(wire::FrameError(op, error), "reply");
  }
  // A reply of `Reply` from `result`, or its error.
  template <typename Reply>
  Result<void> Answer(uint16_t op, const Result<Reply>& result) {
    if (!result) return SendError(op, result.error());
    return SendReply(op, *result);
  }
  Result<void> Answer(uint16_t op, const Result<void>& result) {
    if (!result) return SendError(op, result.error());
    return SendReply(op, wire::Empty{});
  }
  // A host can have any number of requests refused: the log gets the first
  // kLoggedRefusals, then one line saying the rest go unlogged.
  void LogRefusal(const std::string& line) {
    ++refusals;
    if (refusals <= kLoggedRefusals) Log(line);
    if (refusals == kLoggedRefusals) {
      Log("logged " + std::to_string(kLoggedRefusals) +
          " refusals; this host's further refusals are answered, not logged");
    }
  }

  Result<dma::Bti*> FindBti(uint64_t id) {
    if (id >= btis.size()) {
      return Fail(Status::BAD_HANDLE, "no BTI " + std::to_string(id) + " was given to this host",
                  object);
    }
    return &btis[id];
  }

  // One request, checked against its op's size: the connection ends on a
  // transport error or a malformed request, not on a refusal.
  Result<void> Handle(const wire::Message& request);
  Result<void> HandleGeneric(Op op, std::span<const std::byte> body);
  Result<void> HandleService(uint16_t op, std::span<const std::byte> body);
  Result<void> Hello();
  Result<void> MapInterrupt(const wire::MapInterruptRequest& request);
  Result<wire::GetBtiReply> GetBti(const wire::GetBtiRequest& request);
  Result<void> Pin(const wire::PinRequest& request);
  Result<void> ForgetPin(Op op, uint64_t bti, uint64_t pin);
  Result<wire::BtiInfoReply> BtiInfo(const wire::BtiInfoRequest& request);
  Result<void> ReleaseQuarantine(const wire::ReleaseQuarantineRequest& request);
  Result<void> Started(const wire::StartedRequest& request);
};

Result<void> HostServer::Session::Hello() {
  const uint16_t op = wire::HelloRequest::kOp;
  const std::string text = bus::SerializeNode(node);
  auto vmo = Vmo::Create(text.size(), "node " + node.id);
  if (!vmo) return SendError(op, vmo.error());
  if (auto written = vmo->Write(std::as_bytes(std::span(text)), 0); !written) {
    return SendError(op, written.error());
  }
  auto backing = vmo->GetBacking();
  if (!backing) return SendError(op, backing.error());
  // Sealed: even a host that reopens the memfd through /proc cannot write it.
  if (::fcntl(backing->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return SendError(op, FailErrno(errno, "seal the node VMO", object).error());
  }
  wire::HelloReply reply;
  reply.node_size = text.size();
  wire::SetText(reply.route, service.Route());
  wire::SetText(reply.device, service.DeviceName());
  UDRV_TRY(SendReply(op, reply));
  return SendToHost(std::move(*vmo), kHostNodeRights);
}

Result<void> HostServer::Session::MapInterrupt(const wire::MapInterruptRequest& request) {
  const uint16_t op = wire::MapInterruptRequest::kOp;
  auto interrupt = service.MapInterrupt(request.vector);
  if (!interrupt) return SendError(op, interrupt.error());
  UDRV_TRY(SendReply(op, wire::Empty{}));
  return SendToHost(std::move(*interrupt), kHostInterruptRights);
}

// Reserved fields must be 0: a later version may give them a meaning, and
// an old root bus must not read a request of that version as another one.
Result<void> CheckReserved(uint32_t reserved, std::string_view op, const std::string& object) {
  if (reserved == 0) return {};
  return Fail(Status::INVALID_ARGS,
              std::string(op) + ": reserved field is " + Hex(reserved) + ", not 0", object);
}

Result<wire::GetBtiReply> HostServer::Session::GetBti(const wire::GetBtiRequest& request) {
  UDRV_TRY(CheckReserved(request.reserved, "get BTI", object));
  // One Bti per index, as a device has: asking again gives the same one.
  if (auto it = bti_of_index.find(request.index); it != bti_of_index.end()) {
    if (it->second.dma_limit != request.dma_limit) {
      return Fail(Status::ALREADY_EXISTS,
                  "get BTI " + std::to_string(request.index) + ": given already, with DMA limit " +
                      Hex(it->second.dma_limit) + ", not " + Hex(request.dma_limit),
                  object);
    }
    return wire::GetBtiReply{it->second.id};
  }
  UDRV_TRY_ASSIGN(dma::Bti bti, service.GetBti(request.index, request.dma_limit));
  if (bti.is_physical()) {
    return Fail(Status::NOT_SUPPORTED,
                "get BTI: the device has no IOMMU in front: it could DMA to any memory, whatever "
                "the host shared; isolated drivers need an IOMMU (vfio-pci)",
                object);
  }
  btis.push_back(std::move(bti));
  bti_of_index.emplace(request.index, GivenBti{btis.size() - 1, request.dma_limit});
  return wire::GetBtiReply{btis.size() - 1};
}

Result<void> HostServer::Session::Pin(const wire::PinRequest& request) {
  const uint16_t op = wire::PinRequest::kOp;
  // The VMO comes next whatever the verdict: take it first.
  auto vmo = ReceiveVmo(socket.get(), kRightSameRights, DeadlineAfter(kFollowUpTimeout));
  if (!vmo) {
    if (vmo.error().status == Status::PEER_CLOSED) return std::unexpected(vmo.error());
    return SendError(op, Wrap(vmo.error(), "pin: the VMO that follows the request").error());
  }
  if (auto reserved = CheckReserved(request.reserved, "pin", object); !reserved) {
    return SendError(op, reserved.error());
  }
  auto bti = FindBti(request.bti);
  if (!bti) return SendError(op, bti.error());
  const uint64_t offset = request.offset;
  const uint64_t size = request.size;
  if (size == 0) return SendError(op, Error{Status::INVALID_ARGS, "pin: size 0", object});
  // Room for rounding up to whole pages too (PagesSpanned).
  if (offset + size < offset || offset + size > UINT64_MAX - PageSize()) {
    return SendError(op, Error{Status::OUT_OF_RANGE,
                               "pin: [" + Hex(offset) + ", +" + Hex(size) + ") wraps around", object});
  }
  const HostBudget& budget = options.budget;
  const uint64_t bytes = PagesSpanned(offset, size);
  if (charged.pins >= budget.max_pins) {
    return SendError(op, Error{Status::NO_RESOURCES,
                               "pin: the host's budget of " + std::to_string(budget.max_pins) +
                                   " pins is spent (quarantined pins count until released)",
                               object});
  }
  if (bytes > budget.max_pinned_bytes - charged.bytes) {
    return SendError(op, Error{Status::NO_RESOURCES,
                               "pin: " + Bytes(bytes) + " more would pass the host's budget of " +
                                   Bytes(budget.max_pinned_bytes) + " pinned (" +
                                   Bytes(charged.bytes) +
                                   " pinned or quarantined; every page of a pin counts, touched "
                                   "or not)",
                               object});
  }
  auto shared = CheckSharedMemory(std::move(*vmo), request.options, offset, size, object);
  if (!shared) return SendError(op, shared.error());
  auto pmt = (*bti)->Pin(request.options, *shared, offset, size);
  if (!pmt) return SendError(op, pmt.error());

  const uint64_t id = next_pin++;
  std::vector<uint64_t> addresses(pmt->addresses().begin(), pmt->addresses().end());
  pins.emplace(id, HeldPin{request.bti, std::move(*pmt), bytes});
  charged.bytes += bytes;
  charged.pins += 1;
  UDRV_TRY(SendReply(op, wire::PinReply{id, addresses.size()}));
  for (size_t at = 0; at < addresses.size(); at += wire::kAddressesPerMessage) {
    const size_t count = std::min(wire::kAddressesPerMessage, addresses.size() - at);
    UDRV_TRY(SendBytes(std::as_bytes(std::span(addresses.data() + at, count)), "pin addresses"));
  }
  return {};
}

Result<void> HostServer::Session::ForgetPin(Op op, uint64_t bti, uint64_t pin) {
  auto it = pins.find(pin);
  if (it == pins.end() || it->second.bti != bti) {
    return Fail(Status::NOT_FOUND,
                GenericOpName(op) + ": BTI " + std::to_string(bti) + " has no pin " +
                    std::to_string(pin) + " of this host",
                object);
  }
  const uint64_t bytes = it->second.bytes;
  if (op == Op::BTI_UNPIN) {
    UDRV_TRY(it->second.pmt.Unpin());
    charged.bytes -= bytes;
    charged.pins -= 1;
  } else {
    // A Pmt dropped without Unpin is quarantined by its Bti: still mapped,
    // still charged until the host releases the quarantine.
    Charge& held = quarantined[bti];
    held.bytes += bytes;
    held.pins += 1;
  }
  pins.erase(it);
  return {};
}

Result<wire::BtiInfoReply> HostServer::Session::BtiInfo(const wire::BtiInfoRequest& request) {
  UDRV_TRY_ASSIGN(dma::Bti* bti, FindBti(request.bti));
  UDRV_TRY_ASSIGN(const dma::BtiInfo info, bti->GetInfo());
  return wire::BtiInfoReply{info.minimum_contiguity, info.aspace_size, info.pmo_count,
                            info.quarantine_count};
}

Result<void> HostServer::Session::ReleaseQuarantine(const wire::ReleaseQuarantineRequest& request) {
  UDRV_TRY_ASSIGN(dma::Bti* bti, FindBti(request.bti));
  UDRV_TRY(bti->ReleaseQuarantine());
  const Charge held = std::exchange(quarantined[request.bti], Charge{});
  charged.bytes -= held.bytes;
  charged.pins -= held.pins;
  return {};
}

Result<void> HostServer::Session::Started(const wire::StartedRequest& request) {
  // The host's words go to logs and errors: escaped where they enter, so
  // they cannot forge lines or steer a terminal.
  const std::string words = Printable(wire::GetText(request.error));
  UDRV_TRY(CheckReserved(request.reserved, "started", object));
  // 0, or a udrv::Status, which are all negative.
  if (request.status > 0) {
    return Fail(Status::INVALID_ARGS,
                "started: status " + std::to_string(request.status) + " is no udrv status", object);
  }
  // Once: a host cannot take back the start it reported.
  if (started_reported) {
    return Fail(Status::BAD_STATE,
                "started: the driver's start was reported already; this report (" +
                    (request.status == 0 ? std::string("started") : words) + ") changes nothing",
                object);
  }
  started_reported = true;
  Result<void> started;
  if (request.status != 0) {
    started = std::unexpected(Error{static_cast<Status>(request.status), words, node.id});
  }
  if (options.on_started) options.on_started(started);
  return {};
}

Result<void> HostServer::Session::HandleGeneric(Op op, std::span<const std::byte> body) {
  const uint16_t number = wire::OpNumber(op);
  const std::string what = "request from " + object;
  switch (op) {
    case Op::HELLO:
      return Hello();
    case Op::MAP_INTERRUPT: {
      UDRV_TRY_ASSIGN(const auto request, wire::DecodeBody<wire::MapInterruptRequest>(body, what));
      return MapInterrupt(request);
    }
    case Op::GET_BTI: {
      UDRV_TRY_ASSIGN(const auto request, wire::DecodeBody<wire::GetBtiRequest>(body, what));
      return Answer(number, GetBti(request));
    }
    case Op::BTI_PIN: {
      UDRV_TRY_ASSIGN(const auto request, wire::DecodeBody<wire::PinRequest>(body, what));
      return Pin(request);
    }
    case Op::BTI_UNPIN: {
      UDRV_TRY_ASSIGN(const auto request, wire::DecodeBody<wire::UnpinRequest>(body, what));
      return Answer(number, ForgetPin(op, request.bti, request.pin));
    }
    case Op::BTI_QUARANTINE: {
      UDRV_TRY_ASSIGN(const auto request, wire::DecodeBody<wire::QuarantineRequest>(body, what));
      return Answer(number, ForgetPin(op, request.bti, request.pin));
    }
    case Op::BTI_INFO: {
      UDRV_TRY_ASSIGN(const auto request, wire::DecodeBody<wire::BtiInfoRequest>(body, what));
      return Answer(number, BtiInfo(request));
    }
    case Op::BTI_RELEASE_QUARANTINE: {
      UDRV_TRY_ASSIGN(const auto request, wire::DecodeBody<wire::ReleaseQuarantineRequest>(body, what));
      return Answer(number, ReleaseQuarantine(request));
    }
    case Op::STARTED: {
      UDRV_TRY_ASSIGN(const auto request, wire::DecodeBody<wire::StartedRequest>(body, what));
      return Answer(number, Started(request));
    }
  }
  return Fail(Status::INTERNAL, "unhandled op", object);
}

Result<void> HostServer::Session::HandleService(uint16_t op, std::span<const std::byte> body) {
  auto reply = service.Handle(op, body);
  if (!reply) return SendError(op, reply.error());
  UDRV_TRY(SendBytes(wire::FrameReply(op, reply->body), "reply"));
  if (reply->vmo) UDRV_TRY(SendToHost(std::move(reply->vmo), reply->vmo_rights));
  if (reply->file) return Sent(SendFile(socket.get(), std::move(reply->file), reply->file_name));
  return {};
}

Result<void> HostServer::Session::Handle(const wire::Message& request) {
  const uint16_t op = request.header.op;
  const std::optional<size_t> size =
      op >= wire::kFirstServiceOp ? service.RequestSize(op)
      : op >= 1 && op <= wire::kLastOp ? GenericRequestSize(op)
                                        : std::nullopt;
  if (!size) {
    return Fail(Status::IO_INVALID, "a request of unknown op " + std::to_string(op), object);
  }
  if (request.body.size() != *size) {
    return Fail(Status::IO_INVALID,
                "a " + OpName(op) + " request of " + std::to_string(request.body.size()) +
                    " bytes, not " + std::to_string(*size),
                object);
  }
  if (request.header.device != wire::kGivenDevice) {
    // A pin's VMO follows its request: drop it with the request.
    if (op == wire::PinRequest::kOp) {
      (void)ReceiveVmo(socket.get(), kRightSameRights, DeadlineAfter(kFollowUpTimeout));
    }
    return SendError(op, Error{Status::ACCESS_DENIED,
                               OpName(op) + ": the request names device " +
                                   std::to_string(request.header.device) +
                                   "; this host was given one device, " + service.DeviceName() +
                                   " (device 0)",
                               object});
  }
  if (op >= wire::kFirstServiceOp) return HandleService(op, request.body);
  return HandleGeneric(static_cast<Op>(op), request.body);
}

HostServer::HostServer(HostService& service, bus::DeviceNode node, UniqueFd socket,
                       HostServerOptions options)
    : session_(std::make_unique<Session>(service, std::move(node), std::move(socket),
                                         std::move(options))) {}

HostServer::~HostServer() = default;

Result<void> HostServer::Serve() {
  Session& s = *session_;
  // However Serve ends, the connection ends with it: a host left waiting for
  // the reply to a request that broke the protocol sees PEER_CLOSED, rather
  // than blocking until the server is destroyed.
  struct ShutdownOnReturn {
    int fd;
    ~ShutdownOnReturn() { (void)::shutdown(fd, SHUT_RDWR); }
  } shutdown_on_return{s.socket.get()};
  // Replies wait for the host to read them only so long.
  const timeval reply_timeout{
      .tv_sec = static_cast<time_t>(s.options.reply_timeout / 1'000'000'000),
      .tv_usec = static_cast<suseconds_t>(s.options.reply_timeout % 1'000'000'000 / 1000)};
  if (::setsockopt(s.socket.get(), SOL_SOCKET, SO_SNDTIMEO, &reply_timeout, sizeof(reply_timeout)) != 0) {
    return FailErrno(errno, "setsockopt(SO_SNDTIMEO) on the host's socket", s.object);
  }
  std::vector<std::byte> buffer(sizeof(wire::Header) + wire::kMaxBodySize);
  for (;;) {
    // The host's end can outlive the host (a child it forked keeps it):
    // the host ending ends the service too.
    pollfd ready[2] = {{s.socket.get(), POLLIN, 0}, {s.options.host_ended_fd, POLLIN, 0}};
    const int count = ::poll(ready, s.options.host_ended_fd >= 0 ? 2 : 1, -1);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return FailErrno(errno, "poll the host's socket", s.object);
    if ((ready[1].revents & POLLIN) != 0) return {};
    auto received = wire::ReceiveUpTo(s.socket.get(), buffer, kInfinite, "request from " + s.object);
    if (!received) {
      if (received.error().status == Status::PEER_CLOSED) return {};
      s.Log("dropped the connection: " + received.error().ToString());
      return std::unexpected(received.error());
    }
    auto request = wire::ParseMessage(std::span(buffer).first(*received));
    if (!request) {
      s.Log("dropped the connection: a malformed request: " + request.error().ToString());
      return Fail(Status::IO_INVALID, "a malformed request: " + request.error().what, s.object);
    }
    auto handled = s.Handle(*request);
    if (!handled) {
      if (handled.error().status == Status::PEER_CLOSED) return {};
      s.Log("dropped the connection: " + handled.error().ToString());
      return handled;
    }
  }
}

bus::ReleaseReport HostServer::Reclaim() {
  Session& s = *session_;
  bus::ReleaseReport report;
  const size_t left = s.pins.size();
  s.pins.clear();  // each Pmt dropped without Unpin: quarantined, still mapped
  report.steps.push_back({"pins quarantined", bus::ReleaseStep::Outcome::DONE,
                          std::to_string(left) + " pin(s) the host left"});
  if (!s.service.Quiesce(report)) {
    report.steps.push_back({"quarantine released", bus::ReleaseStep::Outcome::FAILED,
                            "kept: the device could not be quiesced and may still DMA"});
    return report;
  }
  Result<void> released;
  uint64_t quarantined = 0;
  for (dma::Bti& bti : s.btis) {
    if (auto info = bti.GetInfo(); info) quarantined += info->quarantine_count;
    if (auto done = bti.ReleaseQuarantine(); !done && released) released = done;
  }
  report.steps.push_back(bus::StepOf("quarantine released", released,
                                     std::to_string(quarantined) + " pin(s) unmapped"));
  if (released) s.btis.clear();
  return report;
}

size_t HostServer::live_pins() const {
  size_t count = 0;
  for (const dma::Bti& bti : session_->btis) {
    if (auto info = bti.GetInfo(); info) count += info->pmo_count;
  }
  return count;
}

}  // namespace udrv::host
