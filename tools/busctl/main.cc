// busctl: inspect the machine's buses and the devices on them.
#include <CLI/CLI.hpp>
#include <string>

#include "bus_modules.h"
#include "commands.h"
#include "udrv/core/version.h"

int main(int argc, char** argv) {
  CLI::App app{"busctl: inspect buses and devices for udrv drivers"};
  // "<name run by> 0.2.0 (libudrv-core 0.2.0)": the version compiled in and
  // the shared library's, which can differ (udrv/core/version.h).
  app.set_version_flag("--version",
                       [program = std::string(argv[0])] { return udrv::VersionLine(program); });
  app.require_subcommand(1);
  // The global options are taken after the command too, where users type
  // them: `busctl list --json`, `busctl show DEV --json`.
  app.fallthrough();
  udrv::busctl::GlobalOptions options;
  app.add_option("--sysfs-root", options.sysfs_root,
                 "the sysfs tree to read (bus/pci/devices, firmware/fdt, ...; default /sys; a "
                 "recorded tree for tests)");
  app.add_option("--pci-ids", options.pci_ids, "pci.ids database (default: libpci's)");
  app.add_flag("--json", options.json, "print a JSON document (schema: docs/busctl.md)");
  app.add_option("--dtb", options.dtb,
                 "read the platform bus from this device tree blob, offline (any board's): "
                 "list and show show that board");
  app.add_option("--acpi", options.acpi,
                 "read the ACPI tables from DIR (table files, as acpidump -b writes them) or "
                 "FILE (an acpidump text dump), offline: acpi tables, list and show show that "
                 "firmware's");

  int status = udrv::busctl::kExitOk;
  udrv::busctl::AddListCommand(app, options, status);
  udrv::busctl::AddDeviceCommands(app, options, status);
  for (const udrv::busctl::BusModule& module : udrv::busctl::BusModules()) {
    if (module.add_commands != nullptr) module.add_commands(app, options, status);
  }
  udrv::busctl::AddMatchCommand(app, options, status);
  udrv::busctl::AddSnapshotCommand(app, options, status);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // A callback that reported its own failure (--from) stops the run with
    // CLI::RuntimeError, which carries the exit status.
    if (error.get_name() == "RuntimeError") return error.get_exit_code();
    // CLI11 prints the message (and --help's text, which exits 0); every
    // argument error is exit status 2, whatever CLI11's own code for it.
    return app.exit(error) == 0 ? udrv::busctl::kExitOk : udrv::busctl::kExitUsage;
  }
  return status;
}
