// Handles that cross processes: a VMO or an interrupt goes over a Unix
// socket as one message, a fixed header (object type, rights, metadata) with
// the object's fd attached (SCM_RIGHTS), and comes out on the other side as a
// handle with the same or fewer rights.
//
// Sending needs TRANSFER and consumes the handle, even when it fails (as
// zx_channel_write does). The receiver may only narrow the rights it was sent.
// Both SOCK_STREAM and SOCK_SEQPACKET sockets work; one message per handle.
//
// A plain file (a device node the sender opened, such as a usbfs node) can
// cross the same way: a message of its own type, with a name and no rights,
// that only ReceiveFile takes (ReceiveHandle refuses it, as ReceiveFile
// refuses a handle). udrv guards nothing on such an fd: whatever the kernel
// lets its holder do, the receiver can, so the sender narrows it first.
//
// Where the kernel can back the rights, it does: a VMO sent (or received)
// without WRITE travels as an fd reopened O_RDONLY, so the receiving process
// cannot write it or map it writable through that fd even without udrv.
// Caveat: a process that may open the file itself (memfds are mode 0777, so
// any process of the same user, or root, via /proc/self/fd/N) can still get a
// writable fd; only a different user or a sandbox without /proc is held by
// the kernel. For fds that cannot be reopened (anonymous inodes such as a
// VFIO device fd, and every interrupt's eventfd) udrv's rights checks are the
// only guard.
//
// What does not cross: an interrupt's on_ack (the receiver of a hardware
// interrupt cannot unmask it, so send MSI/MSI-X ones), its port binding (a
// bound interrupt cannot be sent), and Trigger timestamps (the receiving side
// stamps an interrupt with the time it saw it). A virtual interrupt stays
// virtual: either side can Trigger it when it holds SIGNAL; each interrupt is
// consumed by whichever side waits first.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/rights.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"

namespace udrv {

// The message on the socket, in host byte order (both ends share a machine).
// Published so that peers written without udrv, and tests, can speak it.
namespace wire {

inline constexpr uint32_t kMagic = 0x76726475;  // "udrv" in little-endian memory
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kNameSize = 64;  // names longer than 63 bytes are cut

enum class ObjectType : uint16_t { VMO = 1, INTERRUPT = 2, FILE = 3 };
inline constexpr uint32_t kFlagVirtualInterrupt = 1u << 0;

// Exactly one fd rides along (SCM_RIGHTS). Fields a type does not use are 0
// (a FILE uses only its name).
struct HandleMessage {
  uint32_t magic = kMagic;
  uint16_t version = kVersion;
  uint16_t type = 0;          // ObjectType
  uint32_t rights = 0;        // the handle's rights
  uint32_t flags = 0;         // INTERRUPT: kFlagVirtualInterrupt
  uint64_t size = 0;          // VMO: Vmo::Description
  uint64_t offset = 0;        // VMO
  uint32_t vmo_kind = 0;      // VMO: VmoKind
  uint32_t route = 0;         // VMO: PhysicalRoute
  uint32_t cache_policy = 0;  // VMO: CachePolicy
  uint32_t reserved = 0;
  char name[kNameSize] = {};  // NUL-terminated
};
static_assert(sizeof(HandleMessage) == 112);

}  // namespace wire

// Sends `vmo` through `socket_fd`. Needs TRANSFER (ACCESS_DENIED otherwise),
// and INSPECT and MAP, which read the description and the backing fd.
// PEER_CLOSED when nobody reads the socket any more.
// `sent_rights`: what the receiver gets, the handle's own rights
// (kRightSameRights) or a subset of them (INVALID_ARGS otherwise), which may
// leave out TRANSFER itself: a root bus hands out handles its drivers cannot
// pass on.
Result<void> SendHandle(int socket_fd, Vmo&& vmo, Rights sent_rights = kRightSameRights);

// Sends `interrupt`. Needs TRANSFER. BAD_STATE if it is bound to a port,
// CANCELED if it was destroyed. `sent_rights` as for a VMO.
Result<void> SendHandle(int socket_fd, Interrupt&& interrupt,
                        Rights sent_rights = kRightSameRights);

using ReceivedHandle = std::variant<Vmo, Interrupt>;

// Sends `file`, a plain fd and its name (cut to 63 bytes), consumed even
// when it fails. BAD_HANDLE for an invalid fd; PEER_CLOSED when nobody
// reads the socket any more.
Result<void> SendFile(int socket_fd, UniqueFd&& file, std::string_view name);

struct ReceivedFile {
  UniqueFd fd;
  std::string name;
};
// Receives one file that SendFile sent, blocking until `deadline`. WRONG_TYPE
// (and the fd is closed) for a VMO or an interrupt; otherwise refuses as
// ReceiveHandle does, and a FILE message with rights or other fields set is
// IO_INVALID.
Result<ReceivedFile> ReceiveFile(int socket_fd, Time deadline = kInfinite);

// Receives one handle, blocking until `deadline` (TIMED_OUT). `wanted` is
// kRightSameRights or a subset of the rights sent; asking for a right that
// was not sent is ACCESS_DENIED. A message that is not a well-formed udrv
// handle message is IO_INVALID (PROTOCOL_NOT_SUPPORTED for another version
// or an object type this build does not know; WRONG_TYPE for a plain file,
// which only ReceiveFile takes); PEER_CLOSED at end of stream.
// Any fds that came with a refused message are closed.
Result<ReceivedHandle> ReceiveHandle(int socket_fd, Rights wanted = kRightSameRights,
                                     Time deadline = kInfinite);

// Takes ownership of every fd the SCM_RIGHTS messages of `msg` carry (as
// recvmsg filled it in), so that none leaks whatever the caller makes of
// the message. For protocols of their own that receive on the same sockets.
std::vector<UniqueFd> TakeReceivedFds(msghdr& msg);

// Sends `message` with `fd` attached, as they are: no handle, no rights
// check, no narrowing of the fd. SendHandle builds its message from a
// handle; this is for peers that speak the wire format without handles,
// and for tests that must send what SendHandle never would (a forger's
// message). PEER_CLOSED when nobody reads the socket any more.
Result<void> SendHandleMessage(int socket_fd, const wire::HandleMessage& message, int fd);

// As ReceiveHandle, for callers that know what comes: WRONG_TYPE (and the
// handle is closed) when it is something else.
Result<Vmo> ReceiveVmo(int socket_fd, Rights wanted = kRightSameRights, Time deadline = kInfinite);
// `on_ack` re-enables the interrupt's source where the sender needs to be
// told (a level-triggered interrupt the sender relays): as
// Interrupt::CreateFromEventfd's; ignored for a virtual interrupt.
Result<Interrupt> ReceiveInterrupt(int socket_fd, Rights wanted = kRightSameRights,
                                   Time deadline = kInfinite,
                                   std::function<Result<void>()> on_ack = {});

}  // namespace udrv
