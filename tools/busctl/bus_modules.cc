#include "bus_modules.h"

#include "pci/module.h"
#include "udrv/pci/pci_bus.h"

namespace udrv::busctl {

std::span<const BusModule> BusModules() {
  static constexpr BusModule kModules[] = {
      {pci::kBusName, AddPciCommands},
  };
  return kModules;
}

}  // namespace udrv::busctl
