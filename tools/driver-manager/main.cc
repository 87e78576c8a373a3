// udrv-driver-manager: the driver manager. It enumerates the root bus (PCI;
// the platform bus where the machine has a device tree; the USB bus where
// it has /sys/bus/usb/devices; --bus picks; the ACPI bus only when named,
// --bus acpi), matches every device node against the registered drivers
// (edu, e1000e, pl031, hpet, usb-mass-storage, ...), takes each matched
// device from the kernel (PCI: vfio-pci or uio_pci_generic, --route;
// platform: udrv's UIO platform module or /dev/mem, --platform-route;
// acpi: /dev/mem or the UIO platform module, --acpi-route; usb: the
// interface, claimed through the device's usbfs node with its kernel
// driver detached), starts its driver — edu and pl031 run their self tests
// as they start — then stops the drivers and releases the devices:
// interrupts off, bus mastering off, reset where the device has one, and
// with --restore-kernel-driver the previous kernel driver back. It prints
// what it does.
//
// Drivers run in this process, or with --isolated each in a driver host of
// its own (udrv-driver-host, beside this program; PCI, platform and USB
// devices only: an ACPI device's /dev/mem route cannot be handed to a
// host, as the platform bus's cannot): an unprivileged uid that reaches
// its device only through the handles this process, the root bus, sends
// it (pci/isolated_runner.h; for a USB interface a usbfs fd that may claim
// only that interface, usb/isolation.h). A host that dies is reclaimed
// (its pins quarantined, the device quiesced and reset, a USB interface
// taken back from whatever claims it) and started again, up to --restarts
// times.
//
// --node ID (repeatable) leaves every other node alone: neither matched nor
// opened, as a NIC that Linux drives beside the one udrv's driver takes.
//
// --until-signal keeps the drivers running until SIGTERM or SIGINT, as a
// daemon does; otherwise they are stopped once all have started.
//
// --list only reads sysfs: the nodes, their properties, for each
// registered driver whether it matches the node or why not, each driver's
// options, and the budget each driver host would get
// (--host-pinned-memory, --host-pins, --host-processes).
//
// --driver-option DRIVER.OPTION=VALUE sets an option a driver declares
// (drivers/registry.h; --list shows them), checked against its declaration
// before anything starts; with --isolated each host gets them too.
//
// Anything but --list binds drivers and drives devices: run it in a
// testbed guest, never on a machine whose devices matter.
//
// Exit status: 0 when every matched device had its driver started, stopped
// and released; 1 on an error (also when no device matched, or a driver
// host died and was not restarted); 2 for bad arguments.
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/acpi/acpi_bus.h"
#include "udrv/bus/bind_rules.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/bus/root_bus.h"
#include "udrv/core/result.h"
#include "udrv/core/version.h"
#include "udrv/drivers/registry.h"
#include "udrv/pci/isolated_runner.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/platform/isolation.h"
#include "udrv/platform/platform_bus.h"
#include "udrv/usb/isolation.h"
#include "udrv/usb/usb_bus.h"

namespace {

using udrv::Fail;
using udrv::Result;
using udrv::Status;
namespace acpi = udrv::acpi;
namespace bus = udrv::bus;
namespace pci = udrv::pci;
namespace platform = udrv::platform;
namespace usb = udrv::usb;

struct Settings {
  bool list = false;
  std::string sysfs_root = "/sys";
  std::string acpi_tables;  // --acpi: another machine's tables, for --list
  std::string route = "vfio";
  std::string platform_route = "uio";
  std::string acpi_route = "devmem";
  std::vector<std::string> buses;  // empty: every bus this machine has
  std::vector<std::string> nodes;  // empty: every node of those buses
  bool unsafe_physical_dma = false;
  bool restore_kernel_driver = false;
  bool isolated = false;
  std::string host_program;  // empty: udrv-driver-host beside this program
  uint32_t host_uid = 61000;
  uint32_t restarts = 1;
  udrv::host::HostBudget budget;
  std::vector<std::string> host_arguments;
  bool until_signal = false;
  std::vector<std::string> driver_option_assignments;  // as typed, passed on to hosts
  bus::DriverOptionSettings driver_options;            // checked against the registry
};

// The signals that end --until-signal; blocked before any thread starts.
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

// udrv-driver-host in the directory of this program.
Result<std::string> DefaultHostProgram() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n < 0) return udrv::FailErrno(errno, "readlink /proc/self/exe (to find udrv-driver-host)");
  std::string self(path, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/') + 1) + "udrv-driver-host";
}

// Flushed at once: a parent reading a pipe sees each step as it happens.
void Say(std::string_view line) {
  std::printf("udrv-driver-manager: %.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stdout);
}

// A bus with only the nodes --node names: the others are neither matched
// nor opened. Their children, published by their drivers, are the manager's.
class ChosenNodes final : public bus::Bus {
 public:
  ChosenNodes(bus::Bus& bus, std::vector<std::string> ids) : bus_(bus), ids_(std::move(ids)) {}

  std::string_view name() const override { return bus_.name(); }
  Result<std::vector<bus::DeviceNode>> Enumerate() const override {
    UDRV_TRY_ASSIGN(std::vector<bus::DeviceNode> nodes, bus_.Enumerate());
    for (const std::string& id : ids_) {
      const bool found = std::any_of(nodes.begin(), nodes.end(),
                                     [&](const bus::DeviceNode& node) { return node.id == id; });
      if (!found) {
        return Fail(Status::NOT_FOUND,
                    "--node " + id + ": no such node (udrv-driver-manager --list names them)");
      }
    }
    std::erase_if(nodes, [this](const bus::DeviceNode& node) {
      return std::find(ids_.begin(), ids_.end(), node.id) == ids_.end();
    });
    return nodes;
  }
  Result<std::unique_ptr<bus::BoundDevice>> Open(const bus::DeviceNode& node) override {
    return bus_.Open(node);
  }

 private:
  bus::Bus& bus_;
  std::vector<std::string> ids_;
};

void PrintList(const Settings& settings, const std::vector<bus::Driver>& drivers,
               const std::vector<bus::NodeMatch>& matches) {
  std::printf("driver hosts (--isolated): uids from %u; each may use %s\n", settings.host_uid,
              settings.budget.ToString().c_str());
  for (const bus::Driver& driver : drivers) {
    std::printf("driver %s: %s\n", driver.name.c_str(), bus::FormatBindRules(driver.rules).c_str());
    for (const bus::DriverOption& option : driver.options) {
      std::printf("  option %s\n", bus::DescribeDriverOption(option).c_str());
    }
    if (!driver.options.empty()) {
      std::printf("  options now: %s\n", settings.driver_options.at(driver.name).ToString().c_str());
    }
  }
  for (const bus::NodeMatch& match : matches) {
    std::printf("node %s (bus %s, parent %s)\n", match.node.id.c_str(), match.node.bus.c_str(),
                match.node.parent.empty() ? "none" : match.node.parent.c_str());
    for (const auto& [key, value] : match.node.properties.entries()) {
      std::printf("  %s = %s\n", key.c_str(), bus::FormatPropertyValue(value).c_str());
    }
    for (const bus::DriverMatch& candidate : match.candidates) {
      std::printf("  driver %s: %s\n", candidate.driver.c_str(),
                  bus::ExplainDriverMatch(match, candidate).c_str());
    }
    if (!match.driver) std::printf("  no driver binds\n");
  }
  std::fflush(stdout);
}

Result<void> Run(const Settings& settings) {
  pci::PciBusOptions options;
  options.paths.sys = settings.sysfs_root;
  options.route = settings.route == "uio" ? pci::PciRoute::UIO : pci::PciRoute::VFIO;
  options.physical_dma.device_may_reach_all_memory = settings.unsafe_physical_dma;
  options.log = Say;
  const auto wanted = [&settings](std::string_view name) {
    return settings.buses.empty() ||
           std::find(settings.buses.begin(), settings.buses.end(), name) != settings.buses.end();
  };
  bus::RootBus root;
  if (wanted(pci::kBusName)) {
    auto pci_bus = pci::PciBus::Create(options);
    if (!pci_bus) return std::unexpected(pci_bus.error());
    if (auto added = root.AddBus(std::move(*pci_bus)); !added) return added;
  }
  // The platform bus where the machine has a device tree (not x86's ACPI).
  platform::PlatformBusOptions platform_options;
  platform_options.paths = options.paths;
  platform_options.route = settings.platform_route == "devmem" ? platform::PlatformRoute::DEVMEM
                           : settings.platform_route == "vfio" ? platform::PlatformRoute::VFIO
                                                               : platform::PlatformRoute::UIO;
  platform_options.physical_dma = options.physical_dma;
  platform_options.log = Say;
  const bool has_tree = ::access(platform::LiveTreePath(platform_options.paths).c_str(), F_OK) == 0;
  if (wanted(platform::kBusName) && (has_tree || !settings.buses.empty())) {
    auto platform_bus = platform::PlatformBus::Create(platform_options);
    if (!platform_bus) return std::unexpected(platform_bus.error());
    if (auto added = root.AddBus(std::move(*platform_bus)); !added) return added;
  }

  // The USB bus where the machine has one; absent, it has no devices.
  const bool has_usb = ::access(options.paths.BusDevices(usb::kBusName).c_str(), F_OK) == 0;
  if (wanted(usb::kBusName) && (has_usb || !settings.buses.empty())) {
    usb::UsbBusOptions usb_options;
    usb_options.paths = options.paths;
    usb_options.log = Say;
    auto usb_bus = usb::UsbBus::Create(std::move(usb_options));
    if (!usb_bus) return std::unexpected(usb_bus.error());
    if (auto added = root.AddBus(std::move(*usb_bus)); !added) return added;
  }

  // The ACPI bus only when asked for: its drivers map registers of devices
  // the kernel describes but may not drive, which the user chooses to take.
  if (!settings.buses.empty() && wanted(acpi::kBusName)) {
    acpi::AcpiBusOptions acpi_options;
    acpi_options.paths = options.paths;
    acpi_options.tables = settings.acpi_tables;
    acpi_options.route = settings.acpi_route == "uio" ? acpi::AcpiRoute::UIO : acpi::AcpiRoute::DEVMEM;
    acpi_options.log = Say;
    auto acpi_bus = acpi::AcpiBus::Create(std::move(acpi_options));
    if (!acpi_bus) return std::unexpected(acpi_bus.error());
    if (auto added = root.AddBus(std::move(*acpi_bus)); !added) return added;
  }

  bus::DriverManagerOptions manager_options;
  manager_options.release.restore_kernel_driver = settings.restore_kernel_driver;
  manager_options.driver_options = settings.driver_options;
  if (!settings.list) manager_options.log = Say;
  if (settings.isolated) {
    pci::IsolatedRunnerOptions isolated;
    if (settings.host_program.empty()) {
      auto program = DefaultHostProgram();
      if (!program) return std::unexpected(program.error());
      isolated.host_program = *program;
    } else {
      isolated.host_program = settings.host_program;
    }
    isolated.host_arguments = settings.host_arguments;
    for (const std::string& assignment : settings.driver_option_assignments) {
      isolated.host_arguments.insert(isolated.host_arguments.end(), {"--driver-option", assignment});
    }
    isolated.first_uid = settings.host_uid;
    isolated.restarts = settings.restarts;
    isolated.budget = settings.budget;
    isolated.log = Say;
    // One runner for every bus: each device's service is its bus's.
    udrv::host::ServiceFactory pci_service = pci::MakeServiceFactory(isolated.paths);
    udrv::host::ServiceFactory platform_service = platform::MakeServiceFactory();
    udrv::host::ServiceFactory usb_service = usb::MakeServiceFactory();
    auto runner = udrv::host::MakeIsolatedRunner(
        std::move(isolated),
        [pci_service, platform_service, usb_service](bus::DriverContext& context)
            -> Result<std::unique_ptr<udrv::host::HostService>> {
          if (context.node().bus == pci::kBusName) return pci_service(context);
          if (context.node().bus == platform::kBusName) return platform_service(context);
          if (context.node().bus == usb::kBusName) return usb_service(context);
          return Fail(Status::NOT_SUPPORTED,
                      "isolate: no driver host service for bus '" + context.node().bus + "'",
                      context.node().id);
        });
    if (!runner) return std::unexpected(runner.error());
    manager_options.runner = std::move(*runner);
  }
  std::optional<ChosenNodes> chosen;
  if (!settings.nodes.empty()) chosen.emplace(root, settings.nodes);
  bus::DriverManager manager(chosen ? static_cast<bus::Bus&>(*chosen) : root, manager_options);
  const std::vector<bus::Driver> drivers = udrv::drivers::AllDrivers();
  for (const bus::Driver& driver : drivers) {
    if (auto registered = manager.Register(driver); !registered) return registered;
  }

  if (settings.list) {
    auto matches = manager.Match();
    if (!matches) return std::unexpected(matches.error());
    PrintList(settings, drivers, *matches);
    return {};
  }

  auto started = manager.BindAll();
  if (!started) return std::unexpected(started.error());
  if (started->empty()) {
    return Fail(Status::NOT_FOUND,
                "no device matched a registered driver (udrv-driver-manager --list says why)");
  }
  if (settings.until_signal && manager.running() > 0) {
    Say(std::to_string(manager.running()) + " driver(s) running; stopping on SIGTERM or SIGINT");
    const sigset_t signals = StopSignals();
    int signal_number = 0;
    ::sigwait(&signals, &signal_number);
    Say(std::string("stopping on ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
  }
  const std::vector<bus::StopOutcome> stopped = manager.StopAll();

  size_t failures = 0;
  for (const bus::BindOutcome& outcome : *started) {
    if (outcome.started) continue;
    ++failures;
    std::fprintf(stderr, "udrv-driver-manager: %s on %s did not start: %s\n",
                 outcome.driver.c_str(), outcome.node_id.c_str(),
                 outcome.started.error().ToString().c_str());
  }
  for (const bus::StopOutcome& outcome : stopped) {
    if (!outcome.stopped) {
      ++failures;
      std::fprintf(stderr, "udrv-driver-manager: %s on %s did not stop cleanly: %s\n",
                   outcome.driver.c_str(), outcome.node_id.c_str(),
                   outcome.stopped.error().ToString().c_str());
    }
    if (!outcome.released || !outcome.released->ok()) {
      ++failures;
      std::fprintf(stderr, "udrv-driver-manager: releasing %s failed: %s\n",
                   outcome.node_id.c_str(),
                   outcome.released ? outcome.released->ToString().c_str()
                                    : outcome.released.error().ToString().c_str());
    }
  }
  if (failures != 0) {
    return Fail(Status::IO, std::to_string(failures) + " step(s) failed (see above)");
  }
  Say(std::to_string(stopped.size()) + " driver(s) started, stopped and their devices released");
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "udrv-driver-manager: match devices to udrv's drivers, run them in this process, stop "
      "them and release the devices. Binds drivers (except --list): for testbed guests only."};
  // "<name run by> 0.2.0 (libudrv-core 0.2.0)": the version compiled in and
  // the shared library's, which can differ (udrv/core/version.h).
  app.set_version_flag("--version",
                       [program = std::string(argv[0])] { return udrv::VersionLine(program); });
  Settings settings;
  app.add_flag("--list", settings.list,
               "show the device nodes, their properties and which driver matches or why not; "
               "binds nothing");
  auto* sysfs_root = app.add_option("--sysfs-root", settings.sysfs_root,
                                    "with --list: read this sysfs tree instead of /sys");
  app.add_option("--route", settings.route,
                 "how drivers reach their devices: vfio (vfio-pci, the default) or uio "
                 "(uio_pci_generic)")
      ->check(CLI::IsMember({"vfio", "uio"}));
  app.add_option("--platform-route", settings.platform_route,
                 "how platform (device-tree) drivers reach their devices: uio (udrv's UIO "
                 "platform module, the default), devmem (/dev/mem: registers only) or vfio "
                 "(vfio-platform, where the kernel has it; untested)")
      ->check(CLI::IsMember({"uio", "devmem", "vfio"}));
  app.add_option("--acpi-route", settings.acpi_route,
                 "how ACPI drivers reach their devices: devmem (/dev/mem: registers only, the "
                 "default) or uio (udrv's UIO platform module on the device's platform or amba "
                 "node: registers and the first interrupt)")
      ->check(CLI::IsMember({"devmem", "uio"}));
  app.add_option("--bus", settings.buses,
                 "only this bus's devices (pci, platform, usb, acpi); repeatable; default: pci, "
                 "platform where the machine has a device tree, usb where it has USB (acpi only "
                 "when named)")
      ->check(CLI::IsMember({"pci", "platform", "usb", "acpi"}));
  auto* acpi_tables = app.add_option("--acpi", settings.acpi_tables,
                                     "with --list --bus acpi: read these ACPI tables (a directory of "
                                     "table files, or an acpidump text dump) instead of this machine's");
  app.add_option("--node", settings.nodes,
                 "only this node, as --list names it (pci/0000:00:03.0), and the children its "
                 "driver publishes; repeatable; default: every node")
      ->allow_extra_args(false);
  app.add_flag("--unsafe-physical-dma", settings.unsafe_physical_dma,
               "--route uio: let devices DMA to physical addresses (they could reach ALL memory)");
  app.add_flag("--restore-kernel-driver", settings.restore_kernel_driver,
               "on release, bind each device back to the kernel driver it had before");
  app.add_flag("--isolated", settings.isolated,
               "run each driver in a driver host of its own, an unprivileged uid that gets its "
               "device's handles from this process");
  auto* host_program = app.add_option("--host-program", settings.host_program,
                                      "--isolated: the driver host to launch (default: "
                                      "udrv-driver-host beside this program)");
  auto* host_uid = app.add_option("--host-uid", settings.host_uid,
                                  "--isolated: the uid (and gid) of the first driver host; "
                                  "the next get the numbers after it (default 61000)")
                       ->check(CLI::Range(1u, 0xfffffffeu));
  auto* restarts = app.add_option("--restarts", settings.restarts,
                                  "--isolated: how often a driver host that died is started "
                                  "again (default 1)");
  auto* pinned = app.add_option("--host-pinned-memory", settings.budget.max_pinned_bytes,
                                "--isolated: the memory each driver host may have pinned, "
                                "quarantined pins included; every page of a pin counts (default "
                                "256MiB)")
                     ->transform(CLI::AsSizeValue(false))
                     ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 48));
  auto* pins = app.add_option("--host-pins", settings.budget.max_pins,
                              "--isolated: how many pins each driver host may hold (default 4096)")
                   ->check(CLI::Range(uint64_t{1}, uint64_t{65535}));
  auto* processes = app.add_option("--host-processes", settings.budget.max_processes,
                                   "--isolated: the processes and threads each driver host may "
                                   "have, itself included (RLIMIT_NPROC; default 64)")
                        ->check(CLI::Range(1u, 65536u));
  auto* host_args = app.add_option("--host-arg", settings.host_arguments,
                                   "--isolated: an argument for each driver host (repeatable)")
                        ->allow_extra_args(false);
  app.add_flag("--until-signal", settings.until_signal,
               "keep the drivers running until SIGTERM or SIGINT, then stop them");
  app.add_option("--driver-option", settings.driver_option_assignments,
                 "DRIVER.OPTION=VALUE: set one of a driver's options (repeatable; --list shows "
                 "them), e.g. edu.idle-timeout=5s")
      ->allow_extra_args(false);
  try {
    app.parse(argc, argv);
    auto driver_options =
        bus::ParseDriverOptions(udrv::drivers::AllDrivers(), settings.driver_option_assignments);
    if (!driver_options) {
      throw CLI::ValidationError("--driver-option", driver_options.error().ToString());
    }
    settings.driver_options = std::move(*driver_options);
    // No driver host serves the ACPI bus: refused here, before any table is
    // read, rather than each ACPI device failing to start.
    if (settings.isolated &&
        std::find(settings.buses.begin(), settings.buses.end(), acpi::kBusName) != settings.buses.end()) {
      throw CLI::ValidationError("--isolated", "the driver hosts do not serve the ACPI bus; its drivers run "
                                               "in this process (leave out --isolated or --bus acpi)");
    }
    if (sysfs_root->count() != 0 && !settings.list) {
      throw CLI::ValidationError("--sysfs-root", "applies to --list only");
    }
    if (acpi_tables->count() != 0 &&
        (!settings.list || std::find(settings.buses.begin(), settings.buses.end(), "acpi") == settings.buses.end())) {
      throw CLI::ValidationError("--acpi", "applies to --list --bus acpi only");
    }
    if (settings.route == "uio" && !settings.unsafe_physical_dma) {
      throw CLI::ValidationError("--route uio",
                                 "needs --unsafe-physical-dma: without an IOMMU nothing confines "
                                 "a device's DMA");
    }
    if (settings.unsafe_physical_dma && settings.route != "uio") {
      throw CLI::ValidationError("--unsafe-physical-dma", "applies to --route uio only");
    }
    if (settings.isolated && settings.route == "uio") {
      throw CLI::ValidationError("--isolated",
                                 "needs an IOMMU (--route vfio): without one a device reaches all "
                                 "memory, whatever its driver host shares");
    }
    for (const CLI::Option* option : {host_program, restarts, host_args}) {
      if (option->count() != 0 && !settings.isolated) {
        throw CLI::ValidationError(option->get_name(), "applies to --isolated only");
      }
    }
    // --list shows what the hosts would get.
    for (const CLI::Option* option : {host_uid, pinned, pins, processes}) {
      if (option->count() != 0 && !settings.isolated && !settings.list) {
        throw CLI::ValidationError(option->get_name(), "applies to --isolated (and --list) only");
      }
    }
    if (settings.list && (settings.isolated || settings.until_signal)) {
      throw CLI::ValidationError("--list", "starts no driver: --isolated and --until-signal do not apply");
    }
  } catch (const CLI::ParseError& e) {
    // --help exits 0; everything else is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }

  const sigset_t stop_signals = StopSignals();
  if (settings.until_signal) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  auto result = Run(settings);
  if (!result) {
    std::fprintf(stderr, "udrv-driver-manager: FAILED: %s\n", result.error().ToString().c_str());
    return 1;
  }
  if (!settings.list) Say("PASS");
  return 0;
}
