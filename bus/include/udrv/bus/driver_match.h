// Which registered driver binds a node, and why each other driver does not:
// the one matching both `udrv-driver-manager --list` and `busctl match ID`
// print, so that the two cannot disagree.
//
//   bus::NodeMatch match = bus::MatchDrivers(drivers::AllDrivers(), node);
//   for (const bus::DriverMatch& candidate : match.candidates) {
//     print(candidate.driver + ": " + bus::ExplainDriverMatch(match, candidate));
//   }
//
// Which driver binds, among those whose rules all hold:
// 1. the one matching the earliest entry of a list-valued property
//    (BindEvaluation::entry): a device tree `compatible` list goes from the
//    most specific entry to the most generic, and as in Linux's
//    of_match_device the driver for "acme,uart2" beats the one for
//    "ns16550a" whatever their order;
// 2. then the FIRST REGISTERED. Registration order is the priority: drivers
//    for specific devices (vendor and device ID) come before drivers for
//    classes of devices. A count of rules would not rank them: a class
//    driver's three rules (class, subclass, interface) would outweigh a
//    device driver's two.
// Every driver is still evaluated, so the match shows who else matched,
// which entries were tried, and why the others did not.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "udrv/bus/bind_rules.h"
#include "udrv/bus/driver.h"
#include "udrv/bus/node.h"

namespace udrv::bus {

// One registered driver's verdict on a node.
struct DriverMatch {
  std::string driver;
  BindEvaluation evaluation;
};

struct NodeMatch {
  DeviceNode node;
  // The driver that binds the node, if one matched.
  std::optional<std::string> driver;
  // Every driver, in registration order.
  std::vector<DriverMatch> candidates;
};

// Evaluates every driver of `drivers` (in registration order) on `node`.
NodeMatch MatchDrivers(std::span<const Driver> drivers, DeviceNode node);

// The verdict of one candidate of `match`, as a line: "matches, binds",
// "matches, but edu binds (registered first)", "matches fdt.compatible ==
// \"ns16550a\": entry 1 of [...], but acme binds (it matches an earlier,
// more specific entry)", or "no match: " and the rules that failed
// ("pci.vendor == 0x1234: it is 0x8086; ...").
std::string ExplainDriverMatch(const NodeMatch& match, const DriverMatch& candidate);

}  // namespace udrv::bus
