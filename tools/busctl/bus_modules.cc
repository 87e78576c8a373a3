#include "bus_modules.h"

#include "pci/module.h"

namespace udrv::busctl {

std::span<const BusModule> BusModules() {
  static constexpr BusModule kModules[] = {
      {kPciModuleName, AddPciCommands, CreatePciBus},
  };
  return kModules;
}

}  // namespace udrv::busctl
