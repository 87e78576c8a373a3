#include "usbfs_device.h"

#include <linux/usbdevice_fs.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <limits>
#include <utility>

#include "udrv/usb/usbfs_control.h"

namespace udrv::usb {
namespace {

// How long Shutdown and destruction wait for cancelled transfers to come
// back: the controller stops an endpoint in milliseconds; xHCI gives its
// commands 5 s.
constexpr std::chrono::seconds kCancelWait{6};
// How often the reaper retries a completion whose port was full.
constexpr int kRedeliverMs = 10;

// "Bulk IN endpoint 0x81".
std::string TransferName(EndpointDescriptor::Type type, uint8_t endpoint) {
  return std::string(EndpointTypeName(type)) + ((endpoint & 0x80) != 0 ? " IN" : " OUT") +
         " endpoint " + Hex(endpoint, 2);
}

// usbfs's timeout in ms: rounded up, at least 1 (0 is "forever" to usbfs);
// 0 for a timeout past what its 32 bits hold.
uint32_t UsbfsTimeoutMs(Duration timeout) {
  if (timeout <= 0) return 1;
  const int64_t ms = timeout / 1'000'000 + (timeout % 1'000'000 != 0 ? 1 : 0);
  if (ms > std::numeric_limits<uint32_t>::max()) return 0;
  return static_cast<uint32_t>(ms);
}

// "control request 0x06 (type 0x80)": how a control request appears in errors.
std::string ControlRequestName(const ControlSetup& setup) {
  return "control request " + Hex(setup.request, 2) + " (type " + Hex(setup.request_type, 2) + ")";
}

int Ioctl(int fd, unsigned long request, void* argument) {
  int result;
  do {
    result = ::ioctl(fd, request, argument);
  } while (result < 0 && errno == EINTR);
  return result;
}

}  // namespace

size_t MaxSyncControlData() {
  const long page = ::sysconf(_SC_PAGESIZE);
  return std::min<size_t>(page > 0 ? static_cast<size_t>(page) : 4096, 0xFFFF);
}

Error TransferError(int err, std::string_view what, std::string object) {
  std::string text(what);
  Status status = Status::IO;
  switch (err) {
    case EPIPE:
      status = Status::IO_REFUSED;
      text += " stalled";
      break;
    case ETIMEDOUT:
      status = Status::TIMED_OUT;
      text += " timed out";
      break;
    case ENODEV:
    case ESHUTDOWN:
      status = Status::IO_NOT_PRESENT;
      text += " failed: the device is gone";
      break;
    case ENOENT:
      status = Status::NOT_FOUND;
      text += " failed: usbfs knows no such endpoint or interface";
      break;
    case ECONNRESET:
      status = Status::CANCELED;
      text += " was cancelled";
      break;
    case EPROTO:
      text += " failed: protocol error (bit stuffing, or no response in time)";
      break;
    case EILSEQ:
      text += " failed: CRC mismatch or no response";
      break;
    case ETIME:
      text += " failed: no response in time";
      break;
    case EOVERFLOW:
      status = Status::IO_OVERRUN;
      text += " failed: babble (the device sent more than the max packet or the buffer)";
      break;
    case ECOMM:
      status = Status::IO_OVERRUN;
      text += " failed: the controller could not store IN data fast enough";
      break;
    case ENOSR:
      text += " failed: the controller could not fetch OUT data fast enough";
      break;
    case EREMOTEIO:
      text += " failed: short where a full transfer was required";
      break;
    case EXDEV:
      text += " failed: isochronous transfer only partly done";
      break;
    case EMSGSIZE:
      status = Status::INVALID_ARGS;
      text += " failed: the endpoint's max packet size is unusable";
      break;
    case EBUSY:
      status = Status::UNAVAILABLE;
      text += " failed: busy";
      break;
    case EACCES:
    case EPERM:
      status = Status::ACCESS_DENIED;
      text += " was refused by usbfs: not this fd's to use";
      break;
    case ENOMEM:
      status = Status::NO_MEMORY;
      text += " failed: usbfs is out of memory (its limit is usbfs_memory_mb)";
      break;
    case EINVAL:
      status = Status::INVALID_ARGS;
      text += " was refused by usbfs as invalid";
      break;
    default:
      status = StatusFromErrno(err);
      text += " failed";
      break;
  }
  return Error{status, std::move(text), std::move(object), err};
}

Result<size_t> UsbfsControl(int fd, const ControlSetup& setup, std::span<std::byte> data,
                            Duration timeout, const std::string& object) {
  const std::string request = ControlRequestName(setup);
  if (data.size() > MaxSyncControlData()) {
    return Fail(Status::OUT_OF_RANGE,
                request + ": " + std::to_string(data.size()) + " bytes, and usbfs carries at most " +
                    std::to_string(MaxSyncControlData()) +
                    " in a synchronous control transfer (Submit a CONTROL transfer for more)",
                object);
  }
  usbdevfs_ctrltransfer transfer{};
  transfer.bRequestType = setup.request_type;
  transfer.bRequest = setup.request;
  transfer.wValue = setup.value;
  transfer.wIndex = setup.index;
  transfer.wLength = static_cast<uint16_t>(data.size());
  transfer.timeout = UsbfsTimeoutMs(timeout);
  transfer.data = data.empty() ? nullptr : data.data();
  const int moved = Ioctl(fd, USBDEVFS_CONTROL, &transfer);
  if (moved < 0) return std::unexpected(TransferError(errno, request, object));
  return static_cast<size_t>(moved);
}

Status ReapedStatus(int err) {
  if (err == 0) return Status::OK;
  if (err == ENOENT) return Status::CANCELED;  // usb_kill_urb / unlinked
  return TransferError(err, "", "").status;
}

PortPacket CompletionPacket(const TransferCompletion& completion) {
  PortPacket packet;
  packet.key = completion.key;
  packet.type = PacketType::USER;
  packet.status = completion.status;
  static_assert(sizeof(completion.actual_length) + sizeof(completion.err_no) <= sizeof(packet.user));
  std::memcpy(packet.user.data(), &completion.actual_length, sizeof(completion.actual_length));
  std::memcpy(packet.user.data() + 4, &completion.err_no, sizeof(completion.err_no));
  return packet;
}

TransferCompletion CompletionOf(const PortPacket& packet) {
  TransferCompletion completion;
  completion.key = packet.key;
  completion.status = packet.status;
  std::memcpy(&completion.actual_length, packet.user.data(), sizeof(completion.actual_length));
  std::memcpy(&completion.err_no, packet.user.data() + 4, sizeof(completion.err_no));
  return completion;
}

// One asynchronous transfer: the URB usbfs holds a pointer to until it is
// reaped, so it stays put (heap) until then.
struct UsbfsDevice::InFlight {
  uint64_t key = 0;
  const Port* port = nullptr;
  std::string what;  // "Bulk IN endpoint 0x81"
  bool cancel_requested = false;  // Cancel, or the device's release
  // Its own allocation: usbdevfs_urb ends in a flexible array (iso frames, none used here).
  std::unique_ptr<usbdevfs_urb> urb = std::make_unique<usbdevfs_urb>();
};

Result<std::unique_ptr<UsbfsDevice>> UsbfsDevice::Create(UniqueFd fd, bus::DeviceNode node,
                                                         Descriptors descriptors,
                                                         uint8_t configuration, uint8_t interface,
                                                         std::string object, bool privileged) {
  if (!fd) return Fail(Status::BAD_HANDLE, "usbfs device: no fd", object);
  UniqueFd stop_event(::eventfd(0, EFD_CLOEXEC));
  if (!stop_event) return FailErrno(errno, "usbfs device: eventfd for the reaper", object);
  std::unique_ptr<UsbfsDevice> device(new UsbfsDevice(std::move(fd), std::move(stop_event),
                                                      std::move(node), std::move(descriptors),
                                                      configuration, interface, std::move(object),
                                                      privileged));
  device->reaper_ = std::thread([raw = device.get()] { raw->ReaperLoop(); });
  {
    std::lock_guard lock(device->mutex_);
    UDRV_TRY(device->ClaimLocked(interface, "claim interface " + std::to_string(interface)));
  }
  return device;
}

UsbfsDevice::UsbfsDevice(UniqueFd fd, UniqueFd stop_event, bus::DeviceNode node,
                         Descriptors descriptors, uint8_t configuration, uint8_t interface,
                         std::string object, bool privileged)
    : fd_(std::move(fd)),
      stop_event_(std::move(stop_event)),
      node_(std::move(node)),
      descriptors_(std::move(descriptors)),
      interface_(interface),
      object_(std::move(object)),
      privileged_(privileged),
      configuration_(configuration) {}

UsbfsDevice::~UsbfsDevice() {
  bool shut_down;
  {
    std::lock_guard lock(mutex_);
    shut_down = shut_down_;
    shut_down_ = true;
  }
  if (!shut_down) (void)CancelAllAndWait();
  if (reaper_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(stop_event_.get(), &one, sizeof(one));
    reaper_.join();
  }
  // Closing the fd releases what is still claimed; usbfs frees any URB
  // that did not come back without touching its buffer.
}

uint8_t UsbfsDevice::configuration() const {
  std::lock_guard lock(mutex_);
  return configuration_;
}

std::vector<uint8_t> UsbfsDevice::claimed_interfaces() const {
  std::lock_guard lock(mutex_);
  std::vector<uint8_t> numbers;
  for (const auto& [number, claim] : claims_) numbers.push_back(number);
  return numbers;
}

std::string UsbfsDevice::InterfaceObject(uint8_t number) const {
  // "2-1:1.0" names the node's interface; its siblings are "2-1:1.N".
  const size_t colon = object_.find(':');
  if (colon == std::string::npos) return object_ + " interface " + std::to_string(number);
  return object_.substr(0, colon) + ":" + std::to_string(configuration_) + "." +
         std::to_string(number);
}

Result<void> UsbfsDevice::CheckUsableLocked(std::string_view what) const {
  if (shut_down_) return Fail(Status::BAD_STATE, std::string(what) + ": the device was released", object_);
  if (gone_) {
    return Fail(Status::IO_NOT_PRESENT, std::string(what) + ": the device is gone", object_, ENODEV);
  }
  return {};
}

Result<const EndpointDescriptor*> UsbfsDevice::FindEndpointLocked(uint8_t endpoint) const {
  const ConfigurationDescriptor* config = descriptors_.FindConfiguration(configuration_);
  std::string have;
  if (config != nullptr) {
    for (const auto& [number, claim] : claims_) {
      for (const Interface& interface : config->interfaces) {
        if (interface.number != number) continue;
        for (const InterfaceDescriptor& setting : interface.alternates) {
          if (setting.alternate_setting != claim.alternate_setting) continue;
          have += " interface " + std::to_string(number) + " alt " +
                  std::to_string(claim.alternate_setting) + ":";
          for (const EndpointDescriptor& candidate : setting.endpoints) {
            if (candidate.address == endpoint) return &candidate;
            have += " " + Hex(candidate.address, 2);
          }
          have += ";";
        }
      }
    }
  }
  if (!have.empty()) have.pop_back();
  return Fail(Status::NOT_FOUND,
              "endpoint " + Hex(endpoint, 2) +
                  " is in none of the claimed interfaces' active settings of configuration " +
                  std::to_string(configuration_) + " (" + (have.empty() ? "none claimed" : have.substr(1)) +
                  ")",
              object_);
}

Result<void> UsbfsDevice::CheckTransfer(uint8_t endpoint, EndpointDescriptor::Type type,
                                        std::string_view what) const {
  std::lock_guard lock(mutex_);
  UDRV_TRY(CheckUsableLocked(what));
  UDRV_TRY_ASSIGN(const EndpointDescriptor* descriptor, FindEndpointLocked(endpoint));
  if (descriptor->type() != type) {
    return Fail(Status::WRONG_TYPE,
                std::string(what) + ": endpoint " + Hex(endpoint, 2) + " is " +
                    std::string(EndpointTypeName(descriptor->type())) + ", not " +
                    std::string(EndpointTypeName(type)),
                object_);
  }
  return {};
}

Result<std::string> UsbfsDevice::KernelDriverOf(uint8_t number) const {
  usbdevfs_getdriver query{};
  query.interface = number;
  if (Ioctl(fd_.get(), USBDEVFS_GETDRIVER, &query) != 0) {
    if (errno == ENODATA) return std::string();
    return FailErrno(errno, "USBDEVFS_GETDRIVER interface " + std::to_string(number),
                     InterfaceObject(number));
  }
  query.driver[sizeof(query.driver) - 1] = '\0';
  return std::string(query.driver);
}

Result<void> UsbfsDevice::ReattachKernelDriver(uint8_t number, std::string_view what) {
  usbdevfs_ioctl command{};
  command.ifno = number;
  command.ioctl_code = USBDEVFS_CONNECT;
  command.data = nullptr;
  if (Ioctl(fd_.get(), USBDEVFS_IOCTL, &command) < 0) {
    const int err = errno;
    // EBUSY: a driver is bound already (none was taken away).
    if (err == EBUSY) return {};
    return FailErrno(err, std::string(what) + ": USBDEVFS_CONNECT (probe the kernel's drivers)",
                     InterfaceObject(number));
  }
  return {};
}

Result<void> UsbfsDevice::ClaimLocked(uint8_t number, std::string_view what) {
  UDRV_TRY(CheckUsableLocked(what));
  const std::string object = InterfaceObject(number);
  if (claims_.contains(number)) {
    return Fail(Status::ALREADY_EXISTS, std::string(what) + ": claimed already", object);
  }
  const ConfigurationDescriptor* config = descriptors_.FindConfiguration(configuration_);
  const bool exists = config != nullptr &&
                      std::ranges::any_of(config->interfaces, [&](const Interface& interface) {
                        return interface.number == number;
                      });
  if (!exists) {
    return Fail(Status::NOT_FOUND,
                std::string(what) + ": configuration " + std::to_string(configuration_) +
                    " has no interface " + std::to_string(number),
                object);
  }
  if (privileged_) {
    usbdevfs_disconnect_claim claim{};
    claim.interface = number;
    claim.flags = USBDEVFS_DISCONNECT_CLAIM_EXCEPT_DRIVER;
    std::strncpy(claim.driver, "usbfs", sizeof(claim.driver) - 1);
    if (Ioctl(fd_.get(), USBDEVFS_DISCONNECT_CLAIM, &claim) != 0) {
      const int err = errno;
      // The kernel driver may have been detached before the claim failed.
      const auto reattached = ReattachKernelDriver(number, what);
      std::string text = std::string(what) + ": USBDEVFS_DISCONNECT_CLAIM";
      if (err == EBUSY) text += ": another process holds the interface over usbfs";
      if (!reattached) text += " (and putting its kernel driver back failed: " + reattached.error().what + ")";
      return FailErrno(err, std::move(text), object);
    }
  } else {
    unsigned int claim = number;
    if (Ioctl(fd_.get(), USBDEVFS_CLAIMINTERFACE, &claim) != 0) {
      const int err = errno;
      std::string text = std::string(what) + ": USBDEVFS_CLAIMINTERFACE";
      if (err == EBUSY) text += ": a kernel driver or another process holds the interface";
      if (err == EACCES) text += ": this fd was not given the interface (its privileges were dropped)";
      return FailErrno(err, std::move(text), object);
    }
  }
  // The kernel selects setting 0 when a driver unbinds (usb_unbind_interface).
  claims_[number] = Claim{.alternate_setting = 0};
  return {};
}

Result<void> UsbfsDevice::ReleaseLocked(uint8_t number, std::string_view what) {
  const std::string object = InterfaceObject(number);
  if (!claims_.contains(number)) return Fail(Status::NOT_FOUND, std::string(what) + ": not claimed", object);
  claims_.erase(number);
  unsigned int interface = number;
  if (Ioctl(fd_.get(), USBDEVFS_RELEASEINTERFACE, &interface) != 0) {
    return FailErrno(errno, std::string(what) + ": USBDEVFS_RELEASEINTERFACE", object);
  }
  return {};
}

Result<void> UsbfsDevice::ClaimInterface(uint8_t number) {
  std::lock_guard lock(mutex_);
  return ClaimLocked(number, "claim interface " + std::to_string(number));
}

Result<void> UsbfsDevice::ReleaseInterface(uint8_t number) {
  std::lock_guard lock(mutex_);
  const std::string what = "release interface " + std::to_string(number);
  UDRV_TRY(CheckUsableLocked(what));
  UDRV_TRY(ReleaseLocked(number, what));
  if (privileged_) UDRV_TRY(ReattachKernelDriver(number, what));
  return {};
}

Result<void> UsbfsDevice::SetConfiguration(uint8_t value) {
  std::lock_guard lock(mutex_);
  const std::string what = "set configuration " + std::to_string(value);
  UDRV_TRY(CheckUsableLocked(what));
  if (value != 0 && descriptors_.FindConfiguration(value) == nullptr) {
    return Fail(Status::NOT_FOUND, what + ": the device has no such configuration", object_);
  }
  unsigned int configuration = value;
  if (Ioctl(fd_.get(), USBDEVFS_SETCONFIGURATION, &configuration) != 0) {
    const int err = errno;
    if (err == EBUSY) {
      return Fail(Status::UNAVAILABLE,
                  what + ": an interface is claimed (usbfs refuses while any is, this device's " +
                      std::to_string(claims_.size()) + " included)",
                  object_, err);
    }
    return Wrap(TransferError(err, "SET_CONFIGURATION", object_), what);
  }
  configuration_ = value;
  return {};
}

Result<void> UsbfsDevice::SetInterface(uint8_t number, uint8_t alternate_setting) {
  std::lock_guard lock(mutex_);
  const std::string what =
      "set interface " + std::to_string(number) + " alt " + std::to_string(alternate_setting);
  UDRV_TRY(CheckUsableLocked(what));
  const auto claim = claims_.find(number);
  if (claim == claims_.end()) {
    return Fail(Status::NOT_FOUND, what + ": the interface is not claimed", InterfaceObject(number));
  }
  const ConfigurationDescriptor* config = descriptors_.FindConfiguration(configuration_);
  bool exists = false;
  for (const Interface& interface : config != nullptr ? config->interfaces : std::vector<Interface>{}) {
    if (interface.number != number) continue;
    exists = std::ranges::any_of(interface.alternates, [&](const InterfaceDescriptor& setting) {
      return setting.alternate_setting == alternate_setting;
    });
  }
  if (!exists) {
    return Fail(Status::NOT_FOUND, what + ": the interface has no such alternate setting",
                InterfaceObject(number));
  }
  usbdevfs_setinterface setting{};
  setting.interface = number;
  setting.altsetting = alternate_setting;
  if (Ioctl(fd_.get(), USBDEVFS_SETINTERFACE, &setting) != 0) {
    return Wrap(TransferError(errno, "SET_INTERFACE", InterfaceObject(number)), what);
  }
  claim->second.alternate_setting = alternate_setting;
  return {};
}

Result<size_t> UsbfsDevice::Control(const ControlSetup& setup, std::span<std::byte> data,
                                    Duration timeout) {
  {
    std::lock_guard lock(mutex_);
    UDRV_TRY(CheckUsableLocked(ControlRequestName(setup)));
  }
  return UsbfsControl(fd_.get(), setup, data, timeout, object_);
}

Result<size_t> UsbfsDevice::SyncBulk(uint8_t endpoint, std::span<std::byte> data, Duration timeout,
                                     EndpointDescriptor::Type type) {
  const std::string what = TransferName(type, endpoint);
  UDRV_TRY(CheckTransfer(endpoint, type, what));
  const bool forever = UsbfsTimeoutMs(timeout) == 0;
  const Time deadline = forever ? kInfinite : DeadlineAfter(std::max<Duration>(timeout, 0));
  const bool in = (endpoint & 0x80) != 0;
  size_t done = 0;
  for (bool first = true;; first = false) {
    const size_t piece = std::min(kMaxBulkPiece, data.size() - done);
    usbdevfs_bulktransfer transfer{};
    transfer.ep = endpoint;
    transfer.len = static_cast<unsigned int>(piece);
    if (forever) {
      transfer.timeout = 0;
    } else if (first) {
      transfer.timeout = UsbfsTimeoutMs(timeout);
    } else {
      const Duration left = deadline - Now();
      if (left <= 0) {
        return Fail(Status::TIMED_OUT, what + " timed out after " + std::to_string(done) + " of " +
                                           std::to_string(data.size()) + " bytes",
                    object_, ETIMEDOUT);
      }
      transfer.timeout = UsbfsTimeoutMs(left);
    }
    transfer.data = piece == 0 ? nullptr : data.data() + done;
    const int moved = Ioctl(fd_.get(), USBDEVFS_BULK, &transfer);
    if (moved < 0) {
      Error error = TransferError(errno, what, object_);
      if (done > 0) error.what += " after " + std::to_string(done) + " bytes";
      return std::unexpected(std::move(error));
    }
    done += static_cast<size_t>(moved);
    if (done >= data.size() || (in && static_cast<size_t>(moved) < piece)) return done;
  }
}

Result<size_t> UsbfsDevice::Bulk(uint8_t endpoint, std::span<std::byte> data, Duration timeout) {
  return SyncBulk(endpoint, data, timeout, EndpointDescriptor::Type::BULK);
}

Result<size_t> UsbfsDevice::InterruptTransfer(uint8_t endpoint, std::span<std::byte> data,
                                              Duration timeout) {
  return SyncBulk(endpoint, data, timeout, EndpointDescriptor::Type::INTERRUPT);
}

Result<void> UsbfsDevice::Submit(const AsyncTransfer& transfer, const Port& port) {
  auto in_flight = std::make_unique<InFlight>();
  in_flight->key = transfer.key;
  in_flight->port = &port;
  usbdevfs_urb& urb = *in_flight->urb;
  std::lock_guard lock(mutex_);
  UDRV_TRY(CheckUsableLocked("submit"));
  switch (transfer.type) {
    case AsyncTransfer::Type::CONTROL: {
      in_flight->what = "control transfer";
      if (transfer.endpoint != 0) {
        return Fail(Status::INVALID_ARGS,
                    "submit " + in_flight->what + ": endpoint " + Hex(transfer.endpoint, 2) +
                        " (control transfers go to endpoint 0)",
                    object_);
      }
      if (transfer.buffer.size() < 8) {
        return Fail(Status::INVALID_ARGS,
                    "submit " + in_flight->what + ": the buffer holds no 8-byte setup", object_);
      }
      const size_t length = static_cast<size_t>(std::to_integer<uint8_t>(transfer.buffer[6])) |
                            static_cast<size_t>(std::to_integer<uint8_t>(transfer.buffer[7])) << 8;
      if (length != transfer.buffer.size() - 8) {
        return Fail(Status::INVALID_ARGS,
                    "submit " + in_flight->what + ": the setup's wLength is " + std::to_string(length) +
                        " but " + std::to_string(transfer.buffer.size() - 8) + " bytes follow it",
                    object_);
      }
      urb.type = USBDEVFS_URB_TYPE_CONTROL;
      break;
    }
    case AsyncTransfer::Type::BULK:
    case AsyncTransfer::Type::INTERRUPT: {
      const auto type = transfer.type == AsyncTransfer::Type::BULK ? EndpointDescriptor::Type::BULK
                                                                   : EndpointDescriptor::Type::INTERRUPT;
      in_flight->what = TransferName(type, transfer.endpoint);
      UDRV_TRY_ASSIGN(const EndpointDescriptor* descriptor, FindEndpointLocked(transfer.endpoint));
      if (descriptor->type() != type) {
        return Fail(Status::WRONG_TYPE,
                    "submit " + in_flight->what + ": the endpoint is " +
                        std::string(EndpointTypeName(descriptor->type())),
                    object_);
      }
      urb.type = type == EndpointDescriptor::Type::BULK ? USBDEVFS_URB_TYPE_BULK
                                                        : USBDEVFS_URB_TYPE_INTERRUPT;
      break;
    }
  }
  const std::string what = "submit " + in_flight->what;
  if (!port) return Fail(Status::BAD_HANDLE, what + ": invalid port", object_);
  if ((port.rights() & kRightWrite) == 0) {
    return Fail(Status::ACCESS_DENIED, what + ": the port handle lacks WRITE", object_);
  }
  if (in_flight_.contains(transfer.key)) {
    return Fail(Status::ALREADY_EXISTS, what + ": key " + std::to_string(transfer.key) + " is in flight",
                object_);
  }
  if (in_flight_.size() + undelivered_.size() >= kMaxTransfersInFlight) {
    return Fail(Status::SHOULD_WAIT,
                what + ": " + std::to_string(kMaxTransfersInFlight) + " transfers in flight already",
                object_);
  }
  if (transfer.buffer.size() > static_cast<size_t>(INT_MAX)) {
    return Fail(Status::OUT_OF_RANGE, what + ": " + std::to_string(transfer.buffer.size()) +
                                          " bytes is more than a URB carries",
                object_);
  }
  urb.endpoint = transfer.endpoint;
  urb.buffer = transfer.buffer.empty() ? nullptr : transfer.buffer.data();
  urb.buffer_length = static_cast<int>(transfer.buffer.size());
  urb.usercontext = in_flight.get();
  if (Ioctl(fd_.get(), USBDEVFS_SUBMITURB, &urb) != 0) {
    return Wrap(TransferError(errno, in_flight->what, object_), "submit");
  }
  in_flight_.emplace(transfer.key, std::move(in_flight));
  return {};
}

Result<void> UsbfsDevice::Cancel(uint64_t key) {
  std::lock_guard lock(mutex_);
  const std::string what = "cancel transfer " + std::to_string(key);
  if (shut_down_) return Fail(Status::BAD_STATE, what + ": the device was released", object_);
  const auto found = in_flight_.find(key);
  if (found == in_flight_.end()) return Fail(Status::NOT_FOUND, what + ": none in flight", object_);
  found->second->cancel_requested = true;
  if (Ioctl(fd_.get(), USBDEVFS_DISCARDURB, found->second->urb.get()) != 0) {
    // EINVAL: it completed already and waits to be reaped, with its outcome.
    if (errno == EINVAL) return {};
    return FailErrno(errno, what + ": USBDEVFS_DISCARDURB (" + found->second->what + ")", object_);
  }
  return {};
}

Result<void> UsbfsDevice::ClearHalt(uint8_t endpoint) {
  const std::string what = "clear halt of endpoint " + Hex(endpoint, 2);
  {
    std::lock_guard lock(mutex_);
    UDRV_TRY(CheckUsableLocked(what));
    UDRV_TRY(FindEndpointLocked(endpoint));
  }
  unsigned int address = endpoint;
  if (Ioctl(fd_.get(), USBDEVFS_CLEAR_HALT, &address) != 0) {
    return Wrap(TransferError(errno, "CLEAR_FEATURE(ENDPOINT_HALT)", object_), what);
  }
  return {};
}

Result<void> UsbfsDevice::Reset() {
  std::lock_guard lock(mutex_);
  UDRV_TRY(CheckUsableLocked("reset"));
  const std::map<uint8_t, Claim> claimed = claims_;
  // A reset unbinds every interface whose driver cannot survive it (usbfs's
  // cannot) and probes drivers for them afterwards: the kernel's own would
  // take them. Released interfaces stay driverless, so release, reset, claim.
  // Every step is tried; the first failure is the answer.
  Result<void> outcome;
  const auto note = [&outcome](Result<void> step) {
    if (!step && outcome) outcome = std::move(step);
  };
  for (const auto& [number, claim] : claimed) {
    note(ReleaseLocked(number, "reset: release interface " + std::to_string(number)));
  }
  if (Ioctl(fd_.get(), USBDEVFS_RESET, nullptr) != 0) {
    const int err = errno;
    std::string text = "reset: USBDEVFS_RESET";
    if (err == EACCES) text += ": this fd does not hold every interface of the device (its privileges were dropped)";
    note(FailErrno(err, std::move(text), object_));
  }
  for (const auto& [number, claim] : claimed) {
    auto claimed_again = ClaimLocked(number, "reset: claim interface " + std::to_string(number) + " again");
    if (!claimed_again || claim.alternate_setting == 0) {
      note(std::move(claimed_again));
      continue;
    }
    usbdevfs_setinterface setting{};
    setting.interface = number;
    setting.altsetting = claim.alternate_setting;
    if (Ioctl(fd_.get(), USBDEVFS_SETINTERFACE, &setting) != 0) {
      note(Wrap(TransferError(errno, "SET_INTERFACE", InterfaceObject(number)),
                "reset: alternate setting " + std::to_string(claim.alternate_setting) + " again"));
      continue;
    }
    claims_[number].alternate_setting = claim.alternate_setting;
  }
  return outcome;
}

void UsbfsDevice::Deliver(const Port* port, const PortPacket& packet) {
  // mutex_ held: undelivered_ counts against kMaxTransfersInFlight.
  // Behind what waits for the same port, so that its packets keep their order.
  if (std::ranges::any_of(undelivered_, [&](const PendingDelivery& waiting) { return waiting.port == port; })) {
    undelivered_.push_back({port, packet});
    return;
  }
  auto queued = port->Queue(packet);
  if (!queued && queued.error().status == Status::SHOULD_WAIT) undelivered_.push_back({port, packet});
  // Another failure (a handle gone invalid) leaves nowhere to deliver to.
}

void UsbfsDevice::RedeliverLocked() {
  // Each port's packets in order; a port still full holds back only its own.
  std::vector<const Port*> full;
  for (auto waiting = undelivered_.begin(); waiting != undelivered_.end();) {
    if (std::ranges::find(full, waiting->port) != full.end()) {
      ++waiting;
      continue;
    }
    auto queued = waiting->port->Queue(waiting->packet);
    if (!queued && queued.error().status == Status::SHOULD_WAIT) {
      full.push_back(waiting->port);
      ++waiting;
      continue;
    }
    // Queued, or nowhere to deliver to (a handle gone invalid).
    waiting = undelivered_.erase(waiting);
  }
}

bool UsbfsDevice::ReapCompleted(bool disconnected) {
  for (;;) {
    void* reaped = nullptr;
    if (Ioctl(fd_.get(), USBDEVFS_REAPURBNDELAY, &reaped) != 0) return errno != ENODEV;
    std::lock_guard lock(mutex_);
    // The URB is one of ours only while a listed transfer holds it: nothing
    // is read through the pointer before that is known.
    const auto found = std::ranges::find_if(
        in_flight_, [&](const auto& entry) { return entry.second->urb.get() == reaped; });
    if (found == in_flight_.end()) continue;
    InFlight* transfer = found->second.get();
    usbdevfs_urb* urb = transfer->urb.get();
    TransferCompletion completion;
    completion.key = transfer->key;
    completion.actual_length = static_cast<uint32_t>(std::max(urb->actual_length, 0));
    completion.err_no = urb->status;
    completion.status = ReapedStatus(-urb->status);
    // Killed as the device went (ENOENT, ESHUTDOWN): gone, not cancelled.
    if (disconnected && !transfer->cancel_requested &&
        (completion.status == Status::CANCELED || completion.status == Status::IO_NOT_PRESENT)) {
      completion.status = Status::IO_NOT_PRESENT;
    }
    Deliver(transfer->port, CompletionPacket(completion));
    in_flight_.erase(found);
    reaped_.notify_all();
  }
}

void UsbfsDevice::ReaperLoop() {
  pollfd fds[2] = {{fd_.get(), POLLOUT, 0}, {stop_event_.get(), POLLIN, 0}};
  for (;;) {
    int timeout_ms = -1;
    {
      std::lock_guard lock(mutex_);
      RedeliverLocked();
      if (!undelivered_.empty()) timeout_ms = kRedeliverMs;
      fds[0].fd = gone_ ? -1 : fd_.get();  // poll skips a negative fd
    }
    if (::poll(fds, 2, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const short events = fds[0].revents;
    if (events == 0) continue;
    const bool hung_up = (events & (POLLHUP | POLLERR)) != 0;
    const bool connected = ReapCompleted(hung_up);
    if (connected && !hung_up) continue;
    // Disconnected: usbfs kills what was in flight and keeps it reapable;
    // POLLERR says it has finished (the fd left the device's list).
    std::unique_lock lock(mutex_);
    if (!in_flight_.empty() && (events & POLLERR) == 0) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(kRedeliverMs));
      continue;
    }
    gone_ = true;
    for (auto& [key, transfer] : in_flight_) {
      Deliver(transfer->port, CompletionPacket({.key = key,
                                                .status = Status::IO_NOT_PRESENT,
                                                .actual_length = 0,
                                                .err_no = -ENODEV}));
    }
    in_flight_.clear();
    reaped_.notify_all();
  }
}

size_t UsbfsDevice::CancelAllAndWait() {
  std::unique_lock lock(mutex_);
  for (auto& [key, transfer] : in_flight_) {
    transfer->cancel_requested = true;
    (void)Ioctl(fd_.get(), USBDEVFS_DISCARDURB, transfer->urb.get());
  }
  reaped_.wait_for(lock, kCancelWait, [&] { return in_flight_.empty(); });
  return in_flight_.size();
}

bus::ReleaseReport UsbfsDevice::Shutdown(bool reattach_kernel_drivers) {
  bus::ReleaseReport report;
  size_t cancelled;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) {
      report.steps.push_back({"shut down", bus::ReleaseStep::Outcome::FAILED, "shut down already"});
      return report;
    }
    shut_down_ = true;
    cancelled = in_flight_.size();
  }
  const size_t left = CancelAllAndWait();
  if (left == 0) {
    report.steps.push_back({"cancel transfers", bus::ReleaseStep::Outcome::DONE,
                            cancelled == 0 ? "none in flight" : std::to_string(cancelled) + " cancelled"});
  } else {
    report.steps.push_back({"cancel transfers", bus::ReleaseStep::Outcome::FAILED,
                            std::to_string(left) + " of " + std::to_string(cancelled) +
                                " did not come back; closing the fd ends them"});
  }
  std::lock_guard lock(mutex_);
  const std::map<uint8_t, Claim> claimed = claims_;
  for (const auto& [number, claim] : claimed) {
    const std::string interface = "interface " + std::to_string(number);
    if (gone_) {
      // usbfs ended the claims when the device went; nothing is left to give back.
      report.steps.push_back({"release " + interface, bus::ReleaseStep::Outcome::NOT_SUPPORTED,
                              "the device is gone"});
      continue;
    }
    report.steps.push_back(bus::StepOf("release " + interface, ReleaseLocked(number, "release " + interface),
                                       InterfaceObject(number)));
    const std::string step = "kernel driver of " + interface;
    if (!reattach_kernel_drivers) {
      report.steps.push_back({step, bus::ReleaseStep::Outcome::SKIPPED, "left unbound"});
    } else if (!privileged_) {
      report.steps.push_back({step, bus::ReleaseStep::Outcome::SKIPPED, "the root bus reattaches it"});
    } else if (auto reattached = ReattachKernelDriver(number, "reattach " + interface); !reattached) {
      report.steps.push_back(bus::StepOf(step, reattached));
    } else {
      auto driver = KernelDriverOf(number);
      report.steps.push_back({step, bus::ReleaseStep::Outcome::DONE,
                              !driver ? "probed (" + driver.error().what + ")"
                              : driver->empty() ? "probed: no driver took it"
                                                : "back to " + *driver});
    }
  }
  return report;
}

}  // namespace udrv::usb
