// busctl's PCI module: the lspci-compatible commands and the ones that
// reach PCI functions (docs/busctl.md).
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "udrv/bus/bus.h"
#include "udrv/core/result.h"
#include "udrv/pci/pci_bus.h"

namespace udrv::busctl {

inline constexpr std::string_view kPciModuleName = pci::kBusName;

// Every command below.
void AddPciCommands(CLI::App& app, GlobalOptions& options, int& status);
// The PCI root bus over options.sysfs_root.
Result<std::unique_ptr<bus::Bus>> CreatePciBus(const GlobalOptions& options,
                                               std::function<void(std::string_view)> log);

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
