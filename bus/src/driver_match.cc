#include "udrv/bus/driver_match.h"

#include <utility>

namespace udrv::bus {

NodeMatch MatchDrivers(std::span<const Driver> drivers, DeviceNode node) {
  NodeMatch match;
  match.candidates.reserve(drivers.size());
  const DriverMatch* chosen = nullptr;
  for (const Driver& driver : drivers) {
    match.candidates.push_back({driver.name, Evaluate(driver.rules, node.properties)});
  }
  for (const DriverMatch& candidate : match.candidates) {
    // Strictly earlier entries win; on a tie the one registered first stays.
    if (candidate.evaluation.matched &&
        (chosen == nullptr || candidate.evaluation.entry < chosen->evaluation.entry)) {
      chosen = &candidate;
    }
  }
  if (chosen != nullptr) match.driver = chosen->driver;
  match.node = std::move(node);
  return match;
}

std::string ExplainDriverMatch(const NodeMatch& match, const DriverMatch& candidate) {
  const BindEvaluation& evaluation = candidate.evaluation;
  if (!evaluation.matched) return "no match: " + evaluation.Explain();
  const std::string matches = evaluation.Explain();
  if (match.driver == candidate.driver) return matches + ", binds";
  const DriverMatch* winner = nullptr;
  for (const DriverMatch& other : match.candidates) {
    if (other.driver == match.driver) winner = &other;
  }
  const bool more_specific = winner != nullptr && winner->evaluation.entry < evaluation.entry;
  return matches + ", but " + match.driver.value_or("no driver") + " binds (" +
         (more_specific ? "it matches an earlier, more specific entry" : "registered first") + ")";
}

}  // namespace udrv::bus
