// What lsusb -v asks a USB device itself, asked the same way: standard and
// hub-class requests on the default control pipe through the device's usbfs
// node (USBDEVFS_CONTROL), which needs no claimed interface and leaves the
// kernel's drivers bound. Only on the live machine, as root (the nodes are
// root's): never against a recorded or replayed tree, whose usbfs paths
// would name this machine's devices.
#pragma once

#include "udrv/core/result.h"
#include "udrv/usb/kernel_devices.h"
#include "usb/describe.h"

namespace udrv::busctl {

// Opens device.usbfs_node and asks: the string descriptors the
// descriptors name (configurations, interfaces, associations, CDC MAC
// addresses), a hub's descriptor and each port's status, the BOS (bcdUSB
// 2.01 and later), the device qualifier (bcdUSB 2.00), the debug descriptor
// and the device status. A request the device refuses leaves its answer
// absent, as lsusb leaves its section out. The open's error otherwise.
Result<UsbDeviceAnswers> AskUsbDevice(const usb::KernelUsbDevice& device);

}  // namespace udrv::busctl
