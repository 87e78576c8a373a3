// The driver host's side of an isolated PCI device (isolation.h): a
// pci::Device whose calls cross the host's connection to the root bus.
#include <utility>

#include "pci_host_messages.h"
#include "udrv/core/transfer.h"
#include "udrv/pci/isolation.h"

namespace udrv::pci {

Result<std::unique_ptr<RemoteDevice>> RemoteDevice::Connect(UniqueFd socket) {
  auto connection = host::Connection::Create(std::move(socket));
  UDRV_TRY_ASSIGN(host::Greeting greeting, connection->Hello());
  return Create(std::move(connection), std::move(greeting));
}

Result<std::unique_ptr<RemoteDevice>> RemoteDevice::Create(std::shared_ptr<host::Connection> connection,
                                                           host::Greeting greeting) {
  auto address = Address::Parse(greeting.device);
  if (!address) return Wrap(address.error(), "connect to the root bus: the device's address");
  auto config_size = connection->Call(wire::ConfigSizeRequest{});
  if (!config_size) return Wrap(config_size.error(), "connect to the root bus: the config space size");
  const uint64_t size = config_size->size;
  if (size != 64 && size != 256 && size != 4096) {
    return Fail(Status::IO_INVALID,
                "connect to the root bus: config space of " + std::to_string(size) + " bytes");
  }
  HostDeviceDescription description{*address, greeting.route, size};
  return std::unique_ptr<RemoteDevice>(
      new RemoteDevice(std::move(connection), std::move(description), std::move(greeting)));
}

RemoteDevice::RemoteDevice(std::shared_ptr<host::Connection> connection,
                           HostDeviceDescription description, host::Greeting greeting)
    : Device(description.address),
      connection_(std::move(connection)),
      description_(std::move(description)),
      node_(std::move(greeting.node)),
      node_vmo_(std::move(greeting.node_vmo)) {}

RemoteDevice::~RemoteDevice() = default;

Result<void> RemoteDevice::ReportStarted(const Result<void>& started) {
  return connection_->ReportStarted(started);
}

Result<DeviceInfo> RemoteDevice::GetDeviceInfo() const {
  UDRV_TRY_ASSIGN(const wire::DeviceInfoReply message, connection_->Call(wire::GetDeviceInfoRequest{}));
  DeviceInfo info;
  info.address = address();
  info.vendor_id = message.vendor_id;
  info.device_id = message.device_id;
  info.subsystem_vendor_id = message.subsystem_vendor_id;
  info.subsystem_id = message.subsystem_id;
  info.class_code = message.class_code;
  info.revision = message.revision;
  info.irq = message.irq;
  info.numa_node = message.numa_node;
  for (uint32_t i = 0; i < message.bar_count && i < std::size(message.bars); ++i) {
    const wire::BarMessage& bar = message.bars[i];
    info.bars.push_back(BarInfo{.index = bar.index,
                                .address = bar.address,
                                .size = bar.size,
                                .is_io = (bar.flags & wire::kBarIo) != 0,
                                .is_64bit = (bar.flags & wire::kBar64) != 0,
                                .is_prefetchable = (bar.flags & wire::kBarPrefetchable) != 0});
  }
  return info;
}

Result<Bar> RemoteDevice::GetBar(uint32_t index) {
  Bar bar;
  UDRV_TRY_ASSIGN(const wire::BarReply reply,
                  connection_->Call(wire::GetBarRequest{.index = index}, {},
                                    [&](int fd, const wire::BarReply& answer) -> Result<void> {
                                      if ((answer.flags & wire::kBarIo) != 0) return {};
                                      UDRV_TRY_ASSIGN(bar.vmo, ReceiveVmo(fd));
                                      return {};
                                    }));
  bar.index = index;
  bar.size = reply.size;
  bar.is_io = (reply.flags & wire::kBarIo) != 0;
  bar.is_64bit = (reply.flags & wire::kBar64) != 0;
  bar.is_prefetchable = (reply.flags & wire::kBarPrefetchable) != 0;
  bar.io_base = reply.io_base;
  if (!bar.is_io) bar.mappable = {{0, bar.size}};
  return bar;
}

Result<void> RemoteDevice::SetBusMastering(bool enable) {
  UDRV_TRY(connection_->Call(wire::SetBusMasteringRequest{.enable = enable ? 1u : 0u}));
  return {};
}

Result<InterruptModes> RemoteDevice::GetInterruptModes() const {
  UDRV_TRY_ASSIGN(const wire::InterruptModesReply reply,
                  connection_->Call(wire::GetInterruptModesRequest{}));
  return InterruptModes{.has_legacy = reply.has_legacy != 0,
                        .msi_count = reply.msi_count,
                        .msix_count = reply.msix_count};
}

Result<void> RemoteDevice::SetInterruptMode(InterruptMode mode, uint32_t count) {
  UDRV_TRY(connection_->Call(
      wire::SetInterruptModeRequest{.mode = static_cast<uint32_t>(mode), .count = count}));
  return {};
}

Result<Interrupt> RemoteDevice::MapInterrupt(uint32_t which) { return connection_->MapInterrupt(which); }

Result<void> RemoteDevice::AckInterrupt(uint32_t which) {
  UDRV_TRY(connection_->Call(wire::AckInterruptRequest{.vector = which}));
  return {};
}

Result<void> RemoteDevice::ResetDevice() {
  UDRV_TRY(connection_->Call(wire::ResetDeviceRequest{}));
  return {};
}

Result<dma::Bti> RemoteDevice::GetBti(uint32_t index, uint64_t dma_limit) {
  return connection_->GetBti(index, dma_limit,
                             address().ToString() + " bti " + std::to_string(index) + " (remote)");
}

Result<uint32_t> RemoteDevice::DoReadConfig(uint16_t offset, size_t width) const {
  UDRV_TRY_ASSIGN(const wire::ReadConfigReply reply,
                  connection_->Call(wire::ReadConfigRequest{.offset = offset,
                                                            .width = static_cast<uint8_t>(width)}));
  return reply.value;
}

Result<void> RemoteDevice::DoWriteConfig(uint16_t offset, size_t width, uint32_t value) {
  UDRV_TRY(connection_->Call(wire::WriteConfigRequest{
      .offset = offset, .width = static_cast<uint8_t>(width), .value = value}));
  return {};
}

}  // namespace udrv::pci
