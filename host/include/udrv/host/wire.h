// The messages between a driver host and the root bus that serves it
// (server.h, connection.h). Each is one SOCK_SEQPACKET message: a Header,
// then a body whose type the op names. A request is answered by one reply:
// a Header, a ReplyStatus and, when the status is OK, the op's reply body;
// some are followed by more messages (a handle, pin addresses), said at
// the op. Host byte order: both ends share a machine.
//
// Ops below kFirstServiceOp are the host library's own (the generic half:
// hello, interrupts, DMA, the start report); from kFirstServiceOp on they
// are the bus service's (pci/src/pci_host_messages.h for PCI). Every
// request type names its op (kOp) and its reply type (Reply), so a message
// cannot be sent as one op and read as another's fields.
//
// Public so that test hosts can send what the library never would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/time.h"

namespace udrv::host::wire {

inline constexpr uint32_t kMagic = 0x6f736975;  // "uiso"
// 2: typed bodies with a size in the header (1 had four untyped arguments).
inline constexpr uint16_t kVersion = 2;

// The device a host was given is device 0; a request naming another is refused.
inline constexpr uint32_t kGivenDevice = 0;

inline constexpr size_t kTextSize = 1024;
inline constexpr size_t kObjectSize = 256;
inline constexpr size_t kRouteSize = 64;
// No body is larger: a message that says it is, is malformed.
inline constexpr size_t kMaxBodySize = 4096;

inline constexpr uint16_t kFirstServiceOp = 0x100;

enum class Op : uint16_t {
  HELLO = 1,               // then the node VMO
  MAP_INTERRUPT,           // then the interrupt
  GET_BTI,
  BTI_PIN,                 // the VMO follows the request; the addresses follow the reply
  BTI_UNPIN,
  BTI_QUARANTINE,
  BTI_INFO,
  BTI_RELEASE_QUARANTINE,
  STARTED,
};
inline constexpr uint16_t kLastOp = static_cast<uint16_t>(Op::STARTED);
constexpr uint16_t OpNumber(Op op) { return static_cast<uint16_t>(op); }

struct Header {
  uint32_t magic = kMagic;
  uint16_t version = kVersion;
  uint16_t op = 0;
  uint32_t size = 0;  // the bytes after the header
  uint32_t device = kGivenDevice;
};

struct ReplyStatus {
  int32_t status = 0;  // udrv::Status; 0: OK
  int32_t err_no = 0;
  char what[kTextSize] = {};      // NUL-terminated
  char object[kObjectSize] = {};  // NUL-terminated
};

// The body size of a message type: an empty struct has no bytes on the wire.
template <typename Body>
inline constexpr size_t kBodySize = std::is_empty_v<Body> ? 0 : sizeof(Body);

struct Empty {};

struct HelloReply {
  uint64_t node_size = 0;        // bytes of node text in the VMO that follows
  char route[kRouteSize] = {};   // the root bus's route ("vfio")
  char device[kObjectSize] = {}; // the device, as its bus names it ("0000:00:03.0")
};
struct HelloRequest {
  static constexpr uint16_t kOp = OpNumber(Op::HELLO);
  using Reply = HelloReply;
};

struct MapInterruptRequest {
  static constexpr uint16_t kOp = OpNumber(Op::MAP_INTERRUPT);
  using Reply = Empty;
  uint32_t vector = 0;
};

struct GetBtiReply {
  uint64_t bti = 0;  // how the host names it in the BTI ops
};
struct GetBtiRequest {
  static constexpr uint16_t kOp = OpNumber(Op::GET_BTI);
  using Reply = GetBtiReply;
  uint32_t index = 0;
  uint32_t reserved = 0;
  uint64_t dma_limit = 0;
};

struct PinReply {
  uint64_t pin = 0;
  uint64_t address_count = 0;  // sent after the reply, kAddressesPerMessage at a time
};
struct PinRequest {
  static constexpr uint16_t kOp = OpNumber(Op::BTI_PIN);
  using Reply = PinReply;
  uint64_t bti = 0;
  uint32_t options = 0;  // dma::kBtiPerm*
  uint32_t reserved = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
};
inline constexpr size_t kAddressesPerMessage = 4096;

struct UnpinRequest {
  static constexpr uint16_t kOp = OpNumber(Op::BTI_UNPIN);
  using Reply = Empty;
  uint64_t bti = 0;
  uint64_t pin = 0;
};
struct QuarantineRequest {
  static constexpr uint16_t kOp = OpNumber(Op::BTI_QUARANTINE);
  using Reply = Empty;
  uint64_t bti = 0;
  uint64_t pin = 0;
};

struct BtiInfoReply {
  uint64_t minimum_contiguity = 0;
  uint64_t aspace_size = 0;
  uint64_t pmo_count = 0;
  uint64_t quarantine_count = 0;
};
struct BtiInfoRequest {
  static constexpr uint16_t kOp = OpNumber(Op::BTI_INFO);
  using Reply = BtiInfoReply;
  uint64_t bti = 0;
};
struct ReleaseQuarantineRequest {
  static constexpr uint16_t kOp = OpNumber(Op::BTI_RELEASE_QUARANTINE);
  using Reply = Empty;
  uint64_t bti = 0;
};

struct StartedRequest {
  static constexpr uint16_t kOp = OpNumber(Op::STARTED);
  using Reply = Empty;
  int32_t status = 0;  // 0: started; else the udrv::Status it failed with
  uint32_t reserved = 0;
  char error[kTextSize] = {};  // NUL-terminated
};

// Copies `text` into a NUL-terminated field, cut to fit.
template <size_t N>
void SetText(char (&field)[N], std::string_view text) {
  const size_t len = text.size() < N - 1 ? text.size() : N - 1;
  std::memcpy(field, text.data(), len);
  field[len] = '\0';
}

// The field's text up to its NUL (or its end, from a peer that left none).
template <size_t N>
std::string GetText(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

// A header and `body`, as one message's bytes.
std::vector<std::byte> Frame(uint16_t op, std::span<const std::byte> body,
                             uint32_t device = kGivenDevice);
template <typename Request>
std::vector<std::byte> FrameRequest(const Request& request, uint32_t device = kGivenDevice) {
  return Frame(Request::kOp, std::as_bytes(std::span(&request, 1)).first(kBodySize<Request>), device);
}
// A reply: success with `body`, or `error` (no body).
std::vector<std::byte> FrameReply(uint16_t op, std::span<const std::byte> body);
std::vector<std::byte> FrameError(uint16_t op, const Error& error);

// A message split into its header and body. IO_INVALID for one shorter
// than a header, of another magic or version, or whose header's size is
// not what follows it.
struct Message {
  Header header;
  std::span<const std::byte> body;
};
Result<Message> ParseMessage(std::span<const std::byte> bytes);

std::unexpected<Error> BodySizeError(size_t size, size_t expected, std::string_view what);
// The body as a `Body`: IO_INVALID when it has another size.
template <typename Body>
Result<Body> DecodeBody(std::span<const std::byte> body, std::string_view what) {
  if (body.size() != kBodySize<Body>) return BodySizeError(body.size(), kBodySize<Body>, what);
  Body decoded{};
  if constexpr (kBodySize<Body> != 0) std::memcpy(&decoded, body.data(), sizeof(Body));
  return decoded;
}

// A reply to a request of `op`: its status and body. IO_INVALID for a
// reply to another op, one too short for its status, or an error that
// carries a body.
struct ParsedReply {
  ReplyStatus status;
  std::span<const std::byte> body;
};
Result<ParsedReply> ParseReply(const Message& reply, uint16_t op);
// The error a reply's status carries, or success.
Result<void> StatusResult(const ReplyStatus& status);

// One message, no fds. PEER_CLOSED when the other end is gone.
Result<void> Send(int socket_fd, std::span<const std::byte> bytes, std::string_view what);

// One message of up to `out.size()` bytes, blocking until `deadline`; its
// size. PEER_CLOSED at the end of the stream; IO_INVALID for a longer
// message or one that came with fds (they are closed).
Result<size_t> ReceiveUpTo(int socket_fd, std::span<std::byte> out, Time deadline,
                           std::string_view what);
// One message of exactly `out.size()` bytes (IO_INVALID otherwise).
Result<void> Receive(int socket_fd, std::span<std::byte> out, Time deadline, std::string_view what);

// Room for any one message.
inline constexpr size_t kMaxMessageSize = sizeof(Header) + sizeof(ReplyStatus) + kMaxBodySize;

}  // namespace udrv::host::wire
