#include "udrv/core/time.h"

#include <time.h>

namespace udrv {

Time Now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Time>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Time DeadlineAfter(Duration d) {
  const Time now = Now();
  if (d >= kInfinite - now) return kInfinite;
  return now + d;
}

int TimeoutMsUntil(Time deadline) {
  if (deadline == kInfinite) return -1;
  const Time now = Now();
  if (deadline <= now) return 0;  // also keeps kInfinitePast from overflowing below
  const Time left = deadline - now;
  const Time ms = (left + 999'999) / 1'000'000;
  return ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
}

}  // namespace udrv
