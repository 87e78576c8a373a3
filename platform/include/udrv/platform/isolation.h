// Isolated platform drivers: a device-tree device served by the root bus
// to a driver in a driver host (host/server.h, host/connection.h), as PCI's
// (pci/isolation.h).
//
//   daemon: host::HostServer(platform service)  <== socket ==>  host: RemoteDevice
//
// What the platform service adds to the generic host protocol:
//   - GetMmio: the region's VMO, over the uio route only: its fd is the
//     device's /dev/uioN, which reaches this device's regions and interrupt
//     and nothing else (FdReach::DEVICE_ONLY). /dev/mem reaches all memory
//     and is never sent: a devmem device is refused a host.
//   - interrupts: the root bus takes the device's interrupt and relays it
//     to the host through an eventfd; it stays masked at its controller
//     until the host acks it (it may be level triggered).
//   - no Bti: without an IOMMU a device's DMA reaches all memory, so a
//     host is given none. A host still programs its device's registers: a
//     device that can master DMA is only as contained as its driver.
//   - quiescing after a host: the interrupt masked, the relay stopped.
#pragma once

#include <memory>

#include "udrv/bus/driver.h"
#include "udrv/bus/node.h"
#include "udrv/core/rights.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"
#include "udrv/host/connection.h"
#include "udrv/host/runner.h"
#include "udrv/host/server.h"
#include "udrv/platform/device.h"

namespace udrv::platform {

// The rights a driver host gets with a region.
inline constexpr Rights kHostMmioRights =
    kRightRead | kRightWrite | kRightMap | kRightGetProperty | kRightInspect;

// The service factory for the isolated runner (host/runner.h): refuses a
// device that is not the platform bus's, or one opened over devmem.
host::ServiceFactory MakeServiceFactory();

// The host's side: the device it was given, over the connection that
// greeted the root bus. Thread safe: one request at a time crosses it.
class RemoteDevice final : public Device {
 public:
  // From the greeting: IO_INVALID for a node of another bus.
  static Result<std::unique_ptr<RemoteDevice>> Create(std::shared_ptr<host::Connection> connection,
                                                      host::Greeting greeting);
  ~RemoteDevice() override;

  using Device::GetInterrupt;
  using Device::GetMmio;
  const bus::DeviceNode& GetNode() const override { return node_; }
  std::string_view route() const override { return "remote"; }
  Result<Mmio> GetMmio(uint32_t index) override;
  Result<Interrupt> GetInterrupt(uint32_t index) override;
  Result<dma::Bti> GetBti() override;

 private:
  RemoteDevice(std::shared_ptr<host::Connection> connection, bus::DeviceNode node)
      : connection_(std::move(connection)), node_(std::move(node)) {}

  std::shared_ptr<host::Connection> connection_;
  bus::DeviceNode node_;
};

}  // namespace udrv::platform
