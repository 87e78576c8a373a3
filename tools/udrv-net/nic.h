// A NIC as udrv-net drives it: the PCI function taken from the kernel
// (vfio-pci or uio_pci_generic, through the PCI root bus), the first of
// udrv's drivers whose bind rules match it started on it, and the net
// child node that driver publishes (a net::Device). Closing stops the
// driver and gives the function back to the kernel driver it had.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/core/result.h"
#include "udrv/net/device.h"
#include "udrv/pci/address.h"
#include "udrv/pci/pci_bus.h"

namespace udrv_net {

class Nic {
 public:
  // Opens `address` on `pci_bus` (which outlives the Nic) for the first
  // driver of `drivers` that matches it, with `options` (each driver's
  // values, bus::ParseDriverOptions), and starts it. NOT_FOUND for a
  // function the bus does not list; NOT_SUPPORTED, before anything is
  // bound, for one no driver matches (saying why each did not); the bind,
  // open and start errors otherwise, the function given back first;
  // NOT_SUPPORTED when the driver published no net node.
  static udrv::Result<std::unique_ptr<Nic>> Open(udrv::pci::PciBus& pci_bus,
                                                 const udrv::pci::Address& address,
                                                 const std::vector<udrv::bus::Driver>& drivers,
                                                 const udrv::bus::DriverOptionSettings& options,
                                                 udrv::bus::Logger log);
  // Closes it if Close was not called (errors go to the log).
  ~Nic();
  Nic(const Nic&) = delete;
  Nic& operator=(const Nic&) = delete;

  udrv::net::Device& device() { return *device_; }
  const std::string& driver_name() const { return driver_name_; }
  const std::string& address() const { return address_; }

  // Stops the driver, then releases the function (interrupts off, bus
  // mastering off, reset, the previous kernel driver back). Every step is
  // tried; the first failure is returned.
  udrv::Result<void> Close();

 private:
  Nic() = default;

  udrv::bus::Logger log_;
  std::string address_;
  std::string driver_name_;
  std::unique_ptr<udrv::bus::BoundDevice> bound_;
  std::unique_ptr<udrv::bus::DriverContext> context_;
  std::unique_ptr<udrv::bus::DriverInstance> instance_;
  std::optional<udrv::bus::ChildNode> child_;
  udrv::net::Device* device_ = nullptr;
};

}  // namespace udrv_net
