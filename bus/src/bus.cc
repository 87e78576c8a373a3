#include "udrv/bus/bus.h"

#include <algorithm>

namespace udrv::bus {

ReleaseStep StepOf(std::string name, const Result<void>& result, std::string done_detail) {
  if (result) return {std::move(name), ReleaseStep::Outcome::DONE, std::move(done_detail)};
  return {std::move(name), ReleaseStep::Outcome::FAILED, result.error().ToString()};
}

std::string_view OutcomeName(ReleaseStep::Outcome outcome) {
  switch (outcome) {
    case ReleaseStep::Outcome::DONE:
      return "done";
    case ReleaseStep::Outcome::NOT_SUPPORTED:
      return "not supported";
    case ReleaseStep::Outcome::SKIPPED:
      return "skipped";
    case ReleaseStep::Outcome::FAILED:
      return "FAILED";
  }
  return "unknown";
}

bool ReleaseReport::ok() const {
  return std::none_of(steps.begin(), steps.end(), [](const ReleaseStep& step) {
    return step.outcome == ReleaseStep::Outcome::FAILED;
  });
}

std::string ReleaseReport::ToString() const {
  std::string text;
  for (const ReleaseStep& step : steps) {
    text += (text.empty() ? "" : "; ") + step.name + ": " + std::string(OutcomeName(step.outcome));
    if (!step.detail.empty()) text += " (" + step.detail + ")";
  }
  return text;
}

}  // namespace udrv::bus
