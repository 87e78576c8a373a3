#include "platform/module.h"

#include <unistd.h>

#include <cerrno>
#include <memory>

#include "output.h"
#include "platform/view.h"
#include "udrv/core/text.h"
#include "udrv/platform/platform_bus.h"

namespace udrv::busctl {

namespace {

// A node's path ("/soc/serial@7e201000") or its node id
// ("platform/soc/serial@7e201000").
std::optional<std::string> CheckPlatformDevice(std::string_view argument) {
  const bool path = argument.starts_with('/');
  const bool id = argument.starts_with(std::string(platform::kBusName) + "/");
  if (!path && !id) return std::nullopt;
  for (const char c : argument) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return "device '" + std::string(argument) +
             "': a device-tree path has no spaces or control characters";
    }
  }
  return std::string();
}

// A node's records carry its path.
RecordName PlatformRecordName(std::string_view argument) {
  return RecordName{"path", NodePathOf(argument)};
}

// "/pl031@9010000 arm,pl031 arm,primecell; mmio 0x9010000 size 0x1000; irq
// GICv3 SPI 2 level-high; driver rtc-pl031; map: no (...)"
std::string ListLine(const PlatformView& view, const PlatformEntry& entry) {
  const platform::DtDevice& device = entry.device;
  std::string line = Printable(device.path);
  for (const std::string& compatible : device.compatible) line += " " + Printable(compatible);
  if (!device.regs.empty()) {
    line += "; mmio ";
    for (const platform::RegEntry& reg : device.regs) {
      line += (reg.index == 0 ? "" : ", ") + RegionText(reg);
    }
  }
  if (!device.interrupts.empty()) {
    line += "; irq ";
    for (const platform::InterruptEntry& interrupt : device.interrupts) {
      line += (interrupt.index == 0 ? "" : ", ") + InterruptText(view, interrupt);
    }
  }
  if (!device.enabled) line += "; disabled (status \"" + Printable(device.status) + "\")";
  if (!device.problems.empty()) {
    line += "; " + std::to_string(device.problems.size()) +
            (device.problems.size() == 1 ? " problem" : " problems") + " (busctl show " +
            Printable(device.path) + ")";
  }
  if (view.live) {
    if (!entry.kernel) {
      line += "; no kernel device";
    } else {
      line += entry.kernel->driver ? "; driver " + Printable(*entry.kernel->driver)
                                   : std::string("; no driver");
    }
    std::string usable;
    for (const PlatformRouteReport& route : entry.routes) {
      if (!route.why_not) usable += (usable.empty() ? "" : ", ") + route.route;
    }
    if (usable.empty()) {
      // devmem's reason says what would make the device reachable.
      const PlatformRouteReport& devmem = entry.routes.back();
      usable = "no (" + Printable(devmem.why_not.value_or("")) + ")";
    }
    line += "; map: " + usable;
  }
  return line + "\n";
}

ListContribution AddPlatformListOptions(CLI::App& /*list*/, const GlobalOptions& options) {
  ListContribution contribution;
  contribution.gather = [&options](Companions& companions) -> Result<ListBlock> {
    ListBlock block;
    auto view = ReadPlatformView(options);
    if (!view) {
      // Unprivileged, the live tree is unreadable: list what can be read.
      if (options.dtb.empty() && view.error().err_no == EACCES) {
        block.skipped.Add("the platform bus (the device tree " + platform::LiveTreePath(options.paths()) + ")",
                          "Linux lets only root read the live device tree");
        return block;
      }
      return std::unexpected(view.error());
    }
    if (!*view) return block;
    for (const PlatformEntry& entry : (*view)->entries) {
      block.ids.push_back(std::string(platform::kBusName) + entry.device.path);
      // Other modules' views of the node's kernel device (ACPI's) join its entry.
      std::vector<const Companion*> attached;
      if (entry.kernel) attached = companions.Take({entry.kernel->bus, entry.kernel->name});
      if (options.json) {
        Json json = PlatformEntryToJson(**view, entry);
        AttachCompanions(attached, json);
        block.devices.push_back(std::move(json));
      } else {
        std::string line = ListLine(**view, entry);
        line.pop_back();  // its newline
        for (const Companion* companion : attached) {
          line += "; " + companion->module + " " + Printable(companion->summary);
        }
        block.text += line + "\n";
      }
    }
    return block;
  };
  // --dtb names a board: list shows that board, not this machine's PCI.
  contribution.narrows = [&options] { return !options.dtb.empty(); };
  return contribution;
}

// The platform root bus for match: the --dtb board, or this machine's tree;
// none on a machine without one. Unprivileged, the live tree is unreadable:
// match goes on without the bus, saying so.
Result<std::unique_ptr<bus::Bus>> CreatePlatformBus(const GlobalOptions& options,
                                                    std::function<void(std::string_view)> log) {
  platform::PlatformBusOptions bus_options;
  bus_options.paths = options.paths();
  bus_options.dtb = options.dtb;
  bus_options.log = log;
  const std::string live = platform::LiveTreePath(options.paths());
  if (options.dtb.empty() && ::access(live.c_str(), F_OK) != 0 && errno == ENOENT) {
    return std::unique_ptr<bus::Bus>();
  }
  auto bus = platform::PlatformBus::Create(std::move(bus_options));
  if (!bus && options.dtb.empty() && bus.error().err_no == EACCES) {
    if (log) log("skipped the platform bus: " + bus.error().ToString() +
                 " (Linux lets only root read the live device tree)");
    return std::unique_ptr<bus::Bus>();
  }
  if (!bus) return std::unexpected(bus.error());
  return std::unique_ptr<bus::Bus>(std::move(*bus));
}

}  // namespace

BusModule PlatformModule() {
  return BusModule{
      .name = platform::kBusName,
      .add_commands = nullptr,
      .add_list_options = AddPlatformListOptions,
      .add_show_options = nullptr,
      .device_commands = {.check_device = CheckPlatformDevice,
                          .show = RunPlatformShow,
                          .read = RunPlatformRead,
                          .write = RunPlatformWrite,
                          .bind = RunPlatformBind,
                          .unbind = RunPlatformUnbind,
                          .record_name = PlatformRecordName},
      .create_bus = CreatePlatformBus,
  };
}

}  // namespace udrv::busctl
