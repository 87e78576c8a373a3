#include "udrv/usb/usb_bus.h"

namespace udrv::usb {

Result<std::unique_ptr<bus::BoundDevice>> UsbBus::Open(const bus::DeviceNode& node) {
  return Fail(Status::NOT_SUPPORTED, "open: opening a USB interface needs the usbfs route", node.id);
}

}  // namespace udrv::usb
