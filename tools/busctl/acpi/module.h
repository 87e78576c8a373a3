// busctl's ACPI module: the firmware's tables (acpi tables, acpi tables
// show) and the namespace's devices in list and show, merged with the
// kernel's view on the live machine, read from this machine
// (/sys/firmware/acpi/tables, root only) or offline with --acpi DIR|FILE.
// A device whose physical node another module lists (a PCI function) is
// that entry's companion, not a second entry. docs/busctl.md, "The ACPI bus".
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "bus_modules.h"
#include "commands.h"
#include "udrv/acpi/tables.h"
#include "udrv/core/result.h"

namespace udrv::busctl {

BusModule AcpiModule();

// The tables this run reads: --acpi's, else this machine's. Unprivileged,
// the live tables are unreadable: ACCESS_DENIED saying so and naming
// --acpi.
Result<acpi::TableSet> ReadAcpiTables(const GlobalOptions& options);
// Where they come from, for messages: the --acpi path, or the live directory.
std::string AcpiTablesSource(const GlobalOptions& options);

// tables.cc: acpi tables, acpi tables show NAME.
void AddAcpiCommands(CLI::App& app, GlobalOptions& options, int& status);
// show.cc: show PATH.
int RunAcpiShow(const GlobalOptions& options, const ShowArguments& arguments);

}  // namespace udrv::busctl
