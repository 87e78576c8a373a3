#include "udrv/net/traffic.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <span>
#include <thread>

namespace udrv::net {
namespace {

constexpr Duration kSecond = 1'000'000'000;

double Seconds(Duration d) { return static_cast<double>(d) / 1e9; }

// Calls a RateCallback once a second with what happened since the last call.
class RateMeter {
 public:
  RateMeter(const RateCallback& callback, Time start)
      : callback_(callback), start_(start), last_(start), next_(start + kSecond) {}

  void Update(uint64_t frames, uint64_t bytes) {
    if (!callback_) return;
    const Time now = Now();
    if (now < next_) return;
    const double interval = Seconds(now - last_);
    callback_(RateSample{
        .seconds = Seconds(now - start_),
        .frames = frames,
        .bytes = bytes,
        .frames_per_second = static_cast<double>(frames - last_frames_) / interval,
        .bits_per_second = static_cast<double>(bytes - last_bytes_) * 8 / interval,
    });
    last_ = now;
    next_ = now + kSecond;
    last_frames_ = frames;
    last_bytes_ = bytes;
  }

 private:
  const RateCallback& callback_;
  Time start_;
  Time last_;
  Time next_;
  uint64_t last_frames_ = 0;
  uint64_t last_bytes_ = 0;
};

bool StopAsked(const StopCheck& should_stop) { return should_stop && should_stop(); }

// Waits for the device to have work, at most until `deadline` and
// kPollInterval; a wait that times out is no failure.
Result<void> WaitBriefly(Device& device, Time deadline) {
  auto waited = device.WaitForWork(std::min(deadline, DeadlineAfter(kPollInterval)));
  if (!waited && waited.error().status != Status::TIMED_OUT) return waited;
  return {};
}

Result<void> CheckSizes(const std::vector<uint32_t>& sizes, const DeviceInfo& info) {
  if (sizes.empty()) return Fail(Status::INVALID_ARGS, "send test frames: no frame size given");
  for (const uint32_t size : sizes) {
    if (size < kMinTestFrameSize || size > kMaxTestFrameSize) {
      return Fail(Status::INVALID_ARGS,
                  "send test frames: a frame size of " + std::to_string(size) + " bytes is not " +
                      std::to_string(kMinTestFrameSize) + ".." + std::to_string(kMaxTestFrameSize));
    }
    if (size > info.buffer_size) {
      return Fail(Status::INVALID_ARGS,
                  "send test frames: a frame of " + std::to_string(size) +
                      " bytes does not fit the device's buffers of " +
                      std::to_string(info.buffer_size),
                  info.name);
    }
  }
  return {};
}

}  // namespace

Duration ProcessCpuTime() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return Duration{now.tv_sec} * kSecond + now.tv_nsec;
}

Duration MachineBusyTime() {
  FILE* stat = std::fopen("/proc/stat", "re");
  if (stat == nullptr) return 0;
  // "cpu  user nice system idle iowait irq softirq steal ...", in ticks.
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  const int fields = std::fscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice,
                                 &system, &idle, &iowait, &irq, &softirq, &steal);
  std::fclose(stat);
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (fields < 7 || ticks_per_second <= 0) return 0;
  const unsigned long long busy = user + nice + system + irq + softirq + steal;
  return static_cast<Duration>(busy * static_cast<unsigned long long>(kSecond / ticks_per_second));
}

Result<LinkState> WaitForLink(Device& device, Duration timeout) {
  const Time deadline = DeadlineAfter(timeout);
  while (true) {
    UDRV_TRY_ASSIGN(const LinkState link, device.GetLinkState());
    if (link.up) return link;
    if (Now() >= deadline) {
      return Fail(Status::TIMED_OUT,
                  "wait for the link: still down after " + std::to_string(timeout / 1'000'000) +
                      " ms",
                  device.GetInfo().name);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<SendStats> SendTestFrames(Device& device, const SendSpec& spec) {
  const DeviceInfo info = device.GetInfo();
  UDRV_TRY(CheckSizes(spec.sizes, info));
  uint64_t tx_before = 0;
  if (spec.drain_timeout > 0) {
    UDRV_TRY_ASSIGN(const Counters counters, device.GetCounters());
    tx_before = counters.tx_packets;
  }

  TestFrameSpec frame{.dst = spec.dst, .src = spec.src.value_or(info.mac), .stream = spec.stream};
  SendStats stats;
  std::array<Packet, kBurstSize> burst;
  size_t pending_begin = 0;  // burst[pending_begin, pending_end): built, not yet taken
  size_t pending_end = 0;
  uint64_t built = 0;
  const Time start = Now();
  const Duration cpu_start = ProcessCpuTime();
  const Duration busy_start = MachineBusyTime();
  Time last_progress = start;
  RateMeter rate(spec.on_rate, start);
  auto give_back_pending = [&] {
    device.FreeBuffers(std::span(burst).subspan(pending_begin, pending_end - pending_begin));
    pending_begin = pending_end = 0;
  };
  auto check_stall = [&]() -> Result<void> {
    if (Now() - last_progress < spec.stall_timeout) return {};
    return Fail(Status::TIMED_OUT,
                "send test frames: the device took no frame for " +
                    std::to_string(spec.stall_timeout / 1'000'000) + " ms after " +
                    std::to_string(stats.frames) + " of " + std::to_string(spec.count) +
                    " (its ring stayed full, no buffer came free)",
                info.name);
  };

  while (stats.frames < spec.count) {
    if (StopAsked(spec.should_stop)) {
      stats.stopped = true;
      break;
    }
    if (pending_begin == pending_end) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kBurstSize, spec.count - built));
      const size_t got = device.AllocBuffers(std::span(burst).first(want));
      if (got == 0) {
        ++stats.buffer_waits;
        UDRV_TRY(check_stall());
        UDRV_TRY(WaitBriefly(device, kInfinite));
        continue;
      }
      for (size_t i = 0; i < got; ++i, ++built) {
        frame.sequence = spec.first_sequence + built;
        frame.length = spec.sizes[built % spec.sizes.size()];
        auto made = BuildTestFrame(std::span(burst[i].data, info.buffer_size), frame);
        if (!made) {  // CheckSizes made sure it fits: the device's buffer is not what it said
          pending_end = got;
          give_back_pending();
          return std::unexpected(made.error());
        }
        burst[i].length = frame.length;
      }
      pending_begin = 0;
      pending_end = got;
      last_progress = Now();
    }
    auto taken = device.TxBurst(std::span(burst).subspan(pending_begin, pending_end - pending_begin));
    if (!taken) {
      give_back_pending();
      return Wrap(taken.error(), "send test frames: after " + std::to_string(stats.frames));
    }
    for (size_t i = 0; i < *taken; ++i) stats.bytes += burst[pending_begin + i].length;
    stats.frames += *taken;
    pending_begin += *taken;
    if (*taken > 0) last_progress = Now();
    if (pending_begin < pending_end) {
      ++stats.ring_full_retries;
      if (auto stalled = check_stall(); !stalled) {
        give_back_pending();
        return std::unexpected(stalled.error());
      }
      if (*taken == 0) {
        if (auto waited = WaitBriefly(device, kInfinite); !waited) {
          give_back_pending();
          return std::unexpected(waited.error());
        }
      }
    }
    rate.Update(stats.frames, stats.bytes);
  }
  give_back_pending();  // stopped early: what was built and not taken

  Time end = Now();
  if (spec.drain_timeout > 0 && !stats.stopped) {
    const Time deadline = DeadlineAfter(spec.drain_timeout);
    while (true) {
      UDRV_TRY_ASSIGN(const Counters counters, device.GetCounters());
      stats.counter_tx_packets = counters.tx_packets - tx_before;
      if (stats.counter_tx_packets >= stats.frames) {
        stats.confirmed = true;
        end = Now();
        break;
      }
      if (Now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  stats.seconds = Seconds(end - start);
  stats.cpu_time = ProcessCpuTime() - cpu_start;
  stats.machine_busy_time = MachineBusyTime() - busy_start;
  return stats;
}

Result<ReceiveStats> ReceiveTestFrames(Device& device, const ReceiveSpec& spec) {
  ReceiveStats stats;
  StreamVerifier verifier(spec.stream, spec.first_sequence);
  std::array<Packet, kBurstSize> burst;
  const Time start = Now();
  const Time deadline = DeadlineAfter(spec.timeout);
  const Duration cpu_start = ProcessCpuTime();
  const Duration busy_start = MachineBusyTime();
  Time first_frame = 0;
  Time last_frame = 0;
  RateMeter rate(spec.on_rate, start);

  while (verifier.tally().frames < spec.count) {
    if (StopAsked(spec.should_stop)) {
      stats.stopped = true;
      break;
    }
    UDRV_TRY_ASSIGN(const size_t received, device.RxBurst(burst));
    if (received == 0) {
      if (Now() >= deadline) {
        stats.timed_out = true;
        break;
      }
      UDRV_TRY(WaitBriefly(device, deadline));
      rate.Update(verifier.tally().frames, verifier.tally().bytes);
      continue;
    }
    const uint64_t frames_before = verifier.tally().frames;
    for (size_t i = 0; i < received && verifier.tally().frames < spec.count; ++i) {
      verifier.Check(std::span<const std::byte>(burst[i].data, burst[i].length));
    }
    device.FreeBuffers(std::span(burst).first(received));
    if (verifier.tally().frames != frames_before) {
      last_frame = Now();
      if (first_frame == 0) first_frame = last_frame;
    }
    rate.Update(verifier.tally().frames, verifier.tally().bytes);
  }
  stats.tally = verifier.tally();
  stats.seconds = first_frame == 0 ? 0 : Seconds(last_frame - first_frame);
  stats.cpu_time = ProcessCpuTime() - cpu_start;
  stats.machine_busy_time = MachineBusyTime() - busy_start;
  return stats;
}

Result<ForwardStats> Forward(Device& from, Device& to, const ForwardSpec& spec) {
  if (&from == &to) {
    return Fail(Status::INVALID_ARGS, "forward: from and to are the same device",
                from.GetInfo().name);
  }
  if (spec.count == 0 && spec.duration == 0 && !spec.should_stop) {
    return Fail(Status::INVALID_ARGS, "forward: no count, no duration and no way to stop");
  }
  const DeviceInfo to_info = to.GetInfo();
  ForwardStats stats;
  std::array<Packet, kBurstSize> received;
  std::array<Packet, kBurstSize> copies;
  const Time start = Now();
  const Time end = spec.duration > 0 ? DeadlineAfter(spec.duration) : kInfinite;
  const Duration cpu_start = ProcessCpuTime();
  const Duration busy_start = MachineBusyTime();
  Time first_frame = 0;
  Time last_frame = 0;
  RateMeter rate(spec.on_rate, start);

  while (spec.count == 0 || stats.frames + stats.dropped < spec.count) {
    if (StopAsked(spec.should_stop)) {
      stats.stopped = true;
      break;
    }
    if (Now() >= end) break;
    const size_t room = spec.count == 0 ? kBurstSize
                                        : static_cast<size_t>(std::min<uint64_t>(
                                              kBurstSize, spec.count - stats.frames - stats.dropped));
    UDRV_TRY_ASSIGN(const size_t n, from.RxBurst(std::span(received).first(room)));
    if (n == 0) {
      UDRV_TRY(WaitBriefly(from, end));
      rate.Update(stats.frames, stats.bytes);
      continue;
    }
    if (first_frame == 0) first_frame = Now();

    // Copies into `to`'s buffers, as many as it has free now or soon.
    size_t copied = 0;
    const Time alloc_deadline = DeadlineAfter(spec.stall_timeout);
    while (copied < n) {
      copied += to.AllocBuffers(std::span(copies).subspan(copied, n - copied));
      if (copied == n || Now() >= alloc_deadline) break;
      if (auto waited = WaitBriefly(to, alloc_deadline); !waited) {
        from.FreeBuffers(std::span(received).first(n));
        to.FreeBuffers(std::span(copies).first(copied));
        return std::unexpected(waited.error());
      }
    }
    // copies[0, ready) get the frames in order; a frame longer than `to`'s
    // buffers is dropped, as a switch drops one too long for a port.
    size_t ready = 0;
    for (size_t i = 0; i < copied; ++i) {
      if (received[i].length > to_info.buffer_size) {
        ++stats.dropped;
        continue;
      }
      std::memcpy(copies[ready].data, received[i].data, received[i].length);
      copies[ready].length = received[i].length;
      ++ready;
    }
    from.FreeBuffers(std::span(received).first(n));
    to.FreeBuffers(std::span(copies).subspan(ready, copied - ready));
    stats.dropped += n - copied;

    size_t sent = 0;
    const Time tx_deadline = DeadlineAfter(spec.stall_timeout);
    while (sent < ready) {
      auto taken = to.TxBurst(std::span(copies).subspan(sent, ready - sent));
      if (!taken) {
        to.FreeBuffers(std::span(copies).subspan(sent, ready - sent));
        return Wrap(taken.error(), "forward: send on " + to_info.name);
      }
      for (size_t i = 0; i < *taken; ++i) stats.bytes += copies[sent + i].length;
      sent += *taken;
      if (sent == ready || Now() >= tx_deadline) break;
      if (*taken == 0) {
        if (auto waited = WaitBriefly(to, tx_deadline); !waited) {
          to.FreeBuffers(std::span(copies).subspan(sent, ready - sent));
          return std::unexpected(waited.error());
        }
      }
    }
    to.FreeBuffers(std::span(copies).subspan(sent, ready - sent));
    stats.frames += sent;
    stats.dropped += ready - sent;
    last_frame = Now();
    rate.Update(stats.frames, stats.bytes);
  }
  stats.seconds = first_frame == 0 ? 0 : Seconds(last_frame - first_frame);
  stats.cpu_time = ProcessCpuTime() - cpu_start;
  stats.machine_busy_time = MachineBusyTime() - busy_start;
  return stats;
}

}  // namespace udrv::net
