// linux_peer: the Linux side of the guest NIC tests. It sends or receives
// udrv's test frames (udrv/net/test_frame.h) on an interface that a Linux
// driver drives (e1000e.ko), over an AF_PACKET socket, so that Linux is the
// oracle for what udrv's driver sends and receives:
//   linux_peer send --iface eth0 --count N [--size S ...] [--dst MAC]
//   linux_peer recv --iface eth0 --count N [--timeout S]
// Both wait for the carrier first, send as fast as the kernel takes frames
// (no pacing: the benchmark's mode), and print their statistics (--json: one
// JSON document) with the frames per second and the CPU time per frame of
// this process (CLOCK_PROCESS_CPUTIME_ID; getrusage's user and system
// split), and the interface's own counters (/sys/class/net/IFACE/statistics)
// before and after. recv verifies each frame as udrv-net rx does (in order,
// none missing, byte for byte) and counts frames of other EtherTypes apart.
// recv prints "linux_peer: ready" once its socket is bound: start the sender
// after that line.
//
// Exit status: 0 when all was sent (the interface's tx_packets counter
// confirms it) or received and verified; 1 otherwise; 2 for bad arguments.
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/net/device.h"
#include "udrv/net/test_frame.h"
#include "udrv/net/traffic.h"

namespace {

using udrv::Fail;
using udrv::FailErrno;
using udrv::Result;
using udrv::Status;
using Json = nlohmann::ordered_json;
namespace net = udrv::net;

struct Settings {
  std::string command;
  std::string iface;
  uint64_t count = 0;
  std::vector<uint32_t> sizes;
  std::string dst = "ff:ff:ff:ff:ff:ff";
  uint32_t stream = 0;
  uint64_t first_sequence = 0;
  double timeout_s = 30;
  double carrier_timeout_s = 10;
  uint32_t rx_ring = 0;  // 0: as the driver has it
  bool json = false;
};

void Say(const std::string& line) {
  std::fprintf(stderr, "linux_peer: %s\n", line.c_str());
  std::fflush(stderr);
}

double Seconds(udrv::Duration d) { return static_cast<double>(d) / 1e9; }

struct Usage {
  double user_s = 0;
  double system_s = 0;
};
Usage ResourceUsage() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return {static_cast<double>(usage.ru_utime.tv_sec) + static_cast<double>(usage.ru_utime.tv_usec) / 1e6,
          static_cast<double>(usage.ru_stime.tv_sec) + static_cast<double>(usage.ru_stime.tv_usec) / 1e6};
}

// /sys/class/net/IFACE/statistics/NAME, or 0 when unreadable.
uint64_t Statistic(const std::string& iface, const char* name) {
  std::ifstream file("/sys/class/net/" + iface + "/statistics/" + name);
  uint64_t value = 0;
  file >> value;
  return value;
}

struct InterfaceCounters {
  uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped, rx_missed, rx_errors;
};
InterfaceCounters ReadCounters(const std::string& iface) {
  return {Statistic(iface, "rx_packets"), Statistic(iface, "tx_packets"),
          Statistic(iface, "rx_bytes"),   Statistic(iface, "tx_bytes"),
          Statistic(iface, "rx_dropped"), Statistic(iface, "tx_dropped"),
          Statistic(iface, "rx_missed_errors"), Statistic(iface, "rx_errors")};
}
Json CountersJson(const InterfaceCounters& c) {
  return Json{{"rx_packets", c.rx_packets}, {"tx_packets", c.tx_packets},
              {"rx_bytes", c.rx_bytes},     {"tx_bytes", c.tx_bytes},
              {"rx_dropped", c.rx_dropped}, {"tx_dropped", c.tx_dropped},
              {"rx_missed_errors", c.rx_missed}, {"rx_errors", c.rx_errors}};
}

Result<void> WaitForCarrier(const Settings& settings) {
  const udrv::Time deadline =
      udrv::DeadlineAfter(static_cast<udrv::Duration>(settings.carrier_timeout_s * 1e9));
  while (true) {
    std::ifstream file("/sys/class/net/" + settings.iface + "/carrier");
    int carrier = 0;
    if (file >> carrier && carrier == 1) return {};
    if (udrv::Now() >= deadline) {
      return Fail(Status::TIMED_OUT,
                  "no carrier after " + std::to_string(settings.carrier_timeout_s) +
                      " s (is the interface up: ip link set IFACE up?)",
                  settings.iface);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// An AF_PACKET socket bound to the interface, for `protocol` (network order).
Result<udrv::UniqueFd> OpenSocket(const Settings& settings, uint16_t protocol, int& ifindex) {
  ifindex = static_cast<int>(::if_nametoindex(settings.iface.c_str()));
  if (ifindex == 0) return FailErrno(errno, "if_nametoindex", settings.iface);
  udrv::UniqueFd fd(::socket(AF_PACKET, SOCK_RAW, protocol));
  if (!fd) return FailErrno(errno, "socket(AF_PACKET, SOCK_RAW)", settings.iface);
  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = protocol;
  address.sll_ifindex = ifindex;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return FailErrno(errno, "bind the AF_PACKET socket", settings.iface);
  }
  return fd;
}

// Sets the interface's receive ring to `descriptors` (ethtool -G IFACE rx N),
// which takes the link down and up. QEMU lets a frame overtake the ones it
// queued while the receiving NIC's ring was full: a ring that holds a whole
// test keeps a fast sender's frames in order.
Result<void> SetRxRing(int fd, const std::string& iface, uint32_t descriptors) {
  ethtool_ringparam ring{};
  ring.cmd = ETHTOOL_GRINGPARAM;
  ifreq request{};
  std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", iface.c_str());
  request.ifr_data = reinterpret_cast<char*>(&ring);
  if (::ioctl(fd, SIOCETHTOOL, &request) != 0) {
    return FailErrno(errno, "ETHTOOL_GRINGPARAM", iface);
  }
  if (descriptors > ring.rx_max_pending) {
    return Fail(Status::OUT_OF_RANGE,
                "an rx ring of " + std::to_string(descriptors) + " descriptors: the driver "
                "allows at most " + std::to_string(ring.rx_max_pending),
                iface);
  }
  const uint32_t before = ring.rx_pending;
  if (before == descriptors) return {};
  ring.cmd = ETHTOOL_SRINGPARAM;
  ring.rx_pending = descriptors;
  if (::ioctl(fd, SIOCETHTOOL, &request) != 0) {
    return FailErrno(errno, "ETHTOOL_SRINGPARAM rx " + std::to_string(descriptors), iface);
  }
  Say(iface + ": rx ring " + std::to_string(before) + " -> " + std::to_string(descriptors) +
      " descriptors");
  return {};
}

Result<net::MacAddress> InterfaceMac(int fd, const std::string& iface) {
  ifreq request{};
  std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", iface.c_str());
  if (::ioctl(fd, SIOCGIFHWADDR, &request) != 0) return FailErrno(errno, "SIOCGIFHWADDR", iface);
  net::MacAddress mac;
  std::memcpy(mac.bytes.data(), request.ifr_hwaddr.sa_data, 6);
  return mac;
}

Result<bool> Send(const Settings& settings) {
  UDRV_TRY(WaitForCarrier(settings));
  int ifindex = 0;
  UDRV_TRY_ASSIGN(udrv::UniqueFd fd, OpenSocket(settings, htons(net::kTestFrameEtherType), ifindex));
  UDRV_TRY_ASSIGN(const net::MacAddress src, InterfaceMac(fd.get(), settings.iface));
  net::TestFrameSpec spec{.dst = net::MacAddress::Parse(settings.dst).value(),
                          .src = src,
                          .stream = settings.stream};
  std::array<std::byte, net::kMaxTestFrameSize> frame;
  const InterfaceCounters before = ReadCounters(settings.iface);
  uint64_t sent = 0, bytes = 0, retries = 0;
  const udrv::Time start = udrv::Now();
  const udrv::Duration cpu_start = net::ProcessCpuTime();
  const udrv::Duration busy_start = net::MachineBusyTime();
  const Usage usage_start = ResourceUsage();
  for (uint64_t i = 0; i < settings.count; ++i) {
    spec.sequence = settings.first_sequence + i;
    spec.length = settings.sizes[i % settings.sizes.size()];
    UDRV_TRY(net::BuildTestFrame(frame, spec));
    while (::send(fd.get(), frame.data(), spec.length, 0) < 0) {
      // The qdisc dropped it (ENOBUFS) or the socket is full: the same frame again.
      if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
        return FailErrno(errno, "send test frame " + std::to_string(i), settings.iface);
      }
      ++retries;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    ++sent;
    bytes += spec.length;
  }
  // Sent means counted by the driver: wait for tx_packets to show them all.
  const udrv::Time deadline = udrv::DeadlineAfter(udrv::Duration{5'000'000'000});
  InterfaceCounters after = ReadCounters(settings.iface);
  while (after.tx_packets - before.tx_packets < sent && udrv::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    after = ReadCounters(settings.iface);
  }
  const double seconds = Seconds(udrv::Now() - start);
  const udrv::Duration cpu = net::ProcessCpuTime() - cpu_start;
  const udrv::Duration busy = net::MachineBusyTime() - busy_start;
  const Usage usage_end = ResourceUsage();
  const bool confirmed = after.tx_packets - before.tx_packets >= sent;

  const double pps = seconds > 0 ? static_cast<double>(sent) / seconds : 0;
  const double cpu_ns = sent > 0 ? static_cast<double>(cpu) / static_cast<double>(sent) : 0;
  const double busy_ns = sent > 0 ? static_cast<double>(busy) / static_cast<double>(sent) : 0;
  if (settings.json) {
    Json document{{"command", "send"}, {"iface", settings.iface}, {"src", src.ToString()}};
    document["frames"] = sent;
    document["bytes"] = bytes;
    document["seconds"] = seconds;
    document["frames_per_second"] = pps;
    document["cpu_seconds"] = Seconds(cpu);
    document["cpu_ns_per_frame"] = cpu_ns;
    document["machine_busy_ns_per_frame"] = busy_ns;
    document["user_seconds"] = usage_end.user_s - usage_start.user_s;
    document["system_seconds"] = usage_end.system_s - usage_start.system_s;
    document["retries"] = retries;
    document["confirmed"] = confirmed;
    document["counters_before"] = CountersJson(before);
    document["counters_after"] = CountersJson(after);
    std::printf("%s\n", document.dump(2).c_str());
  } else {
    std::printf("send %s: %llu frames, %llu bytes in %.3f s: %.0f frames/s; CPU %.1f us/frame, "
                "machine %.1f us/frame (user %.3f s, system %.3f s); %llu retries; tx_packets +%llu, tx_dropped +%llu\n",
                settings.iface.c_str(), static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(bytes), seconds, pps, cpu_ns / 1e3, busy_ns / 1e3,
                usage_end.user_s - usage_start.user_s, usage_end.system_s - usage_start.system_s,
                static_cast<unsigned long long>(retries),
                static_cast<unsigned long long>(after.tx_packets - before.tx_packets),
                static_cast<unsigned long long>(after.tx_dropped - before.tx_dropped));
  }
  if (!confirmed) {
    Say("FAILED: tx_packets grew by " + std::to_string(after.tx_packets - before.tx_packets) +
        ", not " + std::to_string(sent));
  }
  return confirmed;
}

Result<bool> Receive(const Settings& settings) {
  int ifindex = 0;
  UDRV_TRY_ASSIGN(udrv::UniqueFd fd, OpenSocket(settings, htons(ETH_P_ALL), ifindex));
  if (settings.rx_ring != 0) UDRV_TRY(SetRxRing(fd.get(), settings.iface, settings.rx_ring));
  UDRV_TRY(WaitForCarrier(settings));
  // Room for a burst while this process is not scheduled (root may force it).
  const int buffer = 8 << 20;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  const InterfaceCounters before = ReadCounters(settings.iface);
  Say("ready, receiving " + std::to_string(settings.count) + " test frames on " + settings.iface);

  net::StreamVerifier verifier(settings.stream, settings.first_sequence);
  std::array<std::byte, 2048> frame;
  const udrv::Time deadline =
      udrv::DeadlineAfter(static_cast<udrv::Duration>(settings.timeout_s * 1e9));
  const udrv::Duration cpu_start = net::ProcessCpuTime();
  const udrv::Duration busy_start = net::MachineBusyTime();
  const Usage usage_start = ResourceUsage();
  udrv::Time first = 0, last = 0;
  uint64_t outgoing = 0;
  bool timed_out = false;
  while (verifier.tally().frames < settings.count) {
    sockaddr_ll from{};
    socklen_t from_size = sizeof from;
    const ssize_t n = ::recvfrom(fd.get(), frame.data(), frame.size(), MSG_DONTWAIT | MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&from), &from_size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return FailErrno(errno, "recvfrom", settings.iface);
      const int wait_ms = udrv::TimeoutMsUntil(deadline);
      if (wait_ms == 0) {
        timed_out = true;
        break;
      }
      pollfd ready{.fd = fd.get(), .events = POLLIN, .revents = 0};
      if (::poll(&ready, 1, wait_ms) < 0 && errno != EINTR) {
        return FailErrno(errno, "poll", settings.iface);
      }
      continue;
    }
    if (from.sll_pkttype == PACKET_OUTGOING) {  // what this machine sent, looped back to us
      ++outgoing;
      continue;
    }
    // MSG_TRUNC: n is the frame's length even when longer than the buffer,
    // which the verifier then refuses as too long.
    const size_t length = std::min(static_cast<size_t>(n), frame.size());
    std::vector<std::byte> oversized;
    std::span<const std::byte> bytes(frame.data(), length);
    if (static_cast<size_t>(n) > frame.size()) {
      oversized.assign(static_cast<size_t>(n), std::byte{0});
      bytes = oversized;
    }
    const uint64_t frames_before = verifier.tally().frames;
    verifier.Check(bytes);
    if (verifier.tally().frames != frames_before) {
      last = udrv::Now();
      if (first == 0) first = last;
    }
  }
  const udrv::Duration cpu = net::ProcessCpuTime() - cpu_start;
  const udrv::Duration busy = net::MachineBusyTime() - busy_start;
  const Usage usage_end = ResourceUsage();
  tpacket_stats socket_stats{};
  socklen_t stats_size = sizeof socket_stats;
  ::getsockopt(fd.get(), SOL_PACKET, PACKET_STATISTICS, &socket_stats, &stats_size);
  const InterfaceCounters after = ReadCounters(settings.iface);

  const net::StreamTally& tally = verifier.tally();
  const bool ok = tally.ok() && tally.good == settings.count && tally.frames == settings.count;
  const double seconds = first == 0 ? 0 : Seconds(last - first);
  const double pps = seconds > 0 ? static_cast<double>(tally.frames) / seconds : 0;
  const double cpu_ns =
      tally.frames > 0 ? static_cast<double>(cpu) / static_cast<double>(tally.frames) : 0;
  const double busy_ns =
      tally.frames > 0 ? static_cast<double>(busy) / static_cast<double>(tally.frames) : 0;
  if (settings.json) {
    Json document{{"command", "recv"}, {"iface", settings.iface}, {"ok", ok}};
    document["expected"] = settings.count;
    for (const net::NamedCounter& count : net::TallyCounts(tally)) {
      document[count.name] = count.value;
    }
    document["first_error"] = tally.first_error;
    document["timed_out"] = timed_out;
    document["seconds"] = seconds;
    document["frames_per_second"] = pps;
    document["cpu_seconds"] = Seconds(cpu);
    document["cpu_ns_per_frame"] = cpu_ns;
    document["machine_busy_ns_per_frame"] = busy_ns;
    document["user_seconds"] = usage_end.user_s - usage_start.user_s;
    document["system_seconds"] = usage_end.system_s - usage_start.system_s;
    document["socket_drops"] = socket_stats.tp_drops;
    document["counters_before"] = CountersJson(before);
    document["counters_after"] = CountersJson(after);
    std::printf("%s\n", document.dump(2).c_str());
  } else {
    std::printf("recv %s: %llu of %llu test frames (%llu good), %llu bytes in %.3f s: %.0f "
                "frames/s; CPU %.1f us/frame, machine %.1f us/frame (user %.3f s, system %.3f s); "
                "other %llu, corrupt %llu, wrong stream %llu, out of range %llu, late %llu, "
                "duplicates %llu, missing %llu; socket drops %u; rx_packets +%llu%s\n",
                settings.iface.c_str(), static_cast<unsigned long long>(tally.frames),
                static_cast<unsigned long long>(settings.count),
                static_cast<unsigned long long>(tally.good),
                static_cast<unsigned long long>(tally.bytes), seconds, pps, cpu_ns / 1e3, busy_ns / 1e3,
                usage_end.user_s - usage_start.user_s, usage_end.system_s - usage_start.system_s,
                static_cast<unsigned long long>(tally.other),
                static_cast<unsigned long long>(tally.corrupt),
                static_cast<unsigned long long>(tally.wrong_stream),
                static_cast<unsigned long long>(tally.out_of_range),
                static_cast<unsigned long long>(tally.late),
                static_cast<unsigned long long>(tally.duplicates),
                static_cast<unsigned long long>(tally.missing), socket_stats.tp_drops,
                static_cast<unsigned long long>(after.rx_packets - before.rx_packets),
                timed_out ? "; timed out" : "");
    if (!tally.first_error.empty()) std::printf("first problem: %s\n", tally.first_error.c_str());
  }
  if (!ok) {
    Say("FAILED: " + net::DescribeShortfall(tally, settings.count));
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"linux_peer: send or receive udrv's test frames on a Linux interface (AF_PACKET)"};
  Settings settings;
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("--json", settings.json, "print the statistics as one JSON document");
  app.add_option("--carrier-timeout", settings.carrier_timeout_s,
                 "seconds to wait for the interface's carrier (default 10)");
  auto* send = app.add_subcommand("send", "send test frames as fast as the kernel takes them");
  auto* recv = app.add_subcommand("recv", "receive test frames and verify them");
  for (CLI::App* command : {send, recv}) {
    command->add_option("--iface", settings.iface, "the interface, e.g. eth0")->required();
    command->add_option("--count", settings.count, "test frames")->required()->check(
        CLI::Range(uint64_t{1}, UINT64_MAX));
    command->add_option("--stream", settings.stream, "the stream id (default 0)");
    command->add_option("--first-sequence", settings.first_sequence,
                        "the first sequence number (default 0)");
  }
  send->add_option("--size", settings.sizes, "frame length, 60..1514 (repeatable, cycled; default 60)")
      ->check(CLI::Range(uint32_t{60}, uint32_t{1514}))
      ->allow_extra_args(false);
  send->add_option("--dst", settings.dst, "destination MAC (default ff:ff:ff:ff:ff:ff)")
      ->check([](const std::string& text) {
        auto mac = net::MacAddress::Parse(text);
        return mac ? std::string() : mac.error().what;
      });
  recv->add_option("--timeout", settings.timeout_s, "seconds the whole receive may take (default 30)")
      ->check(CLI::Range(0.001, 86400.0));
  recv->add_option("--rx-ring", settings.rx_ring,
                   "first set the interface's receive ring to this many descriptors (ethtool -G "
                   "IFACE rx N; the link goes down and up)")
      ->check(CLI::Range(1u, 65536u));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  settings.command = app.get_subcommands().front()->get_name();
  if (settings.sizes.empty()) settings.sizes = {static_cast<uint32_t>(net::kMinTestFrameSize)};

  auto result = settings.command == "send" ? Send(settings) : Receive(settings);
  if (!result) {
    Say("FAILED: " + result.error().ToString());
    return 1;
  }
  return *result ? 0 : 1;
}
