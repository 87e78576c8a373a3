// The driver host's usb::Device (isolation.h): the usbfs fd the root bus
// sent, with privileges dropped, driven as in-process (usbfs_device.h)
// without the privileged steps; the root bus relays nothing.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "usb_host_messages.h"
#include "usbfs_device.h"
#include "udrv/core/transfer.h"
#include "udrv/usb/isolation.h"
#include "udrv/usb/usb_bus.h"

namespace udrv::usb {
namespace {

// How long the fd may take to follow the root bus's reply.
constexpr Duration kFileTimeout = 10'000'000'000;
// The descriptors as usbfs reads them (DescriptorLayout::USBFS): the device
// descriptor, then each configuration's wTotalLength bytes, of which the
// kernel writes only what it kept (devio.c usbdev_read): `chunk` is zeroed
// before each read so that the rest reads as zeros, not as the last read's.
Result<std::vector<uint8_t>> ReadDescriptors(int fd, const std::string& object) {
  std::vector<uint8_t> bytes;
  uint8_t chunk[4096];
  for (;;) {
    std::ranges::fill(chunk, uint8_t{0});
    const ssize_t n = ::pread(fd, chunk, sizeof(chunk), static_cast<off_t>(bytes.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(errno, "read the descriptors from the usbfs fd", object);
    if (n == 0) return bytes;
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (bytes.size() > kMaxDescriptorsFileSize) {
      return Fail(Status::IO_INVALID, "the usbfs fd reads as more than any device's descriptors", object);
    }
  }
}

class RemoteDevice final : public Device {
 public:
  RemoteDevice(std::shared_ptr<host::Connection> connection, std::unique_ptr<UsbfsDevice> usbfs)
      : connection_(std::move(connection)), usbfs_(std::move(usbfs)) {}

  const bus::DeviceNode& GetNode() const override { return usbfs_->GetNode(); }
  std::string_view route() const override { return "remote"; }
  const Descriptors& GetDescriptors() const override { return usbfs_->GetDescriptors(); }
  uint8_t configuration() const override { return usbfs_->configuration(); }
  uint8_t interface_number() const override { return usbfs_->interface_number(); }
  Result<void> ClaimInterface(uint8_t number) override { return usbfs_->ClaimInterface(number); }
  Result<void> ReleaseInterface(uint8_t number) override { return usbfs_->ReleaseInterface(number); }
  Result<void> SetConfiguration(uint8_t value) override { return usbfs_->SetConfiguration(value); }
  Result<void> SetInterface(uint8_t number, uint8_t alternate_setting) override {
    return usbfs_->SetInterface(number, alternate_setting);
  }
  Result<size_t> Control(const ControlSetup& setup, std::span<std::byte> data,
                         Duration timeout) override {
    return usbfs_->Control(setup, data, timeout);
  }
  Result<size_t> Bulk(uint8_t endpoint, std::span<std::byte> data, Duration timeout) override {
    return usbfs_->Bulk(endpoint, data, timeout);
  }
  Result<size_t> InterruptTransfer(uint8_t endpoint, std::span<std::byte> data,
                                   Duration timeout) override {
    return usbfs_->InterruptTransfer(endpoint, data, timeout);
  }
  Result<void> Submit(const AsyncTransfer& transfer, const Port& port) override {
    return usbfs_->Submit(transfer, port);
  }
  Result<void> Cancel(uint64_t key) override { return usbfs_->Cancel(key); }
  Result<void> ClearHalt(uint8_t endpoint) override { return usbfs_->ClearHalt(endpoint); }
  Result<void> Reset() override { return usbfs_->Reset(); }

 private:
  std::shared_ptr<host::Connection> connection_;
  std::unique_ptr<UsbfsDevice> usbfs_;
};

}  // namespace

Result<std::unique_ptr<Device>> CreateRemoteDevice(std::shared_ptr<host::Connection> connection,
                                                   host::Greeting greeting) {
  const bus::DeviceNode& node = greeting.node;
  if (node.bus != kBusName) {
    return Fail(Status::IO_INVALID,
                "connect: the root bus gave a node of bus '" + node.bus + "' to a USB driver host");
  }
  const std::optional<uint32_t> interface = node.properties.FindNumber(kPropInterface);
  const std::optional<uint32_t> configuration = node.properties.FindNumber(kPropConfiguration);
  const std::optional<std::string> device_name = node.properties.FindString(kPropDevice);
  if (!interface || *interface > 0xff || !configuration || *configuration > 0xff || !device_name) {
    return Fail(Status::IO_INVALID,
                "connect: the root bus gave a node without usb.interface, usb.configuration and "
                "usb.device",
                node.id);
  }
  const std::string object = *device_name + ":" + std::to_string(*configuration) + "." +
                             std::to_string(*interface);

  ReceivedFile file;
  UDRV_TRY_ASSIGN(const wire::UsbfsReply reply,
                  connection->Call(wire::GetUsbfsRequest{}, {},
                                   [&](int fd, const wire::UsbfsReply&) -> Result<void> {
                                     UDRV_TRY_ASSIGN(file, ReceiveFile(fd, DeadlineAfter(kFileTimeout)));
                                     return {};
                                   }));
  if (reply.interface_number != *interface || reply.interface_mask != (uint32_t{1} << *interface) ||
      reply.configuration != *configuration || reply.reserved != 0) {
    return Fail(Status::IO_INVALID,
                "connect: the root bus lent interface " + std::to_string(reply.interface_number) +
                    " of configuration " + std::to_string(reply.configuration) + " (mask " +
                    Hex(reply.interface_mask) + ") for node " + node.id,
                object);
  }
  UDRV_TRY_ASSIGN(const std::vector<uint8_t> bytes, ReadDescriptors(file.fd.get(), object));
  auto descriptors = ParseDescriptors(bytes, object, DescriptorLayout::USBFS);
  if (!descriptors) return Wrap(descriptors.error(), "connect: the usbfs fd's descriptors");
  auto usbfs = UsbfsDevice::Create(std::move(file.fd), node, std::move(*descriptors),
                                   reply.configuration, reply.interface_number, object,
                                   /*privileged=*/false);
  if (!usbfs) return Wrap(usbfs.error(), "connect: claim interface " + std::to_string(*interface));
  return std::unique_ptr<Device>(std::make_unique<RemoteDevice>(std::move(connection), std::move(*usbfs)));
}

}  // namespace udrv::usb
