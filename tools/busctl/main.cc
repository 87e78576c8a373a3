// busctl: inspect the machine's buses and the devices on them.
#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"busctl: inspect buses and devices for udrv drivers"};
  app.require_subcommand(1);
  udrv::busctl::GlobalOptions options;
  app.add_option("--sysfs-root", options.sysfs_root,
                 "directory holding bus/pci/devices (default /sys; a recorded tree for tests)");
  app.add_option("--pci-ids", options.pci_ids, "pci.ids database (default: libpci's)");

  auto* list = app.add_subcommand("list", "list PCI functions, as lspci -Dnn, with their kernel driver");
  int status = 0;
  list->callback([&] { status = udrv::busctl::RunList(options); });

  CLI11_PARSE(app, argc, argv);
  return status;
}
