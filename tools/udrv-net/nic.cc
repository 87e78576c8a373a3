#include "nic.h"

#include <utility>

#include "udrv/bus/driver_match.h"

namespace udrv_net {

using udrv::Fail;
using udrv::Result;
using udrv::Status;
using udrv::Wrap;
namespace bus = udrv::bus;
namespace net = udrv::net;
namespace pci = udrv::pci;

Result<std::unique_ptr<Nic>> Nic::Open(pci::PciBus& pci_bus, const pci::Address& address,
                                       const std::vector<bus::Driver>& drivers,
                                       const bus::DriverOptionSettings& options, bus::Logger log) {
  const std::string name = address.ToString();
  auto nodes = pci_bus.Enumerate();
  if (!nodes) return Wrap(nodes.error(), "list PCI functions");
  const bus::DeviceNode* node = nullptr;
  for (const bus::DeviceNode& candidate : *nodes) {
    if (candidate.properties.FindString(pci::kPropAddress) == name) node = &candidate;
  }
  if (node == nullptr) {
    return Fail(Status::NOT_FOUND, "no such PCI function (sysfs does not list it)", name);
  }

  // Nothing is bound for a function no driver wants.
  const bus::NodeMatch match = bus::MatchDrivers(drivers, *node);
  if (!match.driver) {
    std::string why;
    for (const bus::DriverMatch& candidate : match.candidates) {
      why += "; " + candidate.driver + ": " + bus::ExplainDriverMatch(match, candidate);
    }
    return Fail(Status::NOT_SUPPORTED, "no udrv driver matches it" + why, name);
  }
  const bus::Driver* driver = nullptr;
  for (const bus::Driver& candidate : drivers) {
    if (candidate.name == *match.driver) driver = &candidate;
  }

  std::unique_ptr<Nic> nic(new Nic());
  nic->log_ = log;
  nic->address_ = name;
  nic->driver_name_ = driver->name;
  auto bound = pci_bus.Open(*node);
  if (!bound) return Wrap(bound.error(), "take the function for " + driver->name);
  nic->bound_ = std::move(*bound);
  if (log) log(name + ": " + nic->bound_->Describe());

  Nic* const self = nic.get();
  auto publish = [self](bus::ChildNode child) -> Result<bus::DeviceNode> {
    const std::string parent = self->bound_->node().id;
    if (self->child_) {
      return Fail(Status::NOT_SUPPORTED,
                  "udrv-net takes one net node per NIC; '" + self->child_->name + "' came first",
                  parent + "/" + child.name);
    }
    bus::DeviceNode published{.bus = child.bus,
                              .id = parent + "/" + child.name,
                              .parent = parent,
                              .properties = child.properties};
    self->child_ = std::move(child);
    return published;
  };
  const auto values = options.find(driver->name);
  nic->context_ = std::make_unique<bus::DriverContext>(
      driver->name, nic->bound_->node(), nic->bound_->protocols(), log,
      values != options.end() ? values->second : bus::DriverOptionValues(), publish);
  auto instance = driver->start(*nic->context_);
  if (!instance) {
    const udrv::Error error = instance.error();
    (void)nic->Close();
    return Wrap(error, "start " + driver->name);
  }
  nic->instance_ = std::move(*instance);

  if (!nic->child_ || nic->child_->bus != net::kBusName) {
    (void)nic->Close();
    return Fail(Status::NOT_SUPPORTED,
                driver->name + " published no node of bus '" + std::string(net::kBusName) +
                    "': it is not a NIC driver",
                name);
  }
  auto device = nic->child_->protocols.Get<net::Device>();
  if (!device) {
    const udrv::Error error = device.error();
    (void)nic->Close();
    return Wrap(error, "the net node " + nic->child_->name);
  }
  nic->device_ = *device;
  return nic;
}

Nic::~Nic() {
  if (!bound_) return;
  if (auto closed = Close(); !closed && log_) log_(address_ + ": close: " + closed.error().ToString());
}

Result<void> Nic::Close() {
  Result<void> outcome;
  device_ = nullptr;
  if (instance_) {
    auto stopped = instance_->Stop();
    if (!stopped) outcome = Wrap(stopped.error(), "stop " + driver_name_);
    instance_.reset();
  }
  child_.reset();
  context_.reset();
  if (bound_) {
    auto released = bound_->Release(bus::ReleaseOptions{.restore_kernel_driver = true});
    if (!released) {
      if (outcome) outcome = Wrap(released.error(), "release the function");
    } else {
      if (log_) log_(address_ + ": released: " + released->ToString());
      if (!released->ok() && outcome) {
        outcome = Fail(Status::IO, "release the function: " + released->ToString(), address_);
      }
    }
    bound_.reset();
  }
  return outcome;
}

}  // namespace udrv_net
