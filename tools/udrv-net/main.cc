// udrv-net: test traffic on a NIC driven by udrv. It takes the PCI
// function DEV from the kernel (vfio-pci, or uio_pci_generic with --route
// uio), starts udrv's driver for it (drivers/registry.h) and, on the net
// device that driver publishes:
//   info           the device, its link and counters
//   tx             sends test frames (udrv/net/test_frame.h)
//   rx             receives test frames and verifies each, byte for byte, in order
//   fwd OTHER      copies every frame DEV receives to the NIC OTHER
// then stops the driver and gives the function back to its kernel driver,
// also on SIGINT or SIGTERM. --json prints the statistics as one JSON
// document; on a terminal a live rate line goes to stderr.
//
// It binds drivers and drives devices: run it in a testbed guest, never on
// a machine whose devices matter.
//
// Exit status: 0 when the command did all it was asked (rx: every frame
// verified); 1 on an error or a failed check, said on stderr; 2 for bad
// arguments.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nic.h"
#include "udrv/bus/driver.h"
#include "udrv/core/result.h"
#include "udrv/core/version.h"
#include "udrv/drivers/registry.h"
#include "udrv/net/device.h"
#include "udrv/net/test_frame.h"
#include "udrv/net/traffic.h"
#include "udrv/pci/address.h"
#include "udrv/pci/pci_bus.h"

namespace {

using udrv::Duration;
using udrv::Fail;
using udrv::Result;
using udrv::Status;
using Json = nlohmann::ordered_json;
namespace bus = udrv::bus;
namespace net = udrv::net;
namespace pci = udrv::pci;

struct Settings {
  std::string device;
  std::string other;  // fwd
  std::string command;
  bool json = false;
  std::string route = "vfio";
  bool unsafe_physical_dma = false;
  std::vector<std::string> driver_option_assignments;
  bus::DriverOptionSettings driver_options;
  double link_timeout_s = 10;
  // tx / rx
  uint64_t count = 0;
  std::vector<uint32_t> sizes;
  uint32_t stream = 0;
  uint64_t first_sequence = 0;
  std::string dst = "ff:ff:ff:ff:ff:ff";
  double timeout_s = 30;
  // fwd
  double duration_s = 0;
};

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

bool StopRequested() { return g_stop.load(std::memory_order_relaxed); }

void Say(std::string_view line) {
  std::fprintf(stderr, "udrv-net: %.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stderr);
}

Duration Nanoseconds(double seconds) { return static_cast<Duration>(seconds * 1e9); }

// The live rate line, on a terminal only: overwritten in place, ended by
// the next Say.
net::RateCallback LiveRate(std::string label) {
  if (!::isatty(STDERR_FILENO)) return {};
  return [label = std::move(label)](const net::RateSample& sample) {
    std::fprintf(stderr, "\r%s: %.0f s, %llu frames, %.0f frames/s, %.2f Mbit/s   ", label.c_str(),
                 sample.seconds, static_cast<unsigned long long>(sample.frames),
                 sample.frames_per_second, sample.bits_per_second / 1e6);
    std::fflush(stderr);
  };
}
void EndLiveRate() {
  if (::isatty(STDERR_FILENO)) std::fputc('\n', stderr);
}

double PerSecond(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}
// CPU nanoseconds per frame; 0 for no frames.
double CpuPerFrame(Duration cpu, uint64_t frames) {
  return frames > 0 ? static_cast<double>(cpu) / static_cast<double>(frames) : 0;
}

Json CountersJson(const net::Counters& counters) {
  Json device = Json::object();
  for (const net::NamedCounter& counter : counters.device) device[counter.name] = counter.value;
  return Json{{"rx_packets", counters.rx_packets},
              {"tx_packets", counters.tx_packets},
              {"rx_bytes", counters.rx_bytes},
              {"tx_bytes", counters.tx_bytes},
              {"rx_missed", counters.rx_missed},
              {"rx_errors", counters.rx_errors},
              {"rx_checksum_bad", counters.rx_checksum_bad},
              {"device", device}};
}

Json DeviceJson(udrv_net::Nic& nic) {
  const net::DeviceInfo info = nic.device().GetInfo();
  return Json{{"address", nic.address()},
              {"driver", info.driver},
              {"name", info.name},
              {"mac", info.mac.ToString()},
              {"interrupt_mode", info.interrupt_mode},
              {"rx_ring_size", info.rx_ring_size},
              {"tx_ring_size", info.tx_ring_size},
              {"buffer_size", info.buffer_size},
              {"pool_size", info.pool_size}};
}

void PrintJson(const Json& document) { std::printf("%s\n", document.dump(2).c_str()); }

Result<void> Info(udrv_net::Nic& nic, const Settings& settings) {
  net::Device& device = nic.device();
  // A link still coming up is no failure here: info says what it is.
  auto waited = net::WaitForLink(device, Nanoseconds(settings.link_timeout_s));
  if (!waited && waited.error().status != Status::TIMED_OUT) return std::unexpected(waited.error());
  auto link = device.GetLinkState();
  if (!link) return std::unexpected(link.error());
  auto counters = device.GetCounters();
  if (!counters) return std::unexpected(counters.error());
  const net::DeviceInfo info = device.GetInfo();
  if (settings.json) {
    Json document = DeviceJson(nic);
    document["link"] = Json{{"up", link->up},
                            {"speed_mbps", link->speed_mbps},
                            {"full_duplex", link->full_duplex}};
    document["counters"] = CountersJson(*counters);
    PrintJson(document);
    return {};
  }
  std::printf("%s: %s, driver %s, MAC %s\n", nic.address().c_str(), info.name.c_str(),
              info.driver.c_str(), info.mac.ToString().c_str());
  std::printf("link: %s", link->up ? "up" : "down");
  if (link->up) {
    std::printf(", %u Mbit/s, %s duplex", link->speed_mbps, link->full_duplex ? "full" : "half");
  }
  std::printf("\nrings: rx %u, tx %u descriptors; pool %u buffers of %u bytes; interrupts: %s\n",
              info.rx_ring_size, info.tx_ring_size, info.pool_size, info.buffer_size,
              info.interrupt_mode.c_str());
  std::printf("counters: rx_packets %llu, tx_packets %llu, rx_bytes %llu, tx_bytes %llu, "
              "rx_missed %llu, rx_errors %llu, rx_checksum_bad %llu\n",
              static_cast<unsigned long long>(counters->rx_packets),
              static_cast<unsigned long long>(counters->tx_packets),
              static_cast<unsigned long long>(counters->rx_bytes),
              static_cast<unsigned long long>(counters->tx_bytes),
              static_cast<unsigned long long>(counters->rx_missed),
              static_cast<unsigned long long>(counters->rx_errors),
              static_cast<unsigned long long>(counters->rx_checksum_bad));
  for (const net::NamedCounter& counter : counters->device) {
    std::printf("  %s %llu\n", counter.name.c_str(), static_cast<unsigned long long>(counter.value));
  }
  return {};
}

Result<void> WaitForLink(udrv_net::Nic& nic, const Settings& settings) {
  auto link = net::WaitForLink(nic.device(), Nanoseconds(settings.link_timeout_s));
  if (!link) return std::unexpected(link.error());
  Say(nic.address() + ": link up, " + std::to_string(link->speed_mbps) + " Mbit/s");
  return {};
}

Result<void> Transmit(udrv_net::Nic& nic, const Settings& settings) {
  UDRV_TRY(WaitForLink(nic, settings));
  net::SendSpec spec;
  spec.count = settings.count;
  spec.sizes = settings.sizes;
  spec.stream = settings.stream;
  spec.first_sequence = settings.first_sequence;
  spec.dst = net::MacAddress::Parse(settings.dst).value();  // checked with the arguments
  spec.on_rate = LiveRate("tx " + nic.address());
  spec.should_stop = StopRequested;
  Say(nic.address() + ": sending " + std::to_string(spec.count) + " test frames");
  auto sent = net::SendTestFrames(nic.device(), spec);
  EndLiveRate();
  if (!sent) return std::unexpected(sent.error());
  auto counters = nic.device().GetCounters();
  if (!counters) return std::unexpected(counters.error());
  const double cpu_ns = CpuPerFrame(sent->cpu_time, sent->frames);
  const double busy_ns = CpuPerFrame(sent->machine_busy_time, sent->frames);
  if (settings.json) {
    Json document{{"command", "tx"}, {"device", DeviceJson(nic)}};
    document["frames"] = sent->frames;
    document["bytes"] = sent->bytes;
    document["seconds"] = sent->seconds;
    document["frames_per_second"] = PerSecond(sent->frames, sent->seconds);
    document["bits_per_second"] = PerSecond(sent->bytes * 8, sent->seconds);
    document["cpu_seconds"] = static_cast<double>(sent->cpu_time) / 1e9;
    document["machine_busy_ns_per_frame"] = busy_ns;
    document["cpu_ns_per_frame"] = cpu_ns;
    document["ring_full_retries"] = sent->ring_full_retries;
    document["buffer_waits"] = sent->buffer_waits;
    document["confirmed"] = sent->confirmed;
    document["counter_tx_packets"] = sent->counter_tx_packets;
    document["stopped"] = sent->stopped;
    document["counters"] = CountersJson(*counters);
    PrintJson(document);
  } else {
    std::printf("tx %s: %llu frames, %llu bytes in %.3f s: %.0f frames/s, %.2f Mbit/s; CPU %.1f "
                "us/frame, machine %.1f us/frame; ring full %llu times, no buffer %llu times; "
                "%s\n",
                nic.address().c_str(), static_cast<unsigned long long>(sent->frames),
                static_cast<unsigned long long>(sent->bytes), sent->seconds,
                PerSecond(sent->frames, sent->seconds),
                PerSecond(sent->bytes * 8, sent->seconds) / 1e6, cpu_ns / 1e3, busy_ns / 1e3,
                static_cast<unsigned long long>(sent->ring_full_retries),
                static_cast<unsigned long long>(sent->buffer_waits),
                sent->confirmed ? "the NIC's tx_packets counter confirms them"
                                : ("the NIC's tx_packets counter shows only " +
                                   std::to_string(sent->counter_tx_packets))
                                      .c_str());
  }
  if (sent->stopped) return Fail(Status::CANCELED, "tx: stopped by a signal", nic.address());
  if (!sent->confirmed) {
    return Fail(Status::IO,
                "tx: the NIC's tx_packets counter grew by " +
                    std::to_string(sent->counter_tx_packets) + ", not " +
                    std::to_string(sent->frames),
                nic.address());
  }
  return {};
}

Result<void> Receive(udrv_net::Nic& nic, const Settings& settings) {
  UDRV_TRY(WaitForLink(nic, settings));
  net::ReceiveSpec spec;
  spec.count = settings.count;
  spec.stream = settings.stream;
  spec.first_sequence = settings.first_sequence;
  spec.timeout = Nanoseconds(settings.timeout_s);
  spec.on_rate = LiveRate("rx " + nic.address());
  spec.should_stop = StopRequested;
  // A peer waits for this line before it sends.
  Say(nic.address() + ": ready, receiving " + std::to_string(spec.count) + " test frames");
  auto received = net::ReceiveTestFrames(nic.device(), spec);
  EndLiveRate();
  if (!received) return std::unexpected(received.error());
  auto counters = nic.device().GetCounters();
  if (!counters) return std::unexpected(counters.error());
  const net::StreamTally& tally = received->tally;
  const bool ok = received->ok(settings.count);
  const double cpu_ns = CpuPerFrame(received->cpu_time, tally.frames);
  const double busy_ns = CpuPerFrame(received->machine_busy_time, tally.frames);
  if (settings.json) {
    Json document{{"command", "rx"}, {"device", DeviceJson(nic)}};
    document["ok"] = ok;
    document["expected"] = settings.count;
    for (const net::NamedCounter& count : net::TallyCounts(tally)) {
      document[count.name] = count.value;
    }
    document["first_error"] = tally.first_error;
    document["timed_out"] = received->timed_out;
    document["stopped"] = received->stopped;
    document["seconds"] = received->seconds;
    document["frames_per_second"] = PerSecond(tally.frames, received->seconds);
    document["bits_per_second"] = PerSecond(tally.bytes * 8, received->seconds);
    document["cpu_seconds"] = static_cast<double>(received->cpu_time) / 1e9;
    document["machine_busy_ns_per_frame"] = busy_ns;
    document["cpu_ns_per_frame"] = cpu_ns;
    document["counters"] = CountersJson(*counters);
    PrintJson(document);
  } else {
    std::printf("rx %s: %llu of %llu test frames (%llu good), %llu bytes in %.3f s: %.0f "
                "frames/s; CPU %.1f us/frame, machine %.1f us/frame; other %llu, corrupt %llu, "
                "wrong stream %llu, "
                "out of range %llu, late %llu, duplicates %llu, missing %llu%s\n",
                nic.address().c_str(), static_cast<unsigned long long>(tally.frames),
                static_cast<unsigned long long>(settings.count),
                static_cast<unsigned long long>(tally.good),
                static_cast<unsigned long long>(tally.bytes), received->seconds,
                PerSecond(tally.frames, received->seconds), cpu_ns / 1e3, busy_ns / 1e3,
                static_cast<unsigned long long>(tally.other),
                static_cast<unsigned long long>(tally.corrupt),
                static_cast<unsigned long long>(tally.wrong_stream),
                static_cast<unsigned long long>(tally.out_of_range),
                static_cast<unsigned long long>(tally.late),
                static_cast<unsigned long long>(tally.duplicates),
                static_cast<unsigned long long>(tally.missing),
                received->timed_out ? "; timed out" : "");
    if (!tally.first_error.empty()) std::printf("first problem: %s\n", tally.first_error.c_str());
  }
  if (received->stopped) return Fail(Status::CANCELED, "rx: stopped by a signal", nic.address());
  if (!ok) {
    return Fail(received->timed_out ? Status::TIMED_OUT : Status::IO_DATA_INTEGRITY,
                "rx: " + net::DescribeShortfall(tally, settings.count),
                nic.address());
  }
  return {};
}

Result<void> ForwardFrames(udrv_net::Nic& from, udrv_net::Nic& to, const Settings& settings) {
  UDRV_TRY(WaitForLink(from, settings));
  UDRV_TRY(WaitForLink(to, settings));
  net::ForwardSpec spec;
  spec.count = settings.count;
  spec.duration = Nanoseconds(settings.duration_s);
  spec.on_rate = LiveRate("fwd " + from.address() + " -> " + to.address());
  spec.should_stop = StopRequested;
  Say("ready, forwarding " + from.address() + " -> " + to.address());
  auto forwarded = net::Forward(from.device(), to.device(), spec);
  EndLiveRate();
  if (!forwarded) return std::unexpected(forwarded.error());
  const double cpu_ns = CpuPerFrame(forwarded->cpu_time, forwarded->frames);
  const double busy_ns = CpuPerFrame(forwarded->machine_busy_time, forwarded->frames);
  if (settings.json) {
    Json document{{"command", "fwd"}, {"from", DeviceJson(from)}, {"to", DeviceJson(to)}};
    document["frames"] = forwarded->frames;
    document["bytes"] = forwarded->bytes;
    document["dropped"] = forwarded->dropped;
    document["seconds"] = forwarded->seconds;
    document["frames_per_second"] = PerSecond(forwarded->frames, forwarded->seconds);
    document["cpu_seconds"] = static_cast<double>(forwarded->cpu_time) / 1e9;
    document["machine_busy_ns_per_frame"] = busy_ns;
    document["cpu_ns_per_frame"] = cpu_ns;
    document["stopped"] = forwarded->stopped;
    auto from_counters = from.device().GetCounters();
    auto to_counters = to.device().GetCounters();
    if (from_counters) document["from_counters"] = CountersJson(*from_counters);
    if (to_counters) document["to_counters"] = CountersJson(*to_counters);
    PrintJson(document);
  } else {
    std::printf("fwd %s -> %s: %llu frames, %llu bytes in %.3f s: %.0f frames/s; CPU %.1f "
                "us/frame, machine %.1f us/frame; dropped %llu\n",
                from.address().c_str(), to.address().c_str(),
                static_cast<unsigned long long>(forwarded->frames),
                static_cast<unsigned long long>(forwarded->bytes), forwarded->seconds,
                PerSecond(forwarded->frames, forwarded->seconds), cpu_ns / 1e3, busy_ns / 1e3,
                static_cast<unsigned long long>(forwarded->dropped));
  }
  if (forwarded->dropped > 0) {
    return Fail(Status::IO_OVERRUN,
                "fwd: " + std::to_string(forwarded->dropped) + " frames dropped", to.address());
  }
  return {};
}

Result<void> Run(const Settings& settings) {
  pci::PciBusOptions options;
  options.route = settings.route == "uio" ? pci::PciRoute::UIO : pci::PciRoute::VFIO;
  options.physical_dma.device_may_reach_all_memory = settings.unsafe_physical_dma;
  options.log = Say;
  auto pci_bus = pci::PciBus::Create(options);
  if (!pci_bus) return std::unexpected(pci_bus.error());
  const std::vector<bus::Driver> drivers = udrv::drivers::AllDrivers();

  auto nic = udrv_net::Nic::Open(**pci_bus, pci::Address::Parse(settings.device).value(), drivers,
                                 settings.driver_options, Say);
  if (!nic) return std::unexpected(nic.error());
  std::unique_ptr<udrv_net::Nic> other;
  if (settings.command == "fwd") {
    auto opened = udrv_net::Nic::Open(**pci_bus, pci::Address::Parse(settings.other).value(),
                                      drivers, settings.driver_options, Say);
    if (!opened) return std::unexpected(opened.error());  // the first closes as it goes
    other = std::move(*opened);
  }

  Result<void> result;
  if (settings.command == "info") result = Info(**nic, settings);
  if (settings.command == "tx") result = Transmit(**nic, settings);
  if (settings.command == "rx") result = Receive(**nic, settings);
  if (settings.command == "fwd") result = ForwardFrames(**nic, *other, settings);

  // The forwarding target first: the reverse of opening.
  for (udrv_net::Nic* closing : {other.get(), nic->get()}) {
    if (closing == nullptr) continue;
    auto closed = closing->Close();
    if (!closed && result) result = std::unexpected(closed.error());
    if (!closed) Say("also failed: " + closed.error().ToString());
  }
  return result;
}

std::string CheckAddress(const std::string& text) {
  auto address = pci::Address::Parse(text);
  return address ? std::string() : address.error().what;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "udrv-net: test traffic on a NIC that udrv's driver drives (info, tx, rx, fwd). Binds "
      "drivers: for testbed guests only."};
  // "<name run by> 0.2.0 (libudrv-core 0.2.0)": the version compiled in and
  // the shared library's, which can differ (udrv/core/version.h).
  app.set_version_flag("--version",
                       [program = std::string(argv[0])] { return udrv::VersionLine(program); });
  Settings settings;
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("DEV", settings.device, "the NIC's PCI address, DDDD:BB:DD.F")
      ->required()
      ->check(CheckAddress);
  app.add_flag("--json", settings.json, "print the statistics as one JSON document");
  app.add_option("--route", settings.route,
                 "how the driver reaches the NIC: vfio (vfio-pci, the default) or uio "
                 "(uio_pci_generic)")
      ->check(CLI::IsMember({"vfio", "uio"}));
  app.add_flag("--unsafe-physical-dma", settings.unsafe_physical_dma,
               "--route uio: let the NIC DMA to physical addresses (it could reach ALL memory)");
  app.add_option("--driver-option", settings.driver_option_assignments,
                 "DRIVER.OPTION=VALUE: one of the driver's options (repeatable), e.g. "
                 "e1000e.interrupts=polling")
      ->allow_extra_args(false);
  app.add_option("--link-timeout", settings.link_timeout_s,
                 "seconds to wait for the link to come up (default 10)")
      ->check(CLI::Range(0.0, 3600.0));

  app.add_subcommand("info", "the NIC, its link and its counters");

  auto* tx = app.add_subcommand("tx", "send test frames as fast as the NIC takes them");
  tx->add_option("--count", settings.count, "frames to send")->required()->check(
      CLI::Range(uint64_t{1}, UINT64_MAX));
  tx->add_option("--size", settings.sizes,
                 "frame length in bytes, 60..1514 (repeatable: the sizes are cycled; default 60)")
      ->check(CLI::Range(uint32_t{60}, uint32_t{1514}))
      ->allow_extra_args(false);
  tx->add_option("--dst", settings.dst, "destination MAC (default ff:ff:ff:ff:ff:ff)")
      ->check([](const std::string& text) {
        auto mac = net::MacAddress::Parse(text);
        return mac ? std::string() : mac.error().what;
      });

  auto* rx = app.add_subcommand("rx", "receive test frames, verify each, in order");
  rx->add_option("--count", settings.count, "test frames to receive")->required()->check(
      CLI::Range(uint64_t{1}, UINT64_MAX));
  rx->add_option("--timeout", settings.timeout_s,
                 "seconds the whole receive may take (default 30)")
      ->check(CLI::Range(0.001, 86400.0));

  for (CLI::App* command : {tx, rx}) {
    command->add_option("--stream", settings.stream, "the stream id (default 0)");
    command->add_option("--first-sequence", settings.first_sequence,
                        "the first frame's sequence number (default 0)");
  }

  auto* fwd = app.add_subcommand("fwd", "copy every frame DEV receives to OTHER and send it");
  fwd->add_option("OTHER", settings.other, "the other NIC's PCI address")
      ->required()
      ->check(CheckAddress);
  fwd->add_option("--count", settings.count, "stop after this many frames");
  fwd->add_option("--duration", settings.duration_s, "stop after this many seconds")
      ->check(CLI::Range(0.0, 86400.0 * 365));

  try {
    app.parse(argc, argv);
    settings.command = app.get_subcommands().front()->get_name();
    if (settings.unsafe_physical_dma && settings.route != "uio") {
      throw CLI::ValidationError("--unsafe-physical-dma", "applies to --route uio only");
    }
    if (settings.command == "fwd" &&
        pci::Address::Parse(settings.other).value() == pci::Address::Parse(settings.device).value()) {
      throw CLI::ValidationError("OTHER", "is DEV itself; fwd needs two NICs");
    }
    if (settings.sizes.empty()) settings.sizes = {static_cast<uint32_t>(net::kMinTestFrameSize)};
    const std::vector<bus::Driver> drivers = udrv::drivers::AllDrivers();
    auto options = bus::ParseDriverOptions(drivers, settings.driver_option_assignments);
    if (!options) throw CLI::ValidationError("--driver-option", options.error().what);
    settings.driver_options = std::move(*options);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; everything else is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }

  struct sigaction action{};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  auto result = Run(settings);
  if (!result) {
    std::fprintf(stderr, "udrv-net: FAILED: %s\n", result.error().ToString().c_str());
    return 1;
  }
  return 0;
}
