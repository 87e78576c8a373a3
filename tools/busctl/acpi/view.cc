#include "acpi/view.h"

#include <cstdio>

#include "output.h"
#include "udrv/core/text.h"

namespace udrv::busctl {

namespace {

Json StringOrNull(const std::optional<std::string>& text) { return text ? Json(*text) : Json(); }

// The JSON token of a resource's origin (ResourceOriginName is the text's).
std::string_view OriginToken(acpi::ResourceOrigin origin) {
  switch (origin) {
    case acpi::ResourceOrigin::CRS_STATIC: return "crs-static";
    case acpi::ResourceOrigin::CRS_EVALUATED: return "crs-evaluated";
    case acpi::ResourceOrigin::KERNEL_PNP: return "kernel-pnp";
    case acpi::ResourceOrigin::KERNEL_IOMEM: return "kernel-iomem";
    case acpi::ResourceOrigin::KERNEL_IOPORTS: return "kernel-ioports";
  }
  return "unknown";
}

std::string IdsText(const acpi::MergedDevice& device) {
  std::string text;
  if (device.hid) text += " " + Printable(*device.hid);
  for (const std::string& cid : device.cids) text += " " + Printable(cid);
  return text;
}

std::string InterruptText(const acpi::DeviceInterrupt& interrupt) {
  std::string text = std::to_string(interrupt.info.gsi);
  if (interrupt.flags_known) {
    text += interrupt.info.edge ? " edge" : " level";
    text += interrupt.info.active_low ? " active-low" : " active-high";
    if (interrupt.info.shared) text += " shared";
  }
  return text;
}

}  // namespace

std::string AcpiPathOf(std::string_view argument) {
  std::string path;
  if (argument.starts_with("acpi/")) {
    argument.remove_prefix(5);
    path = "\\";
    for (const char c : argument) path += c == '/' ? '.' : c;
  } else {
    path = std::string(argument);
  }
  // Pads each segment to ACPI's four characters: "\_SB.HPET" -> "\_SB_.HPET".
  std::string padded;
  size_t segment = 0;
  for (const char c : path) {
    if (c == '.') {
      if (segment > 0 && segment < 4) padded.append(4 - segment, '_');
      segment = 0;
    } else if (c != '\\' && c != '^') {
      ++segment;
    }
    padded += c;
  }
  if (segment > 0 && segment < 4) padded.append(4 - segment, '_');
  return padded;
}

Result<std::optional<AcpiView>> ReadAcpiView(const GlobalOptions& options) {
  AcpiView view;
  view.live = options.acpi.empty();
  acpi::AcpiBusOptions bus_options;
  bus_options.paths = options.paths();
  bus_options.tables = options.acpi;
  Skipped* skipped = &view.skipped;
  bus_options.log = [skipped](std::string_view line) {
    skipped->Add("part of the ACPI view", line);
  };
  auto bus = acpi::AcpiBus::Create(std::move(bus_options));
  // No ACPI on a live machine is no error: it has none (a device-tree board,
  // a recorded tree or a snapshot without it).
  if (!bus && view.live && bus.error().status == Status::NOT_FOUND) {
    return std::optional<AcpiView>();
  }
  if (!bus) return std::unexpected(NameReplayedFiles(options, bus.error()));
  view.bus = std::move(*bus);
  return std::optional<AcpiView>(std::move(view));
}

std::vector<KernelDeviceName> PhysicalNodesOf(const acpi::MergedDevice& device) {
  std::vector<KernelDeviceName> names;
  if (device.kernel == nullptr) return names;
  for (const acpi::PhysicalNode& node : device.kernel->physical_nodes) {
    names.push_back(KernelDeviceName{node.bus, node.name});
  }
  return names;
}

std::string AcpiStatusText(const std::optional<uint32_t>& status) {
  if (!status) return "unknown";
  char hex[8];
  std::snprintf(hex, sizeof(hex), "0x%02x", *status);
  std::string text = hex;
  const std::pair<uint32_t, const char*> kBits[] = {{acpi::kStaPresent, "present"},
                                                    {acpi::kStaEnabled, "enabled"},
                                                    {acpi::kStaShown, "shown"},
                                                    {acpi::kStaFunctioning, "functioning"}};
  std::string bits;
  for (const auto& [bit, name] : kBits) {
    if ((*status & bit) != 0) bits += std::string(bits.empty() ? " " : ", ") + name;
  }
  return text + (bits.empty() ? " not present" : bits);
}

std::string AcpiListLine(const AcpiView& view, const acpi::MergedDevice& device) {
  std::string line = Printable(device.path) + IdsText(device);
  if (device.adr) line += "; adr " + Hex(*device.adr);
  if (device.uid) line += "; uid " + Printable(*device.uid);
  std::string mmio;
  size_t windows = 0;
  for (const acpi::DeviceMemory& memory : device.memory) {
    if (memory.range.producer) {
      ++windows;
      continue;
    }
    mmio += (mmio.empty() ? "" : ", ") + Hex(memory.range.base) + " size " + Hex(memory.range.size);
  }
  if (!mmio.empty()) line += "; mmio " + mmio;
  std::string io;
  for (const acpi::DeviceIo& port : device.io) {
    if (port.range.producer) {
      ++windows;
      continue;
    }
    io += (io.empty() ? "" : ", ") + Hex(port.range.base) + " size " + Hex(port.range.size);
  }
  if (!io.empty()) line += "; io " + io;
  if (windows > 0) {
    line += "; " + std::to_string(windows) + (windows == 1 ? " window" : " windows");
  }
  std::string irq;
  for (const acpi::DeviceInterrupt& interrupt : device.interrupts) {
    irq += (irq.empty() ? "" : ", ") + InterruptText(interrupt);
  }
  if (!irq.empty()) line += "; irq " + irq;
  if (!device.resources_note.empty()) line += "; resources: " + Printable(device.resources_note);
  line += "; status " + AcpiStatusText(device.status);
  if (view.live) {
    if (device.kernel == nullptr) {
      line += "; no kernel device";
    } else {
      line += "; kernel " + Printable(device.kernel->name);
      for (const acpi::PhysicalNode& node : device.kernel->physical_nodes) {
        line += "; physical node " + (node.bus.empty() ? "" : Printable(node.bus) + " ") +
                Printable(node.name);
        if (node.driver) line += " driver " + Printable(*node.driver);
      }
      if (device.kernel->driver) line += "; acpi driver " + Printable(*device.kernel->driver);
    }
  }
  return line;
}

Json AcpiDeviceToJson(const AcpiView& view, const acpi::MergedDevice& device) {
  Json json = Json::object();
  json["bus"] = acpi::kBusName;
  json["id"] = acpi::NodeIdOf(device.path);
  json["path"] = device.path;
  json["table"] = device.tables ? Json(device.tables->table) : Json();
  json["hid"] = StringOrNull(device.hid);
  json["cid"] = device.cids;
  json["uid"] = StringOrNull(device.uid);
  json["adr"] = device.adr ? Json(*device.adr) : Json();
  json["status"] = device.status ? Json(*device.status) : Json();
  json["status_source"] = device.status_source;
  Json mmio = Json::array();
  Json windows = Json::array();
  uint32_t index = 0;
  for (const acpi::DeviceMemory& memory : device.memory) {
    Json region = Json::object();
    if (!memory.range.producer) region["index"] = index++;
    region["phys"] = memory.range.base;
    region["size"] = memory.range.size;
    region["writable"] = memory.range.writable;
    region["source"] = OriginToken(memory.origin);
    (memory.range.producer ? windows : mmio).push_back(std::move(region));
  }
  Json io = Json::array();
  index = 0;
  for (const acpi::DeviceIo& port : device.io) {
    Json range = Json::object();
    if (!port.range.producer) range["index"] = index++;
    range["base"] = port.range.base;
    range["size"] = port.range.size;
    range["source"] = OriginToken(port.origin);
    if (port.range.producer) {
      range["type"] = "io";
      windows.push_back(std::move(range));
    } else {
      io.push_back(std::move(range));
    }
  }
  for (Json& window : windows) {
    if (!window.contains("type")) window["type"] = "memory";
  }
  json["mmio"] = std::move(mmio);
  json["io"] = std::move(io);
  json["windows"] = std::move(windows);
  Json interrupts = Json::array();
  index = 0;
  for (const acpi::DeviceInterrupt& interrupt : device.interrupts) {
    const bool known = interrupt.flags_known;
    Json item = Json::object();
    item["index"] = index++;
    item["gsi"] = interrupt.info.gsi;
    item["trigger"] = known ? Json(interrupt.info.edge ? "edge" : "level") : Json();
    item["polarity"] = known ? Json(interrupt.info.active_low ? "active-low" : "active-high") : Json();
    item["shared"] = known ? Json(interrupt.info.shared) : Json();
    item["wake"] = known ? Json(interrupt.info.wake) : Json();
    item["source"] = OriginToken(interrupt.origin);
    interrupts.push_back(std::move(item));
  }
  json["interrupts"] = std::move(interrupts);
  json["resources_note"] = device.resources_note.empty() ? Json() : Json(device.resources_note);
  const acpi::KernelAcpiDevice* kernel = device.kernel;
  json["kernel_device"] = kernel ? Json(kernel->name) : Json();
  Json nodes = Json::array();
  if (kernel != nullptr) {
    for (const acpi::PhysicalNode& node : kernel->physical_nodes) {
      // A node of no bus (a PCI host bridge's pci0000:00) has no bus.
      nodes.push_back({{"bus", node.bus.empty() ? Json() : Json(node.bus)},
                       {"device", node.name},
                       {"driver", StringOrNull(node.driver)}});
    }
  }
  json["physical_node"] = nodes.empty() ? Json() : nodes.front();
  json["physical_nodes"] = std::move(nodes);
  json["driver"] = kernel ? StringOrNull(kernel->driver) : Json();
  json["live"] = view.live;
  return json;
}

Companion AcpiCompanionOf(const acpi::KernelAcpiDevice& device) {
  Companion companion;
  companion.module = std::string(acpi::kBusName);
  const std::string path = device.path.value_or("");
  const std::string id = acpi::NodeIdOf(path);
  companion.json = {{"id", id},
                    {"path", path},
                    {"hid", StringOrNull(device.hid)},
                    {"cid", device.cids},
                    {"uid", StringOrNull(device.uid)},
                    {"adr", device.adr ? Json(*device.adr) : Json()},
                    {"status", device.status ? Json(*device.status) : Json()}};
  companion.summary = path;
  std::string text = "\tACPI: " + Printable(path);
  if (device.hid) text += " " + Printable(*device.hid);
  for (const std::string& cid : device.cids) text += " " + Printable(cid);
  if (device.adr) text += " adr " + Hex(*device.adr);
  if (device.uid) text += " uid " + Printable(*device.uid);
  if (device.status) text += ", status " + AcpiStatusText(device.status);
  text += " (kernel " + Printable(device.name) + "; busctl show " + Printable(id) + ")\n";
  companion.text = std::move(text);
  return companion;
}

}  // namespace udrv::busctl
