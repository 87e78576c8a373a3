// Isolated drivers: a PCI device served by the root bus (a privileged
// daemon that owns the VFIO fds) to a driver running in a driver host, an
// unprivileged process of its own uid, over one Unix socket
// (SOCK_SEQPACKET).
//
//   daemon: DeviceServer(device)  <== socket ==>  host: RemoteDevice
//
// RemoteDevice is a pci::Device: the same driver code runs in-process and
// in a host. What crosses, and what the host can do with it:
//   - config space: reads; writes past the header (the daemon refuses
//     writes below 0x40 itself, whatever the host's library says);
//   - BARs: a VMO over the BAR's sysfs resource file, which maps that BAR
//     and nothing else (never the VFIO device fd, which would give the
//     whole device). A BAR holding the MSI-X table or PBA is refused: the
//     host could rewrite where the device's interrupts go;
//   - interrupts: the MSI/MSI-X eventfd (acks of legacy INTx go through the
//     daemon);
//   - DMA: a remote Bti (dma/bti.h). The host sends the VMO it wants pinned;
//     the daemon accepts only shared memory (memfd, tmpfs, hugetlbfs) the
//     host opened for the access the pin needs, seals it against shrinking,
//     and pins it through its own IOMMU domain. The host never holds the
//     container or the group, so its device reaches only what it shared.
//   - its node: a sealed, read-only VMO holding the node's text
//     (bus::SerializeNode), from which the host builds its DriverContext.
// Handles go with the rights below (Fuchsia's narrowing: nothing a driver
// could pass on, no signalling a hardware interrupt).
//
// What a host can make the root bus spend is bounded (HostBudget): pinned
// memory and pins, one BTI per index, one mapping per interrupt vector, and
// the time a reply may wait for the host to read it.
//
// A host that goes away (or breaks the protocol) ends Serve; Reclaim then
// quarantines its pins, quiesces the device (interrupts off, bus mastering
// off, reset) and only then frees the pins: a device still DMAing when its
// host died writes into memory that stays pinned until it is quiet.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/bus/node.h"
#include "udrv/core/result.h"
#include "udrv/core/rights.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/pci/device.h"

namespace udrv::pci {

// The rights a driver host gets with each handle.
inline constexpr Rights kHostBarRights =
    kRightRead | kRightWrite | kRightMap | kRightGetProperty | kRightInspect | kRightWait;
inline constexpr Rights kHostInterruptRights =
    kRightRead | kRightWrite | kRightWait | kRightInspect;
inline constexpr Rights kHostNodeRights = kRightRead | kRightMap | kRightGetProperty | kRightInspect;

// What one driver host may make the root bus spend on its behalf.
struct HostBudget {
  // Memory pinned for the host's device, quarantined pins included (they
  // stay mapped until released). Every pinned byte counts whether or not
  // the host ever touched the page: the root bus populates the pages of a
  // pin itself (MAP_POPULATE), so a sparse memfd would otherwise make the
  // root bus allocate memory the host never paid for. Charging the whole
  // range, rather than refusing unpopulated pages, needs no racy mincore
  // check and still holds after the host punches holes into its file.
  uint64_t max_pinned_bytes = uint64_t{256} << 20;
  // Pins, quarantined ones included: each is an IOMMU mapping of the
  // container's (type1's dma_entry_limit is 65535 for all of them).
  uint64_t max_pins = 4096;
  // Processes and threads of the host's uid (RLIMIT_NPROC).
  uint32_t max_processes = 64;

  // "pinned memory 256 MiB, 4096 pins, 64 processes and threads"
  std::string ToString() const;
};

// What the root bus tells a host about its device at the start.
struct HostDeviceDescription {
  Address address;
  std::string route;  // the daemon's route ("vfio")
  size_t config_size = 0;
};

struct DeviceServerOptions {
  // Where the device's sysfs directory is (its BARs' resource files).
  std::string sysfs_root = "/sys";
  // Called (on Serve's thread) when the host reports whether its driver
  // started: once, with its first report (later ones are refused,
  // BAD_STATE). The error's text is the host's, escaped.
  std::function<void(const Result<void>& started)> on_started;
  // Lines about what the host asked for that was refused (may be empty).
  // Text the host chose (its STARTED message, the names of the VMOs it
  // sends) reaches the lines only escaped (udrv::Printable).
  bus::Logger log;
  HostBudget budget;
  // How long a reply may wait for the host to read: a host that stops
  // reading is disconnected (Serve returns TIMED_OUT), not left to park
  // the serving thread.
  Duration reply_timeout = 5'000'000'000;
  // Readable once the host has ended (its pidfd), or -1. Serve ends then,
  // even while something else (a child the host forked) keeps the socket.
  int host_ended_fd = -1;
};

// The daemon's side of one host's connection. Not thread safe: Serve runs
// on one thread, Reclaim after it returned.
class DeviceServer {
 public:
  // `device` (the bus's, opened over VFIO) and `node` are what the host is
  // given; `device` must outlive the server.
  DeviceServer(Device& device, bus::DeviceNode node, UniqueFd socket, DeviceServerOptions options);
  ~DeviceServer();
  DeviceServer(const DeviceServer&) = delete;
  DeviceServer& operator=(const DeviceServer&) = delete;

  // Answers the host's requests until it closes the socket or ends
  // (host_ended_fd; success), sends something malformed (IO_INVALID) or
  // does not read a reply within reply_timeout (TIMED_OUT); then the
  // connection is dropped. Refused requests are answered with their error
  // and do not end it.
  Result<void> Serve();

  // After Serve: quarantines the pins the host left, quiesces the device
  // (interrupt mode DISABLED, bus mastering off, reset where it has a
  // method), then releases the quarantine. Every step is reported; the
  // first, "pins quarantined", says how many the host left.
  bus::ReleaseReport Reclaim();

  // Pins made for the host and not unpinned (quarantined ones included).
  size_t live_pins() const;

 private:
  struct Session;
  std::unique_ptr<Session> session_;
};

// The host's side: the device it was given. Thread safe: one request at a
// time crosses the socket.
class RemoteDevice final : public Device {
 public:
  // Greets the daemon on `socket` and receives the node and the device's
  // description. PROTOCOL_NOT_SUPPORTED for another protocol version.
  static Result<std::unique_ptr<RemoteDevice>> Connect(UniqueFd socket);
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
  class Connection;
  class Pinner;
  RemoteDevice(std::shared_ptr<Connection> connection, HostDeviceDescription description,
               bus::DeviceNode node, Vmo node_vmo);

  std::shared_ptr<Connection> connection_;
  HostDeviceDescription description_;
  bus::DeviceNode node_;
  Vmo node_vmo_;
};

}  // namespace udrv::pci
