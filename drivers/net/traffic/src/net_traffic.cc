#include "udrv/drivers/net_traffic/net_traffic.h"

#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/net/device.h"
#include "udrv/net/test_frame.h"
#include "udrv/net/traffic.h"

namespace udrv::drivers::net_traffic {

namespace {

struct Settings {
  uint64_t tx_count = 0;
  uint64_t rx_count = 0;
  std::vector<uint32_t> sizes;
  uint32_t stream = 0;
  Duration link_timeout = 0;
  Duration rx_timeout = 0;
};

// "60,1514,61": each 60..1514.
Result<std::vector<uint32_t>> ParseSizes(std::string_view text) {
  std::vector<uint32_t> sizes;
  while (!text.empty()) {
    const std::string_view item = text.substr(0, text.find(','));
    uint32_t size = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), size);
    if (error != std::errc() || end != item.data() + item.size() || size < net::kMinTestFrameSize ||
        size > net::kMaxTestFrameSize) {
      return Fail(Status::INVALID_ARGS, "sizes: '" + std::string(item) + "' is no frame length of " +
                                            std::to_string(net::kMinTestFrameSize) + ".." +
                                            std::to_string(net::kMaxTestFrameSize));
    }
    sizes.push_back(size);
    text.remove_prefix(std::min(text.size(), item.size() + 1));
  }
  if (sizes.empty()) return Fail(Status::INVALID_ARGS, "sizes: none given");
  return sizes;
}

Result<Settings> ReadSettings(const bus::DriverOptionValues& options) {
  Settings settings;
  UDRV_TRY_ASSIGN(settings.tx_count, options.GetNumber("tx-count"));
  UDRV_TRY_ASSIGN(settings.rx_count, options.GetNumber("rx-count"));
  UDRV_TRY_ASSIGN(const std::string sizes, options.GetString("sizes"));
  UDRV_TRY_ASSIGN(settings.sizes, ParseSizes(sizes));
  UDRV_TRY_ASSIGN(const uint64_t stream, options.GetNumber("stream"));
  if (stream > UINT32_MAX) return Fail(Status::INVALID_ARGS, "stream: past 2^32");
  settings.stream = static_cast<uint32_t>(stream);
  UDRV_TRY_ASSIGN(settings.link_timeout, options.GetDuration("link-timeout"));
  UDRV_TRY_ASSIGN(settings.rx_timeout, options.GetDuration("rx-timeout"));
  return settings;
}

// "1000 frames (60000 bytes) in 0.081 s: 12345 frames/s, 41.2 us CPU per frame".
std::string Rate(uint64_t frames, uint64_t bytes, double seconds, Duration cpu_time) {
  const double per_second = seconds > 0 ? static_cast<double>(frames) / seconds : 0;
  const double cpu_us =
      frames > 0 ? static_cast<double>(cpu_time) / 1e3 / static_cast<double>(frames) : 0;
  char text[160];
  std::snprintf(text, sizeof text,
                "%llu frames (%llu bytes) in %.3f s: %.0f frames/s, %.1f us CPU per frame",
                static_cast<unsigned long long>(frames), static_cast<unsigned long long>(bytes),
                seconds, per_second, cpu_us);
  return text;
}

std::string CounterLine(const net::Counters& before, const net::Counters& after) {
  return "the NIC's counters grew by tx_packets " + std::to_string(after.tx_packets - before.tx_packets) +
         ", rx_packets " + std::to_string(after.rx_packets - before.rx_packets) + ", tx_bytes " +
         std::to_string(after.tx_bytes - before.tx_bytes) + ", rx_bytes " +
         std::to_string(after.rx_bytes - before.rx_bytes) + "; rx_missed " +
         std::to_string(after.rx_missed - before.rx_missed) + ", rx_errors " +
         std::to_string(after.rx_errors - before.rx_errors);
}

// The traffic is done when the driver has started: nothing runs on.
class NetTrafficInstance final : public bus::DriverInstance {
 public:
  Result<void> Stop() override { return {}; }
};

Result<void> RunTraffic(bus::DriverContext& context, net::Device& device, const Settings& settings) {
  UDRV_TRY_ASSIGN(const net::LinkState link, net::WaitForLink(device, settings.link_timeout));
  context.Log("link up, " + std::to_string(link.speed_mbps) + " Mbps " +
              (link.full_duplex ? "full" : "half") + " duplex");
  UDRV_TRY_ASSIGN(const net::Counters before, device.GetCounters());

  std::string sizes;
  for (uint32_t size : settings.sizes) sizes += (sizes.empty() ? "" : ",") + std::to_string(size);
  if (settings.tx_count > 0) {
    net::SendSpec spec;
    spec.count = settings.tx_count;
    spec.sizes = settings.sizes;
    spec.stream = settings.stream;
    context.Log("sending " + std::to_string(spec.count) + " test frames (stream " +
                std::to_string(spec.stream) + ", sizes " + sizes + ")");
    UDRV_TRY_ASSIGN(const net::SendStats sent, net::SendTestFrames(device, spec));
    context.Log("sent " + Rate(sent.frames, sent.bytes, sent.seconds, sent.cpu_time) +
                "; ring full " + std::to_string(sent.ring_full_retries) + " time(s)");
    if (!sent.confirmed) {
      return Fail(Status::IO, "the NIC's tx_packets counter grew by " +
                                  std::to_string(sent.counter_tx_packets) + ", not by the " +
                                  std::to_string(sent.frames) + " frames sent",
                  context.node().id);
    }
  }
  if (settings.rx_count > 0) {
    net::ReceiveSpec spec;
    spec.count = settings.rx_count;
    spec.stream = settings.stream;
    spec.timeout = settings.rx_timeout;
    context.Log("receiving " + std::to_string(spec.count) + " test frames (stream " +
                std::to_string(spec.stream) + ")");
    UDRV_TRY_ASSIGN(const net::ReceiveStats received, net::ReceiveTestFrames(device, spec));
    const net::StreamTally& tally = received.tally;
    context.Log("received " + Rate(tally.frames, tally.bytes, received.seconds, received.cpu_time) +
                "; good " + std::to_string(tally.good) + ", late " + std::to_string(tally.late) +
                ", duplicates " + std::to_string(tally.duplicates) + ", missing " +
                std::to_string(tally.missing) + ", corrupt " + std::to_string(tally.corrupt) +
                ", other frames " + std::to_string(tally.other));
    if (!received.ok(spec.count)) {
      return Fail(Status::IO_DATA_INTEGRITY,
                  net::DescribeShortfall(tally, spec.count) +
                      (received.timed_out ? " (the receive timed out)" : ""),
                  context.node().id);
    }
  }
  UDRV_TRY_ASSIGN(const net::Counters after, device.GetCounters());
  context.Log(CounterLine(before, after));
  return {};
}

}  // namespace

bus::Driver MakeBusDriver() {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Present(std::string(net::kPropDriver))};
  using Type = bus::DriverOption::Type;
  driver.options = {
      {"tx-count", Type::NUMBER, "0", "test frames to send as the driver starts"},
      {"rx-count", Type::NUMBER, "0", "test frames to receive and verify after sending"},
      {"sizes", Type::STRING, "60", "frame lengths sent, 60..1514, comma-separated, cycled"},
      {"stream", Type::NUMBER, "0", "the test frames' stream id, sent and expected"},
      {"link-timeout", Type::DURATION, "10s", "how long the link may take to come up"},
      {"rx-timeout", Type::DURATION, "60s", "how long the whole receive may take"},
  };
  driver.start = [](bus::DriverContext& context) -> Result<std::unique_ptr<bus::DriverInstance>> {
    UDRV_TRY_ASSIGN(const Settings settings, ReadSettings(context.options()));
    UDRV_TRY_ASSIGN(net::Device* device, context.GetProtocol<net::Device>());
    const net::DeviceInfo info = device->GetInfo();
    context.Log("bound " + info.driver + " " + info.name + ", MAC " + info.mac.ToString() + ", " +
                info.interrupt_mode);
    if (settings.tx_count == 0 && settings.rx_count == 0) {
      context.Log("no traffic asked for (tx-count and rx-count are 0)");
    } else {
      UDRV_TRY(RunTraffic(context, *device, settings));
    }
    return std::make_unique<NetTrafficInstance>();
  };
  return driver;
}

}  // namespace udrv::drivers::net_traffic
