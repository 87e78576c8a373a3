#include "platform/view.h"

#include <unistd.h>

#include <cerrno>

#include "output.h"
#include "privilege.h"
#include "udrv/core/text.h"
#include "udrv/platform/platform_bus.h"

namespace udrv::busctl {

namespace {

Json StringOrNull(const std::string& text) { return text.empty() ? Json() : Json(text); }

// Whether udrv's UIO platform module is loaded: it registers its driver on
// the platform bus (and the AMBA bus, where the kernel has one).
bool UioModuleLoaded(const sysfs::LinuxPaths& paths) {
  return ::access(paths.BusDriver("platform", platform::kUioDriverName).c_str(), F_OK) == 0;
}

bool HasMappedRegion(const platform::DtDevice& device) {
  for (const platform::RegEntry& reg : device.regs) {
    if (reg.phys) return true;
  }
  return false;
}

// What can map `entry` now, and why the others cannot.
std::vector<PlatformRouteReport> RoutesOf(const PlatformEntry& entry, bool uio_loaded) {
  const platform::DtDevice& device = entry.device;
  std::optional<std::string> common;
  if (!device.enabled) {
    common = "disabled in the tree (status \"" + device.status + "\")";
  } else if (!device.problems.empty()) {
    common = "the node is broken (busctl show " + device.path + " says how)";
  } else if (!HasMappedRegion(device)) {
    common = "no region of it is memory-mapped";
  } else if (!entry.kernel) {
    common = "the kernel made no device for the node";
  }
  const std::optional<std::string>& driver =
      entry.kernel ? entry.kernel->driver : std::optional<std::string>();

  std::optional<std::string> uio_why = common;
  if (!uio_why && driver != platform::kUioDriverName) {
    uio_why = "bound to " + (driver ? *driver : std::string("no driver")) + ", not " +
              std::string(platform::kUioDriverName) + " (busctl bind " + device.path + " " +
              std::string(platform::kUioDriverName) + ")";
    if (!uio_loaded) {
      *uio_why += "; its module " + std::string(platform::kUioModuleName) +
                  " is not loaded (insmod udrv_uio_platform.ko)";
    }
  }
  std::optional<std::string> devmem_why = common;
  if (!devmem_why && driver) {
    devmem_why = "kernel driver " + *driver + " holds it, and IO_STRICT_DEVMEM refuses its "
                 "regions until it lets go (busctl unbind " + device.path + ")";
  } else if (!devmem_why && !IsRoot()) {
    devmem_why = "/dev/mem is root's";
  }
  return {PlatformRouteReport{"uio", std::move(uio_why)}, PlatformRouteReport{"devmem", std::move(devmem_why)}};
}

}  // namespace

std::string NodePathOf(std::string_view argument) {
  constexpr std::string_view kPrefix = "platform";
  if (argument.starts_with(kPrefix) && argument.size() > kPrefix.size() &&
      argument[kPrefix.size()] == '/') {
    argument.remove_prefix(kPrefix.size());
  }
  return std::string(argument);
}

Result<const PlatformEntry*> PlatformView::Find(std::string_view path) const {
  for (const PlatformEntry& entry : entries) {
    if (entry.device.path == path) return &entry;
  }
  return Fail(Status::NOT_FOUND,
              "no node with `compatible` at " + std::string(path) + " in the device tree " +
                  tree.source(),
              std::string(path));
}

std::string PlatformView::ControllerLabel(const platform::InterruptEntry& interrupt) const {
  if (!interrupt.gic) return interrupt.controller;
  for (const PlatformEntry& entry : entries) {
    if (entry.device.path != interrupt.controller) continue;
    for (const std::string& compatible : entry.device.compatible) {
      if (compatible.find("gic-v3") != std::string::npos) return "GICv3";
    }
  }
  return "GIC";
}

Result<std::optional<PlatformView>> ReadPlatformView(const GlobalOptions& options) {
  const bool live = options.dtb.empty();
  const std::string file = live ? platform::LiveTreePath(options.paths()) : options.dtb;
  // No live tree is no error: the machine has no device tree (x86).
  if (live && ::access(file.c_str(), F_OK) != 0 && errno == ENOENT) {
    return std::optional<PlatformView>();
  }
  auto tree = platform::DeviceTree::FromFile(file);
  if (!tree) {
    Error error = tree.error();
    if (live && error.err_no == EACCES) {
      error.what += " (Linux lets only root read the live device tree)";
    }
    return std::unexpected(NameReplayedFiles(options, std::move(error)));
  }
  auto devices = tree->Enumerate();
  if (!devices) return std::unexpected(NameReplayedFiles(options, devices.error()));

  PlatformView view{std::move(*tree), live, {}};
  std::map<std::string, platform::KernelDevice, std::less<>> kernel;
  if (live) {
    auto found = platform::KernelDevicesByNodePath(options.paths());
    if (!found) return std::unexpected(NameReplayedFiles(options, found.error()));
    kernel = std::move(*found);
  }
  const bool uio_loaded = live && UioModuleLoaded(options.paths());
  for (platform::DtDevice& device : *devices) {
    PlatformEntry entry{std::move(device), std::nullopt, {}};
    if (live) {
      if (auto it = kernel.find(entry.device.path); it != kernel.end()) entry.kernel = it->second;
      entry.routes = RoutesOf(entry, uio_loaded);
    }
    view.entries.push_back(std::move(entry));
  }
  return std::optional<PlatformView>(std::move(view));
}

std::string RegionText(const platform::RegEntry& reg) {
  if (reg.phys) return Hex(*reg.phys) + " size " + Hex(reg.size);
  return "bus address " + Hex(reg.bus_address) + " size " + Hex(reg.size) +
         " (not memory-mapped: " + Printable(reg.untranslated) + ")";
}

std::string InterruptText(const PlatformView& view, const platform::InterruptEntry& interrupt) {
  if (interrupt.gic) {
    const platform::GicInterrupt& gic = *interrupt.gic;
    std::string text = view.ControllerLabel(interrupt) + " " +
                       std::string(platform::GicKindName(gic.kind)) + " " +
                       std::to_string(gic.number);
    if (gic.trigger != platform::GicInterrupt::Trigger::NONE) {
      text += " " + std::string(platform::GicTriggerName(gic.trigger));
    }
    return text;
  }
  std::string cells;
  for (const uint32_t cell : interrupt.specifier) cells += (cells.empty() ? "" : " ") + Hex(cell);
  return Printable(interrupt.controller) + " <" + cells + ">";
}

Json PlatformEntryToJson(const PlatformView& view, const PlatformEntry& entry) {
  const platform::DtDevice& device = entry.device;
  Json json = Json::object();
  json["bus"] = platform::kBusName;
  json["path"] = device.path;
  json["name"] = device.name;
  json["compatible"] = device.compatible;
  json["enabled"] = device.enabled;
  json["status"] = StringOrNull(device.status);
  Json mmio = Json::array();
  for (const platform::RegEntry& reg : device.regs) {
    Json region = Json::object();
    region["index"] = reg.index;
    region["name"] = StringOrNull(reg.name);
    region["phys"] = reg.phys ? Json(*reg.phys) : Json();
    region["size"] = reg.size;
    region["bus_address"] = reg.bus_address;
    region["untranslated"] = reg.phys ? Json() : Json(reg.untranslated);
    mmio.push_back(std::move(region));
  }
  json["mmio"] = std::move(mmio);
  Json interrupts = Json::array();
  for (const platform::InterruptEntry& interrupt : device.interrupts) {
    Json item = Json::object();
    item["index"] = interrupt.index;
    item["name"] = StringOrNull(interrupt.name);
    item["controller"] = interrupt.controller;
    item["specifier"] = interrupt.specifier;
    const std::optional<platform::GicInterrupt>& gic = interrupt.gic;
    item["gic"] = gic ? Json(view.ControllerLabel(interrupt)) : Json();
    item["type"] = gic ? Json(platform::GicKindName(gic->kind)) : Json();
    item["number"] = gic ? Json(gic->number) : Json();
    item["hwirq"] = gic ? Json(gic->hwirq) : Json();
    item["trigger"] = gic && gic->trigger != platform::GicInterrupt::Trigger::NONE
                          ? Json(platform::GicTriggerName(gic->trigger))
                          : Json();
    interrupts.push_back(std::move(item));
  }
  json["interrupts"] = std::move(interrupts);
  if (entry.kernel) {
    json["kernel"] = {{"bus", entry.kernel->bus}, {"device", entry.kernel->name}};
  } else {
    json["kernel"] = Json();
  }
  json["driver"] = entry.kernel && entry.kernel->driver ? Json(*entry.kernel->driver) : Json();
  Json routes = Json::array();
  for (const PlatformRouteReport& route : entry.routes) {
    routes.push_back({{"route", route.route},
                      {"available", !route.why_not.has_value()},
                      {"why_not", route.why_not ? Json(*route.why_not) : Json()}});
  }
  json["routes"] = std::move(routes);
  Json problems = Json::array();
  for (const Error& problem : device.problems) problems.push_back(ErrorToJson(problem));
  json["problems"] = std::move(problems);
  return json;
}

}  // namespace udrv::busctl
