#include "pci/module.h"

namespace udrv::busctl {

void AddPciCommands(CLI::App& app, GlobalOptions& options, int& status) {
  AddListCommand(app, options, status);
  AddShowCommand(app, options, status);
  AddConfigCommand(app, options, status);
  AddIommuCommand(app, options, status);
  AddRegisterCommands(app, options, status);
  AddBindingCommands(app, options, status);
}

Result<std::unique_ptr<bus::Bus>> CreatePciBus(const GlobalOptions& options,
                                               std::function<void(std::string_view)> log) {
  pci::PciBusOptions pci_options;
  pci_options.paths = options.paths();
  pci_options.log = std::move(log);
  UDRV_TRY_ASSIGN(auto pci_bus, pci::PciBus::Create(std::move(pci_options)));
  return std::unique_ptr<bus::Bus>(std::move(pci_bus));
}

}  // namespace udrv::busctl
