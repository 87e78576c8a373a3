#include "acpi/module.h"

#include "output.h"

namespace udrv::busctl {

namespace {

// The ACPI devices join list and show with the ACPI bus; until then the
// module adds its commands alone.
std::optional<std::string> CheckAcpiDevice(std::string_view /*argument*/) { return std::nullopt; }

ListContribution AddAcpiListOptions(CLI::App& /*list*/, const GlobalOptions& /*options*/) {
  ListContribution contribution;
  contribution.gather = []() -> Result<ListBlock> { return ListBlock{}; };
  contribution.narrows = [] { return false; };
  return contribution;
}

Result<std::unique_ptr<bus::Bus>> CreateAcpiBus(const GlobalOptions& /*options*/,
                                                std::function<void(std::string_view)> /*log*/) {
  return std::unique_ptr<bus::Bus>();
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
      .name = "acpi",
      .add_commands = AddAcpiCommands,
      .add_list_options = AddAcpiListOptions,
      .add_show_options = nullptr,
      .device_commands = {.check_device = CheckAcpiDevice},
      .create_bus = CreateAcpiBus,
  };
}

}  // namespace udrv::busctl
