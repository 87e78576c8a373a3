#include "acpi/module.h"

#include "acpi/view.h"
#include "output.h"

namespace udrv::busctl {

namespace {

// A namespace path ("\_SB_.HPET", "\_SB.HPET") or a node id
// ("acpi/_SB_/HPET").
std::optional<std::string> CheckAcpiDevice(std::string_view argument) {
  const bool path = argument.starts_with('\\');
  const bool id = argument.starts_with(std::string(acpi::kBusName) + "/");
  if (!path && !id) return std::nullopt;
  for (const char c : argument.substr(path ? 1 : acpi::kBusName.size() + 1)) {
    const bool name = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!name && c != (path ? '.' : '/')) {
      return "device '" + std::string(argument) + "': an ACPI path is name segments of A-Z, 0-9 "
             "and _ separated by " + (path ? "'.' (\\_SB_.PCI0.HPET)" : "'/' (acpi/_SB_/PCI0/HPET)");
    }
  }
  return std::string();
}

// The devices of the view that no other module's entry took (their
// physical node is listed there, with this view attached).
bool TakenByAnother(const acpi::MergedDevice& device, const Companions& companions) {
  for (const KernelDeviceName& node : PhysicalNodesOf(device)) {
    if (companions.Taken(node)) return true;
  }
  return false;
}

ListContribution AddAcpiListOptions(CLI::App& /*list*/, const GlobalOptions& options) {
  ListContribution contribution;
  contribution.gather = [&options](Companions& companions) -> Result<ListBlock> {
    ListBlock block;
    UDRV_TRY_ASSIGN(auto view, ReadAcpiView(options));
    if (!view) return block;
    block.skipped = std::move(view->skipped);
    for (const acpi::MergedDevice& device : view->bus->devices()) {
      if (TakenByAnother(device, companions)) continue;
      block.ids.push_back(acpi::NodeIdOf(device.path));
      if (options.json) {
        block.devices.push_back(AcpiDeviceToJson(*view, device));
      } else {
        block.text += AcpiListLine(*view, device) + "\n";
      }
    }
    return block;
  };
  // --acpi names a firmware: list shows that firmware, not this machine's PCI.
  contribution.narrows = [&options] { return !options.acpi.empty(); };
  return contribution;
}

// Each ACPI device the kernel made, for the entries of the kernel devices
// it became (its physical nodes). The kernel's view alone: --acpi's
// firmware is another machine's, whose devices this machine has not.
Result<std::vector<std::pair<KernelDeviceName, Companion>>> OfferAcpiCompanions(
    const GlobalOptions& options) {
  std::vector<std::pair<KernelDeviceName, Companion>> offered;
  if (!options.acpi.empty()) return offered;
  auto devices = acpi::ReadKernelAcpiDevices(options.paths());
  if (!devices && devices.error().status == Status::NOT_FOUND) return offered;
  if (!devices) return std::unexpected(NameReplayedFiles(options, devices.error()));
  for (const acpi::KernelAcpiDevice& device : *devices) {
    if (!device.path) continue;
    for (const acpi::PhysicalNode& node : device.physical_nodes) {
      offered.emplace_back(KernelDeviceName{node.bus, node.name}, AcpiCompanionOf(device));
    }
  }
  return offered;
}

// The ACPI root bus for match: --acpi's firmware, or this machine's; none
// on a machine without ACPI.
Result<std::unique_ptr<bus::Bus>> CreateAcpiBus(const GlobalOptions& options,
                                                std::function<void(std::string_view)> log) {
  acpi::AcpiBusOptions bus_options;
  bus_options.paths = options.paths();
  bus_options.tables = options.acpi;
  bus_options.log = std::move(log);
  auto bus = acpi::AcpiBus::Create(std::move(bus_options));
  if (!bus && options.acpi.empty() && bus.error().status == Status::NOT_FOUND) {
    return std::unique_ptr<bus::Bus>();
  }
  if (!bus) return std::unexpected(NameReplayedFiles(options, bus.error()));
  return std::unique_ptr<bus::Bus>(std::move(*bus));
}

}  // namespace

std::string AcpiTablesSource(const GlobalOptions& options) {
  return options.acpi.empty() ? options.paths().sys + "/firmware/acpi/tables" : options.acpi;
}

Result<acpi::TableSet> ReadAcpiTables(const GlobalOptions& options) {
  if (!options.acpi.empty()) return acpi::ReadTables(options.acpi);
  auto tables = acpi::ReadLiveTables(options.paths());
  if (!tables && tables.error().status == Status::ACCESS_DENIED) {
    Error error = tables.error();
    error.what += " (or give tables to read offline with --acpi DIR|FILE)";
    return std::unexpected(NameReplayedFiles(options, std::move(error)));
  }
  if (!tables) return std::unexpected(NameReplayedFiles(options, tables.error()));
  return tables;
}

BusModule AcpiModule() {
  return BusModule{
      .name = acpi::kBusName,
      .add_commands = AddAcpiCommands,
      .add_list_options = AddAcpiListOptions,
      .add_show_options = nullptr,
      .device_commands = {.check_device = CheckAcpiDevice, .show = RunAcpiShow},
      .create_bus = CreateAcpiBus,
      .offer_companions = OfferAcpiCompanions,
  };
}

}  // namespace udrv::busctl
