// busctl's PCI module: the lspci-compatible commands and the ones that
// reach PCI functions (docs/busctl.md).
#pragma once

#include <string_view>

#include <CLI/CLI.hpp>

#include "bus_modules.h"
#include "commands.h"
#include "udrv/pci/pci_bus.h"

namespace udrv::busctl {

inline constexpr std::string_view kPciModuleName = pci::kBusName;

BusModule PciModule();

// list.cc: PCI's part of list (lspci -Dnn, --tree as lspci -tvnn).
ListContribution AddPciListOptions(CLI::App& list, const GlobalOptions& options);
// show.cc: show DEV (and its -n).
void AddPciShowOptions(CLI::App& show, ShowArguments& arguments);
int RunPciShow(const GlobalOptions& options, const ShowArguments& arguments);
// config.cc, iommu.cc: config DEV, iommu.
void AddConfigCommand(CLI::App& app, GlobalOptions& options, int& status);
void AddIommuCommand(CLI::App& app, GlobalOptions& options, int& status);
// registers.cc: read, write.
int RunPciRead(const GlobalOptions& options, const RegisterArguments& arguments);
int RunPciWrite(const GlobalOptions& options, const WriteArguments& arguments);
// binding.cc: bind, unbind.
int RunPciBind(const GlobalOptions& options, const BindArguments& arguments);
int RunPciUnbind(const GlobalOptions& options, const UnbindArguments& arguments);

}  // namespace udrv::busctl
