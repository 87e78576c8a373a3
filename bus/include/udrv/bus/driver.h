// What a driver is to the driver manager: a name, bind rules, and a
// function that starts an instance on a device given a DriverContext.
//
// The context is all a driver sees of the system: its node (properties),
// the protocols of its device (PCI: pci::Device, whose GetBar, MapInterrupt
// and GetBti give the VMOs, interrupts and BTI), and a log. A driver never
// opens sysfs, VFIO or UIO itself. That is what lets the same driver run in
// the manager's process (in-process, now) or in a driver host of its own
// that received its handles over a socket (isolated): only the context is
// built differently.
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

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "udrv/bus/bind_rules.h"
#include "udrv/bus/node.h"
#include "udrv/bus/protocol.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"

namespace udrv::bus {

// One setting a driver declares: its name, type, default and help. Users
// set it as `--driver-option DRIVER.NAME=VALUE` on udrv-driver-manager,
// which checks it against the declaration and passes it to the driver's
// host; the driver reads it from its context (DriverContext::options).
struct DriverOption {
  enum class Type : uint8_t {
    BOOL,      // true or false
    NUMBER,    // an unsigned 64-bit number, decimal or 0x hex
    DURATION,  // a whole number and a unit: 500ms, 2s (ns, us, ms, s, min)
    STRING,    // any text
  };
  std::string name;           // lowercase letters, digits and '-': "idle-timeout"
  Type type = Type::BOOL;
  std::string default_value;  // as a user would type it: "false", "2s"
  std::string help;
};

// "bool", "number", "duration", "string".
std::string_view OptionTypeName(DriverOption::Type type);

// The values of one driver's options: every declared option, at its
// default until Set.
class DriverOptionValues {
 public:
  // A driver that declares no options.
  DriverOptionValues() = default;

  // `options` at their defaults. INVALID_ARGS naming the driver and the
  // option for a declaration that cannot work: a name empty, repeated or
  // not of [a-z0-9-], a default that is not of its type.
  static Result<DriverOptionValues> Defaults(std::string driver, std::span<const DriverOption> options);

  // Sets option `name` from its text. INVALID_ARGS naming the driver and
  // option: no such option (the message lists those there are), or a value
  // that is not of the option's type.
  Result<void> Set(std::string_view name, std::string_view text);

  // The value of option `name`; NOT_FOUND for an option the driver did not
  // declare, WRONG_TYPE for one of another type.
  Result<bool> GetBool(std::string_view name) const;
  Result<uint64_t> GetNumber(std::string_view name) const;
  Result<Duration> GetDuration(std::string_view name) const;
  Result<std::string> GetString(std::string_view name) const;

  // "dma-until-stopped=false idle-timeout=2s": each option's value as typed.
  std::string ToString() const;

 private:
  using Value = std::variant<bool, uint64_t, std::chrono::nanoseconds, std::string>;
  struct Entry {
    DriverOption option;
    Value value;
    std::string text;  // what the value was set from
  };
  const Entry* Find(std::string_view name) const;
  template <typename T>
  Result<T> Get(std::string_view name, DriverOption::Type type) const;

  std::string driver_;
  std::vector<Entry> entries_;
};

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
  // `log` may be empty. Made by whoever runs the driver: a driver manager,
  // which also publishes children — the one in-process, or the one a
  // driver host runs its drivers with (host/hosted_drivers.h).
  DriverContext(std::string driver_name, DeviceNode node, ProtocolSet protocols, Logger log,
                DriverOptionValues options = {}, ChildPublisher publish_child = {});
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

  // The driver's options (Driver::options) as the user set them.
  const DriverOptionValues& options() const { return options_; }

  // Publishes a child node (ChildNode); the manager binds a driver to it
  // once this driver has started, and stops that driver and removes the
  // child before this driver stops. Call it from start, or later from the
  // manager's thread. INVALID_ARGS for an empty or '/'-holding name or an
  // empty bus, ALREADY_EXISTS for a name published before, NOT_SUPPORTED
  // for a context made without a publisher.
  Result<DeviceNode> PublishChild(ChildNode child) const;

 private:
  std::string driver_name_;
  DeviceNode node_;
  ProtocolSet protocols_;
  Logger log_;
  DriverOptionValues options_;
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
  std::vector<DriverOption> options;  // what users may set; may be none
  DriverStart start;
};

// Each driver's option values, by driver name.
using DriverOptionSettings = std::map<std::string, DriverOptionValues, std::less<>>;

// Every driver of `drivers` at its defaults, then `assignments` in order,
// each "DRIVER.OPTION=VALUE" (`--driver-option`; "DRIVER.OPTION" alone sets
// a bool option true). INVALID_ARGS quoting the assignment for one that is
// not of that form, names no driver of `drivers` (listing them), or that
// Set refuses; and for a driver whose declarations Defaults refuses.
Result<DriverOptionSettings> ParseDriverOptions(std::span<const Driver> drivers,
                                                std::span<const std::string> assignments);

// "idle-timeout (duration, default 2s): how long ...".
std::string DescribeDriverOption(const DriverOption& option);

}  // namespace udrv::bus
