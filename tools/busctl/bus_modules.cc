#include "bus_modules.h"

#include "acpi/module.h"
#include "pci/module.h"
#include "platform/module.h"

namespace udrv::busctl {

std::span<const BusModule> BusModules() {
  static const BusModule kModules[] = {PciModule(), PlatformModule(), AcpiModule()};
  return kModules;
}

Result<const BusModule*> ModuleOfDevice(std::string_view argument) {
  std::string names;
  for (const BusModule& module : BusModules()) {
    const std::optional<std::string> verdict = module.device_commands.check_device(argument);
    if (verdict && verdict->empty()) return &module;
    if (verdict) return Fail(Status::INVALID_ARGS, *verdict);
    names += (names.empty() ? "" : ", ") + std::string(module.name);
  }
  return Fail(Status::INVALID_ARGS, "device '" + std::string(argument) +
                                        "': no bus names its devices so (buses: " + names + ")");
}

}  // namespace udrv::busctl
