// What `busctl match ID` gathers, once, for its text and JSON renderers
// (match.cc): the node, its properties, and each registered driver's verdict.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace udrv::busctl {

struct MatchCandidate {
  std::string driver;
  bool matched = false;  // its bind rules hold
  bool binds = false;    // it is the driver the manager would bind
  std::string rules;     // its bind rules, as the driver manager formats them
  std::string verdict;   // why it binds or does not (bus::ExplainDriverMatch)
};

struct MatchReport {
  std::string id;
  std::string bus;
  std::string parent;  // empty: on the root bus
  std::vector<std::pair<std::string, std::string>> properties;  // key, formatted value
  std::optional<std::string> driver;  // the one that binds, if any
  std::vector<MatchCandidate> candidates;
};

}  // namespace udrv::busctl
