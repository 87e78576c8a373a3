#include "result_helpers.h"
#include "udrv/core/interrupt.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "udrv/core/port.h"

namespace {

using namespace std::chrono_literals;
using udrv::Interrupt;
using udrv::Port;
using udrv::PortPacket;
using udrv::Result;
using udrv::Status;
using udrv::testing::StatusOf;

// Stands in for the kernel signalling a hardware interrupt's eventfd.
void Fire(int event_fd) {
  const uint64_t one = 1;
  REQUIRE(write(event_fd, &one, sizeof(one)) == sizeof(one));
}

// A hardware-style interrupt over an eventfd the test keeps a copy of, with
// an on_ack that counts its calls.
struct HardwareInterrupt {
  Interrupt interrupt;
  udrv::UniqueFd kernel_side;  // the test fires the interrupt through this
  std::shared_ptr<int> acks = std::make_shared<int>(0);
};

HardwareInterrupt MakeHardwareInterrupt() {
  HardwareInterrupt hw;
  udrv::UniqueFd fd(eventfd(0, EFD_CLOEXEC));
  REQUIRE(fd);
  hw.kernel_side.reset(dup(fd.get()));
  auto acks = hw.acks;
  auto interrupt = Interrupt::CreateFromEventfd(std::move(fd), "msi-0", [acks]() -> Result<void> {
    ++*acks;
    return {};
  });
  REQUIRE_OK(interrupt);
  hw.interrupt = std::move(*interrupt);
  return hw;
}

TEST_CASE("virtual interrupt: Trigger then Wait returns the trigger's timestamp", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual("virq");
  REQUIRE_OK(irq);
  CHECK(irq->rights() == udrv::kDefaultInterruptRights);
  REQUIRE_OK(irq->Trigger(12345));
  auto timestamp = irq->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(timestamp);
  CHECK(*timestamp == 12345);
}

TEST_CASE("virtual interrupt: triggers before a Wait coalesce and keep the first timestamp",
          "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  REQUIRE_OK(irq->Trigger(100));
  REQUIRE_OK(irq->Trigger(200));
  auto timestamp = irq->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(timestamp);
  CHECK(*timestamp == 100);
  CHECK(StatusOf(irq->Wait(udrv::DeadlineAfter(10ms))) == "TIMED_OUT");
  // The next trigger brings its own timestamp.
  REQUIRE_OK(irq->Trigger(300));
  timestamp = irq->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(timestamp);
  CHECK(*timestamp == 300);
}

TEST_CASE("interrupt: Wait times out at its deadline", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  CHECK(StatusOf(irq->Wait(udrv::DeadlineAfter(20ms))) == "TIMED_OUT");
  CHECK(StatusOf(irq->Wait(udrv::Now())) == "TIMED_OUT");
  // A pending interrupt is returned even when the deadline has passed.
  REQUIRE_OK(irq->Trigger(7));
  auto timestamp = irq->Wait(udrv::Now() - 1);
  REQUIRE_OK(timestamp);
  CHECK(*timestamp == 7);
}

TEST_CASE("interrupt: a Trigger from another thread wakes a blocked Wait", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  Result<udrv::Time> timestamp = udrv::Fail(Status::INTERNAL, "not run");
  std::thread waiter([&] { timestamp = irq->Wait(udrv::DeadlineAfter(10s)); });
  std::this_thread::sleep_for(50ms);
  REQUIRE_OK(irq->Trigger(42));
  waiter.join();
  REQUIRE_OK(timestamp);
  CHECK(*timestamp == 42);
}

TEST_CASE("interrupt: Destroy cancels a Wait blocked in another thread", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  Result<udrv::Time> first = udrv::Fail(Status::INTERNAL, "not run");
  Result<udrv::Time> second = udrv::Fail(Status::INTERNAL, "not run");
  std::thread waiter1([&] { first = irq->Wait(udrv::kInfinite); });
  std::thread waiter2([&] { second = irq->Wait(udrv::kInfinite); });
  std::this_thread::sleep_for(50ms);
  REQUIRE_OK(irq->Destroy());
  waiter1.join();
  waiter2.join();
  CHECK(StatusOf(first) == "CANCELED");
  CHECK(StatusOf(second) == "CANCELED");

  // Everything after Destroy is CANCELED; Destroy again is harmless.
  auto port = Port::Create();
  REQUIRE_OK(port);
  CHECK(StatusOf(irq->Wait(udrv::kInfinite)) == "CANCELED");
  CHECK(StatusOf(irq->Trigger(1)) == "CANCELED");
  CHECK(StatusOf(irq->Ack()) == "CANCELED");
  CHECK(StatusOf(irq->Bind(*port, 1)) == "CANCELED");
  CHECK(StatusOf(irq->Unbind(*port)) == "CANCELED");
  REQUIRE_OK(irq->Destroy());
}

TEST_CASE("interrupt: Destroy works through a handle with no rights", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto waiter_handle = irq->Duplicate(udrv::kRightWait);
  REQUIRE_OK(waiter_handle);
  auto bare = irq->Duplicate(udrv::kRightNone);
  REQUIRE_OK(bare);
  CHECK_FALSE(waiter_handle->destroyed());
  REQUIRE_OK(bare->Destroy());
  CHECK(StatusOf(waiter_handle->Wait(udrv::kInfinite)) == "CANCELED");
  // Every handle of the object says so, whatever its rights.
  CHECK(waiter_handle->destroyed());
  CHECK(bare->destroyed());
  CHECK_FALSE(Interrupt().destroyed());
  CHECK(StatusOf(Interrupt().Destroy()) == "BAD_HANDLE");
}

TEST_CASE("hardware interrupt: the eventfd fires it, Trigger is refused", "[interrupt]") {
  auto hw = MakeHardwareInterrupt();
  CHECK(StatusOf(hw.interrupt.Trigger(1)) == "BAD_STATE");

  const udrv::Time before = udrv::Now();
  Fire(hw.kernel_side.get());
  auto timestamp = hw.interrupt.Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(timestamp);
  CHECK(*timestamp >= before);
  CHECK(*timestamp <= udrv::Now());
}

TEST_CASE("hardware interrupt: the next Wait acks the interrupt the last one returned",
          "[interrupt]") {
  auto hw = MakeHardwareInterrupt();
  CHECK(StatusOf(hw.interrupt.Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
  CHECK(*hw.acks == 0);  // nothing was delivered, nothing to ack

  Fire(hw.kernel_side.get());
  REQUIRE_OK(hw.interrupt.Wait(udrv::DeadlineAfter(5s)));
  CHECK(*hw.acks == 0);
  Fire(hw.kernel_side.get());
  REQUIRE_OK(hw.interrupt.Wait(udrv::DeadlineAfter(5s)));
  CHECK(*hw.acks == 1);
  CHECK(StatusOf(hw.interrupt.Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
  CHECK(*hw.acks == 2);
  CHECK(StatusOf(hw.interrupt.Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
  CHECK(*hw.acks == 2);
}

TEST_CASE("hardware interrupt: a failing on_ack fails the Wait, which retries it next time",
          "[interrupt]") {
  udrv::UniqueFd fd(eventfd(0, EFD_CLOEXEC));
  REQUIRE(fd);
  udrv::UniqueFd kernel_side(dup(fd.get()));
  int calls = 0;
  auto irq = Interrupt::CreateFromEventfd(std::move(fd), "intx", [&calls]() -> Result<void> {
    if (++calls == 1) return udrv::Fail(Status::IO, "VFIO_DEVICE_SET_IRQS(unmask) failed");
    return {};
  });
  REQUIRE_OK(irq);
  Fire(kernel_side.get());
  REQUIRE_OK(irq->Wait(udrv::DeadlineAfter(5s)));
  auto failed = irq->Wait(udrv::DeadlineAfter(5s));
  REQUIRE(StatusOf(failed) == "IO");
  CHECK(failed.error().what.find("unmask") != std::string::npos);
  CHECK(failed.error().object == "interrupt 'intx'");
  CHECK(StatusOf(irq->Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
  CHECK(calls == 2);
}

TEST_CASE("hardware interrupt: CreateFromEventfd checks its fd", "[interrupt]") {
  auto no_fd = Interrupt::CreateFromEventfd(udrv::UniqueFd(), "none", nullptr);
  CHECK(StatusOf(no_fd) == "BAD_HANDLE");

  int pipe_fds[2];
  REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
  udrv::UniqueFd write_end(pipe_fds[1]);
  auto from_pipe = Interrupt::CreateFromEventfd(udrv::UniqueFd(pipe_fds[0]), "pipe", nullptr);
  REQUIRE(StatusOf(from_pipe) == "WRONG_TYPE");
  CHECK(from_pipe.error().what.find("not an eventfd") != std::string::npos);
}

// The UIO path itself (4-byte counts, removal) is proven in the guests
// (test/guest/pci_uio_test.cc); here only the refusals a host can reach.
TEST_CASE("hardware interrupt: CreateFromUio takes only a UIO device", "[interrupt]") {
  auto no_fd = Interrupt::CreateFromUio(udrv::UniqueFd(), "none", nullptr);
  CHECK(StatusOf(no_fd) == "BAD_HANDLE");

  udrv::UniqueFd event_fd(eventfd(0, EFD_CLOEXEC));
  REQUIRE(event_fd);
  auto from_eventfd = Interrupt::CreateFromUio(std::move(event_fd), "eventfd", nullptr);
  REQUIRE(StatusOf(from_eventfd) == "WRONG_TYPE");
  CHECK(from_eventfd.error().what.find("not a UIO device but anon_inode:[eventfd]") !=
        std::string::npos);

  // A character device of another class.
  udrv::UniqueFd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
  REQUIRE(null_fd);
  auto from_null = Interrupt::CreateFromUio(std::move(null_fd), "null", nullptr);
  REQUIRE(StatusOf(from_null) == "WRONG_TYPE");
  CHECK(from_null.error().what.find("not a UIO device but /dev/null") != std::string::npos);
}

TEST_CASE("interrupt: each operation needs its right", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual("rights");
  REQUIRE_OK(irq);
  auto port = Port::Create();
  REQUIRE_OK(port);

  auto no_wait = irq->Duplicate(udrv::kDefaultInterruptRights & ~udrv::kRightWait);
  REQUIRE_OK(no_wait);
  auto denied = no_wait->Wait(udrv::Now());
  REQUIRE(StatusOf(denied) == "ACCESS_DENIED");
  CHECK(denied.error().what.find("WAIT") != std::string::npos);

  auto no_signal = irq->Duplicate(udrv::kDefaultInterruptRights & ~udrv::kRightSignal);
  REQUIRE_OK(no_signal);
  CHECK(StatusOf(no_signal->Trigger(1)) == "ACCESS_DENIED");

  auto no_write = irq->Duplicate(udrv::kDefaultInterruptRights & ~udrv::kRightWrite);
  REQUIRE_OK(no_write);
  CHECK(StatusOf(no_write->Ack()) == "ACCESS_DENIED");

  auto no_read = irq->Duplicate(udrv::kDefaultInterruptRights & ~udrv::kRightRead);
  REQUIRE_OK(no_read);
  CHECK(StatusOf(no_read->Bind(*port, 1)) == "ACCESS_DENIED");
  CHECK(StatusOf(no_read->Unbind(*port)) == "ACCESS_DENIED");

  auto read_only_port = port->Duplicate(udrv::kRightRead);
  REQUIRE_OK(read_only_port);
  CHECK(StatusOf(irq->Bind(*read_only_port, 1)) == "ACCESS_DENIED");
  CHECK(StatusOf(irq->Bind(Port(), 1)) == "BAD_HANDLE");

  Interrupt invalid;
  CHECK(StatusOf(invalid.Wait(udrv::Now())) == "BAD_HANDLE");
  CHECK(StatusOf(invalid.Trigger(1)) == "BAD_HANDLE");
  CHECK(StatusOf(invalid.Ack()) == "BAD_HANDLE");
  CHECK(StatusOf(invalid.Bind(*port, 1)) == "BAD_HANDLE");
}

TEST_CASE("bound interrupt: delivers an INTERRUPT packet with key and timestamp", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto port = Port::Create();
  REQUIRE_OK(port);
  REQUIRE_OK(irq->Bind(*port, 0xabcd));
  CHECK(StatusOf(port->Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");

  REQUIRE_OK(irq->Trigger(1111));
  auto packet = port->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(packet);
  CHECK(packet->key == 0xabcd);
  CHECK(packet->type == udrv::PacketType::INTERRUPT);
  CHECK(packet->status == Status::OK);
  CHECK(packet->interrupt.timestamp == 1111);
}

TEST_CASE("bound interrupt: no second packet before Ack, one right after", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto port = Port::Create();
  REQUIRE_OK(port);
  REQUIRE_OK(irq->Bind(*port, 9));
  REQUIRE_OK(irq->Trigger(1));
  REQUIRE_OK(port->Wait(udrv::DeadlineAfter(5s)));

  REQUIRE_OK(irq->Trigger(2));
  CHECK(StatusOf(port->Wait(udrv::DeadlineAfter(20ms))) == "TIMED_OUT");
  REQUIRE_OK(irq->Ack());
  auto packet = port->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(packet);
  CHECK(packet->key == 9);
  CHECK(packet->interrupt.timestamp == 2);

  // Acked with nothing pending: the port stays quiet until the next trigger.
  REQUIRE_OK(irq->Ack());
  CHECK(StatusOf(port->Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
  REQUIRE_OK(irq->Trigger(3));
  packet = port->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(packet);
  CHECK(packet->interrupt.timestamp == 3);
}

TEST_CASE("bound interrupt: Ack runs on_ack once per delivered interrupt", "[interrupt]") {
  auto hw = MakeHardwareInterrupt();
  auto port = Port::Create();
  REQUIRE_OK(port);
  REQUIRE_OK(hw.interrupt.Bind(*port, 5));
  REQUIRE_OK(hw.interrupt.Ack());  // nothing delivered yet
  CHECK(*hw.acks == 0);

  Fire(hw.kernel_side.get());
  auto packet = port->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(packet);
  CHECK(packet->key == 5);
  CHECK(*hw.acks == 0);
  REQUIRE_OK(hw.interrupt.Ack());
  CHECK(*hw.acks == 1);
  REQUIRE_OK(hw.interrupt.Ack());
  CHECK(*hw.acks == 1);
}

TEST_CASE("bound interrupt: an interrupt pending at Bind is delivered at once", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto port = Port::Create();
  REQUIRE_OK(port);
  REQUIRE_OK(irq->Trigger(77));
  REQUIRE_OK(irq->Bind(*port, 1));
  auto packet = port->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(packet);
  CHECK(packet->interrupt.timestamp == 77);
}

TEST_CASE("bound interrupt: state errors", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual("bound");
  REQUIRE_OK(irq);
  auto port = Port::Create("first");
  REQUIRE_OK(port);
  auto other = Port::Create("second");
  REQUIRE_OK(other);

  CHECK(StatusOf(irq->Ack()) == "BAD_STATE");  // not bound
  CHECK(StatusOf(irq->Unbind(*port)) == "NOT_FOUND");
  REQUIRE_OK(irq->Bind(*port, 1));
  CHECK(StatusOf(irq->Wait(udrv::DeadlineAfter(5s))) == "BAD_STATE");
  auto again = irq->Bind(*other, 2);
  REQUIRE(StatusOf(again) == "ALREADY_BOUND");
  CHECK(again.error().what.find("port 'first'") != std::string::npos);
  CHECK(StatusOf(irq->Bind(*port, 3)) == "ALREADY_BOUND");
  CHECK(StatusOf(irq->Unbind(*other)) == "NOT_FOUND");
}

TEST_CASE("bound interrupt: Bind is refused while a thread waits", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto port = Port::Create();
  REQUIRE_OK(port);
  Result<udrv::Time> timestamp = udrv::Fail(Status::INTERNAL, "not run");
  std::thread waiter([&] { timestamp = irq->Wait(udrv::DeadlineAfter(10s)); });
  std::this_thread::sleep_for(100ms);
  CHECK(StatusOf(irq->Bind(*port, 1)) == "BAD_STATE");
  REQUIRE_OK(irq->Trigger(5));
  waiter.join();
  REQUIRE_OK(timestamp);
  REQUIRE_OK(irq->Bind(*port, 1));
}

TEST_CASE("bound interrupt: after Unbind, Wait sees the interrupt again", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto port = Port::Create();
  REQUIRE_OK(port);
  REQUIRE_OK(irq->Bind(*port, 1));
  REQUIRE_OK(irq->Unbind(*port));
  REQUIRE_OK(irq->Trigger(8));
  CHECK(StatusOf(port->Wait(udrv::DeadlineAfter(20ms))) == "TIMED_OUT");
  auto timestamp = irq->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(timestamp);
  CHECK(*timestamp == 8);
  // And it can be bound again, to the same port.
  REQUIRE_OK(irq->Bind(*port, 2));
  REQUIRE_OK(irq->Trigger(9));
  auto packet = port->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(packet);
  CHECK(packet->key == 2);
}

TEST_CASE("bound interrupt: Destroy or closing the last handle stops its packets", "[interrupt]") {
  auto port = Port::Create();
  REQUIRE_OK(port);
  auto destroyed = Interrupt::CreateVirtual("destroyed");
  REQUIRE_OK(destroyed);
  REQUIRE_OK(destroyed->Bind(*port, 1));
  auto keep_triggering = destroyed->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(keep_triggering);
  REQUIRE_OK(destroyed->Trigger(1));
  REQUIRE_OK(destroyed->Destroy());
  CHECK(StatusOf(port->Wait(udrv::DeadlineAfter(20ms))) == "TIMED_OUT");

  auto closed = Interrupt::CreateVirtual("closed");
  REQUIRE_OK(closed);
  REQUIRE_OK(closed->Bind(*port, 2));
  REQUIRE_OK(closed->Trigger(2));
  closed->reset();
  CHECK(StatusOf(port->Wait(udrv::DeadlineAfter(20ms))) == "TIMED_OUT");

  // The port still works for others.
  auto live = Interrupt::CreateVirtual("live");
  REQUIRE_OK(live);
  REQUIRE_OK(live->Bind(*port, 3));
  REQUIRE_OK(live->Trigger(3));
  auto packet = port->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(packet);
  CHECK(packet->key == 3);
}

TEST_CASE("bound interrupt: the port lives on while an interrupt is bound to it", "[interrupt]") {
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto port = Port::Create();
  REQUIRE_OK(port);
  auto waiter = port->Duplicate(udrv::kRightRead);
  REQUIRE_OK(waiter);
  REQUIRE_OK(irq->Bind(*port, 4));
  port->reset();
  REQUIRE_OK(irq->Trigger(10));
  auto packet = waiter->Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(packet);
  CHECK(packet->key == 4);
  waiter->reset();  // the bound interrupt alone keeps the port now
  REQUIRE_OK(irq->Ack());
  REQUIRE_OK(irq->Trigger(11));
  REQUIRE_OK(irq->Destroy());
}

}  // namespace
