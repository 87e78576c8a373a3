// The USB bus's part of `busctl list`: a line per device as lsusb prints it
// (same order, same names), or with -t the tree lsusb -t draws from sysfs.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "output.h"
#include "udrv/core/text.h"
#include "udrv/usb/usb_bus.h"
#include "usb/module.h"
#include "usb/view.h"

namespace udrv::busctl {

namespace {

// lsusb -t's lanes: "" for one each way, "/x2", "/Tx2+Rx1".
std::string LanesText(uint32_t tx, uint32_t rx) {
  if (tx == rx) return tx < 2 ? std::string() : "/x" + std::to_string(tx);
  return "/Tx" + std::to_string(tx) + "+Rx" + std::to_string(rx);
}

class TreePrinter {
 public:
  explicit TreePrinter(const UsbView& view) : view_(view) {
    const auto& devices = view.kernel.devices;
    for (size_t i = 0; i < devices.size(); ++i) {
      if (!devices[i].is_root_hub()) children_[devices[i].parent].push_back(i);
    }
    for (auto& [parent, list] : children_) {
      std::ranges::stable_sort(list, {}, [&](size_t i) { return devices[i].port; });
    }
  }

  std::string Print() {
    const auto& devices = view_.kernel.devices;
    std::vector<size_t> roots;
    for (size_t i = 0; i < devices.size(); ++i) {
      if (devices[i].is_root_hub()) roots.push_back(i);
    }
    // Buses from the highest number down, as lsusb -t.
    std::ranges::stable_sort(roots, std::greater<>(), [&](size_t i) { return devices[i].bus; });
    for (const size_t root : roots) {
      const usb::KernelUsbDevice& hub = devices[root];
      char line[160];
      const uint8_t device_class = hub.descriptors.device.device_class;
      std::string class_text = "root_hub";
      if (device_class != usb::kClassHub) {
        std::snprintf(line, sizeof(line), "'bDeviceClass 0x%02x not yet handled'", device_class);
        class_text = line;
      }
      std::snprintf(line, sizeof(line), "/:  Bus %02u.Port 1: Dev %u, Class=", hub.bus, hub.address);
      text_ += line + class_text + ", Driver=" + Printable(view_.controller_drivers[root]) + "/" +
               std::to_string(hub.max_children) + "p, " + Printable(hub.speed) + "M" +
               LanesText(view_.tx_lanes[root], view_.rx_lanes[root]) + "\n";
      Children(hub.name, 0);
    }
    return std::move(text_);
  }

 private:
  void Children(const std::string& parent, int indent) {
    const auto found = children_.find(parent);
    if (found == children_.end()) return;
    indent += 4;
    for (const size_t i : found->second) {
      const usb::KernelUsbDevice& device = view_.kernel.devices[i];
      std::vector<const usb::KernelUsbInterface*> interfaces;
      for (const usb::KernelUsbInterface& interface : device.interfaces) interfaces.push_back(&interface);
      std::ranges::stable_sort(interfaces, [](const auto* a, const auto* b) {
        return std::pair(a->configuration, a->number) < std::pair(b->configuration, b->number);
      });
      for (const usb::KernelUsbInterface* interface : interfaces) {
        // " %*s" of "|__ " with the indent grown by 3: the branch under its hub.
        text_ += " " + std::string(static_cast<size_t>(indent + 3) - 4, ' ') + "|__ ";
        text_ += "Port " + std::to_string(device.port) + ": Dev " + std::to_string(device.address) +
                 ", If " + std::to_string(interface->number) +
                 ", Class=" + Printable(view_.ClassName(interface->interface_class)) +
                 ", Driver=" + Printable(interface->driver.value_or(""));
        if (interface->interface_class == usb::kClassHub) {
          text_ += "/" + std::to_string(device.max_children) + "p";
        }
        text_ += ", " + Printable(device.speed) + "M" + LanesText(view_.tx_lanes[i], view_.rx_lanes[i]) + "\n";
      }
      Children(device.name, indent);
    }
  }

  const UsbView& view_;
  std::map<std::string, std::vector<size_t>> children_;  // by the hub's name, by port
  std::string text_;
};

}  // namespace

std::string UsbTreeText(const UsbView& view) { return TreePrinter(view).Print(); }

ListContribution AddUsbListOptions(CLI::App& list, const GlobalOptions& options) {
  // -t is PCI's flag (lspci -tvnn); with --bus usb it draws this bus's tree.
  const CLI::Option* tree = list.get_option_no_throw("--tree");
  ListContribution contribution;
  contribution.gather = [&options, tree](Companions& companions) -> Result<ListBlock> {
    ListBlock block;
    auto view = ReadUsbView(options);
    if (!view) return std::unexpected(view.error());
    for (const std::string& skipped : view->kernel.skipped) {
      // "2-3: vanished while read"
      const size_t colon = skipped.find(": ");
      block.skipped.Add("USB device " + skipped.substr(0, colon),
                        colon == std::string::npos ? "" : skipped.substr(colon + 2));
    }
    for (const size_t i : view->LsusbOrder()) {
      const usb::KernelUsbDevice& device = view->kernel.devices[i];
      block.ids.push_back(UsbNodeId(*view, device));
      for (const usb::KernelUsbInterface& interface : device.interfaces) {
        block.ids.push_back(usb::NodeIdOf(view->kernel, device, interface));
      }
    }
    if (!options.json && tree != nullptr && tree->count() > 0) {
      block.text = UsbTreeText(*view);
      return block;
    }
    for (const size_t i : view->LsusbOrder()) {
      const usb::KernelUsbDevice& device = view->kernel.devices[i];
      const std::vector<const Companion*> attached = companions.Take({"usb", device.name});
      if (options.json) {
        Json json = UsbDeviceToJson(*view, device);
        AttachCompanions(attached, json);
        block.devices.push_back(std::move(json));
      } else {
        std::string line = LsusbLine(*view, device);
        for (const Companion* companion : attached) {
          line += "; " + companion->module + " " + Printable(companion->summary);
        }
        block.text += line + "\n";
      }
    }
    return block;
  };
  contribution.narrows = [] { return false; };
  return contribution;
}

}  // namespace udrv::busctl
