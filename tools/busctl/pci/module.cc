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

}  // namespace udrv::busctl
