#include "usb/device_answers.h"

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <set>
#include <span>
#include <variant>
#include <vector>

#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/usb/usbfs_control.h"

namespace udrv::busctl {

namespace {

// bmRequestType: device to host, standard or class, to the device or to
// another recipient (a hub's port).
constexpr uint8_t kInStandardDevice = 0x80;
constexpr uint8_t kInClassDevice = 0xA0;
constexpr uint8_t kInClassOther = 0xA3;
constexpr uint8_t kGetStatus = 0x00;
constexpr uint8_t kGetDescriptor = 0x06;
// lsusb's CTRL_TIMEOUT.
constexpr Duration kTimeout = std::chrono::nanoseconds(std::chrono::seconds(5)).count();

// One control request with a data stage of at most `length` bytes: what
// came back, or nullopt when the device refused (a stall) or failed (lsusb
// prints nothing then, so the error is not kept).
std::optional<std::vector<uint8_t>> In(int fd, uint8_t request_type, uint8_t request, uint16_t value,
                                       uint16_t index, uint16_t length) {
  std::vector<uint8_t> data(length);
  const auto moved = usb::UsbfsControl(
      fd, {.request_type = request_type, .request = request, .value = value, .index = index},
      std::as_writable_bytes(std::span(data)), kTimeout, "");
  if (!moved) return std::nullopt;
  data.resize(*moved);
  return data;
}

std::optional<std::vector<uint8_t>> Descriptor(int fd, uint8_t type, uint8_t index, uint16_t language,
                                               uint16_t length) {
  return In(fd, kInStandardDevice, kGetDescriptor, static_cast<uint16_t>(type << 8 | index), language, length);
}

// The string indices the descriptors name, beyond the device's own three
// (lsusb takes those from sysfs).
std::set<uint8_t> StringIndices(const usb::Descriptors& descriptors) {
  std::set<uint8_t> indices;
  for (const usb::ConfigurationDescriptor& configuration : descriptors.configurations) {
    indices.insert(configuration.configuration_index);
    for (const usb::InterfaceAssociation& association : configuration.associations) {
      indices.insert(association.function_index);
    }
    for (const usb::Interface& interface : configuration.interfaces) {
      for (const usb::InterfaceDescriptor& alternate : interface.alternates) {
        indices.insert(alternate.interface_index);
        for (const usb::ClassDescriptor& extra : alternate.extra) {
          if (const auto* ethernet = std::get_if<usb::CdcEthernet>(&extra.decoded)) {
            indices.insert(ethernet->mac_address_index);
          }
        }
      }
    }
  }
  indices.erase(0);
  return indices;
}

// The BOS: its first 5 bytes say how long the whole is. nullopt when the
// device gives none (lsusb then prints none).
std::optional<std::vector<uint8_t>> ReadBos(int fd) {
  const auto head = Descriptor(fd, usb::kDescBos, 0, 0, 5);
  if (!head || head->size() != 5) return std::nullopt;
  const std::vector<uint8_t>& bytes = *head;
  if (bytes[0] != 5 || bytes[1] != usb::kDescBos) return std::nullopt;
  const uint16_t total = static_cast<uint16_t>(bytes[2] | bytes[3] << 8);
  if (total <= 5) return head;
  auto whole = Descriptor(fd, usb::kDescBos, 0, 0, total);
  return whole ? whole : head;
}

}  // namespace

Result<UsbDeviceAnswers> AskUsbDevice(const usb::KernelUsbDevice& device) {
  const UniqueFd fd(::open(device.usbfs_node.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.is_valid()) {
    return Fail(StatusFromErrno(errno), "open the usbfs node " + device.usbfs_node, device.name, errno);
  }
  UsbDeviceAnswers answers;
  answers.opened = true;
  const usb::DeviceDescriptor& descriptor = device.descriptors.device;

  // String descriptors in the first language the device offers (lsusb's way).
  const std::set<uint8_t> indices = StringIndices(device.descriptors);
  if (!indices.empty()) {
    const auto languages = Descriptor(fd.get(), usb::kDescString, 0, 0, 4);
    if (languages && languages->size() == 4) {
      const uint16_t language = static_cast<uint16_t>((*languages)[2] | (*languages)[3] << 8);
      for (const uint8_t index : indices) {
        const auto bytes = Descriptor(fd.get(), usb::kDescString, index, language, 255);
        if (!bytes) continue;
        auto text = usb::ParseStringDescriptor(*bytes, device.name);
        if (text) answers.strings[index] = std::move(*text);
      }
    }
  }

  if (descriptor.device_class == usb::kClassHub) {
    const uint8_t type = descriptor.usb_version >= 0x0300 ? usb::kDescSuperSpeedHub : usb::kDescHub;
    answers.hub = In(fd.get(), kInClassDevice, kGetDescriptor, static_cast<uint16_t>(type << 8), 0, 13);
    if (answers.hub && answers.hub->size() >= 9) {
      for (uint16_t port = 1; port <= (*answers.hub)[2]; ++port) {
        const auto status = In(fd.get(), kInClassOther, kGetStatus, 0, port, 4);
        if (!status || status->size() != 4) break;
        answers.port_status.push_back({(*status)[0], (*status)[1], (*status)[2], (*status)[3]});
      }
    }
  }
  if (descriptor.usb_version >= 0x0201) {
    answers.bos = ReadBos(fd.get());
  }
  if (descriptor.usb_version == 0x0200) answers.qualifier = Descriptor(fd.get(), usb::kDescDeviceQualifier, 0, 0, 10);
  answers.debug = Descriptor(fd.get(), usb::kDescDebug, 0, 0, 4);
  if (const auto status = In(fd.get(), kInStandardDevice, kGetStatus, 0, 0, 2); status && status->size() == 2) {
    answers.status = static_cast<uint16_t>((*status)[0] | (*status)[1] << 8);
  }
  return answers;
}

}  // namespace udrv::busctl
