// The kernel's USB devices: /sys/bus/usb/devices read strictly. Root hubs
// ("usb2"), devices ("2-1", "2-1.4": bus, then the port path) and their
// interfaces ("2-1:1.0": configuration 1, interface 0) with what the
// kernel knows of each: bus and device numbers, speed, the parent hub and
// port, the descriptors file parsed (descriptors.h), the strings the
// kernel read (manufacturer, product, serial, interface), the active
// configuration and alternate settings, the bound driver, and the usbfs
// node (/dev/bus/usb/BBB/DDD).
//
// Sysfs values are outside bytes: a malformed one makes an error naming the
// file; a device that vanishes while read is skipped and said.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/sysfs/paths.h"
#include "udrv/usb/descriptors.h"

namespace udrv::usb {

// Bounds on what sysfs can make a reader hold.
inline constexpr size_t kMaxUsbDevices = 4096;
// The bytes of `descriptors` files one reading reads, all devices together:
// a real device's are a few hundred bytes, but each file may hold
// kMaxDescriptorsFileSize (2 MiB), and 4096 of them would be 8 GiB.
inline constexpr size_t kMaxDescriptorBytesPerView = size_t{64} << 20;

struct KernelUsbInterface {
  std::string name;  // "2-1:1.0"
  uint8_t configuration = 0;
  uint8_t number = 0;             // bInterfaceNumber
  uint8_t alternate_setting = 0;  // the active one
  uint8_t interface_class = 0;
  uint8_t interface_subclass = 0;
  uint8_t interface_protocol = 0;
  std::optional<std::string> interface_string;  // sysfs `interface`
  std::optional<std::string> driver;            // "usb-storage"
};

struct KernelUsbDevice {
  std::string name;    // "2-1", or "usb2" for a root hub
  std::string parent;  // the hub's name ("usb2"); empty for a root hub
  uint32_t bus = 0;    // busnum
  uint32_t address = 0;  // devnum
  // The ports from the root hub down, "1.4"; empty for a root hub.
  std::string port_path;
  uint32_t port = 0;   // the port on the parent hub; 0 for a root hub
  std::string speed;   // sysfs `speed` in Mb/s: "1.5", "12", "480", "5000", "10000", "20000"
  std::string version; // sysfs `version`: " 3.00"
  uint32_t max_children = 0;  // maxchild: ports of a hub
  std::optional<uint8_t> active_configuration;  // bConfigurationValue; none: unconfigured
  Descriptors descriptors;
  std::optional<std::string> manufacturer, product, serial;
  std::optional<std::string> driver;  // "usb" for devices the kernel configured
  bool authorized = true;
  std::vector<KernelUsbInterface> interfaces;  // of the active configuration
  std::string usbfs_node;  // "/dev/bus/usb/002/002" under the paths' dev

  bool is_root_hub() const { return parent.empty(); }
};

struct KernelUsbView {
  std::vector<KernelUsbDevice> devices;  // parents before children, by bus then port path
  std::vector<std::string> skipped;      // "2-3: vanished while read", ...
};

// Reads sys/bus/usb/devices. An absent directory (no USB on the machine, or
// usbcore not loaded) is an empty view, not an error. An entry whose
// descriptors do not parse is skipped with the parser's error; the
// `descriptors` file is bounded (kMaxDescriptorsFileSize), and so are all of
// them together (`max_descriptor_bytes`): once a file would pass that, it and
// every later device are skipped, said, and read no further.
Result<KernelUsbView> ReadKernelUsbDevices(const sysfs::LinuxPaths& paths,
                                           size_t max_descriptor_bytes = kMaxDescriptorBytesPerView);

}  // namespace udrv::usb
