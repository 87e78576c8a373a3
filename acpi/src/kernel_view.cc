#include "udrv/acpi/kernel_view.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>

#include "udrv/core/text.h"
#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"

namespace udrv::acpi {
namespace {

// The most a proc resource file or a PNP `resources` file is read to: a
// big server's /proc/iomem is tens of KiB.
constexpr size_t kMaxResourceFile = 4u << 20;
// How deep /proc/iomem nests on real machines is a handful of levels.
constexpr uint32_t kMaxClaimDepth = 64;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// The lines of `text`, without their newlines; a last empty line is none.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    lines.push_back(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

Error LineError(std::string_view source, size_t line, std::string_view why, std::string_view text) {
  return Error{Status::IO_INVALID,
               std::string(source) + ":" + std::to_string(line) + ": " + std::string(why) + ": '" +
                   Printable(text) + "'",
               "", 0};
}

// "START-END" in hex, "0x" optional (the kernel's %#llx prints 0 bare);
// nullopt for anything else or an end before the start.
std::optional<std::pair<uint64_t, uint64_t>> ParseRange(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto start = sysfs::ParseHex(text.substr(0, dash));
  const auto end = sysfs::ParseHex(text.substr(dash + 1));
  if (!start || !end || *end < *start) return std::nullopt;
  return std::pair{*start, *end};
}

// The kernel device a physical_node link leads to: its name (the target's
// last component), its bus and its driver. The bus is the device's
// `subsystem` link's; where the link cannot be followed (a tree copied
// without the devices it points into) it is the bus, ACPI's aside, whose
// devices/ lists that name. The driver is read through the bus's entry.
std::optional<PhysicalNode> ReadPhysicalNode(const sysfs::LinuxPaths& paths, const std::string& link) {
  auto name = sysfs::ReadLinkName(link);
  if (!name) return std::nullopt;
  PhysicalNode node{sysfs::ReadLinkName(link + "/subsystem").value_or(""), std::move(*name), std::nullopt};
  if (node.bus.empty()) {
    auto buses = sysfs::ListDirectory(paths.sys + "/bus");
    for (const std::string& bus : buses ? *buses : std::vector<std::string>{}) {
      if (bus == "acpi") continue;
      if (::access(paths.BusDevice(bus, node.name).c_str(), F_OK) == 0) {
        node.bus = bus;
        break;
      }
    }
  }
  node.driver = node.bus.empty() ? sysfs::ReadLinkName(link + "/driver")
                                 : sysfs::ReadLinkName(paths.BusDevice(node.bus, node.name) + "/driver");
  return node;
}

Result<KernelAcpiDevice> ReadDevice(const sysfs::LinuxPaths& paths, const std::string& dir,
                                    const std::string& name) {
  KernelAcpiDevice device;
  device.name = name;
  UDRV_TRY_ASSIGN(device.path, sysfs::ReadOptionalAttribute(dir + "/path"));
  UDRV_TRY_ASSIGN(device.hid, sysfs::ReadOptionalAttribute(dir + "/hid"));
  UDRV_TRY_ASSIGN(device.uid, sysfs::ReadOptionalAttribute(dir + "/uid"));
  UDRV_TRY_ASSIGN(const auto adr, sysfs::ReadOptionalAttribute(dir + "/adr"));
  if (adr) {
    device.adr = sysfs::ParseHex(*adr);
    if (!device.adr) {
      return Fail(Status::IO_INVALID, dir + "/adr: '" + Printable(*adr) + "' is no hex number", name);
    }
  }
  UDRV_TRY_ASSIGN(const auto status, sysfs::ReadOptionalAttribute(dir + "/status"));
  if (status) {
    const auto value = sysfs::ParseDecimal(*status, 0, UINT32_MAX);
    if (!value) {
      return Fail(Status::IO_INVALID, dir + "/status: '" + Printable(*status) + "' is no number", name);
    }
    device.status = static_cast<uint32_t>(*value);
  }
  // "acpi:PNP0A08:PNP0A03:" (then "of:..." for a PRP0001 device): the
  // HID first, then the CIDs, each closed by ':'.
  UDRV_TRY_ASSIGN(const auto modalias, sysfs::ReadOptionalAttribute(dir + "/modalias"));
  if (modalias && modalias->starts_with("acpi:")) {
    std::string_view ids = std::string_view(*modalias).substr(5);
    ids = ids.substr(0, ids.find('\n'));
    std::vector<std::string> all;
    while (!ids.empty()) {
      const size_t colon = ids.find(':');
      if (colon == std::string_view::npos) break;  // "of:..." follows without a closing ':' of its own
      if (colon != 0) all.emplace_back(ids.substr(0, colon));
      ids.remove_prefix(colon + 1);
    }
    // The modalias begins with the HID where there is one.
    size_t first_cid = 0;
    if (device.hid && !all.empty() && all.front() == *device.hid) first_cid = 1;
    device.cids.assign(all.begin() + static_cast<ptrdiff_t>(first_cid), all.end());
  }
  if (auto node = ReadPhysicalNode(paths, dir + "/physical_node"))
    device.physical_nodes.push_back(std::move(*node));
  for (int n = 1; n < 256; ++n) {
    auto node = ReadPhysicalNode(paths, dir + "/physical_node" + std::to_string(n));
    if (!node) break;
    device.physical_nodes.push_back(std::move(*node));
  }
  device.driver = sysfs::ReadLinkName(dir + "/driver");
  return device;
}

Result<ResourceTree> ReadTree(const std::string& path) {
  UDRV_TRY_ASSIGN(const sysfs::FileContents file, sysfs::ReadFile(path, kMaxResourceFile));
  return ParseResourceTree(file.bytes, path);
}

}  // namespace

Result<std::vector<KernelAcpiDevice>> ReadKernelAcpiDevices(const sysfs::LinuxPaths& paths) {
  const std::string dir = paths.BusDevices("acpi");
  auto names = sysfs::ListDirectory(dir);
  if (!names) {
    if (names.error().err_no == ENOENT) {
      return Fail(Status::NOT_FOUND,
                  dir + ": this kernel has no ACPI bus (a device-tree machine, or acpi=off)", "", ENOENT);
    }
    return std::unexpected(std::move(names.error()));
  }
  std::vector<KernelAcpiDevice> devices;
  for (const std::string& name : *names) {
    UDRV_TRY_ASSIGN(KernelAcpiDevice device, ReadDevice(paths, dir + "/" + name, name));
    devices.push_back(std::move(device));
  }
  return devices;
}

std::string_view PnpResourceKindName(PnpResource::Kind kind) {
  switch (kind) {
    case PnpResource::Kind::IO: return "io";
    case PnpResource::Kind::MEM: return "mem";
    case PnpResource::Kind::IRQ: return "irq";
    case PnpResource::Kind::DMA: return "dma";
    case PnpResource::Kind::BUS: return "bus";
  }
  return "?";
}

Result<PnpResources> ParsePnpResources(std::string_view text, std::string_view source) {
  PnpResources parsed;
  const std::vector<std::string_view> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = Trim(lines[i]);
    if (line.empty()) continue;
    if (line.starts_with("state = ")) {
      parsed.active = line.substr(8) == "active";
      continue;
    }
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) return std::unexpected(LineError(source, i + 1, "no value", line));
    const std::string_view type = line.substr(0, space);
    std::string_view value = Trim(line.substr(space + 1));
    PnpResource resource;
    bool range = true;
    if (type == "io") {
      resource.kind = PnpResource::Kind::IO;
    } else if (type == "mem") {
      resource.kind = PnpResource::Kind::MEM;
    } else if (type == "bus") {
      resource.kind = PnpResource::Kind::BUS;
    } else if (type == "irq") {
      resource.kind = PnpResource::Kind::IRQ;
      range = false;
    } else if (type == "dma") {
      resource.kind = PnpResource::Kind::DMA;
      range = false;
    } else {
      return std::unexpected(LineError(source, i + 1, "an unknown resource type", line));
    }
    if (value == "disabled") {
      resource.disabled = true;
      parsed.resources.push_back(resource);
      continue;
    }
    if (range) {
      if (value.ends_with(" window")) {
        resource.window = true;
        value = Trim(value.substr(0, value.size() - 7));
      }
      const auto bounds = ParseRange(value);
      if (!bounds) return std::unexpected(LineError(source, i + 1, "no START-END range", line));
      resource.start = bounds->first;
      resource.end = bounds->second;
    } else {
      const auto number = sysfs::ParseDecimal(value, 0, INT64_MAX);
      if (!number) return std::unexpected(LineError(source, i + 1, "no number", line));
      resource.start = resource.end = static_cast<uint64_t>(*number);
    }
    parsed.resources.push_back(resource);
  }
  return parsed;
}

Result<PnpResources> ReadPnpResources(const sysfs::LinuxPaths& paths, std::string_view name) {
  const std::string path = paths.BusDevice("pnp", name) + "/resources";
  UDRV_TRY_ASSIGN(const sysfs::FileContents file, sysfs::ReadFile(path, kMaxResourceFile));
  return ParsePnpResources(file.bytes, path);
}

std::vector<const ResourceClaim*> ResourceTree::Overlapping(uint64_t start, uint64_t end) const {
  std::vector<const ResourceClaim*> found;
  for (const ResourceClaim& claim : claims) {
    if (claim.start <= end && start <= claim.end) found.push_back(&claim);
  }
  // Outermost first, innermost last; at one depth in file order (the
  // claims are one vector's elements).
  std::sort(found.begin(), found.end(), [](const ResourceClaim* a, const ResourceClaim* b) {
    return a->depth != b->depth ? a->depth < b->depth : std::less<const ResourceClaim*>()(a, b);
  });
  return found;
}

std::vector<const ResourceClaim*> ResourceTree::Named(std::string_view name) const {
  std::vector<const ResourceClaim*> found;
  for (const ResourceClaim& claim : claims) {
    if (claim.name == name) found.push_back(&claim);
  }
  return found;
}

std::string ResourceTree::Chain(const ResourceClaim& claim) const {
  std::string chain = claim.name;
  for (std::optional<size_t> up = claim.parent; up; up = claims[*up].parent) {
    chain = claims[*up].name + " > " + chain;
  }
  return chain;
}

Result<ResourceTree> ParseResourceTree(std::string_view text, std::string_view source) {
  ResourceTree tree;
  // The open claim at each depth: a child's parent is the last claim one level up.
  std::vector<size_t> open;
  bool all_zero = true;
  const std::vector<std::string_view> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (Trim(line).empty()) continue;
    size_t indent = 0;
    while (indent < line.size() && line[indent] == ' ') ++indent;
    if (indent % 2 != 0) return std::unexpected(LineError(source, i + 1, "an odd indent", line));
    const auto depth = static_cast<uint32_t>(indent / 2);
    if (depth > open.size() || depth > kMaxClaimDepth) {
      return std::unexpected(LineError(source, i + 1, "nested deeper than the line before allows", line));
    }
    line.remove_prefix(indent);
    const size_t separator = line.find(" : ");
    if (separator == std::string_view::npos) {
      return std::unexpected(LineError(source, i + 1, "no ' : ' between range and name", line));
    }
    const auto bounds = ParseRange(line.substr(0, separator));
    if (!bounds) return std::unexpected(LineError(source, i + 1, "no START-END range", line));
    open.resize(depth);
    ResourceClaim claim{bounds->first, bounds->second, std::string(line.substr(separator + 3)), depth,
                        open.empty() ? std::nullopt : std::optional<size_t>(open.back())};
    if (claim.start != 0 || claim.end != 0) all_zero = false;
    open.push_back(tree.claims.size());
    tree.claims.push_back(std::move(claim));
  }
  tree.addresses_hidden = all_zero && !tree.claims.empty();
  return tree;
}

Result<ResourceTree> ReadIomem(const sysfs::LinuxPaths& paths) { return ReadTree(paths.proc + "/iomem"); }
Result<ResourceTree> ReadIoports(const sysfs::LinuxPaths& paths) { return ReadTree(paths.proc + "/ioports"); }

const KernelAcpiDevice* KernelView::FindByPath(std::string_view path) const {
  for (const KernelAcpiDevice& device : devices) {
    if (device.path && *device.path == path) return &device;
  }
  return nullptr;
}

Result<KernelView> ReadKernelView(const sysfs::LinuxPaths& paths) {
  KernelView view;
  UDRV_TRY_ASSIGN(view.devices, ReadKernelAcpiDevices(paths));
  for (const KernelAcpiDevice& device : view.devices) {
    for (const PhysicalNode& node : device.physical_nodes) {
      if (node.bus != "pnp" || view.pnp.contains(node.name)) continue;
      auto resources = ReadPnpResources(paths, node.name);
      if (!resources) {
        if (resources.error().err_no == ENOENT) continue;
        return std::unexpected(std::move(resources.error()));
      }
      view.pnp.emplace(node.name, std::move(*resources));
    }
  }
  for (auto [tree, read] : {std::pair{&view.iomem, &ReadIomem}, std::pair{&view.ioports, &ReadIoports}}) {
    auto parsed = read(paths);
    if (parsed) {
      *tree = std::move(*parsed);
    } else if (parsed.error().err_no != ENOENT) {
      return std::unexpected(std::move(parsed.error()));
    }
  }
  return view;
}

}  // namespace udrv::acpi
