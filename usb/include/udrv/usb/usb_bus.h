// The USB root bus: the kernel's USB devices (kernel_devices.h) as a
// bus::Bus (bus/bus.h).
//
// Enumerate gives a node per device (root hubs included) and, under each
// configured device, a node per interface of its active configuration: a
// driver binds to an interface, as on Linux. Node ids follow the
// topology, "usb/usb2" (a root hub), "usb/usb2/2-1" (the device on its
// port 1), "usb/usb2/2-1/2-1:1.0" (its interface 0); a device behind a hub
// is the hub's child ("usb/usb1/1-1/1-1.2").
//
// Open takes an interface node: the bus opens the device's usbfs node
// (root only, mode 0600), detaches the kernel driver from the interface
// and claims it (USBDEVFS_DISCONNECT_CLAIM), and hands the driver a
// usb::Device (device.h). Release cancels what is in flight, releases
// every interface the driver claimed and, when asked, reattaches their
// kernel drivers (USBDEVFS_CONNECT: the kernel probes them again).
// A device node is NOT_SUPPORTED: drivers bind to interfaces.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/sysfs/paths.h"
#include "udrv/usb/device.h"
#include "udrv/usb/kernel_devices.h"

namespace udrv::usb {

inline constexpr std::string_view kBusName = "usb";

// Node properties. Numbers unless said otherwise. Devices and interfaces
// both carry vid/pid and class/subclass/protocol (an interface's own
// codes); only interfaces carry usb.interface.
inline constexpr std::string_view kPropVid = "usb.vid";
inline constexpr std::string_view kPropPid = "usb.pid";
inline constexpr std::string_view kPropClass = "usb.class";
inline constexpr std::string_view kPropSubclass = "usb.subclass";
inline constexpr std::string_view kPropProtocol = "usb.protocol";
inline constexpr std::string_view kPropBus = "usb.bus";                // busnum
inline constexpr std::string_view kPropAddress = "usb.address";        // devnum
inline constexpr std::string_view kPropPortPath = "usb.port_path";     // string: "1.4"; "" for a root hub
inline constexpr std::string_view kPropSpeed = "usb.speed";            // string, Mb/s as sysfs: "5000"
inline constexpr std::string_view kPropDevice = "usb.device";          // string, the kernel's name: "2-1"
inline constexpr std::string_view kPropInterface = "usb.interface";    // interfaces: bInterfaceNumber
inline constexpr std::string_view kPropAlternate = "usb.alternate";    // interfaces: active setting
inline constexpr std::string_view kPropConfiguration = "usb.configuration";  // interfaces: bConfigurationValue
inline constexpr std::string_view kPropDriver = "usb.driver";          // string: the kernel driver bound

// The node ids of a device and of one of its interfaces.
std::string NodeIdOf(const KernelUsbView& view, const KernelUsbDevice& device);
std::string NodeIdOf(const KernelUsbView& view, const KernelUsbDevice& device,
                     const KernelUsbInterface& interface);

// The properties of a device's node, and of one of its interfaces'.
bus::Properties PropertiesOf(const KernelUsbDevice& device);
bus::Properties PropertiesOf(const KernelUsbDevice& device, const KernelUsbInterface& interface);

struct UsbBusOptions {
  sysfs::LinuxPaths paths;
  bus::Logger log;  // what Enumerate skipped and why (may be empty)
};

class UsbBus final : public bus::Bus {
 public:
  static Result<std::unique_ptr<UsbBus>> Create(UsbBusOptions options = {});

  UsbBus(const UsbBus&) = delete;
  UsbBus& operator=(const UsbBus&) = delete;

  std::string_view name() const override { return kBusName; }

  // Reads sysfs afresh each time: devices come and go.
  Result<std::vector<bus::DeviceNode>> Enumerate() const override;
  // INVALID_ARGS for a node of another bus; NOT_SUPPORTED for a device
  // node; NOT_FOUND when the device or interface is gone; ACCESS_DENIED
  // when the usbfs node cannot be opened (not root); UNAVAILABLE when
  // another process holds the interface; the kernel driver reattached on
  // any failure after it was detached.
  Result<std::unique_ptr<bus::BoundDevice>> Open(const bus::DeviceNode& node) override;

 private:
  explicit UsbBus(UsbBusOptions options) : options_(std::move(options)) {}
  UsbBusOptions options_;
};

}  // namespace udrv::usb
