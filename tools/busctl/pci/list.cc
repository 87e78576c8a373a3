// The PCI part of `busctl list` (the core's list.cc): the functions of the
// tree, one line each in lspci -Dnn's format (lspci -Dn's with -n) plus the
// bound kernel driver, or the bus tree as lspci -tvnn draws it, so the two
// can be diffed; --json gives the same functions as list's entries.
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bus_modules.h"
#include "commands.h"
#include "list_report.h"
#include "pci/module.h"
#include "output.h"
#include "pci_format.h"
#include "select.h"
#include "udrv/core/text.h"
#include "udrv/pci/names.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

namespace {

struct ListArguments {
  bool tree = false;
  bool numeric = false;
  std::string slot;
  std::string id;
};

// The tree as lspci (pciutils ls-tree.c, 3.10 and later) builds and draws
// it: a bridge per domain, one per PCI-to-PCI or CardBus bridge (bus numbers
// from its config header) and one per sysfs parent that has none; functions
// hang on the bus of the bridge their sysfs directory sits in, or on the bus
// whose number a bridge's range covers. Ported closely so the output matches
// lspci's character for character.
class Tree {
 public:
  Tree(const ListReport& report, bool numeric)
      : functions_(report.functions), names_(report.names), numeric_(numeric), filtered_(report.filtered) {
    Grow();
  }

  std::string Draw() {
    std::string line;
    // The host bridge's children are the domains, drawn in the order made.
    for (const size_t domain : bridges_[kHost].children) DrawBridge(filtered_, domain, line, 0);
    return out_;
  }

 private:
  static constexpr size_t kHost = 0;
  static constexpr uint32_t kAll = ~0u;

  struct Bridge {
    uint32_t domain = kAll;
    uint32_t primary = kAll;
    uint32_t secondary = kAll;
    uint32_t subordinate = kAll;
    std::optional<size_t> device;  // the function that is this bridge; none for domains
    std::vector<size_t> children;  // bridges below, in the order they were attached
    std::vector<size_t> buses;
  };
  struct Bus {
    uint32_t domain = 0;
    uint32_t number = 0;
    std::vector<size_t> devices;
  };

  std::optional<size_t> FindFunction(const std::optional<pci::Address>& address) const {
    if (!address) return std::nullopt;
    for (size_t i = 0; i < functions_.size(); ++i) {
      if (functions_[i].info.address == *address) return i;
    }
    return std::nullopt;
  }

  std::optional<size_t> FindBus(size_t bridge, uint32_t domain, uint32_t number) const {
    for (const size_t bus : bridges_[bridge].buses) {
      if (buses_[bus].domain == domain && buses_[bus].number == number) return bus;
    }
    return std::nullopt;
  }

  size_t NewBus(size_t bridge, uint32_t domain, uint32_t number) {
    buses_.push_back(Bus{domain, number, {}});
    bridges_[bridge].buses.push_back(buses_.size() - 1);
    return buses_.size() - 1;
  }

  size_t NewBridge(Bridge bridge) {
    bridges_.push_back(std::move(bridge));
    return bridges_.size() - 1;
  }

  void Grow() {
    bridges_.push_back(Bridge{});  // the host bridge above every domain
    bridge_of_.assign(functions_.size(), std::nullopt);
    parent_.assign(functions_.size(), std::nullopt);
    for (size_t i = 0; i < functions_.size(); ++i) {
      parent_[i] = FindFunction(functions_[i].info.parent_bridge);
    }
    for (const ListedFunction& function : functions_) {
      bool known = false;
      for (size_t b = 1; b < bridges_.size(); ++b) known |= bridges_[b].domain == function.info.address.domain;
      if (!known) NewBridge(Bridge{function.info.address.domain, kAll, 0, kAll, std::nullopt, {}, {}});
    }
    for (size_t i = 0; i < functions_.size(); ++i) {
      const ListedFunction& function = functions_[i];
      if (function.info.base_class() != 0x06 || !function.header_type ||
          (*function.header_type != 1 && *function.header_type != 2)) {
        continue;
      }
      bridge_of_[i] = NewBridge(Bridge{function.info.address.domain, function.info.address.bus,
                                       function.secondary_bus, function.subordinate_bus, i, {}, {}});
    }
    // A sysfs parent that is no bridge by its header still is one.
    for (size_t i = 0; i < functions_.size(); ++i) {
      if (!parent_[i] || bridge_of_[*parent_[i]]) continue;
      const size_t parent = *parent_[i];
      const uint32_t bus = functions_[i].info.address.bus;
      bridge_of_[parent] = NewBridge(
          Bridge{functions_[parent].info.address.domain, functions_[parent].info.address.bus, bus,
                 bus, parent, {}, {}});
    }
    for (size_t b = 1; b < bridges_.size(); ++b) {
      std::optional<size_t> best;
      if (bridges_[b].device && parent_[*bridges_[b].device]) {
        best = bridge_of_[*parent_[*bridges_[b].device]];
      }
      if (!best) {
        for (size_t c = 0; c < bridges_.size(); ++c) {
          const Bridge& candidate = bridges_[c];
          if (c == b || (c != kHost && bridges_[b].domain != candidate.domain)) continue;
          if (bridges_[b].primary < candidate.secondary || bridges_[b].primary > candidate.subordinate) {
            continue;
          }
          if (!best || *best == kHost ||
              bridges_[*best].subordinate - bridges_[*best].primary >
                  candidate.subordinate - candidate.primary) {
            best = c;
          }
        }
      }
      if (best) bridges_[*best].children.push_back(b);
    }
    for (size_t b = 1; b < bridges_.size(); ++b) {
      if (bridges_[b].device && !FindBus(b, bridges_[b].domain, bridges_[b].secondary)) {
        NewBus(b, bridges_[b].domain, bridges_[b].secondary);
      }
    }
    for (size_t i = 0; i < functions_.size(); ++i) Insert(i, kHost);
  }

  void Insert(size_t function, size_t bridge) {
    const pci::Address& address = functions_[function].info.address;
    std::optional<size_t> bus;
    if (parent_[function] && bridge_of_[*parent_[function]]) {
      const size_t above = *bridge_of_[*parent_[function]];
      bus = bridges_[above].buses.empty() ? NewBus(above, address.domain, address.bus)
                                          : bridges_[above].buses.front();
    }
    if (!bus && bridge == kHost) {
      // Children are searched latest first, as lspci walks its list.
      const std::vector<size_t>& domains = bridges_[kHost].children;
      for (auto it = domains.rbegin(); it != domains.rend(); ++it) {
        if (bridges_[*it].domain == address.domain) {
          bridge = *it;
          break;
        }
      }
    }
    if (!bus) bus = FindBus(bridge, address.domain, address.bus);
    if (!bus) {
      const std::vector<size_t>& children = bridges_[bridge].children;
      for (auto it = children.rbegin(); it != children.rend(); ++it) {
        const Bridge& child = bridges_[*it];
        if (child.domain == address.domain && child.secondary <= address.bus &&
            address.bus <= child.subordinate) {
          Insert(function, *it);
          return;
        }
      }
      bus = NewBus(bridge, address.domain, address.bus);
    }
    buses_[*bus].devices.push_back(function);
  }

  bool MatchesFunction(bool filtering, size_t function) const {
    if (!filtering || functions_[function].selected) return true;
    if (const std::optional<size_t> bridge = bridge_of_[function]) {
      for (const size_t bus : bridges_[*bridge].buses) {
        if (MatchesBus(filtering, bus)) return true;
      }
    }
    return false;
  }

  bool MatchesBus(bool filtering, size_t bus) const {
    if (!filtering) return true;
    for (const size_t function : buses_[bus].devices) {
      if (MatchesFunction(filtering, function)) return true;
    }
    return false;
  }

  // Below a function that matches, everything is drawn.
  bool FilteringBelow(bool filtering, size_t function) const {
    return filtering && !functions_[function].selected;
  }

  // Appends at `at`; what lay beyond is never printed again.
  static size_t Put(std::string& line, size_t at, const std::string& text) {
    line.resize(at);
    line += text;
    return line.size();
  }

  // Prints the line up to `at`, then turns it into the indentation of the
  // lines below: the vertical strokes stay, everything else is blank.
  void PrintLine(std::string& line, size_t at) {
    line.resize(at);
    out_ += line + "\n";
    for (char& c : line) c = (c == '+' || c == '|') ? '|' : ' ';
  }

  void DrawFunction(bool filtering, size_t function, std::string& line, size_t at) {
    const pci::DeviceInfo& info = functions_[function].info;
    at = Put(line, at, HexId(info.address.device, 2) + "." + HexId(info.address.function, 1));
    if (const std::optional<size_t> b = bridge_of_[function]) {
      const Bridge& bridge = bridges_[*b];
      if (bridge.secondary == 0) {
        at = Put(line, at, "-");
      } else if (bridge.secondary == bridge.subordinate) {
        at = Put(line, at, "-[" + HexId(bridge.secondary, 2) + "]-");
      } else {
        at = Put(line, at, "-[" + HexId(bridge.secondary, 2) + "-" + HexId(bridge.subordinate, 2) + "]-");
      }
      DrawBridge(filtering, *b, line, at);
      return;
    }
    const std::string name =
        numeric_ ? HexId(info.vendor_id, 4) + ":" + HexId(info.device_id, 4)
                 : Printable(names_.DeviceLabel(info.vendor_id, info.device_id));
    at = Put(line, at, "  " + name);
    PrintLine(line, at);
  }

  void DrawBus(bool filtering, size_t bus, std::string& line, size_t at) {
    const std::vector<size_t>& devices = buses_[bus].devices;
    size_t count = 0;
    for (const size_t function : devices) count += MatchesFunction(filtering, function) ? 1 : 0;
    if (count == 0) {
      PrintLine(line, at);
      return;
    }
    size_t drawn = 0;
    for (const size_t function : devices) {
      if (!MatchesFunction(filtering, function)) continue;
      ++drawn;
      const size_t next = Put(line, at, count == 1 ? "--" : drawn == count ? "\\-" : "+-");
      DrawFunction(FilteringBelow(filtering, function), function, line, next);
    }
  }

  void DrawBridge(bool filtering, size_t b, std::string& line, size_t at) {
    const Bridge& bridge = bridges_[b];
    // A domain whose root buses all sit below another domain's function
    // (VMD) has nothing of its own to draw.
    if (bridge.buses.empty() && !bridge.device) return;
    at = Put(line, at, "-");
    size_t count = 0;
    for (const size_t bus : bridge.buses) count += MatchesBus(filtering, bus) ? 1 : 0;
    if (count == 0) {
      PrintLine(line, at);
      return;
    }
    size_t drawn = 0;
    for (const size_t bus : bridge.buses) {
      if (!MatchesBus(filtering, bus)) continue;
      ++drawn;
      const std::string label =
          "[" + HexId(buses_[bus].domain, 4) + ":" + HexId(buses_[bus].number, 2) + "]-";
      size_t next = at;
      if (bridge.buses.size() > 1) {
        next = Put(line, at, (count == 1 ? "" : drawn == count ? "\\-" : "+-") + label);
      } else if (!bridge.device) {
        next = Put(line, at, label);
      }
      DrawBus(filtering, bus, line, next);
    }
  }

  const std::vector<ListedFunction>& functions_;
  const pci::Names& names_;
  const bool numeric_;
  const bool filtered_;  // -s or -d: draw only what leads to a selected function
  std::vector<Bridge> bridges_;
  std::vector<Bus> buses_;
  std::vector<std::optional<size_t>> bridge_of_;  // per function: the bridge it is
  std::vector<std::optional<size_t>> parent_;     // per function: its sysfs parent
  std::string out_;
};

// Reads every function once; a bridge's bus numbers only for the tree,
// which alone draws them.
Result<ListReport> GatherList(const GlobalOptions& options, const ListArguments& arguments) {
  Selection selection;
  // The validators accepted both already.
  if (!arguments.slot.empty()) selection.slot = *SlotSelector::Parse(arguments.slot);
  if (!arguments.id.empty()) selection.id = *IdSelector::Parse(arguments.id);

  pci::SysfsPci sysfs(options.paths());
  auto addresses = sysfs.List();
  if (!addresses) return std::unexpected(addresses.error());
  auto names = pci::Names::Create(options.pci_ids);
  if (!names) return std::unexpected(names.error());

  ListReport report{{}, !arguments.slot.empty() || !arguments.id.empty(), std::move(*names),
                    kExitOk};
  for (const pci::Address& address : *addresses) {
    auto info = sysfs.Read(address);
    if (!info) {
      // A function can vanish between the listing and the read (hot unplug):
      // say so and go on with the others.
      std::fprintf(stderr, "busctl list: %s\n",
                   Printable(NameReplayedFiles(options, info.error()).ToString()).c_str());
      report.status = kExitFailed;
      continue;
    }
    if (info->iommu_group_error) {
      info->iommu_group_error = NameReplayedFiles(options, *info->iommu_group_error);
    }
    const bool selected = selection.Matches(*info);
    ListedFunction function{std::move(*info), std::nullopt, 0, 0, selected};
    if (arguments.tree && !options.json) {
      // The first 64 bytes, which every user may read, hold the bridge header.
      if (auto config = sysfs.ReadConfig(address)) {
        if (auto type = config->Read8(pci::kConfigHeaderType)) {
          function.header_type = static_cast<uint8_t>(*type & 0x7f);
          function.secondary_bus = config->Read8(0x19).value_or(0);
          function.subordinate_bus = config->Read8(0x1a).value_or(0);
        }
      }
    }
    report.functions.push_back(std::move(function));
  }
  return report;
}

// The selected functions as list's entries; --tree changes nothing there.
// The text: lspci -Dnn's lines, or the tree.
// Other modules' views of a function (ACPI's) join its entry and, as
// " acpi=\\_SB_.PCI0.S08_" before the driver, its line; the tree stays
// lspci's drawing.
ListBlock RenderList(const GlobalOptions& options, const ListReport& report,
                     const ListArguments& arguments, Companions& companions) {
  ListBlock block;
  block.status = report.status;
  // Node ids as the PCI bus makes them (PciBus::Enumerate): the path of
  // addresses from the root bus down, each bridge read before the
  // functions behind it.
  std::map<pci::Address, std::string> ids;
  for (const ListedFunction& function : report.functions) {
    const pci::DeviceInfo& info = function.info;
    const auto parent = info.parent_bridge ? ids.find(*info.parent_bridge) : ids.end();
    const std::string above = parent == ids.end() ? std::string(pci::kBusName) : parent->second;
    const std::string id = above + "/" + info.address.ToString();
    ids[info.address] = id;
    if (function.selected) block.ids.push_back(id);
  }
  const auto companions_of = [&companions](const ListedFunction& function) {
    return companions.Take(KernelDeviceName{std::string(pci::kBusName), function.info.address.ToString()});
  };
  if (options.json) {
    for (const ListedFunction& function : report.functions) {
      if (!function.selected) continue;
      Json entry = FunctionToJson(function.info, report.names);
      AttachCompanions(companions_of(function), entry);
      block.devices.push_back(std::move(entry));
    }
    return block;
  }
  if (arguments.tree) {
    block.text = Tree(report, arguments.numeric).Draw();
    return block;
  }
  for (const ListedFunction& function : report.functions) {
    if (!function.selected) continue;
    block.text += SummaryLine(function.info, report.names, arguments.numeric);
    for (const Companion* companion : companions_of(function)) {
      block.text += " " + companion->module + "=" + Printable(companion->summary);
    }
    if (function.info.driver) block.text += " driver=" + Printable(*function.info.driver);
    block.text += "\n";
  }
  return block;
}

}  // namespace

ListContribution AddPciListOptions(CLI::App& list, const GlobalOptions& options) {
  auto arguments = std::make_shared<ListArguments>();
  list.add_flag("-t,--tree", arguments->tree, "draw the PCI bus tree, as lspci -tvnn");
  list.add_flag("-n,--numeric", arguments->numeric, "numbers only, no names (lspci -n)");
  list.add_option("-s", arguments->slot,
                  "only PCI functions in [[[[domain]:]bus]:][device][.[function]] (lspci -s)")
      ->check(SlotSelectorValidator());
  list.add_option("-d", arguments->id,
                  "only PCI functions with [vendor]:[device][:class[:prog_if]] (lspci -d)")
      ->check(IdSelectorValidator());
  ListContribution contribution;
  contribution.gather = [&options, arguments](Companions& companions) -> Result<ListBlock> {
    UDRV_TRY_ASSIGN(ListReport report, GatherList(options, *arguments));
    return RenderList(options, report, *arguments, companions);
  };
  contribution.narrows = [arguments] {
    return arguments->tree || !arguments->slot.empty() || !arguments->id.empty();
  };
  return contribution;
}

}  // namespace udrv::busctl
