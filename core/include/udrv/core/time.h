// Monotonic time in nanoseconds, as zx_time_t: deadlines are absolute
// CLOCK_MONOTONIC instants; kInfinite never expires.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace udrv {

using Time = int64_t;      // ns on CLOCK_MONOTONIC
using Duration = int64_t;  // ns

inline constexpr Time kInfinite = std::numeric_limits<Time>::max();
inline constexpr Time kInfinitePast = std::numeric_limits<Time>::min();

Time Now();

// Now() + d, saturating at kInfinite.
Time DeadlineAfter(Duration d);
inline Time DeadlineAfter(std::chrono::nanoseconds d) { return DeadlineAfter(d.count()); }

// Milliseconds left until `deadline` for poll/epoll_wait: -1 for kInfinite,
// 0 once passed, rounded up so a wait never ends before its deadline.
int TimeoutMsUntil(Time deadline);

}  // namespace udrv
