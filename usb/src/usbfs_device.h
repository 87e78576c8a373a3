// UsbfsDevice: usb::Device (device.h) over an open usbfs node
// (/dev/bus/usb/BBB/DDD, linux/usbdevice_fs.h), the route by which a process
// asks the kernel's USB controller driver for transfers.
//
// Two holders of the fd, told apart by `privileged`:
//   - the root bus in-process (privileged): it opened the node as root, so
//     claiming an interface detaches its kernel driver
//     (USBDEVFS_DISCONNECT_CLAIM) and releasing it has the kernel probe its
//     driver again (USBDEVFS_IOCTL + USBDEVFS_CONNECT);
//   - a driver host (not privileged): its fd had USBDEVFS_DROP_PRIVILEGES
//     applied by the root bus, so it claims and releases plainly
//     (USBDEVFS_CLAIMINTERFACE, RELEASEINTERFACE) the interfaces it was
//     allowed and the root bus deals with kernel drivers.
//
// Transfers name their endpoint in errors and carry the usbfs errno's USB
// meaning (TransferError). An endpoint that the claimed interfaces' active
// alternate settings do not have is refused before any ioctl (NOT_FOUND).
//
// Asynchronous transfers (Submit) go to usbfs with USBDEVFS_SUBMITURB; a
// reaper thread polls the fd (POLLOUT: a URB is reapable), reaps with
// USBDEVFS_REAPURBNDELAY and queues one USER packet per completion on the
// transfer's port (CompletionPacket; CompletionOf in device.h reads it).
// Destruction cancels every transfer and reaps it before returning: usbfs
// writes a caller's IN buffer only when the URB is reaped, so no buffer is
// written after its transfer's completion was delivered or dropped.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "udrv/bus/bus.h"
#include "udrv/bus/node.h"
#include "udrv/core/port.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/usb/descriptors.h"
#include "udrv/usb/device.h"

namespace udrv::usb {

// The largest synchronous bulk or interrupt transfer one USBDEVFS_BULK
// carries: usbfs copies it through one kernel allocation (kmalloc), so
// Bulk splits a longer one into pieces of this size (a multiple of every
// bulk max packet size: the pieces continue one USB transfer). An IN
// transfer stops at the first short piece.
inline constexpr size_t kMaxBulkPiece = 256 * 1024;

// The most data a synchronous control transfer carries: usbfs refuses more
// than a page in USBDEVFS_CONTROL. Submit a CONTROL transfer for more.
size_t MaxSyncControlData();

// The USB meaning of a usbfs errno from a synchronous call (a transfer,
// clear-halt, a submit), as Documentation/driver-api/usb/error-codes.rst
// gives it: EPIPE is a stall (IO_REFUSED, "endpoint 0x81 stalled"),
// ETIMEDOUT TIMED_OUT (usbfs turns a synchronous transfer it cancels into
// ETIMEDOUT), ENODEV/ESHUTDOWN the device gone (IO_NOT_PRESENT), ENOENT no
// such endpoint or interface (NOT_FOUND), ECONNRESET cancelled (CANCELED),
// EPROTO/EILSEQ/ETIME/EOVERFLOW (babble)/ECOMM/ENOSR/EREMOTEIO named link
// errors, EBUSY UNAVAILABLE, EACCES/EPERM ACCESS_DENIED. `what` names the
// transfer ("bulk IN endpoint 0x81").
Error TransferError(int err, std::string_view what, std::string object);

// The status of a reaped URB whose status is -`err`: as TransferError,
// but ENOENT is a URB that was unlinked (CANCELED).
Status ReapedStatus(int err);

// The USER packet that carries `completion` (key, status, length, errno),
// as CompletionOf (device.h) reads it: the one place its payload's layout
// is written.
PortPacket CompletionPacket(const TransferCompletion& completion);

class UsbfsDevice final : public Device {
 public:
  // Takes `fd` (the usbfs node, opened O_RDWR: usbfs signals a reapable
  // URB with POLLOUT only to a writable fd) and claims interface
  // `interface` of configuration `configuration` (the one active), with
  // its kernel driver detached when `privileged`. `node` is the interface's
  // node; `object` ("2-1:1.0") names the device in errors. Errors as
  // ClaimInterface; when privileged, the interface's kernel driver is put
  // back (USBDEVFS_CONNECT) if the claim failed after detaching it.
  static Result<std::unique_ptr<UsbfsDevice>> Create(UniqueFd fd, bus::DeviceNode node,
                                                     Descriptors descriptors, uint8_t configuration,
                                                     uint8_t interface, std::string object,
                                                     bool privileged);
  // Shutdown(false) unless called already, then closes the fd.
  ~UsbfsDevice() override;

  const bus::DeviceNode& GetNode() const override { return node_; }
  std::string_view route() const override { return "usbfs"; }
  const Descriptors& GetDescriptors() const override { return descriptors_; }
  uint8_t configuration() const override;
  uint8_t interface_number() const override { return interface_; }

  // Privileged: USBDEVFS_DISCONNECT_CLAIM, detaching any driver but usbfs
  // (UNAVAILABLE when another usbfs user holds it). Not privileged:
  // USBDEVFS_CLAIMINTERFACE (UNAVAILABLE while a kernel driver holds it,
  // ACCESS_DENIED for an interface the fd was not allowed). NOT_FOUND for
  // an interface the active configuration lacks. A newly claimed interface
  // is at alternate setting 0: the kernel selects it when a driver unbinds.
  Result<void> ClaimInterface(uint8_t number) override;
  // Releases the claim (usbfs kills the interface's transfers: they
  // complete CANCELED) and, privileged, has the kernel probe a driver for
  // the interface again. NOT_FOUND for an interface not claimed.
  Result<void> ReleaseInterface(uint8_t number) override;
  // UNAVAILABLE while any interface is claimed, this device's own
  // included: usbfs refuses SET_CONFIGURATION then.
  Result<void> SetConfiguration(uint8_t value) override;
  Result<void> SetInterface(uint8_t number, uint8_t alternate_setting) override;

  // `timeout` is rounded up to whole milliseconds, at least 1 (usbfs takes
  // 0 as "forever"); one of 2^32 ms or more waits forever. Control: at most
  // MaxSyncControlData() bytes (OUT_OF_RANGE beyond). Bulk: longer than
  // kMaxBulkPiece goes in pieces, all within `timeout`.
  Result<size_t> Control(const ControlSetup& setup, std::span<std::byte> data,
                         Duration timeout) override;
  Result<size_t> Bulk(uint8_t endpoint, std::span<std::byte> data, Duration timeout) override;
  Result<size_t> InterruptTransfer(uint8_t endpoint, std::span<std::byte> data,
                                   Duration timeout) override;

  // ALREADY_EXISTS for a key in flight already; WRONG_TYPE for an endpoint
  // of another transfer type; INVALID_ARGS for a CONTROL buffer whose
  // setup's wLength is not the data's size. Needs WRITE on `port`, which
  // must outlive the transfer's completion.
  Result<void> Submit(const AsyncTransfer& transfer, const Port& port) override;
  Result<void> Cancel(uint64_t key) override;

  Result<void> ClearHalt(uint8_t endpoint) override;
  // Releases every claim, resets, and claims them again (with their
  // alternate settings), as libusb does: usbfs does not keep a claim
  // across a reset, and a released interface stays driverless through it.
  Result<void> Reset() override;

  // Ends the device for the bus's Release: cancels every transfer in
  // flight and waits for their completions, releases each claimed
  // interface and, when `reattach_kernel_drivers` (privileged only), has
  // the kernel probe their drivers again. Every step is tried and
  // reported. Afterwards every call is refused (BAD_STATE).
  bus::ReleaseReport Shutdown(bool reattach_kernel_drivers);

  // The interfaces claimed now, by number.
  std::vector<uint8_t> claimed_interfaces() const;

  // The usbfs fd, borrowed: valid while the device lives. The isolation
  // route reopens the node through it for a driver host and takes its
  // interface back on it (usb_host_service.cc).
  int fd() const { return fd_.get(); }
  // Whether this holder detaches and reattaches kernel drivers (Create).
  bool privileged() const { return privileged_; }

 private:
  struct Claim {
    uint8_t alternate_setting = 0;
  };
  struct InFlight;
  struct PendingDelivery {
    const Port* port;
    PortPacket packet;
  };

  UsbfsDevice(UniqueFd fd, UniqueFd stop_event, bus::DeviceNode node, Descriptors descriptors,
              uint8_t configuration, uint8_t interface, std::string object, bool privileged);

  // The endpoint's descriptor among the claimed interfaces' active
  // settings; NOT_FOUND naming it otherwise. Needs mutex_.
  Result<const EndpointDescriptor*> FindEndpointLocked(uint8_t endpoint) const;
  Result<void> CheckTransfer(uint8_t endpoint, EndpointDescriptor::Type type,
                             std::string_view what) const;
  Result<void> CheckUsableLocked(std::string_view what) const;
  Result<void> ClaimLocked(uint8_t number, std::string_view what);
  Result<void> ReleaseLocked(uint8_t number, std::string_view what);
  Result<void> ReattachKernelDriver(uint8_t number, std::string_view what);
  // The driver the kernel has bound to interface `number` ("" for none).
  Result<std::string> KernelDriverOf(uint8_t number) const;
  Result<size_t> SyncBulk(uint8_t endpoint, std::span<std::byte> data, Duration timeout,
                          EndpointDescriptor::Type type);

  void ReaperLoop();
  // Reaps every completed URB; false once usbfs says the device is gone.
  // `disconnected`: the device is going (POLLHUP), so a URB the kernel
  // killed without the driver asking completes IO_NOT_PRESENT.
  bool ReapCompleted(bool disconnected);
  // Queues `packet` on `port`, or keeps it in undelivered_ while the port
  // is full or older packets for it wait. Needs mutex_.
  void Deliver(const Port* port, const PortPacket& packet);
  // Queues what waits in undelivered_, each port's in order. Needs mutex_.
  void RedeliverLocked();
  // Cancels every transfer in flight and waits (bounded) until they are
  // reaped; the count still in flight.
  size_t CancelAllAndWait();
  std::string InterfaceObject(uint8_t number) const;

  UniqueFd fd_;
  UniqueFd stop_event_;  // eventfd: the reaper stops when it is written
  const bus::DeviceNode node_;
  const Descriptors descriptors_;
  const uint8_t interface_;
  const std::string object_;
  const bool privileged_;

  mutable std::mutex mutex_;
  std::condition_variable reaped_;  // signalled when in_flight_ shrinks
  uint8_t configuration_;
  std::map<uint8_t, Claim> claims_;
  std::map<uint64_t, std::unique_ptr<InFlight>> in_flight_;
  std::deque<PendingDelivery> undelivered_;  // ports that were full (SHOULD_WAIT)
  bool gone_ = false;       // usbfs said the device is gone
  bool shut_down_ = false;  // Shutdown ran

  std::thread reaper_;
};

}  // namespace udrv::usb
