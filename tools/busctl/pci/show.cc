// `busctl show DEV`: everything the PCI root bus knows about one function —
// identity, interrupts, BARs with the routes that can map each one, driver,
// NUMA node, and its IOMMU group with the members and whether VFIO can have
// it. Lines lspci -vv also prints (Interrupt, NUMA node, IOMMU group, Region,
// Expansion ROM, Kernel driver in use) are worded as lspci words them.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capabilities.h"
#include "commands.h"
#include "pci/module.h"
#include "output.h"
#include "pci_format.h"
#include "privilege.h"
#include "select.h"
#include "show_report.h"
#include "udrv/core/text.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/names.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

namespace {

constexpr uint16_t kCommandIo = 1u << 0;
constexpr uint16_t kCommandMemory = 1u << 1;

// lspci's size notation: " [size=4K]"; nothing for 0.
std::string SizeText(uint64_t size) {
  if (size == 0) return "";
  static constexpr const char* kSuffixes[] = {"", "K", "M", "G", "T"};
  size_t unit = 0;
  while (unit + 1 < std::size(kSuffixes) && size % 1024 == 0) {
    size /= 1024;
    ++unit;
  }
  return " [size=" + std::to_string(static_cast<unsigned>(size)) + kSuffixes[unit] + "]";
}

// `no_group`: why VFIO cannot have the function at all (no IOMMU group), if so.
std::vector<Route> RoutesOf(const pci::BarInfo& bar, const pci::DeviceInfo& info,
                            const std::string& device_path,
                            const std::optional<std::string>& no_group) {
  std::vector<Route> routes;
  if (bar.is_io) return routes;  // port ranges: no route maps them
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const bool root = IsRoot();
  const std::string index = std::to_string(bar.index);
  const std::string resource = "resource" + index;
  const bool has_resource = ::access((device_path + "/" + resource).c_str(), F_OK) == 0;
  const bool has_wc = bar.is_prefetchable &&
                      ::access((device_path + "/" + resource + "_wc").c_str(), F_OK) == 0;
  const bool page_sized = bar.size >= page;
  const std::string driver = info.driver.value_or("");

  // What keeps a resource file route from mapping the BAR, if anything.
  auto resource_why = [&](bool exists) -> std::optional<std::string> {
    if (!exists) return "the kernel made no such file";
    if (!page_sized) return "smaller than a page: udrv maps resource files in whole pages";
    if (!root) return std::string(kBarNeedsRoot);
    return std::nullopt;
  };
  routes.push_back(Route{"sysfs", resource, std::nullopt, "UNCACHED_DEVICE", page_sized,
                         resource_why(has_resource)});
  if (has_wc) {
    routes.push_back(Route{"sysfs", resource + "_wc", std::nullopt, "WRITE_COMBINING", page_sized,
                           resource_why(true)});
  }
  const bool on_uio = driver == pci::kUioPciDriver;
  const std::string uio_why = "bound to " + (driver.empty() ? std::string("no driver") : driver) +
                              ", not uio_pci_generic (busctl bind DEV uio)";
  routes.push_back(Route{"uio", resource, std::nullopt, "UNCACHED_DEVICE", page_sized,
                         on_uio ? resource_why(has_resource) : std::optional(uio_why)});
  if (has_wc) {
    routes.push_back(Route{"uio", resource + "_wc", std::nullopt, "WRITE_COMBINING", page_sized,
                           on_uio ? resource_why(true) : std::optional(uio_why)});
  }
  // vfio-pci mmaps BARs of a page or more, and smaller ones that start a page.
  const bool on_vfio = driver == pci::kVfioPciDriver;
  const bool vfio_mappable = page_sized || bar.address % page == 0;
  std::optional<std::string> vfio_why;
  if (no_group) {
    vfio_why = *no_group;
  } else if (!on_vfio) {
    vfio_why = "bound to " + (driver.empty() ? std::string("no driver") : driver) +
               ", not vfio-pci (busctl bind DEV vfio-pci)";
  }
  routes.push_back(
      Route{"vfio", std::nullopt, bar.index, "UNCACHED_DEVICE", vfio_mappable, vfio_why});
  return routes;
}

// lspci -vv's Region line (pciutils show_bases): "[virtual]" for a BAR the
// kernel assigned but the device's register does not hold, "[disabled]"
// when the command register does not decode its space.
BarReport DescribeBar(const pci::BarInfo& bar, const pci::ConfigSpace& config, uint16_t command,
                      size_t bar_count) {
  BarReport report{bar, false, "Region " + std::to_string(bar.index) + ": ", {}};
  const uint16_t register_offset = static_cast<uint16_t>(pci::kConfigBar0 + 4 * bar.index);
  const uint32_t lower = config.Read32(register_offset).value_or(0);
  uint32_t upper = 0;
  bool broken = false;
  bool is_virtual = false;
  if (((lower & 1) != 0) == bar.is_io) {
    if (!bar.is_io && (lower & 0x6) == 0x4) {
      if (bar.index + 1 >= bar_count) {
        broken = true;
      } else {
        upper = config.Read32(static_cast<uint16_t>(register_offset + 4)).value_or(0);
      }
    }
    is_virtual = bar.address != 0 && lower == 0 && upper == 0;
  }
  if (bar.is_io) {
    report.enabled = (command & kCommandIo) != 0;
    const uint64_t port = bar.address & ~uint64_t{3};
    report.text += "I/O ports at ";
    report.text += port != 0 || report.enabled ? HexId(port, 4) : lower != 0 ? "<ignored>" : "<unassigned>";
    if (is_virtual) {
      report.text += " [virtual]";
    } else if (!report.enabled) {
      report.text += " [disabled]";
    }
  } else {
    report.enabled = (command & kCommandMemory) != 0;
    const uint64_t address = bar.address & ~uint64_t{0xf};
    report.text += "Memory at ";
    report.text += broken ? "<broken-64-bit-slot>"
                   : address != 0 ? HexId(address, 8)
                   : lower != 0 || upper != 0 ? "<ignored>"
                                              : "<unassigned>";
    report.text += std::string(" (") + (bar.is_64bit ? "64-bit" : "32-bit") + ", " +
                   (bar.is_prefetchable ? "" : "non-") + "prefetchable)";
    if (is_virtual) {
      report.text += " [virtual]";
    } else if (!report.enabled) {
      report.text += " [disabled]";
    }
  }
  report.text += SizeText(bar.size);
  return report;
}

// lspci -vv's "Expansion ROM at ..." (pciutils show_rom).
std::string DescribeRom(const pci::RomInfo& rom, const pci::ConfigSpace& config, uint16_t command,
                        uint16_t rom_register) {
  const uint32_t raw = config.Read32(rom_register).value_or(0);
  constexpr uint32_t kRomAddressMask = ~uint32_t{0x7ff};
  uint32_t flags = raw;
  bool is_virtual = false;
  if ((rom.address & kRomAddressMask) != 0 && (raw & kRomAddressMask) == 0) {
    flags = static_cast<uint32_t>(rom.address);
    is_virtual = true;
  }
  std::string text = "Expansion ROM at ";
  text += (rom.address & kRomAddressMask) != 0 ? HexId(rom.address & kRomAddressMask, 8)
          : (flags & kRomAddressMask) != 0     ? "<ignored>"
                                               : "<unassigned>";
  if (is_virtual) text += " [virtual]";
  if ((flags & 1) == 0) {
    text += " [disabled]";
  } else if (!is_virtual && (command & kCommandMemory) == 0) {
    text += " [disabled by cmd]";
  }
  return text + SizeText(rom.size);
}

std::string RouteText(const Route& route) {
  std::string text = route.route + " ";
  text += route.file ? *route.file : "region " + std::to_string(*route.region);
  if (!route.mappable) {
    text += route.region ? " (not mappable: read and write through the region)" : " (not mappable)";
  } else {
    text += " (" + route.cache_policy + ")";
  }
  if (route.why_not) text += " [" + Printable(*route.why_not) + "]";
  return text;
}

Json RouteToJson(const Route& route) {
  Json json = Json::object();
  json["route"] = route.route;
  json["file"] = route.file ? Json(*route.file) : Json();
  json["region"] = route.region ? Json(*route.region) : Json();
  json["cache_policy"] = route.cache_policy;
  json["mappable"] = route.mappable;
  json["available"] = !route.why_not.has_value();
  json["why_not"] = route.why_not ? Json(*route.why_not) : Json();
  return json;
}

// Reads the function and its config space once, and asks VFIO's question
// of its IOMMU group.
Result<ShowReport> GatherShow(const GlobalOptions& options, const pci::Address& address) {
  pci::SysfsPci sysfs(options.paths());
  auto info = sysfs.Read(address);
  if (!info) return std::unexpected(info.error());
  if (info->iommu_group_error) {
    info->iommu_group_error = NameReplayedFiles(options, *info->iommu_group_error);
  }
  auto names = pci::Names::Create(options.pci_ids);
  if (!names) return std::unexpected(names.error());
  Skipped skipped;
  auto config = ReadConfigNoting(sysfs, address, skipped);
  if (!config) return std::unexpected(config.error());

  const uint16_t command = config->Read16(pci::kConfigCommand).value_or(0);
  const uint8_t header_type = config->Read8(pci::kConfigHeaderType).value_or(0) & 0x7f;
  const uint8_t pin = config->Read8(pci::kConfigInterruptPin).value_or(0);
  const size_t bar_count = header_type == 0 ? 6 : header_type == 1 ? 2 : 1;
  const std::string device_path = sysfs.DevicePath(address);

  // Vector counts from the capabilities; unknown when they could not be read.
  std::optional<uint32_t> msi_vectors, msix_vectors;
  CapabilityWalk walk = WalkCapabilities(*config, *info);
  if (!walk.error) {
    msi_vectors = 0;
    msix_vectors = 0;
  } else if (walk.error->status != Status::OUT_OF_RANGE || skipped.empty()) {
    skipped.Add("MSI and MSI-X vector counts", "the capability list is broken: " + walk.error->ToString());
  }
  for (const CapabilityReport& report : walk.reports) {
    if (report.capability.extended || report.decoded.is_null()) continue;
    if (report.capability.id == pci::kCapMsi) {
      msi_vectors = pci::DecodeMsi(*config, report.capability)->vectors_capable;
    } else if (report.capability.id == pci::kCapMsix) {
      msix_vectors = pci::DecodeMsix(*config, report.capability)->table_size;
    }
  }

  // The IOMMU group as VFIO would see it.
  auto viability = pci::CheckGroupViability(address, options.paths());
  if (!viability) viability = std::unexpected(NameReplayedFiles(options, viability.error()));
  std::optional<std::string> no_group;
  if (!viability) {
    no_group = viability.error().what;
    // "check IOMMU group: no IOMMU group: boot with ..." reads better without its verb.
    constexpr std::string_view kVerb = "check IOMMU group: ";
    if (no_group->starts_with(kVerb)) no_group->erase(0, kVerb.size());
  }

  std::vector<BarReport> bars;
  for (const pci::BarInfo& bar : info->bars) {
    BarReport report = DescribeBar(bar, *config, command, bar_count);
    report.routes = RoutesOf(bar, *info, device_path, no_group);
    bars.push_back(std::move(report));
  }
  const uint16_t rom_register = header_type == 1 ? 0x38 : pci::kConfigExpansionRom;
  std::optional<std::string> rom_line;
  if (info->expansion_rom && header_type != 2) {
    rom_line = DescribeRom(*info->expansion_rom, *config, command, rom_register);
  }
  std::optional<std::string> group_type;
  if (info->iommu_group) {
    group_type =
        ReadOptionalAttribute(options.paths().IommuGroup(*info->iommu_group) + "/type", skipped);
  }

  return ShowReport{address,          std::move(*info),       std::move(*names),
                    header_type,      pin,                    msi_vectors,
                    msix_vectors,     std::move(bars),        std::move(rom_line),
                    std::move(group_type), std::move(viability), std::move(no_group),
                    std::move(skipped),       {}};
}

void RenderShowJson(const GlobalOptions& options, const ShowReport& report) {
  const pci::DeviceInfo& info = report.info;
  const uint8_t pin = report.interrupt_pin;
  Json document = NewDocument("show");
  document["function"] = FunctionToJson(info, report.names);
  document["driver_override"] = info.driver_override ? Json(*info.driver_override) : Json();
  document["header_type"] = uint32_t{report.header_type};
  Json interrupts = Json::object();
  interrupts["pin"] = pin >= 1 && pin <= 4 ? Json(std::string(1, static_cast<char>('A' + pin - 1)))
                                            : Json();
  interrupts["irq"] = info.irq != 0 ? Json(info.irq) : Json();
  interrupts["msi_vectors"] = report.msi_vectors ? Json(*report.msi_vectors) : Json();
  interrupts["msix_vectors"] = report.msix_vectors ? Json(*report.msix_vectors) : Json();
  document["interrupts"] = std::move(interrupts);
  Json bar_list = Json::array();
  for (const BarReport& bar_report : report.bars) {
    Json bar = Json::object();
    bar["index"] = bar_report.bar.index;
    bar["type"] = bar_report.bar.is_io ? "io" : "memory";
    bar["address"] = bar_report.bar.address;
    bar["size"] = bar_report.bar.size;
    bar["is_64bit"] = bar_report.bar.is_64bit;
    bar["prefetchable"] = bar_report.bar.is_prefetchable;
    bar["enabled"] = bar_report.enabled;
    Json routes = Json::array();
    for (const Route& route : bar_report.routes) routes.push_back(RouteToJson(route));
    bar["routes"] = std::move(routes);
    bar_list.push_back(std::move(bar));
  }
  document["bars"] = std::move(bar_list);
  if (info.expansion_rom) {
    Json rom = Json::object();
    rom["address"] = info.expansion_rom->address;
    rom["size"] = info.expansion_rom->size;
    document["expansion_rom"] = std::move(rom);
  } else {
    document["expansion_rom"] = Json();
  }
  Json iommu = Json::object();
  iommu["group"] = info.iommu_group ? Json(*info.iommu_group) : Json();
  iommu["type"] = report.group_type ? Json(*report.group_type) : Json();
  iommu["viable"] = report.viability ? Json(report.viability->viable) : Json();
  Json members = Json::array();
  Json blockers = Json::array();
  if (report.viability) {
    for (const auto& [member, driver] : report.viability->members) {
      Json entry = Json::object();
      entry["address"] = member.ToString();
      entry["driver"] = driver.empty() ? Json() : Json(driver);
      members.push_back(std::move(entry));
    }
    for (const std::string& blocker : report.viability->blockers) blockers.push_back(blocker);
  }
  iommu["members"] = std::move(members);
  iommu["blockers"] = std::move(blockers);
  iommu["why_none"] = report.viability ? Json() : Json(report.viability.error().what);
  document["iommu"] = std::move(iommu);
  AttachCompanions(report.companions, document["function"]);
  document["skipped"] = report.skipped.ToJson(options);
  PrintDocument(document);
}


void RenderShowText(const GlobalOptions& options, const ShowArguments& arguments,
                    const ShowReport& report) {
  const pci::DeviceInfo& info = report.info;
  const uint8_t pin = report.interrupt_pin;
  std::string text = SummaryLine(info, report.names, arguments.numeric) + "\n";
  text += "\tSubsystem IDs: " + HexId(info.subsystem_vendor_id, 4) + ":" +
          HexId(info.subsystem_id, 4) + "\n";
  if (pin != 0 || info.irq != 0) {
    text += "\tInterrupt: pin " + std::string(1, pin != 0 ? static_cast<char>('A' + pin - 1) : '?') +
            " routed to IRQ " + std::to_string(info.irq) + "\n";
  }
  if (info.numa_node >= 0) text += "\tNUMA node: " + std::to_string(info.numa_node) + "\n";
  if (info.iommu_group) text += "\tIOMMU group: " + std::to_string(*info.iommu_group) + "\n";
  if (info.iommu_group_error) {
    text += "\tIOMMU group: unreadable: " + Printable(info.iommu_group_error->ToString()) + "\n";
  }
  for (const BarReport& bar : report.bars) {
    text += "\t" + bar.text + "\n";
    if (bar.routes.empty()) {
      text += "\t\tRoutes: none map I/O ports; the routes give the port range\n";
      continue;
    }
    for (const Route& route : bar.routes) text += "\t\tRoute: " + RouteText(route) + "\n";
  }
  if (report.rom_line) text += "\t" + *report.rom_line + "\n";
  if (info.driver) text += "\tKernel driver in use: " + Printable(*info.driver) + "\n";
  text += "\tDriver override: " + Printable(info.driver_override.value_or("none")) + "\n";
  text += "\tParent bridge: " +
          (info.parent_bridge ? info.parent_bridge->ToString() : "none (root bus)") + "\n";
  auto count = [](const std::optional<uint32_t>& vectors) {
    return vectors ? std::to_string(*vectors) : std::string("unknown");
  };
  text += "\tInterrupt modes: INTx " +
          (pin != 0 ? std::string("pin ") + static_cast<char>('A' + pin - 1) : std::string("none")) +
          ", MSI vectors " + count(report.msi_vectors) +
          ", MSI-X vectors " + count(report.msix_vectors) + "\n";
  if (!report.viability) {
    text += "\tVFIO: " + Printable(*report.no_group) + "\n";
  } else {
    text += "\tIOMMU group " + std::to_string(report.viability->group) +
            (report.group_type ? " (" + Printable(*report.group_type) + ")" : std::string()) +
            ": " +
            (report.viability->viable ? "viable for vfio-pci" : "not viable for vfio-pci") + "\n";
    for (const auto& [member, driver] : report.viability->members) {
      text += "\t\t" + member.ToString() + " " +
              (driver.empty() ? "no driver" : Printable(driver)) +
              (member == report.address ? " (this function)" : "") + "\n";
    }
    for (const std::string& blocker : report.viability->blockers) {
      text += "\t\tblocked by " + Printable(blocker) + "\n";
    }
  }
  for (const Companion* companion : report.companions) text += companion->text;
  std::fwrite(text.data(), 1, text.size(), stdout);
  report.skipped.Print("show", options);
}

}  // namespace

void AddPciShowOptions(CLI::App& show, ShowArguments& arguments) {
  show.add_flag("-n,--numeric", arguments.numeric, "PCI: numbers only in the summary line");
}

int RunPciShow(const GlobalOptions& options, const ShowArguments& arguments) {
  const pci::Address address = *ParseDeviceArgument(arguments.device);  // validated
  auto report = GatherShow(options, address);
  if (!report) return ReportError(options, "show", report.error());
  Companions companions = GatherCompanions(options, report->skipped);
  report->companions = companions.Take({std::string(pci::kBusName), address.ToString()});
  if (options.json) {
    RenderShowJson(options, *report);
  } else {
    RenderShowText(options, arguments, *report);
  }
  return kExitOk;
}

}  // namespace udrv::busctl
