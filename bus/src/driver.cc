#include "udrv/bus/driver.h"

namespace udrv::bus {

DriverContext::DriverContext(std::string driver_name, DeviceNode node, ProtocolSet protocols,
                             Logger log, DriverOptionValues options, ChildPublisher publish_child)
    : driver_name_(std::move(driver_name)),
      node_(std::move(node)),
      protocols_(std::move(protocols)),
      log_(std::move(log)),
      options_(std::move(options)),
      publish_child_(std::move(publish_child)) {}

void DriverContext::Log(std::string_view line) const {
  if (!log_) return;
  log_(driver_name_ + " " + node_.id + ": " + std::string(line));
}

Result<DeviceNode> DriverContext::PublishChild(ChildNode child) const {
  const std::string object = node_.id + "/" + child.name;
  if (!publish_child_) {
    return Fail(Status::NOT_SUPPORTED,
                "publish a child: " + driver_name_ + " runs in a context made without a publisher",
                object);
  }
  if (child.name.empty() || child.name.find('/') != std::string::npos) {
    return Fail(Status::INVALID_ARGS,
                "publish a child: its name must be one path element, not '" + child.name + "'",
                object);
  }
  if (child.bus.empty()) return Fail(Status::INVALID_ARGS, "publish a child: no bus", object);
  return publish_child_(std::move(child));
}

}  // namespace udrv::bus
