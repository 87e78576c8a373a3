// Test traffic on any net::Device: send a stream of test frames
// (test_frame.h), receive and verify one, forward frames from one device to
// another. udrv-net is these on a command line; tests use them on a device
// double.
//
// Each runs on the calling thread until it is done, fails, or `should_stop`
// says so (a signal handler's flag): it is the one thread calling the
// devices' methods (device.h). Sending and receiving never wait longer than
// kPollInterval at a time, so a stop is seen that quickly.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/net/device.h"
#include "udrv/net/test_frame.h"

namespace udrv::net {

inline constexpr Duration kPollInterval = 100'000'000;  // 100 ms
// Frames handed to the device per burst.
inline constexpr size_t kBurstSize = 32;

// Once a second while traffic runs: what was done so far.
struct RateSample {
  double seconds = 0;         // since the start
  uint64_t frames = 0;        // so far
  uint64_t bytes = 0;
  double frames_per_second = 0;  // over the last interval
  double bits_per_second = 0;    // frame bytes (no FCS, preamble or gap), last interval
};
using RateCallback = std::function<void(const RateSample&)>;
// True once traffic should stop early (SIGINT).
using StopCheck = std::function<bool()>;

// The CPU time of this process so far (CLOCK_PROCESS_CPUTIME_ID): the
// driver's threads count too.
Duration ProcessCpuTime();
// The busy time of the whole machine so far, all CPUs together, from
// /proc/stat (user, nice, system, irq, softirq, steal) at the kernel's tick
// (10 ms): it includes what a kernel driver spends in interrupts and
// softirqs, which no process is charged for. 0 when /proc/stat cannot be
// read.
Duration MachineBusyTime();

// Polls the link until it is up: its state then; TIMED_OUT after `timeout`
// saying it stayed down; the device's errors.
Result<LinkState> WaitForLink(Device& device, Duration timeout);

struct SendSpec {
  uint64_t count = 0;
  // Frame lengths, 60..1514, cycled: frame i is sizes[i % sizes.size()].
  std::vector<uint32_t> sizes = {static_cast<uint32_t>(kMinTestFrameSize)};
  uint32_t stream = 0;
  uint64_t first_sequence = 0;
  MacAddress dst = kBroadcastMac;
  std::optional<MacAddress> src;  // default: the device's own MAC
  // Fail when the device takes no frame (its ring stays full, no buffer
  // comes free) for this long.
  Duration stall_timeout = 5'000'000'000;
  // Once all are queued, wait up to this long for the device's tx_packets
  // counter to show them sent (SendStats::confirmed); 0: do not wait.
  Duration drain_timeout = 5'000'000'000;
  RateCallback on_rate;
  StopCheck should_stop;
};

struct SendStats {
  uint64_t frames = 0;  // queued to the device (TxBurst took them)
  uint64_t bytes = 0;
  double seconds = 0;   // from the first burst until drained (or until the last queued)
  Duration cpu_time = 0;  // of this process, over those seconds
  Duration machine_busy_time = 0;  // of the whole machine, over the same time
  uint64_t ring_full_retries = 0;  // TxBurst took fewer than offered
  uint64_t buffer_waits = 0;       // AllocBuffers had no free buffer
  // The device's tx_packets counter grew by `frames` within drain_timeout.
  bool confirmed = false;
  uint64_t counter_tx_packets = 0;  // how much it grew
  bool stopped = false;             // should_stop ended it early
};

// Sends spec.count test frames, sequence numbers from spec.first_sequence,
// as fast as the device takes them. INVALID_ARGS for no size or a size
// outside 60..1514, or sizes larger than the device's buffers; TIMED_OUT
// after a stall; the device's errors.
Result<SendStats> SendTestFrames(Device& device, const SendSpec& spec);

struct ReceiveSpec {
  uint64_t count = 0;  // test frames to receive
  uint32_t stream = 0;
  uint64_t first_sequence = 0;
  // The whole receive ends at this long after it began, done or not.
  Duration timeout = 10'000'000'000;
  RateCallback on_rate;
  StopCheck should_stop;
};

struct ReceiveStats {
  StreamTally tally;      // frames, other, corrupt, missing, ... (test_frame.h)
  double seconds = 0;     // from the first test frame to the last
  Duration cpu_time = 0;  // of this process, over the whole receive
  Duration machine_busy_time = 0;  // of the whole machine, over the same time
  bool timed_out = false; // fewer than count test frames came in time
  bool stopped = false;   // should_stop ended it early

  // `count` test frames came, every one verified, in order, none missing.
  bool ok(uint64_t count) const { return tally.ok() && tally.good == count && tally.frames == count; }
};

// Receives until spec.count test frames came (or the timeout), verifying
// each with a StreamVerifier; other frames are counted and ignored. The
// stats say what went wrong (ok(), tally.first_error); an Error is only the
// device's.
Result<ReceiveStats> ReceiveTestFrames(Device& device, const ReceiveSpec& spec);

struct ForwardSpec {
  // Forwarding ends after `count` frames or `duration`, whichever comes
  // first; with neither (both 0) only should_stop ends it.
  uint64_t count = 0;
  Duration duration = 0;
  // A frame `to` does not take for this long (ring full) is dropped.
  Duration stall_timeout = 1'000'000'000;
  RateCallback on_rate;
  StopCheck should_stop;
};

struct ForwardStats {
  uint64_t frames = 0;   // received on `from` and queued on `to`
  uint64_t bytes = 0;
  uint64_t dropped = 0;  // received, but `to` had no buffer or ring room in time
  double seconds = 0;    // from the first frame received to the last forwarded
  Duration cpu_time = 0;
  Duration machine_busy_time = 0;
  bool stopped = false;
};

// Copies every frame `from` receives into a buffer of `to` (a buffer of one
// device is not another's) and sends it there, in order, until spec.count
// frames, spec.duration or should_stop. INVALID_ARGS for the same device
// twice, or neither a count, a duration nor a should_stop.
Result<ForwardStats> Forward(Device& from, Device& to, const ForwardSpec& spec);

}  // namespace udrv::net
