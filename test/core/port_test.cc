#include "result_helpers.h"
#include "udrv/core/port.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "udrv/core/interrupt.h"

namespace {

using namespace std::chrono_literals;
using udrv::PacketType;
using udrv::Port;
using udrv::PortPacket;
using udrv::Result;
using udrv::Status;
using udrv::testing::StatusOf;

PortPacket UserPacket(uint64_t key, uint8_t fill) {
  PortPacket packet;
  packet.key = key;
  for (size_t i = 0; i < packet.user.size(); ++i) packet.user[i] = static_cast<uint8_t>(fill + i);
  return packet;
}

TEST_CASE("port: a user packet round-trips with key, status and payload", "[port]") {
  auto port = Port::Create("round-trip");
  REQUIRE_OK(port);
  CHECK(port->rights() == udrv::kDefaultPortRights);
  PortPacket sent = UserPacket(0x1234'5678'9abc'def0, 0x40);
  sent.status = Status::IO_OVERRUN;
  sent.type = PacketType::INTERRUPT;  // Queue makes every packet a USER packet
  sent.interrupt.timestamp = 99;
  REQUIRE_OK(port->Queue(sent));

  auto received = port->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(received);
  CHECK(received->key == sent.key);
  CHECK(received->type == PacketType::USER);
  CHECK(received->status == Status::IO_OVERRUN);
  CHECK(received->user == sent.user);
  CHECK(received->interrupt.timestamp == 0);
  CHECK(StatusOf(port->Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
}

TEST_CASE("port: user packets come out in the order they were queued", "[port]") {
  auto port = Port::Create();
  REQUIRE_OK(port);
  for (uint64_t key = 1; key <= 5; ++key) REQUIRE_OK(port->Queue(UserPacket(key, 0)));
  for (uint64_t key = 1; key <= 5; ++key) {
    auto packet = port->Wait(udrv::DeadlineAfter(5s));
    REQUIRE_OK(packet);
    CHECK(packet->key == key);
  }
  CHECK(StatusOf(port->Wait(udrv::Now())) == "TIMED_OUT");
}

TEST_CASE("port: Wait times out at its deadline", "[port]") {
  auto port = Port::Create();
  REQUIRE_OK(port);
  auto timed_out = port->Wait(udrv::DeadlineAfter(20ms));
  REQUIRE(StatusOf(timed_out) == "TIMED_OUT");
  CHECK(timed_out.error().object == "port 'port'");
  CHECK(StatusOf(port->Wait(udrv::Now())) == "TIMED_OUT");
}

TEST_CASE("port: a Queue from another thread wakes a blocked Wait", "[port]") {
  auto port = Port::Create();
  REQUIRE_OK(port);
  Result<PortPacket> received = udrv::Fail(Status::INTERNAL, "not run");
  std::thread waiter([&] { received = port->Wait(udrv::DeadlineAfter(10s)); });
  std::this_thread::sleep_for(50ms);
  REQUIRE_OK(port->Queue(UserPacket(77, 1)));
  waiter.join();
  REQUIRE_OK(received);
  CHECK(received->key == 77);
}

TEST_CASE("port: several waiting threads each get one packet", "[port]") {
  auto port = Port::Create();
  REQUIRE_OK(port);
  constexpr int kThreads = 4;
  std::vector<Result<PortPacket>> received(kThreads, udrv::Fail(Status::INTERNAL, "not run"));
  std::vector<std::thread> waiters;
  for (int i = 0; i < kThreads; ++i) {
    waiters.emplace_back([&, i] { received[i] = port->Wait(udrv::DeadlineAfter(10s)); });
  }
  for (uint64_t key = 1; key <= kThreads; ++key) REQUIRE_OK(port->Queue(UserPacket(key, 0)));
  for (auto& waiter : waiters) waiter.join();
  uint64_t key_sum = 0;
  for (const auto& packet : received) {
    REQUIRE_OK(packet);
    key_sum += packet->key;
  }
  CHECK(key_sum == 1 + 2 + 3 + 4);
}

TEST_CASE("port: user and interrupt packets share the port", "[port]") {
  auto port = Port::Create();
  REQUIRE_OK(port);
  auto irq = udrv::Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  REQUIRE_OK(irq->Bind(*port, 2));
  REQUIRE_OK(port->Queue(UserPacket(1, 0)));
  REQUIRE_OK(irq->Trigger(500));
  bool saw_user = false;
  bool saw_interrupt = false;
  for (int i = 0; i < 2; ++i) {
    auto packet = port->Wait(udrv::DeadlineAfter(5s));
    REQUIRE_OK(packet);
    if (packet->type == PacketType::USER) {
      saw_user = packet->key == 1;
    } else {
      saw_interrupt = packet->key == 2 && packet->interrupt.timestamp == 500;
    }
  }
  CHECK(saw_user);
  CHECK(saw_interrupt);
  CHECK(StatusOf(port->Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
}

TEST_CASE("port: Queue refuses more than kMaxQueuedPackets pending packets", "[port]") {
  auto port = Port::Create();
  REQUIRE_OK(port);
  for (size_t i = 0; i < Port::kMaxQueuedPackets; ++i) {
    auto queued = port->Queue(UserPacket(i, 0));
    if (!queued) FAIL(queued.error().ToString());
  }
  CHECK(StatusOf(port->Queue(UserPacket(0, 0))) == "SHOULD_WAIT");
  REQUIRE_OK(port->Wait(udrv::Now()));
  REQUIRE_OK(port->Queue(UserPacket(0, 0)));
}

TEST_CASE("port: Queue needs WRITE, Wait needs READ", "[port]") {
  auto port = Port::Create();
  REQUIRE_OK(port);
  auto read_only = port->Duplicate(udrv::kRightRead);
  REQUIRE_OK(read_only);
  auto denied = read_only->Queue(UserPacket(1, 0));
  REQUIRE(StatusOf(denied) == "ACCESS_DENIED");
  CHECK(denied.error().what.find("WRITE") != std::string::npos);

  auto write_only = port->Duplicate(udrv::kRightWrite);
  REQUIRE_OK(write_only);
  REQUIRE_OK(write_only->Queue(UserPacket(1, 0)));
  CHECK(StatusOf(write_only->Wait(udrv::Now())) == "ACCESS_DENIED");
  REQUIRE_OK(read_only->Wait(udrv::Now()));

  Port invalid;
  CHECK(StatusOf(invalid.Queue(UserPacket(1, 0))) == "BAD_HANDLE");
  CHECK(StatusOf(invalid.Wait(udrv::Now())) == "BAD_HANDLE");
}

}  // namespace
