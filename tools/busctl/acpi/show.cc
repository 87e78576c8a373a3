// `busctl show \_SB_.HPET`: one ACPI device as the tables and the kernel
// describe it: its IDs and status, each with where it came from, its _CRS
// decoded descriptor by descriptor (or why it could not be), the memory,
// I/O and interrupt resources merged from _CRS and the kernel with their
// sources, and the kernel devices it became.
#include <cstdio>
#include <string>

#include "acpi/module.h"
#include "acpi/view.h"
#include "output.h"
#include "udrv/acpi/resources.h"
#include "udrv/core/text.h"

namespace udrv::busctl {

namespace {

// Where a value came from: the tables' AML (static, evaluated), else the
// kernel when it had the value, else why neither did.
template <typename T>
std::pair<std::string, std::string> SourceOf(const acpi::AmlValue<T>* value, bool kernel_has) {
  if (value != nullptr && value->value) return {std::string(acpi::ValueSourceName(value->source)), ""};
  if (kernel_has) return {"kernel", ""};
  if (value == nullptr) return {"absent", ""};
  return {std::string(acpi::ValueSourceName(value->source)), value->detail};
}

struct ValueReport {
  std::string name;  // "hid", "cid", "uid", "adr"
  std::string label;  // "HID"
  std::string text;   // the value as text; empty when there is none
  std::string source;
  std::string detail;
};

std::vector<ValueReport> ValuesOf(const acpi::MergedDevice& device) {
  const acpi::NamespaceDevice* tables = device.tables;
  const acpi::KernelAcpiDevice* kernel = device.kernel;
  std::vector<ValueReport> values;
  const auto add = [&values](std::string name, std::string label, std::string text,
                             std::pair<std::string, std::string> source) {
    values.push_back(ValueReport{std::move(name), std::move(label), std::move(text),
                                 std::move(source.first), std::move(source.second)});
  };
  add("hid", "HID", device.hid.value_or(""),
      SourceOf(tables ? &tables->hid : nullptr, kernel && kernel->hid));
  std::string cids;
  for (const std::string& cid : device.cids) cids += (cids.empty() ? "" : ", ") + cid;
  add("cid", "CID", cids, SourceOf(tables ? &tables->cid : nullptr, kernel && !kernel->cids.empty()));
  add("uid", "UID", device.uid.value_or(""),
      SourceOf(tables ? &tables->uid : nullptr, kernel && kernel->uid));
  add("adr", "ADR", device.adr ? Hex(*device.adr) : "",
      SourceOf(tables ? &tables->adr : nullptr, kernel && kernel->adr));
  return values;
}

// The _CRS as the tables have it: its descriptors, where it came from, and
// why there is none.
struct CrsReport {
  std::string source;  // "static", "evaluated", "needs the kernel", "broken", "absent"
  std::string detail;
  std::vector<const acpi::Resource*> resources;
};

CrsReport CrsOf(const acpi::MergedDevice& device) {
  CrsReport report;
  if (device.tables == nullptr) {
    report.source = "absent";
    report.detail = "the tables were not read: the kernel's view alone";
    return report;
  }
  const acpi::AmlValue<acpi::ResourceTemplate>& crs = device.tables->crs;
  report.source = std::string(acpi::ValueSourceName(crs.source));
  report.detail = crs.detail;
  if (crs.value) {
    for (const acpi::Resource& resource : crs.value->resources) report.resources.push_back(&resource);
  }
  return report;
}

void RenderJson(const GlobalOptions& options, const AcpiView& view,
                const acpi::MergedDevice& device) {
  Json document = NewDocument("show");
  document["device"] = AcpiDeviceToJson(view, device);
  document["offset"] = device.tables ? Json(device.tables->offset) : Json();
  Json values = Json::object();
  for (const ValueReport& value : ValuesOf(device)) {
    values[value.name] = {{"source", value.source},
                          {"detail", value.detail.empty() ? Json() : Json(value.detail)}};
  }
  values["status"] = {{"source", device.status_source}, {"detail", Json()}};
  document["values"] = std::move(values);
  const CrsReport crs = CrsOf(device);
  Json resources = Json::array();
  for (const acpi::Resource* resource : crs.resources) {
    Json fields = Json::object();
    for (const auto& [name, value] : resource->fields) fields[name] = value;
    resources.push_back({{"offset", resource->offset},
                         {"length", resource->length},
                         {"macro", resource->macro},
                         {"text", acpi::FormatResource(*resource)},
                         {"fields", std::move(fields)}});
  }
  document["crs"] = {{"source", crs.source},
                     {"detail", crs.detail.empty() ? Json() : Json(crs.detail)},
                     {"resources", std::move(resources)}};
  document["skipped"] = view.skipped.ToJson(options);
  PrintDocument(document);
}

std::string SourceText(const std::string& source, const std::string& detail) {
  return detail.empty() ? source : source + ": " + Printable(detail);
}

void RenderText(const GlobalOptions& options, const AcpiView& view,
                const acpi::MergedDevice& device) {
  std::string text = Printable(device.path);
  if (device.hid) text += " " + Printable(*device.hid);
  text += "\n\tId: " + Printable(acpi::NodeIdOf(device.path)) + "\n";
  if (device.tables != nullptr) {
    text += "\tDeclared in: " + Printable(device.tables->table) + " at " +
            Hex(device.tables->offset) + (view.live ? " (this machine's tables)\n" : " (offline)\n");
  } else {
    text += "\tDeclared in: not read (the kernel's view alone)\n";
  }
  for (const ValueReport& value : ValuesOf(device)) {
    if (value.text.empty() && value.source == "absent") continue;
    text += "\t" + value.label + ": " + (value.text.empty() ? "unknown" : Printable(value.text)) +
            " (" + SourceText(value.source, value.detail) + ")\n";
  }
  text += "\tStatus: " + AcpiStatusText(device.status) + " (" + Printable(device.status_source) +
          ")\n";
  const CrsReport crs = CrsOf(device);
  text += "\t_CRS: " + SourceText(crs.source, crs.detail) + "\n";
  for (const acpi::Resource* resource : crs.resources) {
    text += "\t\t" + Printable(acpi::FormatResource(*resource)) + "\n";
  }
  uint32_t mmio = 0;
  for (const acpi::DeviceMemory& memory : device.memory) {
    text += memory.range.producer ? "\tWindow: memory " : "\tMemory " + std::to_string(mmio++) + ": ";
    text += Hex(memory.range.base) + " size " + Hex(memory.range.size) +
            (memory.range.writable ? "" : " read-only") + " [" +
            std::string(acpi::ResourceOriginName(memory.origin)) + "]\n";
  }
  uint32_t io = 0;
  for (const acpi::DeviceIo& port : device.io) {
    text += port.range.producer ? "\tWindow: I/O ports " : "\tI/O ports " + std::to_string(io++) + ": ";
    text += Hex(port.range.base) + " size " + Hex(port.range.size) + " [" +
            std::string(acpi::ResourceOriginName(port.origin)) + "]\n";
  }
  uint32_t irq = 0;
  for (const acpi::DeviceInterrupt& interrupt : device.interrupts) {
    text += "\tInterrupt " + std::to_string(irq++) + ": GSI " + std::to_string(interrupt.info.gsi);
    if (interrupt.flags_known) {
      text += interrupt.info.edge ? " edge" : " level";
      text += interrupt.info.active_low ? " active-low" : " active-high";
      if (interrupt.info.shared) text += " shared";
      if (interrupt.info.wake) text += " wake";
    } else {
      text += " (trigger and polarity not given)";
    }
    text += " [" + std::string(acpi::ResourceOriginName(interrupt.origin)) + "]\n";
  }
  if (!device.resources_note.empty()) {
    text += "\tResources: " + Printable(device.resources_note) + "\n";
  }
  if (view.live) {
    if (device.kernel == nullptr) {
      text += "\tKernel device: none\n";
    } else {
      text += "\tKernel device: acpi " + Printable(device.kernel->name) + "\n";
      if (device.kernel->driver) {
        text += "\tACPI driver in use: " + Printable(*device.kernel->driver) + "\n";
      }
      for (const acpi::PhysicalNode& node : device.kernel->physical_nodes) {
        text += "\tPhysical node: " + (node.bus.empty() ? "" : Printable(node.bus) + " ") +
                Printable(node.name) +
                (node.driver ? ", driver " + Printable(*node.driver) : std::string(", no driver")) +
                "\n";
      }
    }
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  view.skipped.Print("show", options);
}

}  // namespace

int RunAcpiShow(const GlobalOptions& options, const ShowArguments& arguments) {
  const std::string path = AcpiPathOf(arguments.device);
  auto view = ReadAcpiView(options);
  if (!view) return ReportError(options, "show", view.error());
  if (!*view) {
    return ReportError(options, "show",
                       Error{Status::NOT_FOUND,
                             "this machine has no ACPI (no " + AcpiTablesSource(options) +
                                 "); give a firmware's tables with --acpi DIR|FILE",
                             path, 0});
  }
  const acpi::MergedDevice* device = (*view)->bus->Find(path);
  if (device == nullptr) {
    return ReportError(options, "show",
                       Error{Status::NOT_FOUND,
                             "no ACPI device at " + path + " in " +
                                 ((*view)->live ? "this machine's namespace"
                                                : "the namespace of " + options.acpi),
                             path, 0});
  }
  if (options.json) {
    RenderJson(options, **view, *device);
  } else {
    RenderText(options, **view, *device);
  }
  return kExitOk;
}

}  // namespace udrv::busctl
