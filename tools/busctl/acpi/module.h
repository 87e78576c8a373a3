// busctl's ACPI module: the firmware's tables (acpi tables, acpi tables
// show), read from this machine (/sys/firmware/acpi/tables, root only) or
// offline with --acpi DIR|FILE. docs/busctl.md, "The ACPI bus".
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

}  // namespace udrv::busctl
