#include "udrv/bus/driver_match.h"

#include <utility>

namespace udrv::bus {

NodeMatch MatchDrivers(std::span<const Driver> drivers, DeviceNode node) {
  NodeMatch match;
  match.candidates.reserve(drivers.size());
  for (const Driver& driver : drivers) {
    DriverMatch candidate{driver.name, Evaluate(driver.rules, node.properties)};
    if (candidate.evaluation.matched && !match.driver) match.driver = driver.name;
    match.candidates.push_back(std::move(candidate));
  }
  match.node = std::move(node);
  return match;
}

std::string ExplainDriverMatch(const NodeMatch& match, const DriverMatch& candidate) {
  if (!candidate.evaluation.matched) return "no match: " + candidate.evaluation.Explain();
  if (match.driver == candidate.driver) return "matches, binds";
  return "matches, but " + match.driver.value_or("no driver") + " binds (registered first)";
}

}  // namespace udrv::bus
