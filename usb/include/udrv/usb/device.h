// usb::Device: the protocol a driver speaks to a USB interface, after
// Fuchsia's fuchsia.hardware.usb (the controller driver owns the hardware;
// a device driver asks it for transfers). On Linux the controller driver is
// the kernel's (xhci-hcd) and usbfs (/dev/bus/usb/BBB/DDD) is how a process
// asks it; udrv's own controller driver will serve the same protocol.
//
// A driver binds to one interface (as on Linux): the bus opens the device's
// usbfs node, detaches the kernel driver from that interface and claims it
// for the driver. The driver may claim more interfaces of the same device
// (a CDC function's data interface), each detached from its kernel driver
// and reattached at release.
//
// Transfers: synchronous with a deadline, or asynchronous (USBDEVFS_SUBMITURB)
// completing as a USER packet on a Port (core/port.h). Errors name the
// endpoint and the usbfs errno's meaning: a stall (EPIPE) is Status::IO_REFUSED
// "endpoint 0x81 stalled", a timeout TIMED_OUT, a vanished device
// IO_NOT_PRESENT, a short IN transfer is not an error (the length says it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "udrv/bus/node.h"
#include "udrv/bus/protocol.h"
#include "udrv/core/port.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/usb/descriptors.h"

namespace udrv::usb {

// A control request's setup stage (USB 3.2 §9.3). wLength is the data
// span's size; bit 7 of request_type says the direction.
struct ControlSetup {
  uint8_t request_type = 0;  // bmRequestType
  uint8_t request = 0;       // bRequest
  uint16_t value = 0;        // wValue
  uint16_t index = 0;        // wIndex
};
inline constexpr uint8_t kRequestTypeIn = 0x80;
inline constexpr uint8_t kRequestGetDescriptor = 0x06;
inline constexpr uint8_t kRequestGetConfiguration = 0x08;  // USB 2.0 §9.4.2: one byte, 0 unconfigured

// What a USER packet of an asynchronous transfer's completion carries in
// PortPacket::user (see CompletionOf). PortPacket::key is the transfer's
// key, PortPacket::status its outcome (OK, IO_REFUSED for a stall,
// CANCELED when cancelled, IO_NOT_PRESENT when the device went away, IO for
// other errors).
struct TransferCompletion {
  uint64_t key = 0;
  Status status = Status::OK;
  uint32_t actual_length = 0;
  int32_t err_no = 0;  // the URB's status as usbfs gave it (negative errno); 0 when OK
};
TransferCompletion CompletionOf(const PortPacket& packet);

// An asynchronous transfer. `buffer` must stay valid (and untouched) until
// its completion arrives on the port: usbfs copies it in at submit (OUT)
// and out at reap (IN), into the buffer given here.
struct AsyncTransfer {
  enum class Type : uint8_t { BULK, INTERRUPT, CONTROL };
  Type type = Type::BULK;
  uint8_t endpoint = 0;        // with bit 7 for IN; 0 for CONTROL
  std::span<std::byte> buffer;  // CONTROL: the 8-byte setup, then the data
  uint64_t key = 0;            // comes back in the completion
};

// At most this many asynchronous transfers in flight per device (each
// holds kernel memory: usbfs's own limit is usbfs_memory_mb, 16 MiB).
inline constexpr size_t kMaxTransfersInFlight = 256;

class Device {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // The interface node the driver was bound to: its usb.* properties.
  virtual const bus::DeviceNode& GetNode() const = 0;
  // "usbfs" in-process, "remote" in a driver host.
  virtual std::string_view route() const = 0;

  // The device's descriptors as the kernel read them (sysfs), and which
  // configuration and interface the node is.
  virtual const Descriptors& GetDescriptors() const = 0;
  virtual uint8_t configuration() const = 0;     // bConfigurationValue active at open
  virtual uint8_t interface_number() const = 0;  // the node's interface, claimed at open

  // Claims another interface of the device: its kernel driver detached
  // (USBDEVFS_DISCONNECT_CLAIM) and reattached at ReleaseInterface or at
  // release of the device. ALREADY_EXISTS when claimed already; UNAVAILABLE when
  // another process holds it; ACCESS_DENIED in a host for an interface it
  // was not given.
  virtual Result<void> ClaimInterface(uint8_t number) = 0;
  virtual Result<void> ReleaseInterface(uint8_t number) = 0;

  // SET_CONFIGURATION: UNAVAILABLE while another driver holds an interface.
  virtual Result<void> SetConfiguration(uint8_t value) = 0;
  // SET_INTERFACE on a claimed interface.
  virtual Result<void> SetInterface(uint8_t number, uint8_t alternate_setting) = 0;

  // Synchronous transfers: the bytes moved (an IN transfer may be short).
  // TIMED_OUT once `timeout` passed (the transfer is cancelled).
  virtual Result<size_t> Control(const ControlSetup& setup, std::span<std::byte> data,
                                 Duration timeout) = 0;
  virtual Result<size_t> Bulk(uint8_t endpoint, std::span<std::byte> data, Duration timeout) = 0;
  virtual Result<size_t> InterruptTransfer(uint8_t endpoint, std::span<std::byte> data,
                                           Duration timeout) = 0;

  // Asynchronous transfers complete on `port` (needs WRITE on it), which
  // must outlive them. SHOULD_WAIT past kMaxTransfersInFlight; NOT_FOUND
  // for an endpoint the claimed interfaces do not have.
  virtual Result<void> Submit(const AsyncTransfer& transfer, const Port& port) = 0;
  // Cancels the transfer of `key`: its completion comes with CANCELED (or
  // its real outcome if it completed first). NOT_FOUND when none is in flight.
  virtual Result<void> Cancel(uint64_t key) = 0;

  // CLEAR_FEATURE(ENDPOINT_HALT) and the host side's toggle reset.
  virtual Result<void> ClearHalt(uint8_t endpoint) = 0;
  // Port reset (USBDEVFS_RESET): the device re-enumerates at the same
  // address; claims stay. ACCESS_DENIED in a host that does not hold every
  // interface of the device.
  virtual Result<void> Reset() = 0;

 protected:
  Device() = default;
};

}  // namespace udrv::usb

// usb::Device is the protocol "usb".
template <>
struct udrv::bus::ProtocolTraits<udrv::usb::Device> {
  static constexpr std::string_view kName = "usb";
};
