// The root bus: every bus of the machine behind one Bus. It enumerates each
// bus in the order they were added and opens a node through the bus named
// in it. The driver manager works on it and never learns which buses exist;
// a bus never includes another.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "udrv/bus/bus.h"

namespace udrv::bus {

class RootBus final : public Bus {
 public:
  RootBus() = default;
  RootBus(RootBus&&) noexcept = default;
  RootBus& operator=(RootBus&&) noexcept = default;

  // INVALID_ARGS for a null bus; ALREADY_EXISTS when a bus of that name
  // was added already (node ids and Open go by the bus's name).
  Result<void> AddBus(std::unique_ptr<Bus> bus);

  // "root".
  std::string_view name() const override;
  // The nodes of every bus, bus after bus; a bus that fails to enumerate
  // fails the whole, its error naming the bus.
  Result<std::vector<DeviceNode>> Enumerate() const override;
  // Through the bus the node names; NOT_FOUND when there is none of that name.
  Result<std::unique_ptr<BoundDevice>> Open(const DeviceNode& node) override;

 private:
  std::vector<std::unique_ptr<Bus>> buses_;
};

}  // namespace udrv::bus
