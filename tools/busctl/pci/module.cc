#include "pci/module.h"

#include "select.h"

namespace udrv::busctl {

namespace {

void AddPciCommands(CLI::App& app, GlobalOptions& options, int& status) {
  AddConfigCommand(app, options, status);
  AddIommuCommand(app, options, status);
}

// PCI names a function by lspci's address forms or its node id, pci/...;
// another bus's node id, or a path (a device-tree node's, an ACPI
// namespace's: no PCI form holds a backslash), is not PCI's.
std::optional<std::string> CheckPciDevice(std::string_view argument) {
  const size_t slash = argument.find('/');
  if (slash != std::string_view::npos && argument.substr(0, slash) != pci::kBusName) {
    return std::nullopt;
  }
  if (argument.find('\\') != std::string_view::npos) return std::nullopt;
  auto address = ParseDeviceArgument(argument);
  return address ? std::string() : address.error().what;
}

// A function's records carry its address.
RecordName PciRecordName(std::string_view argument) {
  return RecordName{"address", ParseDeviceArgument(argument)->ToString()};
}

Result<std::unique_ptr<bus::Bus>> CreatePciBus(const GlobalOptions& options,
                                               std::function<void(std::string_view)> log) {
  pci::PciBusOptions pci_options;
  pci_options.paths = options.paths();
  pci_options.log = std::move(log);
  UDRV_TRY_ASSIGN(auto pci_bus, pci::PciBus::Create(std::move(pci_options)));
  return std::unique_ptr<bus::Bus>(std::move(pci_bus));
}

}  // namespace

BusModule PciModule() {
  return BusModule{
      .name = kPciModuleName,
      .add_commands = AddPciCommands,
      .add_list_options = AddPciListOptions,
      .add_show_options = AddPciShowOptions,
      .device_commands = {.check_device = CheckPciDevice,
                          .show = RunPciShow,
                          .read = RunPciRead,
                          .write = RunPciWrite,
                          .bind = RunPciBind,
                          .unbind = RunPciUnbind,
                          .record_name = PciRecordName},
      .create_bus = CreatePciBus,
  };
}

}  // namespace udrv::busctl
