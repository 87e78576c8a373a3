// busctl's USB show text and JSON (tools/busctl/usb/describe.cc) of bytes a
// device sent: a `descriptors` file (parsed by usb::ParseDescriptors) and
// what the device answered lsusb -v's requests (hub descriptor, port
// status, BOS, qualifier, debug, status), which the describer indexes
// itself. Input: a 2-byte little-endian length, the descriptors, a byte of
// flags saying which answers follow, then those answers: hub (13 bytes),
// qualifier (10), debug (4), status (2), each port's status (4 per port the
// hub descriptor names), and the BOS (the rest). Any input describes without
// reading outside its bytes; the text starts with the device descriptor.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "usb/describe.h"
#include "usb/view.h"

namespace {

std::vector<uint8_t> Take(std::span<const uint8_t>& input, size_t count) {
  const size_t taken = std::min(count, input.size());
  std::vector<uint8_t> bytes(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(taken));
  input = input.subspan(taken);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace udrv;
  std::span<const uint8_t> input(data, size);
  if (input.size() < 3) return 0;
  const size_t length = std::min<size_t>(static_cast<size_t>(input[0] | input[1] << 8), input.size() - 2);
  input = input.subspan(2);
  const std::vector<uint8_t> file = Take(input, length);
  auto descriptors = usb::ParseDescriptors(file, "fuzz");
  if (!descriptors) {
    if (descriptors.error().what.empty()) std::abort();
    return 0;
  }
  const uint8_t flags = input.empty() ? 0 : Take(input, 1)[0];

  busctl::UsbDeviceAnswers answers;
  answers.opened = (flags & 0x40) != 0;
  if (flags & 0x01) answers.hub = Take(input, 13);
  if (flags & 0x02) answers.qualifier = Take(input, 10);
  if (flags & 0x04) answers.debug = Take(input, 4);
  if (flags & 0x08) {
    const std::vector<uint8_t> status = Take(input, 2);
    if (status.size() == 2) answers.status = static_cast<uint16_t>(status[0] | status[1] << 8);
  }
  if (flags & 0x10) answers.strings[1] = std::string(reinterpret_cast<const char*>(file.data()), std::min<size_t>(file.size(), 8));
  if (answers.hub && answers.hub->size() >= 3) {
    for (uint8_t port = 0; port < (*answers.hub)[2] && input.size() >= 4; ++port) {
      const std::vector<uint8_t> status = Take(input, 4);
      answers.port_status.push_back({status[0], status[1], status[2], status[3]});
    }
  }
  if (flags & 0x20) answers.bos = Take(input, input.size());

  busctl::UsbView view;
  usb::KernelUsbDevice device;
  device.name = "1-1";
  device.parent = "usb1";
  device.bus = 1;
  device.address = 2;
  device.port_path = "1";
  device.port = 1;
  device.descriptors = std::move(*descriptors);
  if (!device.descriptors.configurations.empty()) {
    const usb::ConfigurationDescriptor& configuration = device.descriptors.configurations.front();
    device.active_configuration = configuration.value;
    for (const usb::Interface& interface : configuration.interfaces) {
      usb::KernelUsbInterface kernel;
      kernel.name = "1-1:1." + std::to_string(interface.number);
      kernel.configuration = configuration.value;
      kernel.number = interface.number;
      kernel.interface_string = "interface";
      device.interfaces.push_back(std::move(kernel));
    }
  }
  view.kernel.devices.push_back(device);
  const std::string text = busctl::DescribeUsbDevice(view, device, {"configuration"}, answers);
  if (!text.starts_with("Device Descriptor:\n")) std::abort();
  (void)busctl::DumpJson(busctl::UsbDescriptorsToJson(device.descriptors));
  return 0;
}
