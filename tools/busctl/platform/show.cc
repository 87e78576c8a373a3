// `busctl show PATH`: everything the device tree says of one node (every
// property, as dtc writes it), its regions and interrupts as Linux
// translates and resolves them, its DMA window, what could not be read of
// it, and on the live machine its kernel device, driver and routes.
#include <libfdt.h>

#include <cstdio>
#include <string>
#include <vector>

#include "output.h"
#include "platform/module.h"
#include "platform/view.h"
#include "udrv/core/text.h"
#include "udrv/platform/platform_bus.h"

namespace udrv::busctl {

namespace {

struct Property {
  std::string name;
  std::vector<uint8_t> bytes;
};

// The first node whose whole path is `path`, as DeviceTree::Find takes it
// (fdt_path_offset would take "ethernet" for "ethernet@7d580000").
std::optional<int> NodeOffset(const void* fdt, const std::string& path) {
  char buffer[4096];
  int depth = 0;
  for (int node = 0; node >= 0; node = ::fdt_next_node(fdt, node, &depth)) {
    if (::fdt_get_path(fdt, node, buffer, sizeof(buffer)) == 0 && path == buffer) return node;
  }
  return std::nullopt;
}

// The node's properties in the order the blob holds them. The blob passed
// fdt_check_full (DeviceTree::FromBlob), so libfdt's walk is safe.
Result<std::vector<Property>> PropertiesOf(const platform::DeviceTree& tree,
                                           const std::string& path) {
  const void* fdt = tree.blob().data();
  const std::optional<int> node = NodeOffset(fdt, path);
  if (!node) return Fail(Status::NOT_FOUND, "find the node in the blob", path);
  std::vector<Property> properties;
  int offset;
  fdt_for_each_property_offset(offset, fdt, *node) {
    const char* name = nullptr;
    int length = 0;
    const void* value = ::fdt_getprop_by_offset(fdt, offset, &name, &length);
    if (value == nullptr || name == nullptr) {
      return Fail(Status::IO_INVALID,
                  "read a property: " + std::string(::fdt_strerror(length)), path);
    }
    const auto* bytes = static_cast<const uint8_t*>(value);
    properties.push_back(Property{name, std::vector<uint8_t>(bytes, bytes + length)});
  }
  if (offset != -FDT_ERR_NOTFOUND) {
    return Fail(Status::IO_INVALID, "walk the properties: " + std::string(::fdt_strerror(offset)),
                path);
  }
  return properties;
}

// A value as dtc writes it: "a", "b" for strings, <0x1 0x2> for cells,
// [01 02] for other bytes, nothing for an empty property.
std::string FormatValue(const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return "";
  bool strings = bytes.back() == 0 && bytes.front() != 0;
  for (size_t i = 0; strings && i < bytes.size(); ++i) {
    const uint8_t c = bytes[i];
    if (c == 0) {
      strings = i + 1 == bytes.size() || bytes[i + 1] != 0;
    } else {
      strings = c >= 0x20 && c < 0x7f;
    }
  }
  std::string text;
  if (strings) {
    text = "\"";
    for (size_t i = 0; i + 1 < bytes.size(); ++i) {
      if (bytes[i] == 0) {
        text += "\", \"";
      } else if (bytes[i] == '"' || bytes[i] == '\\') {
        text += '\\';
        text += static_cast<char>(bytes[i]);
      } else {
        text += static_cast<char>(bytes[i]);
      }
    }
    return text + "\"";
  }
  char hex[16];
  if (bytes.size() % 4 == 0) {
    text = "<";
    for (size_t i = 0; i < bytes.size(); i += 4) {
      const uint32_t cell = static_cast<uint32_t>(bytes[i]) << 24 |
                            static_cast<uint32_t>(bytes[i + 1]) << 16 |
                            static_cast<uint32_t>(bytes[i + 2]) << 8 | bytes[i + 3];
      std::snprintf(hex, sizeof(hex), "%s0x%x", i == 0 ? "" : " ", cell);
      text += hex;
    }
    return text + ">";
  }
  text = "[";
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(hex, sizeof(hex), "%s%02x", i == 0 ? "" : " ", bytes[i]);
    text += hex;
  }
  return text + "]";
}

Json NamesToJson(const std::vector<std::string>& names) {
  Json json = Json::array();
  for (const std::string& name : names) json.push_back(name);
  return json;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + Printable(name);
  return text;
}

void RenderShowJson(const PlatformView& view, const PlatformEntry& entry,
                    const std::vector<Property>& properties,
                    const std::vector<const Companion*>& companions, Json skipped) {
  const platform::DtDevice& device = entry.device;
  Json document = NewDocument("show");
  document["device"] = PlatformEntryToJson(view, entry);
  AttachCompanions(companions, document["device"]);
  document["source"] = view.tree.source();
  document["live"] = view.live;
  Json list = Json::array();
  for (const Property& property : properties) {
    list.push_back({{"name", property.name},
                    {"length", property.bytes.size()},
                    {"value", FormatValue(property.bytes)}});
  }
  document["properties"] = std::move(list);
  document["reg_names"] = NamesToJson(device.reg_names);
  document["interrupt_names"] = NamesToJson(device.interrupt_names);
  document["clock_names"] = NamesToJson(device.clock_names);
  if (device.dma) {
    document["dma"] = {{"offset", device.dma->offset},
                       {"bus_base", device.dma->bus_base},
                       {"limit", device.dma->limit}};
  } else {
    document["dma"] = Json();
  }
  document["skipped"] = std::move(skipped);
  PrintDocument(document);
}

void RenderShowText(const PlatformView& view, const PlatformEntry& entry,
                    const std::vector<Property>& properties,
                    const std::vector<const Companion*>& companions) {
  const platform::DtDevice& device = entry.device;
  std::string text = Printable(device.path);
  for (const std::string& compatible : device.compatible) text += " " + Printable(compatible);
  text += "\n\tSource: " + Printable(view.tree.source()) +
          (view.live ? " (this machine's tree)" : " (offline)") + "\n";
  text += device.enabled ? "\tStatus: enabled" : "\tStatus: disabled";
  text += device.status.empty() ? "\n" : " (\"" + Printable(device.status) + "\")\n";
  for (const platform::RegEntry& reg : device.regs) {
    text += "\tRegion " + std::to_string(reg.index) +
            (reg.name.empty() ? "" : " \"" + Printable(reg.name) + "\"") + ": " +
            RegionText(reg) + "\n";
  }
  for (const platform::InterruptEntry& interrupt : device.interrupts) {
    std::string cells;
    for (const uint32_t cell : interrupt.specifier) cells += (cells.empty() ? "" : " ") + Hex(cell);
    text += "\tInterrupt " + std::to_string(interrupt.index) +
            (interrupt.name.empty() ? "" : " \"" + Printable(interrupt.name) + "\"") + ": " +
            InterruptText(view, interrupt);
    if (interrupt.gic) text += " (hwirq " + std::to_string(interrupt.gic->hwirq) + ")";
    if (interrupt.gic) text += " at " + Printable(interrupt.controller) + " <" + cells + ">";
    text += "\n";
  }
  if (!device.reg_names.empty()) text += "\tReg names: " + JoinNames(device.reg_names) + "\n";
  if (!device.interrupt_names.empty()) {
    text += "\tInterrupt names: " + JoinNames(device.interrupt_names) + "\n";
  }
  if (!device.clock_names.empty()) {
    text += "\tClock names: " + JoinNames(device.clock_names) + "\n";
  }
  if (device.dma) {
    const int64_t offset = device.dma->offset;
    text += "\tDMA window: bus " + Hex(device.dma->bus_base) + "-" + Hex(device.dma->limit) +
            ", CPU address = bus address " + (offset < 0 ? "- " : "+ ") +
            Hex(offset < 0 ? 0 - static_cast<uint64_t>(offset) : static_cast<uint64_t>(offset)) +
            "\n";
  } else {
    text += "\tDMA window: none (bus addresses are CPU addresses)\n";
  }
  for (const Error& problem : device.problems) {
    text += "\tProblem: " + Printable(problem.ToString()) + "\n";
  }
  if (view.live) {
    if (entry.kernel) {
      text += "\tKernel device: " + entry.kernel->bus + " " + Printable(entry.kernel->name) + "\n";
      if (entry.kernel->driver) {
        text += "\tKernel driver in use: " + Printable(*entry.kernel->driver) + "\n";
      }
    } else {
      text += "\tKernel device: none\n";
    }
    for (const PlatformRouteReport& route : entry.routes) {
      text += "\tRoute: " + route.route +
              (route.why_not ? " [" + Printable(*route.why_not) + "]" : " (available)") + "\n";
    }
  }
  for (const Companion* companion : companions) text += companion->text;
  text += "\tProperties:\n";
  for (const Property& property : properties) {
    const std::string value = FormatValue(property.bytes);
    text += "\t\t" + Printable(property.name) + (value.empty() ? "" : " = " + Printable(value)) +
            "\n";
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

int RunPlatformShow(const GlobalOptions& options, const ShowArguments& arguments) {
  const std::string path = NodePathOf(arguments.device);
  auto view = ReadPlatformView(options);
  if (!view) return ReportError(options, "show", view.error());
  if (!*view) {
    return ReportError(options, "show",
                       Error{Status::NOT_FOUND,
                             "this machine has no device tree (no " + platform::LiveTreePath(options.paths()) +
                                 "); give a board's with --dtb FILE",
                             path, 0});
  }
  auto entry = (*view)->Find(path);
  if (!entry) return ReportError(options, "show", entry.error());
  auto properties = PropertiesOf((*view)->tree, path);
  if (!properties) return ReportError(options, "show", properties.error());
  // Other modules' views of the node's kernel device (ACPI's).
  Skipped skipped;
  Companions companions;
  std::vector<const Companion*> attached;
  if ((*entry)->kernel) {
    companions = GatherCompanions(options, skipped);
    attached = companions.Take({(*entry)->kernel->bus, (*entry)->kernel->name});
  }
  if (options.json) {
    RenderShowJson(**view, **entry, *properties, attached, skipped.ToJson(options));
  } else {
    RenderShowText(**view, **entry, *properties, attached);
    skipped.Print("show", options);
  }
  return kExitOk;
}

}  // namespace udrv::busctl
