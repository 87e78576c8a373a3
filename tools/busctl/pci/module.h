// busctl's PCI module: the lspci-compatible commands and the ones that
// reach PCI functions (docs/busctl.md).
#pragma once

#include <CLI/CLI.hpp>

#include "commands.h"

namespace udrv::busctl {

// Every command below.
void AddPciCommands(CLI::App& app, GlobalOptions& options, int& status);

// list.cc: list (lspci -Dnn, --tree as lspci -tvnn).
void AddListCommand(CLI::App& app, GlobalOptions& options, int& status);
// show.cc, config.cc, iommu.cc: show DEV, config DEV, iommu.
void AddShowCommand(CLI::App& app, GlobalOptions& options, int& status);
void AddConfigCommand(CLI::App& app, GlobalOptions& options, int& status);
void AddIommuCommand(CLI::App& app, GlobalOptions& options, int& status);
// registers.cc: read, write.
void AddRegisterCommands(CLI::App& app, GlobalOptions& options, int& status);
// binding.cc: bind, unbind, restore.
void AddBindingCommands(CLI::App& app, GlobalOptions& options, int& status);

}  // namespace udrv::busctl
