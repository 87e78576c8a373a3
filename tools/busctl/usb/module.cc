#include "usb/module.h"

#include <memory>

#include "usb/view.h"
#include "udrv/usb/usb_bus.h"

namespace udrv::busctl {

namespace {

// The USB root bus for match: the machine's devices (none without USB).
Result<std::unique_ptr<bus::Bus>> CreateUsbBus(const GlobalOptions& options,
                                               std::function<void(std::string_view)> log) {
  usb::UsbBusOptions bus_options;
  bus_options.paths = options.paths();
  bus_options.log = std::move(log);
  UDRV_TRY_ASSIGN(auto usb_bus, usb::UsbBus::Create(std::move(bus_options)));
  return std::unique_ptr<bus::Bus>(std::move(usb_bus));
}

}  // namespace

BusModule UsbModule() {
  return BusModule{
      .name = usb::kBusName,
      .add_commands = nullptr,
      .add_list_options = AddUsbListOptions,
      .add_show_options = nullptr,
      .device_commands = {.check_device = CheckUsbDeviceName, .show = RunUsbShow},
      .create_bus = CreateUsbBus,
  };
}

}  // namespace udrv::busctl
