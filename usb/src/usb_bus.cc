#include "udrv/usb/usb_bus.h"

#include <algorithm>
#include <map>
#include <utility>

#include "udrv/core/text.h"

namespace udrv::usb {
namespace {

// The name of `name`'s hub by the kernel's naming ("2-1.4" -> "2-1",
// "2-1" -> "usb2"); empty for a root hub.
std::string HubNameOf(std::string_view name) {
  if (name.starts_with("usb")) return {};
  const size_t dot = name.rfind('.');
  if (dot != std::string_view::npos) return std::string(name.substr(0, dot));
  const size_t dash = name.find('-');
  return dash == std::string_view::npos ? std::string() : "usb" + std::string(name.substr(0, dash));
}

void SetCommon(bus::Properties& properties, const KernelUsbDevice& device) {
  properties.Set(std::string(kPropVid), device.descriptors.device.vendor_id);
  properties.Set(std::string(kPropPid), device.descriptors.device.product_id);
}

void SetPlace(bus::Properties& properties, const KernelUsbDevice& device) {
  properties.Set(std::string(kPropBus), device.bus);
  properties.Set(std::string(kPropAddress), device.address);
  properties.Set(std::string(kPropPortPath), device.port_path);
  properties.Set(std::string(kPropSpeed), device.speed);
  properties.Set(std::string(kPropDevice), device.name);
}

}  // namespace

std::string NodeIdOf(const KernelUsbView& view, const KernelUsbDevice& device) {
  // The chain of hubs up to the root: the view's parents where it lists
  // them, the kernel's naming otherwise. Bounded: a name has at most 7 tiers.
  std::vector<std::string> chain{device.name};
  std::string parent = device.parent;
  while (!parent.empty() && chain.size() <= 8) {
    chain.push_back(parent);
    const auto found = std::ranges::find(view.devices, parent, &KernelUsbDevice::name);
    parent = found != view.devices.end() ? found->parent : HubNameOf(parent);
  }
  std::string id(kBusName);
  for (auto name = chain.rbegin(); name != chain.rend(); ++name) id += "/" + *name;
  return id;
}

std::string NodeIdOf(const KernelUsbView& view, const KernelUsbDevice& device,
                     const KernelUsbInterface& interface) {
  return NodeIdOf(view, device) + "/" + interface.name;
}

bus::Properties PropertiesOf(const KernelUsbDevice& device) {
  bus::Properties properties;
  SetCommon(properties, device);
  const DeviceDescriptor& descriptor = device.descriptors.device;
  properties.Set(std::string(kPropClass), descriptor.device_class);
  properties.Set(std::string(kPropSubclass), descriptor.device_subclass);
  properties.Set(std::string(kPropProtocol), descriptor.device_protocol);
  SetPlace(properties, device);
  if (device.driver) properties.Set(std::string(kPropDriver), *device.driver);
  return properties;
}

bus::Properties PropertiesOf(const KernelUsbDevice& device, const KernelUsbInterface& interface) {
  bus::Properties properties;
  SetCommon(properties, device);
  properties.Set(std::string(kPropClass), interface.interface_class);
  properties.Set(std::string(kPropSubclass), interface.interface_subclass);
  properties.Set(std::string(kPropProtocol), interface.interface_protocol);
  SetPlace(properties, device);
  properties.Set(std::string(kPropInterface), interface.number);
  properties.Set(std::string(kPropAlternate), interface.alternate_setting);
  properties.Set(std::string(kPropConfiguration), interface.configuration);
  if (interface.driver) properties.Set(std::string(kPropDriver), *interface.driver);
  return properties;
}

Result<std::unique_ptr<UsbBus>> UsbBus::Create(UsbBusOptions options) {
  // Nothing to check up front: a machine without USB is a bus without
  // devices, and devices come and go between enumerations.
  return std::unique_ptr<UsbBus>(new UsbBus(std::move(options)));
}

Result<std::vector<bus::DeviceNode>> UsbBus::Enumerate() const {
  UDRV_TRY_ASSIGN(const KernelUsbView view, ReadKernelUsbDevices(options_.paths));
  if (options_.log) {
    // Entry names and attribute values are the tree's bytes: escaped before
    // they reach a log line or a terminal.
    for (const std::string& skipped : view.skipped) options_.log("usb: " + Printable(skipped) + ": left out");
  }
  // The node id of each device listed so far, by name: parents come first,
  // so a device's id is its hub's and its name (NodeIdOf, without a search
  // of the view per device).
  std::map<std::string, std::string, std::less<>> listed;
  std::vector<bus::DeviceNode> nodes;
  for (const KernelUsbDevice& device : view.devices) {
    std::string parent;
    if (!device.is_root_hub()) {
      // A device whose hub was left out has no parent node to hang from.
      const auto hub = listed.find(device.parent);
      if (hub == listed.end()) {
        if (options_.log) options_.log("usb: " + device.name + ": its hub " + device.parent + " is not listed: left out");
        continue;
      }
      parent = hub->second;
    }
    if (options_.log) {
      // What the descriptors disagree on without being malformed (the kernel
      // cut a configuration short of its wTotalLength): listed, and said.
      for (const std::string& note : device.descriptors.notes) options_.log("usb: " + device.name + ": " + note);
    }
    const std::string id = (device.is_root_hub() ? std::string(kBusName) : parent) + "/" + device.name;
    listed.emplace(device.name, id);
    nodes.push_back(bus::DeviceNode{std::string(kBusName), id, std::move(parent), PropertiesOf(device)});
    for (const KernelUsbInterface& interface : device.interfaces) {
      nodes.push_back(
          bus::DeviceNode{std::string(kBusName), id + "/" + interface.name, id, PropertiesOf(device, interface)});
    }
  }
  return nodes;
}

}  // namespace udrv::usb
