#include "udrv/net/traffic.h"

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "loopback_device.h"
#include "result_helpers.h"

namespace net = udrv::net;
using Catch::Matchers::Contains;
using udrv::Status;
using udrv::testing::LoopbackDevice;
using udrv::testing::StatusOf;

namespace {

// A receiver with room for a whole test's frames.
LoopbackDevice::Config Roomy(std::string name) {
  return {.name = std::move(name), .pool_size = 4096, .rx_ring_size = 4096};
}

net::SendSpec Sending(uint64_t count, std::vector<uint32_t> sizes = {60, 1514, 61, 999}) {
  net::SendSpec spec;
  spec.count = count;
  spec.sizes = std::move(sizes);
  spec.stream = 5;
  spec.dst = net::MacAddress::Parse("52:54:00:00:00:02").value();
  return spec;
}

net::ReceiveSpec Receiving(uint64_t count) {
  net::ReceiveSpec spec;
  spec.count = count;
  spec.stream = 5;
  spec.timeout = 200'000'000;
  return spec;
}

}  // namespace

TEST_CASE("frames sent on one device arrive verified on another", "[net][traffic]") {
  LoopbackDevice sender;  // a ring of 16 under bursts of 32: it fills
  LoopbackDevice receiver(Roomy("loop1"));
  sender.ConnectTo(&receiver);

  auto sent = net::SendTestFrames(sender, Sending(1000));
  REQUIRE_OK(sent);
  CHECK(sent->frames == 1000);
  CHECK(sent->bytes == 250 * (60 + 1514 + 61 + 999));
  CHECK(sent->ring_full_retries > 0);
  CHECK(sent->confirmed);
  CHECK(sent->counter_tx_packets == 1000);
  CHECK_FALSE(sent->stopped);
  CHECK(sender.free_buffers() == 64);  // every buffer back in the pool

  auto received = net::ReceiveTestFrames(receiver, Receiving(1000));
  REQUIRE_OK(received);
  INFO(received->tally.first_error);
  CHECK(received->ok(1000));
  CHECK(received->tally.good == 1000);
  CHECK(received->tally.bytes == sent->bytes);
  CHECK_FALSE(received->timed_out);
  CHECK(receiver.free_buffers() == 4096);
}

TEST_CASE("the source MAC is the device's unless given", "[net][traffic]") {
  LoopbackDevice device(Roomy("loop0"));
  auto spec = Sending(1, {60});
  REQUIRE_OK(net::SendTestFrames(device, spec));
  net::Packet packet;
  REQUIRE(device.RxBurst(std::span(&packet, 1)).value() == 1);
  auto info = net::VerifyTestFrame(std::span<const std::byte>(packet.data, packet.length));
  REQUIRE_OK(info);
  CHECK(info->src == device.GetInfo().mac);
  CHECK(info->dst.ToString() == "52:54:00:00:00:02");
  CHECK(info->stream == 5);
  device.FreeBuffers(std::span(&packet, 1));

  spec.src = net::MacAddress::Parse("02:00:00:00:00:09").value();
  spec.first_sequence = 41;
  REQUIRE_OK(net::SendTestFrames(device, spec));
  REQUIRE(device.RxBurst(std::span(&packet, 1)).value() == 1);
  info = net::VerifyTestFrame(std::span<const std::byte>(packet.data, packet.length));
  CHECK(info->src.ToString() == "02:00:00:00:00:09");
  CHECK(info->sequence == 41);
  device.FreeBuffers(std::span(&packet, 1));
}

TEST_CASE("the receiver reports losses, duplicates, corruption and other frames",
          "[net][traffic]") {
  LoopbackDevice sender;
  LoopbackDevice receiver(Roomy("loop1"));
  sender.ConnectTo(&receiver);

  SECTION("a frame lost") {
    sender.SetWireHook([](LoopbackDevice::Frame frame, uint64_t index) {
      return index == 17 ? std::vector<LoopbackDevice::Frame>{}
                         : std::vector<LoopbackDevice::Frame>{std::move(frame)};
    });
    REQUIRE_OK(net::SendTestFrames(sender, Sending(100)));
    auto received = net::ReceiveTestFrames(receiver, Receiving(100));
    REQUIRE_OK(received);
    CHECK(received->timed_out);
    CHECK(received->tally.missing == 1);
    CHECK(received->tally.good == 99);
    CHECK_FALSE(received->ok(100));
    CHECK_THAT(received->tally.first_error, Contains("sequence 18, expected 17 (1 missing)"));
    CHECK_THAT(net::DescribeShortfall(received->tally, 100),
               Contains("99 of 100 test frames verified; missing 1; first problem"));
  }
  SECTION("a frame twice") {
    sender.SetWireHook([](LoopbackDevice::Frame frame, uint64_t index) {
      std::vector<LoopbackDevice::Frame> out{frame};
      if (index == 3) out.push_back(frame);
      return out;
    });
    REQUIRE_OK(net::SendTestFrames(sender, Sending(10)));
    auto received = net::ReceiveTestFrames(receiver, Receiving(10));
    REQUIRE_OK(received);
    CHECK(received->tally.duplicates == 1);
    CHECK(received->tally.frames == 10);
    CHECK_FALSE(received->ok(10));
    CHECK_THAT(received->tally.first_error, Contains("sequence 3 again (a duplicate)"));
  }
  SECTION("two frames swapped") {
    auto held = std::make_shared<LoopbackDevice::Frame>();
    sender.SetWireHook([held](LoopbackDevice::Frame frame, uint64_t index) {
      if (index == 4) {
        *held = std::move(frame);
        return std::vector<LoopbackDevice::Frame>{};
      }
      std::vector<LoopbackDevice::Frame> out{std::move(frame)};
      if (index == 5) out.push_back(*held);
      return out;
    });
    REQUIRE_OK(net::SendTestFrames(sender, Sending(10)));
    auto received = net::ReceiveTestFrames(receiver, Receiving(10));
    REQUIRE_OK(received);
    CHECK(received->tally.late == 1);
    CHECK(received->tally.missing == 0);
    CHECK(received->tally.duplicates == 0);
    CHECK(received->tally.good == 10);
    CHECK_FALSE(received->ok(10));
    CHECK_THAT(received->tally.first_error, Contains("sequence 5, expected 4 (1 missing)"));
    CHECK_THAT(net::DescribeShortfall(received->tally, 10),
               Contains("10 of 10 test frames verified; late 1; first problem: test frame 5"));
  }
  SECTION("a byte changed on the wire") {
    sender.SetWireHook([](LoopbackDevice::Frame frame, uint64_t index) {
      if (index == 5) frame[frame.size() - 10] ^= std::byte{0x80};
      return std::vector<LoopbackDevice::Frame>{std::move(frame)};
    });
    REQUIRE_OK(net::SendTestFrames(sender, Sending(8)));
    auto received = net::ReceiveTestFrames(receiver, Receiving(8));
    REQUIRE_OK(received);
    CHECK(received->tally.corrupt == 1);
    CHECK_THAT(received->tally.first_error,
               Contains("test frame 6 received (expected sequence 5)") &&
                   Contains("checksum mismatch") && Contains("payload byte"));
  }
  SECTION("frames of other EtherTypes are counted and ignored") {
    LoopbackDevice::Frame arp(60);
    arp[12] = std::byte{0x08};
    arp[13] = std::byte{0x06};
    receiver.Inject(arp);
    REQUIRE_OK(net::SendTestFrames(sender, Sending(20)));
    receiver.Inject(arp);
    auto received = net::ReceiveTestFrames(receiver, Receiving(20));
    REQUIRE_OK(received);
    CHECK(received->ok(20));
    CHECK(received->tally.other >= 1);
  }
  CHECK(receiver.free_buffers() == 4096);
}

TEST_CASE("receiving stops at its timeout or when told", "[net][traffic]") {
  LoopbackDevice device;
  auto spec = Receiving(5);
  spec.timeout = 50'000'000;
  auto received = net::ReceiveTestFrames(device, spec);
  REQUIRE_OK(received);
  CHECK(received->timed_out);
  CHECK(received->tally.frames == 0);
  CHECK_FALSE(received->ok(5));

  spec.timeout = 10'000'000'000;
  int checks = 0;
  spec.should_stop = [&] { return ++checks > 3; };
  received = net::ReceiveTestFrames(device, spec);
  REQUIRE_OK(received);
  CHECK(received->stopped);
  CHECK_FALSE(received->timed_out);
}

TEST_CASE("SendTestFrames refuses sizes it cannot send", "[net][traffic]") {
  LoopbackDevice device(LoopbackDevice::Config{.buffer_size = 1024});
  CHECK_THAT(net::SendTestFrames(device, Sending(1, {59})).error().what,
             Contains("59 bytes is not 60..1514"));
  CHECK_THAT(net::SendTestFrames(device, Sending(1, {60, 1515})).error().what,
             Contains("1515 bytes is not 60..1514"));
  CHECK_THAT(net::SendTestFrames(device, Sending(1, {})).error().what, Contains("no frame size"));
  auto too_big = net::SendTestFrames(device, Sending(1, {1500}));
  CHECK(StatusOf(too_big) == "INVALID_ARGS");
  CHECK_THAT(too_big.error().what, Contains("does not fit the device's buffers of 1024"));
  CHECK(device.free_buffers() == 64);
}

TEST_CASE("a device that never completes a send stalls SendTestFrames", "[net][traffic]") {
  LoopbackDevice device;
  device.SetWireStuck(true);
  auto spec = Sending(100);
  spec.stall_timeout = 100'000'000;
  auto sent = net::SendTestFrames(device, spec);
  CHECK(StatusOf(sent) == "TIMED_OUT");
  CHECK_THAT(sent.error().what, Contains("took no frame for 100 ms after 16 of 100"));
  CHECK(device.tx_in_flight() == 16);
  CHECK(device.free_buffers() == 64 - 16);  // what was not queued went back
}

TEST_CASE("a device gone mid-send or mid-receive is an error", "[net][traffic]") {
  LoopbackDevice device(Roomy("loop0"));
  device.FailWith(Status::IO_NOT_PRESENT);
  auto sent = net::SendTestFrames(device, Sending(10));
  CHECK(StatusOf(sent) == "IO_NOT_PRESENT");
  CHECK_THAT(sent.error().what, Contains("send test frames: after 0"));
  CHECK(device.free_buffers() == 4096);
  CHECK(StatusOf(net::ReceiveTestFrames(device, Receiving(1))) == "IO_NOT_PRESENT");
}

TEST_CASE("sending stops when told, the rest of its buffers given back", "[net][traffic]") {
  LoopbackDevice sender;
  LoopbackDevice receiver(Roomy("loop1"));
  sender.ConnectTo(&receiver);
  auto spec = Sending(1000);
  int checks = 0;
  spec.should_stop = [&] { return ++checks > 5; };
  auto sent = net::SendTestFrames(sender, spec);
  REQUIRE_OK(sent);
  CHECK(sent->stopped);
  CHECK(sent->frames < 1000);
  CHECK_FALSE(sent->confirmed);
  REQUIRE_OK(sender.WaitForWork(0));  // the wire sends what was queued
  CHECK(sender.free_buffers() == 64);
}

TEST_CASE("Forward copies frames from one device to another, in order", "[net][traffic]") {
  LoopbackDevice source;
  LoopbackDevice a(Roomy("a"));
  LoopbackDevice b(LoopbackDevice::Config{.name = "b", .tx_ring_size = 8});
  LoopbackDevice sink(Roomy("sink"));
  source.ConnectTo(&a);
  b.ConnectTo(&sink);

  REQUIRE_OK(net::SendTestFrames(source, Sending(500)));
  net::ForwardSpec spec;
  spec.count = 500;
  auto forwarded = net::Forward(a, b, spec);
  REQUIRE_OK(forwarded);
  CHECK(forwarded->frames == 500);
  CHECK(forwarded->dropped == 0);
  CHECK(forwarded->bytes == 125 * (60 + 1514 + 61 + 999));
  REQUIRE_OK(b.WaitForWork(0));

  auto received = net::ReceiveTestFrames(sink, Receiving(500));
  REQUIRE_OK(received);
  INFO(received->tally.first_error);
  CHECK(received->ok(500));
  CHECK(a.free_buffers() == 4096);
  CHECK(b.free_buffers() == 64);
}

TEST_CASE("Forward drops what the other device cannot hold", "[net][traffic]") {
  LoopbackDevice source;
  LoopbackDevice a(Roomy("a"));
  LoopbackDevice b(LoopbackDevice::Config{.name = "b", .buffer_size = 1024});
  source.ConnectTo(&a);
  REQUIRE_OK(net::SendTestFrames(source, Sending(4, {60, 1514})));
  net::ForwardSpec spec;
  spec.count = 4;
  auto forwarded = net::Forward(a, b, spec);
  REQUIRE_OK(forwarded);
  CHECK(forwarded->frames == 2);
  CHECK(forwarded->dropped == 2);
  REQUIRE_OK(b.WaitForWork(0));
  CHECK(a.free_buffers() == 4096);
}

TEST_CASE("Forward refuses nonsense and ends on its duration with rate samples",
          "[net][traffic]") {
  LoopbackDevice a;
  LoopbackDevice b;
  net::ForwardSpec spec;
  spec.count = 1;
  CHECK(StatusOf(net::Forward(a, a, spec)) == "INVALID_ARGS");
  spec.count = 0;
  CHECK_THAT(net::Forward(a, b, spec).error().what, Contains("no count, no duration"));

  std::vector<net::RateSample> samples;
  // Once a second: one sample in 1.5 s (two if the loop was held up right
  // at the end on a busy machine).
  spec.duration = 1'500'000'000;
  spec.on_rate = [&](const net::RateSample& sample) { samples.push_back(sample); };
  auto forwarded = net::Forward(a, b, spec);
  REQUIRE_OK(forwarded);
  CHECK(forwarded->frames == 0);
  REQUIRE(samples.size() >= 1);
  CHECK(samples.size() <= 2);
  CHECK(samples[0].seconds >= 1.0);
  CHECK(samples[0].frames_per_second == 0);
}

TEST_CASE("WaitForLink waits for the link, or says it stayed down", "[net][traffic]") {
  LoopbackDevice device;
  REQUIRE_OK(net::WaitForLink(device, 0));
  device.SetLinkUp(false);
  auto link = net::WaitForLink(device, 30'000'000);
  CHECK(StatusOf(link) == "TIMED_OUT");
  CHECK_THAT(link.error().ToString(), Contains("still down after 30 ms [loop0]"));
}

TEST_CASE("MachineBusyTime counts this process's busy time, and more", "[net][traffic]") {
  const udrv::Duration busy_start = net::MachineBusyTime();
  REQUIRE(busy_start > 0);
  // Spin for 200 ms of CPU: the machine is busy at least that long
  // (less one 10 ms tick at each end).
  const udrv::Duration cpu_start = net::ProcessCpuTime();
  while (net::ProcessCpuTime() - cpu_start < 200'000'000) {
  }
  CHECK(net::MachineBusyTime() - busy_start >= 150'000'000);
}
