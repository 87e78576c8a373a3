// The messages between a driver host and the root bus (isolation.h), private
// to udrv_pci and its tests (a test host uses them to send what the library
// never would). One request, then one reply; some are followed by more
// messages, said at each Op. Host byte order: both ends share a machine.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "udrv/core/result.h"
#include "udrv/core/time.h"

namespace udrv::pci::wire {

inline constexpr uint32_t kMagic = 0x6f736975;  // "uiso"
inline constexpr uint16_t kVersion = 1;

enum class Op : uint16_t {
  HELLO = 1,          // reply: values {config size}, text route, object address; then the node VMO
  READ_CONFIG,        // args {offset, width}; reply values {value}
  WRITE_CONFIG,       // args {offset, width, value}
  GET_DEVICE_INFO,    // reply, then one DeviceInfoMessage
  GET_BAR,            // args {index}; reply values {size, flags, io_base}; a memory BAR's VMO follows
  SET_BUS_MASTERING,  // args {enable}
  GET_INTERRUPT_MODES,  // reply values {has_legacy, msi_count, msix_count}
  SET_INTERRUPT_MODE,   // args {mode, count}
  MAP_INTERRUPT,        // args {which}; reply, then the interrupt
  ACK_INTERRUPT,        // args {which}
  RESET_DEVICE,
  GET_BTI,                 // args {index, dma_limit}; reply values {bti}
  BTI_PIN,                 // args {bti, options, offset, size}, then the VMO; reply values
                           // {pin, address count}, then the addresses in AddressMessages
  BTI_UNPIN,               // args {bti, pin}
  BTI_QUARANTINE,          // args {bti, pin}
  BTI_INFO,                // args {bti}; reply values {minimum_contiguity, aspace_size,
                           // pmo_count, quarantine_count}
  BTI_RELEASE_QUARANTINE,  // args {bti}
  STARTED,                 // args {status}, text the error
};
inline constexpr uint16_t kLastOp = static_cast<uint16_t>(Op::STARTED);

// The device a host was given is device 0; a request naming another is refused.
inline constexpr uint32_t kGivenDevice = 0;

inline constexpr size_t kTextSize = 1024;
inline constexpr size_t kObjectSize = 256;

struct Request {
  uint32_t magic = kMagic;
  uint16_t version = kVersion;
  uint16_t op = 0;
  uint32_t device = kGivenDevice;
  uint32_t reserved = 0;
  uint64_t args[4] = {};
  char text[kTextSize] = {};  // NUL-terminated
};

struct Reply {
  uint32_t magic = kMagic;
  uint16_t version = kVersion;
  uint16_t op = 0;
  int32_t status = 0;  // udrv::Status; 0: OK
  int32_t err_no = 0;
  uint64_t values[4] = {};
  char text[kTextSize] = {};      // the error's `what`, or HELLO's route
  char object[kObjectSize] = {};  // the error's object, or HELLO's address
};

struct BarMessage {
  uint32_t index = 0;
  uint32_t flags = 0;  // kBar*
  uint64_t address = 0;
  uint64_t size = 0;
};
inline constexpr uint32_t kBarIo = 1u << 0;
inline constexpr uint32_t kBar64 = 1u << 1;
inline constexpr uint32_t kBarPrefetchable = 1u << 2;

struct DeviceInfoMessage {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  uint32_t class_code = 0;
  uint32_t irq = 0;
  int32_t numa_node = -1;
  uint8_t revision = 0;
  uint8_t bar_count = 0;
  uint16_t reserved = 0;
  BarMessage bars[6] = {};
};

inline constexpr size_t kAddressesPerMessage = 4096;

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

// One message, no fds. PEER_CLOSED when the other end is gone.
Result<void> Send(int socket_fd, std::span<const std::byte> bytes, std::string_view what);
template <typename Message>
Result<void> SendMessage(int socket_fd, const Message& message, std::string_view what) {
  return Send(socket_fd, std::as_bytes(std::span(&message, 1)), what);
}

// One message of exactly `out.size()` bytes, blocking until `deadline`.
// PEER_CLOSED at the end of the stream; IO_INVALID for a message of another
// size or one that came with fds (they are closed).
Result<void> Receive(int socket_fd, std::span<std::byte> out, Time deadline, std::string_view what);
template <typename Message>
Result<Message> ReceiveMessage(int socket_fd, Time deadline, std::string_view what) {
  Message message;
  auto received = Receive(socket_fd, std::as_writable_bytes(std::span(&message, 1)), deadline, what);
  if (!received) return std::unexpected(received.error());
  return message;
}

// A reply carrying `error`.
Reply ErrorReply(Op op, const Error& error);
// The error a reply carries, or success.
Result<void> ReplyResult(const Reply& reply);

}  // namespace udrv::pci::wire
