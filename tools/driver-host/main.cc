// udrv-driver-host: a driver host. The driver manager, run --isolated,
// launches one per driver as an unprivileged uid of its own, with the
// socket to the root bus as fd 3:
//
//   udrv-driver-host --driver edu --node pci/0000:00:03.0 [--driver-option edu.NAME=VALUE ...]
//   udrv-driver-host --driver usb-mass-storage --node usb/usb2/2-1/2-1:1.0
//
// Its drivers and their options come from the registry (drivers/): the
// manager passes on the `--driver-option`s it was given, and the host
// checks them the same way (an unknown driver or option, or a bad value, is
// a usage error naming them).
//
// It greets the root bus, wraps the connection in the proxy of the node's
// bus (pci::RemoteDevice, platform::RemoteDevice, and for a USB interface
// usb::CreateRemoteDevice's: the usbfs fd the root bus sends, which may
// claim only that interface), starts the driver on the
// node the root bus sent and then the drivers of the children the driver
// publishes, matched against the registry and run in this process
// (host/hosted_drivers.h: the root bus never sees the children), reports
// whether all started, and runs them until SIGTERM or SIGINT; then it stops
// the children's drivers, then the driver, and exits.
// Nothing here needs privileges: the device reaches this process only as
// the handles the root bus sends. Run as root or with a capability, it
// refuses to start a driver.
//
// Exit status: 0 after a clean stop; 1 when the driver failed to start or
// stop, or the root bus could not be reached; 2 for bad arguments.
#include <linux/capability.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "udrv/core/version.h"
#include "udrv/host/host_process.h"
#include "udrv/host/hosted_drivers.h"
#include "udrv/drivers/registry.h"
#include "udrv/pci/isolation.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/platform/isolation.h"
#include "udrv/platform/platform_bus.h"
#include "udrv/usb/isolation.h"
#include "udrv/usb/usb_bus.h"

namespace {

using udrv::Error;
using udrv::Fail;
using udrv::Result;
using udrv::Status;
namespace bus = udrv::bus;
namespace pci = udrv::pci;
namespace platform = udrv::platform;
namespace usb = udrv::usb;

void Say(std::string_view line) {
  std::printf("udrv-driver-host[%d]: %.*s\n", static_cast<int>(::getpid()),
              static_cast<int>(line.size()), line.data());
  std::fflush(stdout);
}

struct Settings {
  std::string driver;
  std::string node;
  bus::DriverOptionSettings driver_options;  // ParseDriverOptions over the registry
};

// A driver host holds nothing but its handles: run as root or with a
// capability left (a launcher that failed to drop them), it refuses.
Result<void> CheckUnprivileged() {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0) {
    return udrv::FailErrno(errno, "getresuid/getresgid");
  }
  if (ruid == 0 || euid == 0 || suid == 0 || rgid == 0 || egid == 0 || sgid == 0) {
    return Fail(Status::ACCESS_DENIED,
                "refuses to run a driver as root (uids " + std::to_string(ruid) + "/" +
                    std::to_string(euid) + "/" + std::to_string(suid) + ", gids " +
                    std::to_string(rgid) + "/" + std::to_string(egid) + "/" +
                    std::to_string(sgid) + "): udrv-driver-manager --isolated starts hosts as "
                    "uids of their own");
  }
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return udrv::FailErrno(errno, "capget");
  for (const __user_cap_data_struct& word : data) {
    if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0) {
      return Fail(Status::ACCESS_DENIED, "refuses to run a driver with capabilities left");
    }
  }
  return {};
}

Result<void> Run(const Settings& settings, const sigset_t& stop_signals) {
  if (auto unprivileged = CheckUnprivileged(); !unprivileged) return unprivileged;
  struct stat channel{};
  if (::fstat(udrv::host::kHostChannelFd, &channel) != 0 || !S_ISSOCK(channel.st_mode)) {
    return Fail(Status::BAD_STATE,
                "fd " + std::to_string(udrv::host::kHostChannelFd) +
                    " is not a socket to the root bus: driver hosts are started by "
                    "udrv-driver-manager --isolated, not by hand");
  }
  auto connection = udrv::host::Connection::Create(udrv::UniqueFd(udrv::host::kHostChannelFd));
  auto greeting = connection->Hello();
  if (!greeting) return std::unexpected(greeting.error());
  const bus::DeviceNode node = greeting->node;
  const std::string route = greeting->route;
  // The device's proxy is its bus's: the protocol the driver asks for.
  bus::ProtocolSet protocols;
  std::unique_ptr<pci::RemoteDevice> pci_device;
  std::unique_ptr<platform::RemoteDevice> platform_device;
  std::unique_ptr<usb::Device> usb_device;
  if (node.bus == pci::kBusName) {
    auto device = pci::RemoteDevice::Create(connection, std::move(*greeting));
    if (!device) return std::unexpected(device.error());
    pci_device = std::move(*device);
    protocols.Add<pci::Device>(pci_device.get());
  } else if (node.bus == platform::kBusName) {
    auto device = platform::RemoteDevice::Create(connection, std::move(*greeting));
    if (!device) return std::unexpected(device.error());
    platform_device = std::move(*device);
    protocols.Add<platform::Device>(platform_device.get());
  } else if (node.bus == usb::kBusName) {
    auto device = usb::CreateRemoteDevice(connection, std::move(*greeting));
    if (!device) return std::unexpected(device.error());
    usb_device = std::move(*device);
    protocols.Add<usb::Device>(usb_device.get());
  } else {
    return Fail(Status::NOT_SUPPORTED, "the root bus gave a node of bus '" + node.bus +
                                           "', which this host has no proxy for");
  }
  Say("connected: " + node.id + " over the root bus (" + route +
      "), running as uid " + std::to_string(::getuid()));

  if (node.id != settings.node) {
    Result<void> wrong_node =
        Fail(Status::INVALID_ARGS, "the root bus gave node " + node.id + ", not " + settings.node);
    (void)connection->ReportStarted(wrong_node);
    return wrong_node;
  }

  auto hosted = udrv::host::HostedDrivers::Start({.drivers = udrv::drivers::AllDrivers(),
                                                  .driver = settings.driver,
                                                  .node = node,
                                                  .protocols = protocols,
                                                  .driver_options = settings.driver_options,
                                                  .log = Say});
  Result<void> started;
  if (!hosted) started = udrv::Wrap(hosted.error(), "start " + settings.driver);
  if (auto reported = connection->ReportStarted(started); !reported) {
    return udrv::Wrap(reported.error(), "report the start to the root bus");
  }
  if (!started) return started;
  const size_t children = (*hosted)->children().size();
  Say(settings.driver + " started" +
      (children == 0 ? std::string() : " with " + std::to_string(children) + " child node(s)") +
      "; running until SIGTERM");

  int signal_number = 0;
  ::sigwait(&stop_signals, &signal_number);
  Say(std::string("stopping on ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
  Result<void> stopped = (*hosted)->Stop();
  hosted->reset();
  if (!stopped) return udrv::Wrap(stopped.error(), "stop " + settings.driver);
  Say(settings.driver + " stopped");
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"udrv-driver-host: run one driver isolated, on the device the root bus serves on fd 3"};
  // "<name run by> 0.2.0 (libudrv-core 0.2.0)": the version compiled in and
  // the shared library's, which can differ (udrv/core/version.h).
  app.set_version_flag("--version",
                       [program = std::string(argv[0])] { return udrv::VersionLine(program); });
  Settings settings;
  app.add_option("--driver", settings.driver, "the driver to start")->required();
  app.add_option("--node", settings.node, "the node the root bus gives this host")->required();
  std::vector<std::string> driver_options;
  app.add_option("--driver-option", driver_options,
                 "DRIVER.OPTION=VALUE: set one of a driver's options (repeatable; "
                 "udrv-driver-manager --list shows them)")
      ->allow_extra_args(false);
  try {
    app.parse(argc, argv);
    auto parsed = bus::ParseDriverOptions(udrv::drivers::AllDrivers(), driver_options);
    if (!parsed) throw CLI::ValidationError("--driver-option", parsed.error().ToString());
    settings.driver_options = std::move(*parsed);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Blocked before any thread starts, so that every thread leaves them to
  // the sigwait in Run.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto result = Run(settings, stop_signals);
  if (!result) {
    std::fprintf(stderr, "udrv-driver-host[%d]: FAILED: %s\n", static_cast<int>(::getpid()),
                 result.error().ToString().c_str());
    return 1;
  }
  return 0;
}
