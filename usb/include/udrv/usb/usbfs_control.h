// A control transfer on an open usbfs node (/dev/bus/usb/BBB/DDD,
// USBDEVFS_CONTROL). usbfs sends requests to endpoint 0 with no interface
// claimed, so one function serves both UsbfsDevice::Control and a reader
// that must leave every interface to its driver (busctl show asking what
// lsusb -v asks).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/usb/device.h"

namespace udrv::usb {

// The bytes moved (an IN transfer may be short). `timeout` is rounded up to
// usbfs's milliseconds (at least 1). OUT_OF_RANGE beyond the page usbfs
// carries in one synchronous control transfer; a failed transfer is its
// errno's USB meaning (IO_REFUSED for a stall, TIMED_OUT, IO_NOT_PRESENT
// when the device is gone, ...) naming the request, on `object`.
Result<size_t> UsbfsControl(int fd, const ControlSetup& setup, std::span<std::byte> data,
                            Duration timeout, const std::string& object);

}  // namespace udrv::usb
