// A USB device's descriptors as text, laid out as lsusb -v (usbutils 014)
// prints them, so the two compare line by line: the device descriptor,
// each configuration with its interface associations, interfaces,
// alternate settings, endpoints (SuperSpeed companions folded in as
// lsusb folds them), HID, CDC and mass-storage class descriptors, and
// what only the device can say (BOS, hub descriptor and port status,
// device qualifier, debug descriptor, status) when it was read.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "document.h"
#include "udrv/usb/descriptors.h"
#include "udrv/usb/kernel_devices.h"

namespace udrv::busctl {

struct UsbView;

// What a device answered to the requests lsusb -v makes of it (usbfs
// control transfers, as root on the live machine). Each is absent when the
// device was not asked or did not answer.
struct UsbDeviceAnswers {
  bool opened = false;  // the usbfs node opened: the device was asked at all
  std::map<uint8_t, std::string> strings;         // string descriptors by index, as UTF-8
  std::optional<std::vector<uint8_t>> hub;        // GET_DESCRIPTOR(hub, 0x29 or 0x2A)
  std::vector<std::array<uint8_t, 4>> port_status;  // GET_STATUS of ports 1..n
  std::optional<std::vector<uint8_t>> bos;        // GET_DESCRIPTOR(BOS), every byte
  std::optional<std::vector<uint8_t>> qualifier;  // GET_DESCRIPTOR(device qualifier)
  std::optional<std::vector<uint8_t>> debug;      // GET_DESCRIPTOR(debug)
  std::optional<uint16_t> status;                 // GET_STATUS(device)
};

// The strings sysfs holds for the device's active configuration: the
// configuration's (sysfs `configuration`), by interface number the active
// alternate setting's (the interface's `interface`).
struct UsbSysfsStrings {
  std::optional<std::string> configuration;
};

// lsusb -v's lines for `device` (no "Bus ... Device ..." line before them).
// The device's own three strings come from sysfs, as lsusb takes them; the
// others from the answers, "(error)" where the opened device gave none, or,
// when it was not asked, from sysfs where it has them (the active
// configuration's and interfaces'), else "".
std::string DescribeUsbDevice(const UsbView& view, const usb::KernelUsbDevice& device,
                              const UsbSysfsStrings& sysfs_strings, const UsbDeviceAnswers& answers);

// The descriptors as JSON (show's "descriptors"): every field by name,
// class descriptors decoded where known and raw always.
Json UsbDescriptorsToJson(const usb::Descriptors& descriptors);
// A BOS descriptor (show's "bos").
Json UsbBosToJson(const usb::BosDescriptor& bos);

}  // namespace udrv::busctl
