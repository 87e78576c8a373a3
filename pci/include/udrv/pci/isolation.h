// Isolated PCI drivers: a PCI device served by the root bus (a privileged
// daemon that owns the VFIO fds) to a driver running in a driver host, an
// unprivileged process of its own uid (host/server.h, host/connection.h).
//
//   daemon: host::HostServer(pci service)  <== socket ==>  host: RemoteDevice
//
// RemoteDevice is a pci::Device: the same driver code runs in-process and
// in a host. What the PCI service adds to the generic host protocol, and
// what the host can do with it:
//   - config space: reads; writes past the header, except the MSI, MSI-X
//     and power management registers (the service refuses them itself,
//     whatever the host's library says);
//   - BARs: a VMO whose fd reaches that BAR and nothing else — the one the
//     route made when the route says so (FdReach::REGION_ONLY), else the BAR's
//     sysfs resource file (never the VFIO device fd, which would give the
//     whole device). A BAR holding the MSI-X table or PBA is refused: the
//     host could rewrite where the device's interrupts go;
//   - interrupts: MSI or MSI-X (legacy INTx is unmasked through the
//     daemon's VFIO fd: refused);
//   - quiescing after a host: interrupts off, bus mastering off (read
//     back), reset where the device has a method.
#pragma once

#include <memory>
#include <string>

#include "udrv/bus/node.h"
#include "udrv/core/result.h"
#include "udrv/core/rights.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"
#include "udrv/host/connection.h"
#include "udrv/host/server.h"
#include "udrv/pci/device.h"
#include "udrv/sysfs/paths.h"

namespace udrv::pci {

// The rights a driver host gets with a BAR.
inline constexpr Rights kHostBarRights =
    kRightRead | kRightWrite | kRightMap | kRightGetProperty | kRightInspect | kRightWait;

struct HostServiceOptions {
  // Where the device's sysfs directory is (its BARs' resource files).
  sysfs::LinuxPaths paths;
};

// The PCI service for `device` (the bus's, opened over VFIO), which must
// outlive it.
std::unique_ptr<host::HostService> MakeHostService(Device& device, HostServiceOptions options = {});

// What the root bus tells a host about its device at the start.
struct HostDeviceDescription {
  Address address;
  std::string route;  // the daemon's route ("vfio")
  size_t config_size = 0;
};

// The host's side: the device it was given. Thread safe: one request at a
// time crosses the socket.
class RemoteDevice final : public Device {
 public:
  // Greets the daemon on `socket` and receives the node and the device's
  // description.
  static Result<std::unique_ptr<RemoteDevice>> Connect(UniqueFd socket);
  // The same over a connection that greeted the root bus already (a
  // driver host that picks the bus's proxy by the greeting's node).
  static Result<std::unique_ptr<RemoteDevice>> Create(std::shared_ptr<host::Connection> connection,
                                                      host::Greeting greeting);
  ~RemoteDevice() override;

  const bus::DeviceNode& node() const { return node_; }
  // The read-only VMO the node came in.
  const Vmo& node_vmo() const { return node_vmo_; }
  const HostDeviceDescription& description() const { return description_; }

  // Tells the daemon whether the driver started (its log names the error).
  Result<void> ReportStarted(const Result<void>& started);

  std::string_view route() const override { return description_.route; }
  Result<DeviceInfo> GetDeviceInfo() const override;
  Result<Bar> GetBar(uint32_t index) override;
  Result<void> SetBusMastering(bool enable) override;
  Result<InterruptModes> GetInterruptModes() const override;
  Result<void> SetInterruptMode(InterruptMode mode, uint32_t count) override;
  Result<Interrupt> MapInterrupt(uint32_t which) override;
  Result<void> AckInterrupt(uint32_t which) override;
  Result<void> ResetDevice() override;
  Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit = dma::kNoDmaLimit) override;

 protected:
  Result<uint32_t> DoReadConfig(uint16_t offset, size_t width) const override;
  Result<void> DoWriteConfig(uint16_t offset, size_t width, uint32_t value) override;
  size_t ConfigSize() const override { return description_.config_size; }

 private:
  RemoteDevice(std::shared_ptr<host::Connection> connection, HostDeviceDescription description,
               host::Greeting greeting);

  std::shared_ptr<host::Connection> connection_;
  HostDeviceDescription description_;
  bus::DeviceNode node_;
  Vmo node_vmo_;
};

}  // namespace udrv::pci
