// What a driver is to the driver manager: a name, bind rules, and a
// function that starts an instance on a device given a DriverContext.
//
// The context is all a driver sees of the system: its node (properties),
// the protocols of its device (PCI: pci::Device, whose GetBar, MapInterrupt
// and GetBti give the VMOs, interrupts and BTI), and a log. A driver never
// opens sysfs, VFIO or UIO itself. That is what lets the same driver run in
// the manager's process (in-process, now) or in a driver host of its own
// that received its handles over a socket (isolated, to come): only the
// context is built differently.
//
//   bus::Driver MyDriver() {
//     return {.name = "mydev",
//             .rules = {bus::BindRule::Equal("pci.vendor", 0x1234),
//                       bus::BindRule::Equal("pci.device", 0x5678)},
//             .start = [](bus::DriverContext& context)
//                 -> Result<std::unique_ptr<bus::DriverInstance>> {
//               auto device = context.GetProtocol<pci::Device>();
//               if (!device) return std::unexpected(device.error());
//               ...  // map BAR 0, set up interrupts and DMA
//               return std::make_unique<MyInstance>(...);
//             }};
//   }
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "udrv/bus/bind_rules.h"
#include "udrv/bus/node.h"
#include "udrv/bus/protocol.h"
#include "udrv/core/result.h"

namespace udrv::bus {

// Receives one line of a log; may be empty (the lines go nowhere).
using Logger = std::function<void(std::string_view line)>;

// A device behind the one a driver drives, which the driver publishes for
// other drivers to bind: a USB host controller's devices, a NIC's network
// port. The driver manager matches it like any node and starts the driver
// that binds it on `protocols`.
struct ChildNode {
  // Unique among the parent's children, no '/': the child's id is the
  // parent's id, '/', the name ("pci/0000:00:04.0/port0").
  std::string name;
  // The bus its protocols belong to ("usb", "net"): the node's `bus`.
  std::string bus;
  Properties properties;
  // Objects the publishing driver owns: they must stay valid until its
  // instance is destroyed. The manager stops the child's driver first.
  ProtocolSet protocols;
};

// Publishes a child of the context's node: returns its node, or the reason
// it was refused. Set by whoever runs the driver (the driver manager).
using ChildPublisher = std::function<Result<DeviceNode>(ChildNode child)>;

class DriverContext {
 public:
  // `log` may be empty. Made by whoever runs the driver: the driver
  // manager in-process, which also publishes children; a driver host has
  // no `publish_child` (yet), so its drivers cannot publish.
  DriverContext(std::string driver_name, DeviceNode node, ProtocolSet protocols, Logger log,
                ChildPublisher publish_child = {});
  DriverContext(const DriverContext&) = delete;
  DriverContext& operator=(const DriverContext&) = delete;

  const std::string& driver_name() const { return driver_name_; }
  const DeviceNode& node() const { return node_; }

  // The device's protocol object; valid until the driver is stopped.
  // Errors as ProtocolSet::Get, naming the node.
  template <typename Protocol>
  Result<Protocol*> GetProtocol() const {
    auto object = protocols_.Get<Protocol>();
    if (!object) return std::unexpected(Error{object.error().status, object.error().what, node_.id});
    return *object;
  }

  // One line to the log, as "edu pci/0000:00:03.0: LINE".
  void Log(std::string_view line) const;

  // Publishes a child node (ChildNode); the manager binds a driver to it
  // once this driver has started, and stops that driver and removes the
  // child before this driver stops. Call it from start, or later from the
  // manager's thread. INVALID_ARGS for an empty or '/'-holding name or an
  // empty bus, ALREADY_EXISTS for a name published before, NOT_SUPPORTED
  // where the runner publishes nothing (a driver host).
  Result<DeviceNode> PublishChild(ChildNode child) const;

 private:
  std::string driver_name_;
  DeviceNode node_;
  ProtocolSet protocols_;
  Logger log_;
  ChildPublisher publish_child_;
};

// A started driver. Destroying it must leave its device quiet (no DMA, no
// interrupts armed) and drop every mapping of it: the device is released
// right after.
class DriverInstance {
 public:
  virtual ~DriverInstance() = default;
  // Stops the driver. The manager destroys the instance and releases the
  // device whatever Stop returns; an error is reported.
  virtual Result<void> Stop() = 0;
};

// Starts an instance on the device of `context`, which outlives it. A
// failed start leaves nothing running; the manager releases the device.
using DriverStart = std::function<Result<std::unique_ptr<DriverInstance>>(DriverContext& context)>;

struct Driver {
  std::string name;              // unique among the registered drivers
  std::vector<BindRule> rules;   // all must hold (bind_rules.h)
  DriverStart start;
};

}  // namespace udrv::bus
