#include "udrv/bus/root_bus.h"

#include <string>
#include <utility>

namespace udrv::bus {

Result<void> RootBus::AddBus(std::unique_ptr<Bus> bus) {
  if (bus == nullptr) return Fail(Status::INVALID_ARGS, "add a bus: null", "root bus");
  for (const auto& existing : buses_) {
    if (existing->name() == bus->name()) {
      return Fail(Status::ALREADY_EXISTS,
                  "add bus '" + std::string(bus->name()) + "': a bus of that name is there already",
                  "root bus");
    }
  }
  buses_.push_back(std::move(bus));
  return {};
}

std::string_view RootBus::name() const { return "root"; }

Result<std::vector<DeviceNode>> RootBus::Enumerate() const {
  std::vector<DeviceNode> nodes;
  for (const auto& bus : buses_) {
    auto found = bus->Enumerate();
    if (!found) return Wrap(found.error(), "enumerate bus '" + std::string(bus->name()) + "'");
    for (DeviceNode& node : *found) nodes.push_back(std::move(node));
  }
  return nodes;
}

Result<std::unique_ptr<BoundDevice>> RootBus::Open(const DeviceNode& node) {
  for (const auto& bus : buses_) {
    if (bus->name() == node.bus) return bus->Open(node);
  }
  std::string names;
  for (const auto& bus : buses_) names += (names.empty() ? "" : ", ") + std::string(bus->name());
  return Fail(Status::NOT_FOUND,
              "open: no bus '" + node.bus + "' (the root bus has: " +
                  (names.empty() ? "none" : names) + ")",
              node.id);
}

}  // namespace udrv::bus
