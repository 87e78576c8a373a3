// The Bus interface every root bus implements (PCI now; the device tree,
// ACPI and USB later), and the device a bus opens for a driver.
//
// A bus enumerates device nodes (node.h) and opens one for a driver: it
// takes the device from the kernel (PCI: binds vfio-pci and opens the VFIO
// device) and returns a BoundDevice, which offers the driver its protocols
// (protocol.h) and, when the driver is done, gives the device back: quiet
// (interrupts off, no DMA), reset where the device can be, and back to its
// kernel driver when asked. The driver never sees the bus: only the
// protocols, through its DriverContext (driver.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "udrv/bus/node.h"
#include "udrv/bus/protocol.h"
#include "udrv/core/result.h"

namespace udrv::bus {

struct ReleaseOptions {
  // Put back the kernel driver that held the device before it was opened
  // (PCI: pci::RestoreDriver). Otherwise the device stays with the
  // userspace route's driver (vfio-pci), quiet, ready to be opened again.
  bool restore_kernel_driver = false;
};

// One step of giving a device back.
struct ReleaseStep {
  enum class Outcome : uint8_t {
    DONE,
    NOT_SUPPORTED,  // the device cannot do it (a reset it has no method for); not a failure
    SKIPPED,        // not asked for (the kernel driver without restore_kernel_driver)
    FAILED,
  };
  std::string name;    // "interrupts off", "bus mastering off", "reset", ...
  Outcome outcome = Outcome::DONE;
  std::string detail;  // what was seen, or the error's text
};
std::string_view OutcomeName(ReleaseStep::Outcome outcome);
// A step DONE with `done_detail`, or FAILED with the error's text.
ReleaseStep StepOf(std::string name, const Result<void>& result, std::string done_detail = {});

struct ReleaseReport {
  std::vector<ReleaseStep> steps;

  // No step FAILED.
  bool ok() const;
  // "interrupts off: done; bus mastering off: done (command 0x0003); reset:
  // not supported (...)".
  std::string ToString() const;
};

// A device a bus opened for one driver. Owns the device: destroying it
// without Release releases it with the default options.
class BoundDevice {
 public:
  virtual ~BoundDevice() = default;
  BoundDevice(const BoundDevice&) = delete;
  BoundDevice& operator=(const BoundDevice&) = delete;

  const DeviceNode& node() const { return node_; }

  // What the driver may use; the objects stay valid until Release.
  virtual ProtocolSet protocols() = 0;

  // How the bus holds the device, for logs: "bound to vfio-pci (was: no
  // driver), opened over vfio".
  virtual std::string Describe() const = 0;

  // Quiesces the device and gives it back; every step is tried and
  // reported, a failed one does not stop the others. The driver must be
  // stopped and its mappings gone first. BAD_STATE when released already.
  virtual Result<ReleaseReport> Release(const ReleaseOptions& options) = 0;

 protected:
  explicit BoundDevice(DeviceNode node) : node_(std::move(node)) {}

 private:
  DeviceNode node_;
};

class Bus {
 public:
  virtual ~Bus() = default;

  // "pci": the `bus` of every node it enumerates.
  virtual std::string_view name() const = 0;

  // Every device on the bus, parents before their children.
  virtual Result<std::vector<DeviceNode>> Enumerate() const = 0;

  // Takes the device of `node` for a driver. INVALID_ARGS for a node of
  // another bus; the bus's own errors otherwise (PCI: the bind or the open
  // that failed, with the device put back as it was).
  virtual Result<std::unique_ptr<BoundDevice>> Open(const DeviceNode& node) = 0;
};

}  // namespace udrv::bus
