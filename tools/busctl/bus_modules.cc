#include "bus_modules.h"

#include "acpi/module.h"
#include "pci/module.h"
#include "platform/module.h"
#include "usb/module.h"

namespace udrv::busctl {

// ACPI comes last: it offers companions of PCI, platform and USB devices
// and lists what their entries did not take. USB comes after PCI, whose
// list -t it draws its tree for.
std::span<const BusModule> BusModules() {
  static const BusModule kModules[] = {PciModule(), PlatformModule(), UsbModule(), AcpiModule()};
  return kModules;
}

void Companions::Add(KernelDeviceName device, Companion companion) {
  by_device_[std::move(device)].push_back(std::move(companion));
}

std::vector<const Companion*> Companions::Take(const KernelDeviceName& device) {
  std::vector<const Companion*> found;
  auto it = by_device_.find(device);
  if (it == by_device_.end()) return found;
  taken_.insert(device);
  for (const Companion& companion : it->second) found.push_back(&companion);
  return found;
}

void AttachCompanions(const std::vector<const Companion*>& companions, Json& entry) {
  for (const Companion* companion : companions) entry[companion->module] = companion->json;
}

Companions GatherCompanions(const GlobalOptions& options, Skipped& skipped) {
  Companions companions;
  for (const BusModule& module : BusModules()) {
    if (module.offer_companions == nullptr) continue;
    auto offered = module.offer_companions(options);
    if (!offered) {
      skipped.Add("the " + std::string(module.name) + " view of other buses' devices",
                  offered.error().ToString());
      continue;
    }
    for (auto& [device, companion] : *offered) companions.Add(device, std::move(companion));
  }
  return companions;
}

// A module that names the device wins over one that finds it malformed
// (PCI reads "\_SB_.HPET" as a bad address; ACPI names it).
Result<const BusModule*> ModuleOfDevice(std::string_view argument) {
  std::string names;
  std::optional<std::string> malformed;
  for (const BusModule& module : BusModules()) {
    const std::optional<std::string> verdict = module.device_commands.check_device(argument);
    if (verdict && verdict->empty()) return &module;
    if (verdict && !malformed) malformed = *verdict;
    names += (names.empty() ? "" : ", ") + std::string(module.name);
  }
  if (malformed) return Fail(Status::INVALID_ARGS, *malformed);
  return Fail(Status::INVALID_ARGS, "device '" + std::string(argument) +
                                        "': no bus names its devices so (buses: " + names + ")");
}

}  // namespace udrv::busctl
