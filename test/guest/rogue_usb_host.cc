// guest-rogue-usb-host: a driver host for a USB interface (the x86_64
// guests' usb-storage disk) that tries to exceed the usbfs fd the root bus
// lends it (usb/isolation.h). usb_isolation_test.cc runs it as the isolated
// runner's host program, so it runs exactly as a driver host does: an
// unprivileged uid with the root bus's socket as fd 3.
//
// It asks the USB service (usb/src/usb_host_messages.h) raw for the fd and
// tries, through it, what USBDEVFS_DROP_PRIVILEGES must refuse: claiming an
// interface outside its mask (EACCES), USBDEVFS_IOCTL disconnect and
// connect (EACCES); and of the service, a second fd, an interrupt and a
// Bti. The controls must work: the lent interface claims, and a SCSI
// INQUIRY over its bulk endpoints (Bulk-Only Transport) reads the disk's
// vendor. Each attempt prints "rogue-usb: NAME: refused (...)" or "...
// ALLOWED (...)". It reports "started" only when every attempt was refused
// and the controls worked; then it forks a child that keeps a copy of the
// fd (with the claim), and both wait for the end: the root bus must take
// the interface back whatever they hold.
//
// Where kUnconfigureMarker exists, it then releases its claim and
// unconfigures the device (USBDEVFS_SETCONFIGURATION 0, which usbfs does
// not refuse a dropped-privilege fd while nobody claims an interface): the
// root bus must configure it again to take the interface back.
#include <linux/usbdevice_fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "attempt_log.h"
#include "raw_host_peer.h"
#include "udrv/core/transfer.h"
#include "udrv/dma/bti.h"
#include "udrv/host/connection.h"
#include "udrv/host/host_process.h"
#include "udrv/host/wire.h"
#include "udrv/usb/usb_bus.h"
#include "usb_guest.h"
#include "usb_host_messages.h"

namespace {

using udrv::Result;
using udrv::Status;
namespace usb = udrv::usb;
namespace hw = udrv::host::wire;

udrv::testing::AttemptLog attempts("rogue-usb");

void Say(const std::string& line) { attempts.Say(line); }

int Ioctl(int fd, unsigned long request, void* argument) {
  int rc;
  do {
    rc = ::ioctl(fd, request, argument);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

// One bulk transfer; the bytes moved, or -errno.
int BulkTransfer(int fd, unsigned endpoint, void* data, unsigned length) {
  usbdevfs_bulktransfer bulk{};
  bulk.ep = endpoint;
  bulk.len = length;
  bulk.timeout = 5000;
  bulk.data = data;
  const int n = Ioctl(fd, USBDEVFS_BULK, &bulk);
  return n < 0 ? -errno : n;
}

// INQUIRY over Bulk-Only Transport (CBW out on 0x02, data and CSW in on
// 0x81): the vendor field of the standard data, or why not.
std::string Inquiry(int fd) {
  uint8_t cbw[31] = {0x55, 0x53, 0x42, 0x43, 0x01, 0x00, 0x00, 0x00,  // signature, tag 1
                     36, 0, 0, 0, 0x80, 0, 6,                          // 36 bytes in, LUN 0, CDB 6
                     0x12, 0, 0, 0, 36, 0};                            // INQUIRY
  if (const int n = BulkTransfer(fd, 0x02, cbw, sizeof(cbw)); n != sizeof(cbw)) {
    return "CBW: " + std::string(n < 0 ? std::strerror(-n) : "short");
  }
  uint8_t data[36] = {};
  const int got = BulkTransfer(fd, 0x81, data, sizeof(data));
  if (got < 16) return "data: " + std::string(got < 0 ? std::strerror(-got) : "short");
  uint8_t csw[13] = {};
  if (const int n = BulkTransfer(fd, 0x81, csw, sizeof(csw)); n != sizeof(csw) || csw[12] != 0) {
    return "CSW: " + std::string(n < 0 ? std::strerror(-n) : "failed");
  }
  return "vendor '" + std::string(reinterpret_cast<const char*>(data + 8), 8) + "'";
}

void TryFd(int fd, unsigned interface) {
  unsigned number = interface;
  const bool claimed = Ioctl(fd, USBDEVFS_CLAIMINTERFACE, &number) == 0;
  attempts.Control("claim the lent interface " + std::to_string(interface), claimed,
                   claimed ? "claimed" : std::strerror(errno));
  const std::string inquiry = Inquiry(fd);
  attempts.Control("INQUIRY over the lent fd", inquiry.rfind("vendor 'QEMU", 0) == 0, inquiry);

  for (const unsigned other : {interface + 1, (interface + 5) % 32}) {
    number = other;
    const int rc = Ioctl(fd, USBDEVFS_CLAIMINTERFACE, &number);
    attempts.ExpectErrno("claim interface " + std::to_string(other), rc != 0, errno, EACCES);
  }
  for (const auto& [name, code] : {std::pair{"disconnect", USBDEVFS_DISCONNECT},
                                   std::pair{"connect", USBDEVFS_CONNECT}}) {
    usbdevfs_ioctl command{};
    command.ifno = static_cast<int>(interface);
    command.ioctl_code = static_cast<int>(code);
    const int rc = Ioctl(fd, USBDEVFS_IOCTL, &command);
    attempts.ExpectErrno(std::string("USBDEVFS_IOCTL ") + name + " of interface " +
                             std::to_string(interface),
                         rc != 0, errno, EACCES);
  }
  // Widening the mask again: a later DROP_PRIVILEGES may only narrow it
  // (the kernel ANDs it in); the claim outside stays refused.
  uint32_t everything = 0xffffffff;
  (void)Ioctl(fd, USBDEVFS_DROP_PRIVILEGES, &everything);
  number = interface + 1;
  const int rc = Ioctl(fd, USBDEVFS_CLAIMINTERFACE, &number);
  attempts.ExpectErrno("claim interface " + std::to_string(interface + 1) + " after asking for all",
                       rc != 0, errno, EACCES);
}

// Leaves the device without a configuration: its interfaces are gone.
void Unconfigure(int fd, unsigned interface) {
  unsigned number = interface;
  const bool released = Ioctl(fd, USBDEVFS_RELEASEINTERFACE, &number) == 0;
  attempts.Control("release the lent interface", released, released ? "released" : std::strerror(errno));
  unsigned int none = 0;
  const bool unconfigured = Ioctl(fd, USBDEVFS_SETCONFIGURATION, &none) == 0;
  attempts.Control("unconfigure the device (not refused: isolation.h)", unconfigured,
                   unconfigured ? "configuration 0" : std::strerror(errno));
}

void TryService(int socket) {
  attempts.Expect("a second usbfs fd",
                  udrv::testing::RawCall(socket, usb::wire::GetUsbfsRequest{}), Status::BAD_STATE);
  attempts.Expect("an interrupt", udrv::testing::RawCall(socket, hw::MapInterruptRequest{.vector = 0}),
                  Status::NOT_SUPPORTED);
  attempts.Expect("a BTI",
                  udrv::testing::RawCall(socket, hw::GetBtiRequest{.index = 0, .dma_limit = udrv::dma::kNoDmaLimit}),
                  Status::NOT_SUPPORTED);
  attempts.Expect("another device's usbfs fd",
                  udrv::testing::RawCall(socket, usb::wire::GetUsbfsRequest{}, 1), Status::ACCESS_DENIED);
}

}  // namespace

int main() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // The library's connection owns fd 3; raw requests use the same number
  // in between its calls (one thread).
  const int socket = udrv::host::kHostChannelFd;
  auto connection = udrv::host::Connection::Create(udrv::UniqueFd(::dup(socket)));
  auto greeting = connection->Hello();
  if (!greeting) {
    std::fprintf(stderr, "rogue-usb: hello: %s\n", greeting.error().ToString().c_str());
    return 1;
  }
  const auto interface = greeting->node.properties.FindNumber(usb::kPropInterface);
  Say("running as uid " + std::to_string(::getuid()) + " on " + greeting->node.id);
  udrv::ReceivedFile lent;
  auto reply = connection->Call(usb::wire::GetUsbfsRequest{}, {},
                                [&](int fd, const usb::wire::UsbfsReply&) -> Result<void> {
                                  UDRV_TRY_ASSIGN(lent, udrv::ReceiveFile(fd));
                                  return {};
                                });
  attempts.Control("the lent usbfs fd", reply.has_value() && interface.has_value(),
                   reply ? lent.name + ", mask " + udrv::Hex(reply->interface_mask)
                         : reply.error().ToString());
  if (reply && interface) {
    attempts.Control("its mask", reply->interface_mask == (uint32_t{1} << *interface),
                     udrv::Hex(reply->interface_mask));
    TryFd(lent.fd.get(), *interface);
    if (::access(udrv::testing::kUnconfigureMarker, F_OK) == 0) Unconfigure(lent.fd.get(), *interface);
  }
  TryService(socket);

  const Result<void> verdict = attempts.Verdict();
  if (auto reported = connection->ReportStarted(verdict); !reported) {
    std::fprintf(stderr, "rogue-usb: report: %s\n", reported.error().ToString().c_str());
    return 1;
  }
  if (!verdict) return 1;
  // A child that keeps the fd, and with it the claim, for as long as it can.
  const pid_t child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  Say("forked pid " + std::to_string(child) + ", which keeps the claimed fd");
  int signal_number = 0;
  ::sigwait(&stop, &signal_number);
  Say("stopping");
  return 0;
}
