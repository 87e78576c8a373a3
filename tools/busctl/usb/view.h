// What busctl's USB commands look at, read once: the kernel's USB devices
// (sys/bus/usb/devices, usb/kernel_devices.h), their names as lsusb gives
// them (usb.ids, else the device's own strings), and where each sits in
// sysfs (the order lsusb lists them in). list and show start here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "document.h"
#include "udrv/core/result.h"
#include "udrv/usb/kernel_devices.h"
#include "udrv/usb/usb_ids.h"

namespace udrv::busctl {

struct UsbView {
  usb::KernelUsbView kernel;
  usb::UsbIds ids;
  // This machine's own /sys, not a recorded or replayed tree: only then do
  // the usbfs nodes belong to the devices listed.
  bool live = false;
  // Each device's sysfs path below sys/devices ("pci0000:00/0000:00:05.0/
  // usb2/2-1"), by index in kernel.devices; empty when the link is unreadable.
  std::vector<std::string> device_paths;
  // The driver of each root hub's controller ("xhci_hcd"), by index; empty
  // for other devices or when it has none.
  std::vector<std::string> controller_drivers;
  // sysfs rx_lanes/tx_lanes by index (0 when absent: before USB 3.2).
  std::vector<uint32_t> rx_lanes, tx_lanes;

  // The device DEV names: "2-1", "usb2", a node id ("usb/usb2/2-1"), lsusb
  // -s's "BUS:DEVNUM" ("002:002", "2:2"), or one of its interfaces ("2-1:1.0",
  // "usb/usb2/2-1/2-1:1.0"). NOT_FOUND naming the tree.
  Result<size_t> Find(std::string_view argument) const;

  // lsusb's names: usb.ids's, else the strings the device gave the kernel,
  // else empty.
  std::string VendorName(const usb::KernelUsbDevice& device) const;
  std::string ProductName(const usb::KernelUsbDevice& device) const;
  // usb.ids's class names; empty when it has none.
  std::string ClassName(uint8_t code) const;
  std::string SubclassName(uint8_t code, uint8_t subclass) const;
  std::string ProtocolName(uint8_t code, uint8_t subclass, uint8_t protocol) const;

  // The devices in lsusb's order: the reverse of their sysfs paths' order
  // (libusb lists the last device udev enumerated first).
  std::vector<size_t> LsusbOrder() const;
};

// Reads the view of `options` (the machine, a recorded tree, a snapshot).
// No sys/bus/usb (no USB, usbcore not loaded) is an empty view.
Result<UsbView> ReadUsbView(const GlobalOptions& options);

// Whether `argument` is written as a USB device is named (UsbView::Find):
// nullopt when not at all, "" when so, else why it is malformed.
std::optional<std::string> CheckUsbDeviceName(std::string_view argument);

// "Bus 002 Device 002: ID 46f4:0001 QEMU QEMU USB HARDDRIVE", as lsusb.
std::string LsusbLine(const UsbView& view, const usb::KernelUsbDevice& device);

// The root-bus node id of a device ("usb/usb2/2-1").
std::string UsbNodeId(const UsbView& view, const usb::KernelUsbDevice& device);

// list's entry of a device ($defs/list_usb_device), show's "device".
Json UsbDeviceToJson(const UsbView& view, const usb::KernelUsbDevice& device);

}  // namespace udrv::busctl
