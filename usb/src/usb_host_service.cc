// The USB service of isolated driver hosts (isolation.h): the root bus lends
// a driver host its interface through a second usbfs fd with privileges
// dropped, and takes the interface back after the host.
#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include "usb_host_messages.h"
#include "usbfs_device.h"
#include "udrv/usb/isolation.h"
#include "udrv/usb/usbfs_control.h"
#include "udrv/usb/usb_bus.h"

namespace udrv::usb {
namespace {

using wire::UsbOp;

// How long the device may take to answer GET_CONFIGURATION after the take-back.
constexpr Duration kControlTimeout = 1'000'000'000;

// The interface as its bus names it: the node id's last part ("2-1:1.0").
std::string InterfaceName(const bus::DeviceNode& node) {
  return node.id.substr(node.id.rfind('/') + 1);
}

// The file an fd of this process has open ("/dev/bus/usb/002/002").
std::string OpenPath(int fd) {
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  char path[PATH_MAX];
  const ssize_t n = ::readlink(link.c_str(), path, sizeof(path) - 1);
  return n < 0 ? link : std::string(path, static_cast<size_t>(n));
}

class UsbHostService final : public host::HostService {
 public:
  UsbHostService(UsbfsDevice& device, std::string interface_name)
      : device_(device),
        interface_(device.interface_number()),
        name_(std::move(interface_name)),
        object_("driver host of " + name_) {}

  std::string DeviceName() const override { return name_; }
  std::string Route() const override { return "usbfs"; }

  std::optional<size_t> RequestSize(uint16_t op) const override {
    switch (static_cast<UsbOp>(op)) {
      case UsbOp::GET_USBFS: return host::wire::kBodySize<wire::GetUsbfsRequest>;
    }
    return std::nullopt;
  }
  std::string OpName(uint16_t op) const override {
    switch (static_cast<UsbOp>(op)) {
      case UsbOp::GET_USBFS: return "get usbfs";
    }
    return "op " + std::to_string(op);
  }

  Result<host::ServiceReply> Handle(uint16_t op, std::span<const std::byte> body) override {
    switch (static_cast<UsbOp>(op)) {
      case UsbOp::GET_USBFS: {
        UDRV_TRY(host::wire::DecodeBody<wire::GetUsbfsRequest>(body, "get usbfs"));
        return LendInterface();
      }
    }
    return Fail(Status::NOT_SUPPORTED, "op " + std::to_string(op), object_);
  }

  Result<Interrupt> MapInterrupt(uint32_t) override {
    return Fail(Status::NOT_SUPPORTED,
                "map interrupt: a USB interface has no interrupt of its own; its interrupt "
                "endpoints are transfers (usbfs)",
                object_);
  }
  Result<dma::Bti> GetBti(uint32_t, uint64_t) override {
    return Fail(Status::NOT_SUPPORTED,
                "get BTI: the kernel's USB controller driver does a USB driver's DMA (usbfs "
                "copies transfers); no DMA handle crosses to a host",
                object_);
  }

  // Takes the interface back from whatever claims it (the host's fd, or a
  // copy of it something kept): USBDEVFS_DISCONNECT_CLAIM on the root bus's
  // own fd ends that claim, killing its transfers, and claims the interface
  // for the root bus under one hold of the device's lock, so nobody claims
  // it in between. Transfers are the controller driver's: once no claim of
  // the host's is left, no transfer of its can run. A host may have
  // unconfigured the device or chosen another configuration without the
  // interface (usbfs lets it while no interface is claimed: isolation.h);
  // then the configuration the root bus opened is set again first. A host
  // that chose another configuration with the same interface number is
  // found after the take-back (ConfirmConfiguration).
  bool Quiesce(bus::ReleaseReport& report) override {
    const bool was_lent = lent_;
    lent_ = false;
    const std::string holder = HolderOf();
    std::string restored;
    Result<void> taken = TakeBack();
    if (!taken && taken.error().err_no == EINVAL) {
      // EINVAL: the active configuration has no such interface.
      const uint8_t value = device_.configuration();
      unsigned int configuration = value;
      if (::ioctl(device_.fd(), USBDEVFS_SETCONFIGURATION, &configuration) != 0) {
        taken = FailErrno(errno,
                          "the interface is gone (the host changed the configuration), and setting "
                          "configuration " + std::to_string(value) + " again failed",
                          object_);
      } else {
        restored = "; configuration " + std::to_string(value) + " set again (the host had changed it)";
        taken = TakeBack();
      }
    }
    if (taken) taken = ConfirmConfiguration(restored);
    const std::string step = "interface " + std::to_string(interface_) + " taken back";
    report.steps.push_back(bus::StepOf(step, taken,
                                       (was_lent ? "lent to the host; " : "never lent; ") + holder + restored +
                                           "; claimed by the root bus again"));
    return taken.has_value();
  }

 private:
  // After the take-back, the device must be in the configuration the root
  // bus opened: a host that released its claim may have chosen another one
  // that also has this interface number (usbfs lets it: isolation.h), and
  // the take-back then claimed that configuration's interface. Then the
  // interface is released, the configuration set again and the interface
  // claimed again (`restored` says so). usbfs sets no configuration while
  // any interface is held: then FAILED, with the interface claimed again so
  // that nobody else takes it.
  Result<void> ConfirmConfiguration(std::string& restored) {
    const uint8_t opened = device_.configuration();
    std::byte answer{};
    UDRV_TRY_ASSIGN(const size_t moved,
                    UsbfsControl(device_.fd(),
                                 ControlSetup{.request_type = kRequestTypeIn,
                                              .request = kRequestGetConfiguration, .value = 0, .index = 0},
                                 {&answer, 1}, kControlTimeout, object_));
    if (moved != 1) {
      return Fail(Status::IO_INVALID, "GET_CONFIGURATION: " + std::to_string(moved) + " bytes, not 1", object_);
    }
    const uint8_t active = std::to_integer<uint8_t>(answer);
    if (active == opened) return {};
    const std::string changed = "the host left configuration " + std::to_string(active) + " active, not " +
                                std::to_string(opened);
    unsigned int number = interface_;
    if (::ioctl(device_.fd(), USBDEVFS_RELEASEINTERFACE, &number) != 0) {
      return FailErrno(errno, changed + ", and releasing interface " + std::to_string(interface_) + " failed",
                       object_);
    }
    unsigned int configuration = opened;
    if (::ioctl(device_.fd(), USBDEVFS_SETCONFIGURATION, &configuration) != 0) {
      const int err = errno;
      std::string text = changed + ", and setting configuration " + std::to_string(opened) + " again failed";
      if (err == EBUSY) {
        text += ": another interface of the device is held (a kernel driver or another process), and usbfs "
                "changes no configuration while any is";
      }
      (void)TakeBack();
      return FailErrno(err, std::move(text), object_);
    }
    restored += "; configuration " + std::to_string(opened) + " set again (the host had chosen " +
                std::to_string(active) + ")";
    return TakeBack();
  }

  // USBDEVFS_DISCONNECT_CLAIM of the interface on the root bus's fd.
  Result<void> TakeBack() {
    usbdevfs_disconnect_claim take{};
    take.interface = interface_;
    if (::ioctl(device_.fd(), USBDEVFS_DISCONNECT_CLAIM, &take) != 0) {
      return FailErrno(errno, "USBDEVFS_DISCONNECT_CLAIM of interface " + std::to_string(interface_),
                       object_);
    }
    return {};
  }

  // Who holds the interface now, for the report (USBDEVFS_GETDRIVER).
  std::string HolderOf() const {
    usbdevfs_getdriver driver{};
    driver.interface = interface_;
    if (::ioctl(device_.fd(), USBDEVFS_GETDRIVER, &driver) != 0) {
      const int err = errno;
      return err == ENODATA ? "held by nobody"
                            : "holder unknown (USBDEVFS_GETDRIVER: " + std::string(std::strerror(err)) + ")";
    }
    driver.driver[sizeof(driver.driver) - 1] = '\0';
    return std::string("held by ") + driver.driver;
  }

  // A second fd of the device's usbfs node that may claim only this
  // interface, and the root bus's claim released for it (the kernel driver
  // stays detached: a released usbfs claim probes no driver).
  Result<host::ServiceReply> LendInterface() {
    if (lent_) {
      return Fail(Status::BAD_STATE, "get usbfs: this host has its usbfs fd already", object_);
    }
    const std::string node = OpenPath(device_.fd());
    // Reopened, not duplicated: a dup shares the root bus's open file, and
    // with it the privileges the host must not have.
    UniqueFd lent(::open(("/proc/self/fd/" + std::to_string(device_.fd())).c_str(), O_RDWR | O_CLOEXEC));
    if (!lent) return FailErrno(errno, "get usbfs: reopen " + node, object_);
    uint32_t mask = uint32_t{1} << interface_;
    if (::ioctl(lent.get(), USBDEVFS_DROP_PRIVILEGES, &mask) != 0) {
      return FailErrno(errno, "get usbfs: USBDEVFS_DROP_PRIVILEGES on " + node, object_);
    }
    // Last, and on the root bus's fd: it fails (and `lent` is closed) when
    // the device is gone, so a reopen that found a newer device at the same
    // bus and address never leaves.
    unsigned int number = interface_;
    if (::ioctl(device_.fd(), USBDEVFS_RELEASEINTERFACE, &number) != 0) {
      return FailErrno(errno, "get usbfs: release the root bus's claim of interface " +
                                  std::to_string(interface_),
                       object_);
    }
    lent_ = true;
    host::ServiceReply reply = host::ServiceReply::Of(wire::UsbfsReply{
        .interface_mask = mask, .interface_number = interface_, .configuration = device_.configuration()});
    reply.file = std::move(lent);
    reply.file_name = node;
    return reply;
  }

  UsbfsDevice& device_;
  const uint8_t interface_;
  const std::string name_;
  const std::string object_;
  bool lent_ = false;
};

}  // namespace

host::ServiceFactory MakeServiceFactory() {
  return [](bus::DriverContext& context) -> Result<std::unique_ptr<host::HostService>> {
    UDRV_TRY_ASSIGN(Device* device, context.GetProtocol<Device>());
    auto* usbfs = dynamic_cast<UsbfsDevice*>(device);
    if (usbfs == nullptr || !usbfs->privileged()) {
      return Fail(Status::WRONG_TYPE, "isolate: the device is not one the USB bus opened",
                  context.node().id);
    }
    // USBDEVFS_DROP_PRIVILEGES takes a 32-bit mask of interfaces.
    if (usbfs->interface_number() >= 32) {
      return Fail(Status::NOT_SUPPORTED,
                  "isolate: interface " + std::to_string(usbfs->interface_number()) +
                      " is past the 32 that USBDEVFS_DROP_PRIVILEGES can allow a host",
                  context.node().id);
    }
    return std::unique_ptr<host::HostService>(
        std::make_unique<UsbHostService>(*usbfs, InterfaceName(context.node())));
  };
}

}  // namespace udrv::usb
