// `busctl show DEV` of a USB device: its lsusb line and its descriptors
// decoded as lsusb -v decodes them (usb/describe.h), with what the device
// itself answers when busctl may ask it (root, the live machine), then
// udrv's view: the node ids, the kernel's device, driver and usbfs node,
// and each interface with its driver.
#include <cstdio>
#include <string>

#include "output.h"
#include "privilege.h"
#include "udrv/core/text.h"
#include "udrv/sysfs/file.h"
#include "udrv/usb/usb_bus.h"
#include "usb/describe.h"
#include "usb/device_answers.h"
#include "usb/module.h"
#include "usb/view.h"

namespace udrv::busctl {

namespace {

constexpr std::string_view kAnswersWhat = "what the device itself answers (strings of other than the "
                                          "active configuration, hub and port status, BOS, device "
                                          "qualifier, status)";

Json BytesToJson(const std::optional<std::vector<uint8_t>>& bytes) {
  if (!bytes) return Json();
  Json list = Json::array();
  for (const uint8_t byte : *bytes) list.push_back(byte);
  return list;
}

Json AnswersToJson(const usb::KernelUsbDevice& device, const UsbDeviceAnswers& answers) {
  Json strings = Json::object();
  for (const auto& [index, text] : answers.strings) strings[std::to_string(index)] = text;
  Json ports = Json::array();
  for (const auto& status : answers.port_status) {
    ports.push_back(static_cast<uint32_t>(status[0]) | static_cast<uint32_t>(status[1]) << 8 |
                    static_cast<uint32_t>(status[2]) << 16 | static_cast<uint32_t>(status[3]) << 24);
  }
  Json bos;
  if (answers.bos) {
    auto parsed = usb::ParseBos(*answers.bos, device.name);
    bos = parsed ? UsbBosToJson(*parsed) : Json{{"error", ErrorToJson(parsed.error())}};
  }
  return {{"strings", std::move(strings)},
          {"hub", BytesToJson(answers.hub)},
          {"port_status", std::move(ports)},
          {"bos", std::move(bos)},
          {"qualifier", BytesToJson(answers.qualifier)},
          {"debug", BytesToJson(answers.debug)},
          {"status", answers.status ? Json(*answers.status) : Json()}};
}

std::string UdrvText(const UsbView& view, const usb::KernelUsbDevice& device) {
  std::string text = "udrv:\n";
  text += "  Node: " + Printable(UsbNodeId(view, device)) + "\n";
  text += "  Kernel device: " + Printable(device.name);
  if (!device.is_root_hub()) {
    text += " (port " + std::to_string(device.port) + " of " + Printable(device.parent) + ", port path " +
            Printable(device.port_path) + ")";
  }
  text += ", speed " + Printable(device.speed) + " Mb/s, USB" + Printable(device.version) + "\n";
  if (device.driver) text += "  Kernel driver in use: " + Printable(*device.driver) + "\n";
  if (!device.authorized) text += "  Authorized: no (the kernel keeps it unconfigured)\n";
  text += "  Active configuration: " +
          (device.active_configuration ? std::to_string(*device.active_configuration) : std::string("none")) +
          "\n";
  text += "  usbfs: " + Printable(device.usbfs_node) + "\n";
  // What the descriptors disagree on without being malformed (a
  // configuration the kernel kept less of than its wTotalLength says).
  for (const std::string& note : device.descriptors.notes) text += "  Note: " + Printable(note) + "\n";
  for (const usb::KernelUsbInterface& interface : device.interfaces) {
    char codes[16];
    std::snprintf(codes, sizeof(codes), "%02x/%02x/%02x", interface.interface_class, interface.interface_subclass,
                  interface.interface_protocol);
    text += "  Interface " + Printable(interface.name) + " (" +
            Printable(usb::NodeIdOf(view.kernel, device, interface)) + "): class " + codes + ", alternate " +
            std::to_string(interface.alternate_setting) + ", driver " +
            Printable(interface.driver.value_or("none")) + "\n";
  }
  return text;
}

}  // namespace

int RunUsbShow(const GlobalOptions& options, const ShowArguments& arguments) {
  auto view = ReadUsbView(options);
  if (!view) return ReportError(options, "show", view.error());
  auto index = view->Find(arguments.device);
  if (!index) return ReportError(options, "show", index.error());
  const usb::KernelUsbDevice& device = view->kernel.devices[*index];

  UsbSysfsStrings sysfs_strings;
  if (auto configuration = sysfs::ReadOptionalAttribute(
          options.paths().BusDevice(usb::kBusName, device.name) + "/configuration");
      configuration && *configuration && !(*configuration)->empty()) {
    sysfs_strings.configuration = **configuration;
  }

  Skipped skipped;
  UsbDeviceAnswers answers;
  if (!view->live) {
    skipped.Add(std::string(kAnswersWhat),
                "the tree is not this machine's /sys: its usbfs nodes are not the devices it describes");
  } else if (!IsRoot()) {
    skipped.Add(std::string(kAnswersWhat), "Linux lets only root open usbfs nodes (mode 0600)");
  } else if (auto asked = AskUsbDevice(device); asked) {
    answers = std::move(*asked);
  } else {
    skipped.Add(std::string(kAnswersWhat), asked.error().ToString());
  }

  if (options.json) {
    Json document = NewDocument("show");
    document["device"] = UsbDeviceToJson(*view, device);
    document["descriptors"] = UsbDescriptorsToJson(device.descriptors);
    document["answers"] = answers.opened ? AnswersToJson(device, answers) : Json();
    document["skipped"] = skipped.ToJson(options);
    PrintDocument(document);
    return kExitOk;
  }
  const std::string text = LsusbLine(*view, device) + "\n" +
                           DescribeUsbDevice(*view, device, sysfs_strings, answers) + UdrvText(*view, device);
  std::fwrite(text.data(), 1, text.size(), stdout);
  skipped.Print("show", options);
  return kExitOk;
}

}  // namespace udrv::busctl
