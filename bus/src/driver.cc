#include "udrv/bus/driver.h"

namespace udrv::bus {

DriverContext::DriverContext(std::string driver_name, DeviceNode node, ProtocolSet protocols,
                             Logger log)
    : driver_name_(std::move(driver_name)),
      node_(std::move(node)),
      protocols_(std::move(protocols)),
      log_(std::move(log)) {}

void DriverContext::Log(std::string_view line) const {
  if (!log_) return;
  log_(driver_name_ + " " + node_.id + ": " + std::string(line));
}

}  // namespace udrv::bus
