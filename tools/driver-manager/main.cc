// udrv-driver-manager: the driver manager, in-process. It enumerates the
// root bus (PCI), matches every device node against the registered drivers
// (edu), binds each matched device to vfio-pci (or uio_pci_generic), starts
// its driver in this process — edu runs its self test as it starts — then
// stops the drivers and releases the devices: interrupts off, bus mastering
// off, reset where the device has one, and with --restore-kernel-driver the
// previous kernel driver back. It prints what it does.
//
// --list only reads sysfs: the nodes, their properties, and for each
// registered driver whether it matches the node or why not.
//
// Anything but --list binds drivers and drives devices: run it in a
// testbed guest, never on a machine whose devices matter.
//
// Exit status: 0 when every matched device had its driver started, stopped
// and released; 1 on an error (also when no device matched); 2 for bad
// arguments.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/bus/bind_rules.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/bus/root_bus.h"
#include "udrv/core/result.h"
#include "udrv/drivers/edu/bus_driver.h"
#include "udrv/pci/pci_bus.h"

namespace {

using udrv::Fail;
using udrv::Result;
using udrv::Status;
namespace bus = udrv::bus;
namespace pci = udrv::pci;

struct Settings {
  bool list = false;
  std::string sysfs_root = "/sys";
  std::string route = "vfio";
  bool unsafe_physical_dma = false;
  bool restore_kernel_driver = false;
};

// Flushed at once: a parent reading a pipe sees each step as it happens.
void Say(std::string_view line) {
  std::printf("udrv-driver-manager: %.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stdout);
}

// Every driver this program knows, most specific first: the first
// registered driver whose rules hold binds a node (driver_manager.h).
std::vector<bus::Driver> Drivers() { return {udrv::drivers::edu::MakeBusDriver()}; }

void PrintList(const std::vector<bus::Driver>& drivers, const std::vector<bus::NodeMatch>& matches) {
  for (const bus::Driver& driver : drivers) {
    std::printf("driver %s: %s\n", driver.name.c_str(), bus::FormatBindRules(driver.rules).c_str());
  }
  for (const bus::NodeMatch& match : matches) {
    std::printf("node %s (bus %s, parent %s)\n", match.node.id.c_str(), match.node.bus.c_str(),
                match.node.parent.empty() ? "none" : match.node.parent.c_str());
    for (const auto& [key, value] : match.node.properties.entries()) {
      std::printf("  %s = %s\n", key.c_str(), bus::FormatPropertyValue(value).c_str());
    }
    for (const bus::Candidate& candidate : match.candidates) {
      std::string verdict;
      if (!candidate.evaluation.matched) {
        verdict = "no match: " + candidate.evaluation.Explain();
      } else if (match.driver == candidate.driver) {
        verdict = "matches, binds";
      } else {
        verdict = "matches, but " + *match.driver + " binds (registered first)";
      }
      std::printf("  driver %s: %s\n", candidate.driver.c_str(), verdict.c_str());
    }
    if (!match.driver) std::printf("  no driver binds\n");
  }
  std::fflush(stdout);
}

Result<void> Run(const Settings& settings) {
  pci::PciBusOptions options;
  options.sysfs_root = settings.sysfs_root;
  options.route = settings.route == "uio" ? pci::PciRoute::UIO : pci::PciRoute::VFIO;
  options.physical_dma.device_may_reach_all_memory = settings.unsafe_physical_dma;
  auto pci_bus = pci::PciBus::Create(options);
  if (!pci_bus) return std::unexpected(pci_bus.error());
  bus::RootBus root;
  if (auto added = root.AddBus(std::move(*pci_bus)); !added) return added;

  bus::DriverManagerOptions manager_options;
  manager_options.release.restore_kernel_driver = settings.restore_kernel_driver;
  if (!settings.list) manager_options.log = Say;
  bus::DriverManager manager(root, manager_options);
  const std::vector<bus::Driver> drivers = Drivers();
  for (const bus::Driver& driver : drivers) {
    if (auto registered = manager.Register(driver); !registered) return registered;
  }

  if (settings.list) {
    auto matches = manager.Match();
    if (!matches) return std::unexpected(matches.error());
    PrintList(drivers, *matches);
    return {};
  }

  auto started = manager.BindAll();
  if (!started) return std::unexpected(started.error());
  if (started->empty()) {
    return Fail(Status::NOT_FOUND,
                "no device matched a registered driver (udrv-driver-manager --list says why)");
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
  app.add_flag("--unsafe-physical-dma", settings.unsafe_physical_dma,
               "--route uio: let devices DMA to physical addresses (they could reach ALL memory)");
  app.add_flag("--restore-kernel-driver", settings.restore_kernel_driver,
               "on release, bind each device back to the kernel driver it had before");
  try {
    app.parse(argc, argv);
    if (sysfs_root->count() != 0 && !settings.list) {
      throw CLI::ValidationError("--sysfs-root", "applies to --list only");
    }
    if (settings.route == "uio" && !settings.unsafe_physical_dma) {
      throw CLI::ValidationError("--route uio",
                                 "needs --unsafe-physical-dma: without an IOMMU nothing confines "
                                 "a device's DMA");
    }
    if (settings.unsafe_physical_dma && settings.route != "uio") {
      throw CLI::ValidationError("--unsafe-physical-dma", "applies to --route uio only");
    }
  } catch (const CLI::ParseError& e) {
    // --help exits 0; everything else is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto result = Run(settings);
  if (!result) {
    std::fprintf(stderr, "udrv-driver-manager: FAILED: %s\n", result.error().ToString().c_str());
    return 1;
  }
  if (!settings.list) Say("PASS");
  return 0;
}
