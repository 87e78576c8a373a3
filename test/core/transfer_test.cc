#include "result_helpers.h"
#include "udrv/core/transfer.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "udrv/core/interrupt.h"
#include "udrv/core/port.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"

namespace {

using namespace std::chrono_literals;
using udrv::Interrupt;
using udrv::Result;
using udrv::Rights;
using udrv::Status;
using udrv::testing::StatusOf;
using udrv::UniqueFd;
using udrv::Vmar;
using udrv::Vmo;
using udrv::wire::HandleMessage;

struct SocketPair {
  UniqueFd parent;
  UniqueFd child;
};

SocketPair MakeSocketPair(int type = SOCK_SEQPACKET) {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) == 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Runs `body` in a child process that exits with its return value: 0 for
// success, a distinct code per failed step. The child never touches Catch2.
pid_t Spawn(const std::function<int()>& body) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(body());
  return pid;
}

// The child's exit code, or 128 + signal if it died of one.
int ExitCode(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

size_t OpenFdCount() {
  size_t count = 0;
  DIR* dir = opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count;
}

std::span<const std::byte> Bytes(const std::string& text) { return std::as_bytes(std::span(text)); }

// Sends raw bytes with `fds` attached, as a misbehaving peer would.
void SendRaw(int socket_fd, const void* data, size_t size, const std::vector<int>& fds) {
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  REQUIRE(sendmsg(socket_fd, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(size));
}

// A well-formed message for a virtual interrupt, for tests to spoil.
HandleMessage InterruptMessage() {
  HandleMessage message;
  message.type = static_cast<uint16_t>(udrv::wire::ObjectType::INTERRUPT);
  message.rights = udrv::kDefaultInterruptRights;
  message.flags = udrv::wire::kFlagVirtualInterrupt;
  std::strcpy(message.name, "forged");
  return message;
}

TEST_CASE("transfer: a VMO crosses processes; the child's writes show in the parent",
          "[transfer]") {
  const size_t page = udrv::PageSize();
  auto vmo = Vmo::Create(2 * page, "shared");
  REQUIRE_OK(vmo);
  REQUIRE_OK(vmo->Write(Bytes("from parent"), 0));
  auto copy = vmo->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(copy);
  auto sockets = MakeSocketPair();

  const pid_t child = Spawn([&]() -> int {
    auto received = udrv::ReceiveVmo(sockets.child.get());
    if (!received) return 10;
    if (received->rights() != udrv::kDefaultVmoRights) return 11;
    auto description = received->Describe();
    if (!description || description->name != "shared" || description->size != 2 * page ||
        description->kind != udrv::VmoKind::PAGED) {
      return 12;
    }
    std::string seen(11, '\0');
    if (!received->Read(std::as_writable_bytes(std::span(seen)), 0) || seen != "from parent") {
      return 13;
    }
    auto vmar = Vmar::Create(2 * page, "child");
    if (!vmar) return 14;
    auto addr = vmar->Map(udrv::kVmPermRead | udrv::kVmPermWrite, 0, *received, 0, 2 * page);
    if (!addr) return 15;
    std::memcpy(reinterpret_cast<char*>(*addr + page), "mapped by child", 15);
    if (!received->Write(Bytes("written by child"), 100)) return 16;
    return 0;
  });
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy)));
  CHECK_FALSE(copy->is_valid());  // sending consumed it
  REQUIRE(ExitCode(child) == 0);

  std::string mapped(15, '\0');
  REQUIRE_OK(vmo->Read(std::as_writable_bytes(std::span(mapped)), page));
  CHECK(mapped == "mapped by child");
  auto vmar = Vmar::Create(2 * page, "parent");
  REQUIRE_OK(vmar);
  auto addr = vmar->Map(udrv::kVmPermRead, 0, *vmo, 0, 2 * page);
  REQUIRE_OK(addr);
  CHECK(std::string(reinterpret_cast<const char*>(*addr + 100), 16) == "written by child");
}

TEST_CASE("transfer: a VMO sent without WRITE is read-only to the kernel too", "[transfer]") {
  const size_t page = udrv::PageSize();
  auto vmo = Vmo::Create(page, "read-only");
  REQUIRE_OK(vmo);
  REQUIRE_OK(vmo->Write(Bytes("look, don't touch"), 0));
  auto read_only = vmo->Duplicate(udrv::kDefaultVmoRights & ~udrv::kRightWrite);
  REQUIRE_OK(read_only);
  auto sockets = MakeSocketPair();

  const pid_t child = Spawn([&]() -> int {
    auto received = udrv::ReceiveVmo(sockets.child.get());
    if (!received) return 10;
    if ((received->rights() & udrv::kRightWrite) != 0) return 11;
    auto backing = received->GetBacking();
    if (!backing) return 12;
    if ((fcntl(backing->fd, F_GETFL) & O_ACCMODE) != O_RDONLY) return 13;
    // Bypassing udrv: the kernel refuses a writable shared mapping.
    void* raw = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, backing->fd, 0);
    if (raw != MAP_FAILED) return 14;
    if (errno != EACCES) return 15;
    if (write(backing->fd, "x", 1) >= 0) return 16;
    // Through udrv: ACCESS_DENIED; reading and read-only mapping work.
    auto vmar = Vmar::Create(page, "child");
    if (!vmar) return 17;
    auto writable = vmar->Map(udrv::kVmPermRead | udrv::kVmPermWrite, 0, *received, 0, page);
    if (writable || writable.error().status != Status::ACCESS_DENIED) return 18;
    auto write = received->Write(Bytes("no"), 0);
    if (write || write.error().status != Status::ACCESS_DENIED) return 19;
    auto addr = vmar->Map(udrv::kVmPermRead, 0, *received, 0, page);
    if (!addr) return 20;
    if (std::memcmp(reinterpret_cast<const void*>(*addr), "look, don't touch", 17) != 0) return 21;
    return 0;
  });
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*read_only)));
  REQUIRE(ExitCode(child) == 0);
  std::string after(17, '\0');
  REQUIRE_OK(vmo->Read(std::as_writable_bytes(std::span(after)), 0));
  CHECK(after == "look, don't touch");
}

TEST_CASE("transfer: a physical VMO keeps its route, offset and cache policy", "[transfer]") {
  const size_t page = udrv::PageSize();
  // An ordinary file stands in for a device's memory region, one that its
  // route says reaches nothing else (as a sysfs resource file).
  UniqueFd file(memfd_create("fake-bar", MFD_CLOEXEC));
  REQUIRE(file);
  REQUIRE(ftruncate(file.get(), static_cast<off_t>(3 * page)) == 0);
  UniqueFd file_view(dup(file.get()));
  auto bar = Vmo::CreatePhysical(std::move(file), page, page, udrv::PhysicalRoute::TEST_FILE, "bar0",
                                 udrv::FdReach::REGION_ONLY);
  REQUIRE_OK(bar);
  auto sockets = MakeSocketPair();

  const pid_t child = Spawn([&]() -> int {
    auto received = udrv::ReceiveVmo(sockets.child.get());
    if (!received) return 10;
    auto description = received->Describe();
    if (!description) return 11;
    if (description->kind != udrv::VmoKind::PHYSICAL || description->offset != page ||
        description->size != page || description->route != udrv::PhysicalRoute::TEST_FILE ||
        description->cache_policy != udrv::CachePolicy::CACHED || description->name != "bar0") {
      return 12;
    }
    auto vmar = Vmar::Create(page, "child");
    if (!vmar) return 13;
    auto addr = vmar->Map(udrv::kVmPermRead | udrv::kVmPermWrite, 0, *received, 0, page);
    if (!addr) return 14;
    *reinterpret_cast<volatile uint32_t*>(*addr + 8) = 0xfeedf00d;
    return 0;
  });
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*bar)));
  REQUIRE(ExitCode(child) == 0);
  uint32_t value = 0;
  REQUIRE(pread(file_view.get(), &value, sizeof(value), static_cast<off_t>(page + 8)) == 4);
  CHECK(value == 0xfeedf00d);
}

TEST_CASE("transfer: a physical VMO whose fd reaches its device only may leave", "[transfer]") {
  const size_t page = udrv::PageSize();
  UniqueFd file(memfd_create("uio-like", MFD_CLOEXEC));
  REQUIRE(file);
  REQUIRE(ftruncate(file.get(), static_cast<off_t>(2 * page)) == 0);
  auto region = Vmo::CreatePhysical(std::move(file), page, page, udrv::PhysicalRoute::UIO_MAP, "map1",
                                    udrv::FdReach::DEVICE_ONLY);
  REQUIRE_OK(region);
  auto sockets = MakeSocketPair();
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*region)));
  auto received = udrv::ReceiveVmo(sockets.child.get());
  REQUIRE_OK(received);
  CHECK(received->Describe()->route == udrv::PhysicalRoute::UIO_MAP);
  CHECK(received->Describe()->offset == page);
}

TEST_CASE("transfer: a physical VMO whose route says its fd reaches more never leaves", "[transfer]") {
  const size_t page = udrv::PageSize();
  // The default, and what a VFIO region is: its fd reaches the whole device.
  for (auto route : {udrv::PhysicalRoute::TEST_FILE, udrv::PhysicalRoute::VFIO_REGION,
                     udrv::PhysicalRoute::SYSFS_RESOURCE}) {
    UniqueFd file(memfd_create("device-fd", MFD_CLOEXEC));
    REQUIRE(file);
    REQUIRE(ftruncate(file.get(), static_cast<off_t>(page)) == 0);
    auto region = Vmo::CreatePhysical(std::move(file), 0, page, route, "region");
    REQUIRE_OK(region);
    CHECK(region->Describe()->reach == udrv::FdReach::BEYOND_REGION);
    auto sockets = MakeSocketPair();
    auto refused = udrv::SendHandle(sockets.parent.get(), std::move(*region));
    CHECK(StatusOf(refused) == "ACCESS_DENIED");
    CHECK(refused.error().what.find("reaches more than its region") != std::string::npos);
    // Nothing went: the peer has no message to read.
    pollfd pfd{sockets.child.get(), POLLIN, 0};
    CHECK(poll(&pfd, 1, 0) == 0);
  }
}

TEST_CASE("transfer: a virtual interrupt triggered in one process wakes the other", "[transfer]") {
  auto irq = Interrupt::CreateVirtual("shared-irq");
  REQUIRE_OK(irq);
  auto copy = irq->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(copy);
  auto sockets = MakeSocketPair();
  const udrv::Time before_fork = udrv::Now();

  const pid_t child = Spawn([&]() -> int {
    auto received = udrv::ReceiveInterrupt(sockets.child.get());
    if (!received) return 10;
    if (received->rights() != udrv::kDefaultInterruptRights) return 11;
    // Woken by the parent's Trigger; timestamps do not cross, so it is the
    // time this process saw the interrupt.
    auto timestamp = received->Wait(udrv::DeadlineAfter(10s));
    if (!timestamp) return 12;
    if (*timestamp < before_fork || *timestamp > udrv::Now()) return 13;
    if (send(sockets.child.get(), "w", 1, MSG_NOSIGNAL) != 1) return 14;
    // And the other way round.
    if (!received->Trigger(1)) return 15;
    return 0;
  });
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy)));
  REQUIRE_OK(irq->Trigger(udrv::Now()));
  char woken = 0;
  REQUIRE(recv(sockets.parent.get(), &woken, 1, 0) == 1);
  auto timestamp = irq->Wait(udrv::DeadlineAfter(10s));
  REQUIRE_OK(timestamp);
  CHECK(*timestamp >= before_fork);
  REQUIRE(ExitCode(child) == 0);
}

TEST_CASE("transfer: a received interrupt can be bound to a port in its new process",
          "[transfer]") {
  auto irq = Interrupt::CreateVirtual("to-port");
  REQUIRE_OK(irq);
  auto copy = irq->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(copy);
  auto sockets = MakeSocketPair();
  const pid_t child = Spawn([&]() -> int {
    auto received = udrv::ReceiveInterrupt(sockets.child.get());
    if (!received) return 10;
    auto port = udrv::Port::Create("child-port");
    if (!port) return 11;
    if (!received->Bind(*port, 7)) return 12;
    if (send(sockets.child.get(), "b", 1, MSG_NOSIGNAL) != 1) return 13;
    auto packet = port->Wait(udrv::DeadlineAfter(10s));
    if (!packet) return 14;
    if (packet->key != 7 || packet->type != udrv::PacketType::INTERRUPT) return 15;
    return 0;
  });
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy)));
  char bound = 0;
  REQUIRE(recv(sockets.parent.get(), &bound, 1, 0) == 1);
  REQUIRE_OK(irq->Trigger(3));
  REQUIRE(ExitCode(child) == 0);
}

TEST_CASE("transfer: the receiver may narrow rights, never widen them", "[transfer]") {
  auto sockets = MakeSocketPair();
  auto vmo = Vmo::Create(udrv::PageSize(), "narrowed");
  REQUIRE_OK(vmo);

  const Rights wanted = udrv::kRightRead | udrv::kRightMap | udrv::kRightInspect;
  auto copy = vmo->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(copy);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy)));
  auto narrowed = udrv::ReceiveVmo(sockets.child.get(), wanted);
  REQUIRE_OK(narrowed);
  CHECK(narrowed->rights() == wanted);
  auto backing = narrowed->GetBacking();
  REQUIRE_OK(backing);
  CHECK((fcntl(backing->fd, F_GETFL) & O_ACCMODE) == O_RDONLY);  // narrowed for the kernel too
  CHECK(StatusOf(narrowed->Write(Bytes("x"), 0)) == "ACCESS_DENIED");

  auto without_write = vmo->Duplicate(udrv::kDefaultVmoRights & ~udrv::kRightWrite);
  REQUIRE_OK(without_write);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*without_write)));
  const size_t fds_before = OpenFdCount();
  auto widened = udrv::ReceiveVmo(sockets.child.get(), udrv::kRightRead | udrv::kRightWrite);
  REQUIRE(StatusOf(widened) == "ACCESS_DENIED");
  CHECK(widened.error().what.find("WRITE") != std::string::npos);
  CHECK(OpenFdCount() == fds_before);  // the received fd was closed

  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto irq_copy = irq->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(irq_copy);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*irq_copy)));
  auto wait_only = udrv::ReceiveInterrupt(sockets.child.get(), udrv::kRightWait);
  REQUIRE_OK(wait_only);
  CHECK(StatusOf(wait_only->Trigger(1)) == "ACCESS_DENIED");
  REQUIRE_OK(irq->Trigger(1));
  REQUIRE_OK(wait_only->Wait(udrv::DeadlineAfter(5s)));
}

TEST_CASE("transfer: sending needs TRANSFER and consumes the handle", "[transfer]") {
  auto sockets = MakeSocketPair();
  auto vmo = Vmo::Create(udrv::PageSize());
  REQUIRE_OK(vmo);
  auto no_transfer = vmo->Duplicate(udrv::kDefaultVmoRights & ~udrv::kRightTransfer);
  REQUIRE_OK(no_transfer);
  auto denied = udrv::SendHandle(sockets.parent.get(), std::move(*no_transfer));
  REQUIRE(StatusOf(denied) == "ACCESS_DENIED");
  CHECK(denied.error().what.find("TRANSFER") != std::string::npos);
  CHECK_FALSE(no_transfer->is_valid());

  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  auto irq_no_transfer = irq->Duplicate(udrv::kDefaultInterruptRights & ~udrv::kRightTransfer);
  REQUIRE_OK(irq_no_transfer);
  CHECK(StatusOf(udrv::SendHandle(sockets.parent.get(), std::move(*irq_no_transfer))) ==
        "ACCESS_DENIED");
  CHECK_FALSE(irq_no_transfer->is_valid());

  CHECK(StatusOf(udrv::SendHandle(sockets.parent.get(), Vmo())) == "BAD_HANDLE");
  CHECK(StatusOf(udrv::SendHandle(sockets.parent.get(), Interrupt())) == "BAD_HANDLE");
  // Nothing reached the socket.
  CHECK(StatusOf(udrv::ReceiveHandle(sockets.child.get(), udrv::kRightSameRights, udrv::Now())) ==
        "TIMED_OUT");
}

TEST_CASE("transfer: sending a VMO needs INSPECT and MAP to describe it", "[transfer]") {
  auto sockets = MakeSocketPair();
  auto vmo = Vmo::Create(udrv::PageSize());
  REQUIRE_OK(vmo);
  auto no_map = vmo->Duplicate(udrv::kDefaultVmoRights & ~udrv::kRightMap);
  REQUIRE_OK(no_map);
  auto denied = udrv::SendHandle(sockets.parent.get(), std::move(*no_map));
  REQUIRE(StatusOf(denied) == "ACCESS_DENIED");
  CHECK(denied.error().what.find("MAP") != std::string::npos);
}

TEST_CASE("transfer: interrupts that cannot be sent", "[transfer]") {
  auto sockets = MakeSocketPair();
  auto port = udrv::Port::Create();
  REQUIRE_OK(port);
  auto bound = Interrupt::CreateVirtual("bound");
  REQUIRE_OK(bound);
  REQUIRE_OK(bound->Bind(*port, 1));
  auto bound_copy = bound->Duplicate(udrv::kRightSameRights);
  REQUIRE_OK(bound_copy);
  CHECK(StatusOf(udrv::SendHandle(sockets.parent.get(), std::move(*bound_copy))) == "BAD_STATE");

  auto destroyed = Interrupt::CreateVirtual("destroyed");
  REQUIRE_OK(destroyed);
  REQUIRE_OK(destroyed->Destroy());
  CHECK(StatusOf(udrv::SendHandle(sockets.parent.get(), std::move(*destroyed))) == "CANCELED");
}

TEST_CASE("transfer: a hardware interrupt arrives as one, without on_ack", "[transfer]") {
  auto sockets = MakeSocketPair();
  UniqueFd event_fd(eventfd(0, EFD_CLOEXEC));
  REQUIRE(event_fd);
  UniqueFd kernel_side(dup(event_fd.get()));
  int acks = 0;
  auto irq = Interrupt::CreateFromEventfd(std::move(event_fd), "msix-3", [&acks]() -> Result<void> {
    ++acks;
    return {};
  });
  REQUIRE_OK(irq);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*irq)));
  auto received = udrv::ReceiveInterrupt(sockets.child.get());
  REQUIRE_OK(received);
  CHECK(StatusOf(received->Trigger(1)) == "BAD_STATE");
  const uint64_t one = 1;
  REQUIRE(write(kernel_side.get(), &one, sizeof(one)) == sizeof(one));
  REQUIRE_OK(received->Wait(udrv::DeadlineAfter(5s)));
  CHECK(StatusOf(received->Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
  CHECK(acks == 0);
}

TEST_CASE("transfer: the receiver of a hardware interrupt may give it an ack of its own",
          "[transfer]") {
  auto sockets = MakeSocketPair();
  UniqueFd event_fd(eventfd(0, EFD_CLOEXEC));
  REQUIRE(event_fd);
  UniqueFd kernel_side(dup(event_fd.get()));
  auto irq = Interrupt::CreateFromEventfd(std::move(event_fd), "relayed", nullptr);
  REQUIRE_OK(irq);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*irq)));
  // A relayed level-triggered interrupt: the ack tells the relay to unmask.
  int acks = 0;
  auto received = udrv::ReceiveInterrupt(sockets.child.get(), udrv::kRightSameRights, udrv::kInfinite,
                                         [&acks]() -> Result<void> {
                                           ++acks;
                                           return {};
                                         });
  REQUIRE_OK(received);
  const uint64_t one = 1;
  REQUIRE(write(kernel_side.get(), &one, sizeof(one)) == sizeof(one));
  REQUIRE_OK(received->Wait(udrv::DeadlineAfter(5s)));
  CHECK(acks == 0);
  // The next wait acks the interrupt the last one returned.
  CHECK(StatusOf(received->Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
  CHECK(acks == 1);

  // A virtual interrupt has no source to unmask: the ack is not kept.
  auto virtual_irq = Interrupt::CreateVirtual("virtual");
  REQUIRE_OK(virtual_irq);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*virtual_irq)));
  auto received_virtual = udrv::ReceiveInterrupt(sockets.child.get(), udrv::kRightSameRights,
                                                 udrv::kInfinite, [&acks]() -> Result<void> {
                                                   ++acks;
                                                   return {};
                                                 });
  REQUIRE_OK(received_virtual);
  REQUIRE_OK(received_virtual->Trigger(1));
  REQUIRE_OK(received_virtual->Wait(udrv::DeadlineAfter(5s)));
  CHECK(StatusOf(received_virtual->Wait(udrv::DeadlineAfter(5ms))) == "TIMED_OUT");
  CHECK(acks == 1);
}

TEST_CASE("transfer: a stream socket carries several handles in a row", "[transfer]") {
  auto sockets = MakeSocketPair(SOCK_STREAM);
  auto vmo = Vmo::Create(udrv::PageSize(), "first");
  REQUIRE_OK(vmo);
  REQUIRE_OK(vmo->Write(Bytes("stream"), 0));
  auto irq = Interrupt::CreateVirtual("second");
  REQUIRE_OK(irq);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*vmo)));
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*irq)));

  auto first = udrv::ReceiveHandle(sockets.child.get());
  REQUIRE_OK(first);
  REQUIRE(std::holds_alternative<Vmo>(*first));
  std::string seen(6, '\0');
  REQUIRE_OK(std::get<Vmo>(*first).Read(std::as_writable_bytes(std::span(seen)), 0));
  CHECK(seen == "stream");
  auto second = udrv::ReceiveHandle(sockets.child.get());
  REQUIRE_OK(second);
  REQUIRE(std::holds_alternative<Interrupt>(*second));
  REQUIRE_OK(std::get<Interrupt>(*second).Trigger(5));
  auto timestamp = std::get<Interrupt>(*second).Wait(udrv::DeadlineAfter(5s));
  REQUIRE_OK(timestamp);
  CHECK(*timestamp == 5);
}

TEST_CASE("transfer: a long name is cut to fit the message", "[transfer]") {
  auto sockets = MakeSocketPair();
  const std::string long_name(100, 'n');
  auto irq = Interrupt::CreateVirtual(long_name);
  REQUIRE_OK(irq);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*irq)));
  auto received = udrv::ReceiveInterrupt(sockets.child.get());
  REQUIRE_OK(received);
  auto denied = received->Duplicate(udrv::kRightWait);
  REQUIRE_OK(denied);
  auto error = denied->Trigger(1);
  REQUIRE(StatusOf(error) == "ACCESS_DENIED");
  CHECK(error.error().object == "virtual interrupt '" + long_name.substr(0, 63) + "'");
}

TEST_CASE("transfer: asking for the wrong type closes the handle", "[transfer]") {
  auto sockets = MakeSocketPair();
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*irq)));
  const size_t fds_before = OpenFdCount();
  CHECK(StatusOf(udrv::ReceiveVmo(sockets.child.get())) == "WRONG_TYPE");
  CHECK(OpenFdCount() == fds_before);

  auto vmo = Vmo::Create(udrv::PageSize());
  REQUIRE_OK(vmo);
  REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*vmo)));
  CHECK(StatusOf(udrv::ReceiveInterrupt(sockets.child.get())) == "WRONG_TYPE");
  CHECK(OpenFdCount() == fds_before);
}

TEST_CASE("transfer: a plain file crosses with its name; the receiver reads what the sender wrote",
          "[transfer]") {
  auto sockets = MakeSocketPair();
  UniqueFd file(memfd_create("plain", MFD_CLOEXEC));
  REQUIRE(file);
  REQUIRE(write(file.get(), "device bytes", 12) == 12);
  REQUIRE_OK(udrv::SendFile(sockets.parent.get(), std::move(file), "/dev/bus/usb/002/002"));
  CHECK_FALSE(file);  // consumed
  auto received = udrv::ReceiveFile(sockets.child.get(), udrv::DeadlineAfter(5s));
  REQUIRE_OK(received);
  CHECK(received->name == "/dev/bus/usb/002/002");
  char bytes[12] = {};
  REQUIRE(pread(received->fd.get(), bytes, sizeof(bytes), 0) == 12);
  CHECK(std::string(bytes, sizeof(bytes)) == "device bytes");

  SECTION("an invalid fd is refused before anything goes") {
    CHECK(StatusOf(udrv::SendFile(sockets.parent.get(), UniqueFd(), "none")) == "BAD_HANDLE");
    CHECK(StatusOf(udrv::ReceiveFile(sockets.child.get(), udrv::DeadlineAfter(20ms))) == "TIMED_OUT");
  }
}

TEST_CASE("transfer: a file is no handle, a handle no file: each receiver refuses the other's",
          "[transfer]") {
  auto sockets = MakeSocketPair();
  const size_t fds_before = OpenFdCount();
  SECTION("a file offered to a handle's receivers") {
    for (int i = 0; i < 3; ++i) {
      UniqueFd file(memfd_create("plain", MFD_CLOEXEC));
      REQUIRE(file);
      REQUIRE_OK(udrv::SendFile(sockets.parent.get(), std::move(file), "plain"));
    }
    auto handle = udrv::ReceiveHandle(sockets.child.get(), udrv::kRightSameRights, udrv::DeadlineAfter(5s));
    REQUIRE(StatusOf(handle) == "WRONG_TYPE");
    CHECK(handle.error().what.find("plain file") != std::string::npos);
    CHECK(StatusOf(udrv::ReceiveVmo(sockets.child.get(), udrv::kRightSameRights,
                                    udrv::DeadlineAfter(5s))) == "WRONG_TYPE");
    CHECK(StatusOf(udrv::ReceiveInterrupt(sockets.child.get(), udrv::kRightSameRights,
                                          udrv::DeadlineAfter(5s))) == "WRONG_TYPE");
  }
  SECTION("a VMO and an interrupt offered to ReceiveFile") {
    auto vmo = Vmo::Create(udrv::PageSize());
    REQUIRE_OK(vmo);
    REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*vmo)));
    auto irq = Interrupt::CreateVirtual();
    REQUIRE_OK(irq);
    REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*irq)));
    CHECK(StatusOf(udrv::ReceiveFile(sockets.child.get(), udrv::DeadlineAfter(5s))) == "WRONG_TYPE");
    CHECK(StatusOf(udrv::ReceiveFile(sockets.child.get(), udrv::DeadlineAfter(5s))) == "WRONG_TYPE");
  }
  SECTION("a FILE message with a handle's fields set") {
    UniqueFd event_fd(eventfd(0, EFD_CLOEXEC));
    REQUIRE(event_fd);
    HandleMessage message;
    message.type = static_cast<uint16_t>(udrv::wire::ObjectType::FILE);
    std::strcpy(message.name, "forged");
    for (int field = 0; field < 3; ++field) {
      HandleMessage spoiled = message;
      if (field == 0) spoiled.rights = udrv::kRightRead;
      if (field == 1) spoiled.size = 4096;
      if (field == 2) spoiled.flags = udrv::wire::kFlagVirtualInterrupt;
      SendRaw(sockets.parent.get(), &spoiled, sizeof(spoiled), {event_fd.get()});
      CHECK(StatusOf(udrv::ReceiveFile(sockets.child.get(), udrv::DeadlineAfter(5s))) == "IO_INVALID");
    }
    SendRaw(sockets.parent.get(), &message, sizeof(message), {});
    CHECK(StatusOf(udrv::ReceiveFile(sockets.child.get(), udrv::DeadlineAfter(5s))) == "IO_INVALID");
  }
  CHECK(OpenFdCount() == fds_before);  // every refused fd was closed
}

TEST_CASE("transfer: malformed messages are refused with clear errors", "[transfer]") {
  auto sockets = MakeSocketPair();
  UniqueFd event_fd(eventfd(0, EFD_CLOEXEC));
  REQUIRE(event_fd);
  const int fd = event_fd.get();
  const size_t fds_before = OpenFdCount();
  const auto receive = [&] {
    return udrv::ReceiveHandle(sockets.child.get(), udrv::kRightSameRights,
                               udrv::DeadlineAfter(5s));
  };

  SECTION("the forged message itself is accepted") {
    const HandleMessage message = InterruptMessage();
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd});
    auto received = receive();
    REQUIRE_OK(received);
    CHECK(std::holds_alternative<Interrupt>(*received));
  }
  SECTION("wrong magic") {
    HandleMessage message = InterruptMessage();
    message.magic = 0x12345678;
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd});
    auto received = receive();
    REQUIRE(StatusOf(received) == "IO_INVALID");
    CHECK(received.error().what.find("magic") != std::string::npos);
  }
  SECTION("another version") {
    HandleMessage message = InterruptMessage();
    message.version = 2;
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd});
    CHECK(StatusOf(receive()) == "PROTOCOL_NOT_SUPPORTED");
  }
  SECTION("unknown object type") {
    HandleMessage message = InterruptMessage();
    message.type = 99;
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd});
    CHECK(StatusOf(receive()) == "PROTOCOL_NOT_SUPPORTED");
  }
  SECTION("no fd") {
    const HandleMessage message = InterruptMessage();
    SendRaw(sockets.parent.get(), &message, sizeof(message), {});
    auto received = receive();
    REQUIRE(StatusOf(received) == "IO_INVALID");
    CHECK(received.error().what.find("0 fds") != std::string::npos);
  }
  SECTION("two fds") {
    const HandleMessage message = InterruptMessage();
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd, fd});
    auto received = receive();
    REQUIRE(StatusOf(received) == "IO_INVALID");
    CHECK(received.error().what.find("2 fds") != std::string::npos);
  }
  SECTION("many fds") {
    const HandleMessage message = InterruptMessage();
    SendRaw(sockets.parent.get(), &message, sizeof(message), std::vector<int>(200, fd));
    auto received = receive();
    REQUIRE(StatusOf(received) == "IO_INVALID");
    CHECK(received.error().what.find("200 fds") != std::string::npos);
  }
  SECTION("truncated message") {
    const HandleMessage message = InterruptMessage();
    SendRaw(sockets.parent.get(), &message, 10, {fd});
    auto received = receive();
    REQUIRE(StatusOf(received) == "IO_INVALID");
    CHECK(received.error().what.find("truncated") != std::string::npos);
  }
  SECTION("message too long") {
    char bytes[sizeof(HandleMessage) + 8] = {};
    const HandleMessage message = InterruptMessage();
    std::memcpy(bytes, &message, sizeof(message));
    SendRaw(sockets.parent.get(), bytes, sizeof(bytes), {fd});
    CHECK(StatusOf(receive()) == "IO_INVALID");
  }
  SECTION("name without its NUL") {
    HandleMessage message = InterruptMessage();
    std::memset(message.name, 'x', sizeof(message.name));
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd});
    CHECK(StatusOf(receive()) == "IO_INVALID");
  }
  SECTION("unknown rights bits") {
    HandleMessage message = InterruptMessage();
    message.rights |= 1u << 20;
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd});
    CHECK(StatusOf(receive()) == "IO_INVALID");
  }
  SECTION("an interrupt that is not an eventfd") {
    const HandleMessage message = InterruptMessage();
    UniqueFd memfd(memfd_create("not-an-eventfd", MFD_CLOEXEC));
    REQUIRE(memfd);
    SendRaw(sockets.parent.get(), &message, sizeof(message), {memfd.get()});
    auto received = receive();
    REQUIRE(StatusOf(received) == "IO_INVALID");
    CHECK(received.error().what.find("not an eventfd") != std::string::npos);
  }
  SECTION("an interrupt with VMO fields") {
    HandleMessage message = InterruptMessage();
    message.size = 4096;
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd});
    CHECK(StatusOf(receive()) == "IO_INVALID");
  }
  SECTION("a VMO of an unknown kind") {
    HandleMessage message = InterruptMessage();
    message.type = static_cast<uint16_t>(udrv::wire::ObjectType::VMO);
    message.flags = 0;
    message.vmo_kind = 7;
    SendRaw(sockets.parent.get(), &message, sizeof(message), {fd});
    CHECK(StatusOf(receive()) == "IO_INVALID");
  }
  SECTION("a VMO whose size does not match its fd") {
    HandleMessage message = InterruptMessage();
    message.type = static_cast<uint16_t>(udrv::wire::ObjectType::VMO);
    message.flags = 0;
    message.rights = udrv::kDefaultVmoRights;
    message.size = 1u << 20;
    UniqueFd memfd(memfd_create("small", MFD_CLOEXEC));
    REQUIRE(memfd);
    REQUIRE(ftruncate(memfd.get(), static_cast<off_t>(udrv::PageSize())) == 0);
    SendRaw(sockets.parent.get(), &message, sizeof(message), {memfd.get()});
    auto received = receive();
    REQUIRE_FALSE(received);
    CHECK(received.error().what.find("receive vmo") != std::string::npos);
  }
  SECTION("the peer closed the socket") {
    REQUIRE(shutdown(sockets.parent.get(), SHUT_WR) == 0);
    CHECK(StatusOf(receive()) == "PEER_CLOSED");
  }
  SECTION("nothing before the deadline") {
    CHECK(StatusOf(udrv::ReceiveHandle(sockets.child.get(), udrv::kRightSameRights,
                                       udrv::DeadlineAfter(20ms))) == "TIMED_OUT");
  }
  CHECK(OpenFdCount() == fds_before);  // nothing received was kept
}

TEST_CASE("transfer: a stream cut short mid-message is truncated, not a hang", "[transfer]") {
  auto sockets = MakeSocketPair(SOCK_STREAM);
  UniqueFd event_fd(eventfd(0, EFD_CLOEXEC));
  REQUIRE(event_fd);
  const HandleMessage message = InterruptMessage();
  SendRaw(sockets.parent.get(), &message, 40, {event_fd.get()});
  sockets.parent.reset();
  auto received =
      udrv::ReceiveHandle(sockets.child.get(), udrv::kRightSameRights, udrv::DeadlineAfter(5s));
  REQUIRE(StatusOf(received) == "IO_INVALID");
  CHECK(received.error().what.find("after 40 of 112 bytes") != std::string::npos);
}

TEST_CASE("transfer: sending to a closed peer is PEER_CLOSED", "[transfer]") {
  auto sockets = MakeSocketPair();
  sockets.child.reset();
  auto irq = Interrupt::CreateVirtual();
  REQUIRE_OK(irq);
  CHECK(StatusOf(udrv::SendHandle(sockets.parent.get(), std::move(*irq))) == "PEER_CLOSED");
}

}  // namespace

TEST_CASE("transfer: the sender may send fewer rights than it holds, never more", "[transfer]") {
  auto sockets = MakeSocketPair();
  auto vmo = Vmo::Create(udrv::PageSize(), "sent-narrowed");
  REQUIRE_OK(vmo);
  REQUIRE_OK(vmo->Write(Bytes("hello"), 0));

  SECTION("a VMO sent with a subset, TRANSFER left out: exactly that arrives") {
    const Rights sent = udrv::kRightRead | udrv::kRightMap | udrv::kRightInspect |
                        udrv::kRightGetProperty | udrv::kRightWait;
    auto copy = vmo->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(copy);
    REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy), sent));
    CHECK_FALSE(copy->is_valid());  // consumed
    auto received = udrv::ReceiveVmo(sockets.child.get());
    REQUIRE_OK(received);
    CHECK(received->rights() == sent);
    std::string text(5, '\0');
    REQUIRE_OK(received->Read(std::as_writable_bytes(std::span(text)), 0));
    CHECK(text == "hello");
    // WRITE left out: read-only for the kernel too.
    auto backing = received->GetBacking();
    REQUIRE_OK(backing);
    CHECK((fcntl(backing->fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
    CHECK(StatusOf(received->Write(Bytes("x"), 0)) == "ACCESS_DENIED");
    // Without TRANSFER and DUPLICATE the receiver cannot pass it on.
    CHECK(StatusOf(received->Duplicate(udrv::kRightSameRights)) == "ACCESS_DENIED");
    auto onward = MakeSocketPair();
    CHECK(StatusOf(udrv::SendHandle(onward.parent.get(), std::move(*received))) == "ACCESS_DENIED");
  }
  SECTION("a VMO sent with WRITE but without TRANSFER stays writable") {
    const Rights sent = udrv::kRightRead | udrv::kRightWrite | udrv::kRightMap |
                        udrv::kRightInspect | udrv::kRightGetProperty;
    auto copy = vmo->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(copy);
    REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy), sent));
    auto received = udrv::ReceiveVmo(sockets.child.get());
    REQUIRE_OK(received);
    CHECK(received->rights() == sent);
    REQUIRE_OK(received->Write(Bytes("J"), 0));
    std::string text(5, '\0');
    REQUIRE_OK(vmo->Read(std::as_writable_bytes(std::span(text)), 0));
    CHECK(text == "Jello");
    // The receiver may still narrow further, not widen.
    auto again = vmo->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(again);
    REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*again), sent));
    CHECK(StatusOf(udrv::ReceiveVmo(sockets.child.get(), sent | udrv::kRightTransfer)) ==
          "ACCESS_DENIED");
  }
  SECTION("kRightSameRights sends what the handle holds") {
    const Rights held = udrv::kDefaultVmoRights & ~udrv::kRightSignal;
    auto copy = vmo->Duplicate(held);
    REQUIRE_OK(copy);
    REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy), udrv::kRightSameRights));
    auto received = udrv::ReceiveVmo(sockets.child.get());
    REQUIRE_OK(received);
    CHECK(received->rights() == held);
  }
  SECTION("a VMO sent with rights it lacks: INVALID_ARGS, consumed, nothing sent") {
    auto read_only = vmo->Duplicate(udrv::kDefaultVmoRights & ~udrv::kRightWrite);
    REQUIRE_OK(read_only);
    auto wider = udrv::SendHandle(sockets.parent.get(), std::move(*read_only),
                                  udrv::kRightRead | udrv::kRightWrite | udrv::kRightMap |
                                      udrv::kRightInspect);
    REQUIRE(StatusOf(wider) == "INVALID_ARGS");
    CHECK(wider.error().what.find("WRITE") != std::string::npos);
    CHECK_FALSE(read_only->is_valid());
    // SAME_RIGHTS mixed with others is no subset either.
    auto copy = vmo->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(copy);
    CHECK(StatusOf(udrv::SendHandle(sockets.parent.get(), std::move(*copy),
                                    udrv::kRightSameRights | udrv::kRightRead)) == "INVALID_ARGS");
    // TRANSFER is still needed to send at all, whatever is asked for.
    auto no_transfer = vmo->Duplicate(udrv::kDefaultVmoRights & ~udrv::kRightTransfer);
    REQUIRE_OK(no_transfer);
    CHECK(StatusOf(udrv::SendHandle(sockets.parent.get(), std::move(*no_transfer),
                                    udrv::kRightRead | udrv::kRightMap | udrv::kRightInspect)) ==
          "ACCESS_DENIED");
    CHECK(StatusOf(udrv::ReceiveHandle(sockets.child.get(), udrv::kRightSameRights, udrv::Now())) ==
          "TIMED_OUT");
  }
}

TEST_CASE("transfer: an interrupt sent with fewer rights: no SIGNAL, no passing on",
          "[transfer]") {
  auto sockets = MakeSocketPair();
  auto irq = Interrupt::CreateVirtual("sent-narrowed");
  REQUIRE_OK(irq);

  SECTION("a subset arrives exactly; the sender's Trigger still wakes it") {
    const Rights sent = udrv::kRightWait | udrv::kRightRead | udrv::kRightInspect;
    auto copy = irq->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(copy);
    REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy), sent));
    CHECK_FALSE(copy->is_valid());
    auto received = udrv::ReceiveInterrupt(sockets.child.get());
    REQUIRE_OK(received);
    CHECK(received->rights() == sent);
    CHECK(StatusOf(received->Trigger(1)) == "ACCESS_DENIED");
    CHECK(StatusOf(received->Duplicate(udrv::kRightSameRights)) == "ACCESS_DENIED");
    auto onward = MakeSocketPair();
    CHECK(StatusOf(udrv::SendHandle(onward.parent.get(), std::move(*received))) ==
          "ACCESS_DENIED");
  }
  SECTION("waiting works on what arrived") {
    auto copy = irq->Duplicate(udrv::kRightSameRights);
    REQUIRE_OK(copy);
    REQUIRE_OK(udrv::SendHandle(sockets.parent.get(), std::move(*copy),
                                udrv::kRightWait | udrv::kRightInspect));
    auto received = udrv::ReceiveInterrupt(sockets.child.get());
    REQUIRE_OK(received);
    REQUIRE_OK(irq->Trigger(5));
    REQUIRE_OK(received->Wait(udrv::DeadlineAfter(5s)));
  }
  SECTION("rights the handle lacks: INVALID_ARGS, consumed, nothing sent") {
    auto wait_only = irq->Duplicate(udrv::kRightWait | udrv::kRightTransfer);
    REQUIRE_OK(wait_only);
    auto wider = udrv::SendHandle(sockets.parent.get(), std::move(*wait_only),
                                  udrv::kRightWait | udrv::kRightSignal);
    REQUIRE(StatusOf(wider) == "INVALID_ARGS");
    CHECK(wider.error().what.find("SIGNAL") != std::string::npos);
    CHECK_FALSE(wait_only->is_valid());
    CHECK(StatusOf(udrv::ReceiveHandle(sockets.child.get(), udrv::kRightSameRights, udrv::Now())) ==
          "TIMED_OUT");
  }
}

TEST_CASE("transfer: a write-only fd never becomes a readable handle", "[transfer]") {
  // A file the sender may only write (a tmpfs file of another user, mode
  // 0222, say), sent as a VMO without WRITE: the receiver used to narrow it
  // by reopening it O_RDONLY through /proc, which as root reads what the
  // sender could not.
  auto sockets = MakeSocketPair();
  auto vmo = Vmo::Create(udrv::PageSize(), "secret");
  REQUIRE_OK(vmo);
  REQUIRE_OK(vmo->Write(Bytes("secret"), 0));
  auto backing = vmo->GetBacking();
  REQUIRE_OK(backing);
  UniqueFd write_only(open(("/proc/self/fd/" + std::to_string(backing->fd)).c_str(),
                           O_WRONLY | O_CLOEXEC));
  REQUIRE(write_only);
  HandleMessage message;
  message.type = static_cast<uint16_t>(udrv::wire::ObjectType::VMO);
  message.rights = udrv::kRightRead | udrv::kRightMap | udrv::kRightInspect | udrv::kRightGetProperty;
  message.size = udrv::PageSize();
  message.vmo_kind = static_cast<uint32_t>(udrv::VmoKind::PAGED);
  std::strcpy(message.name, "forged");
  // As it is, the write-only fd included (SendHandle would refuse it).
  REQUIRE_OK(udrv::SendHandleMessage(sockets.parent.get(), message, write_only.get()));
  const size_t fds_before = OpenFdCount();
  auto received = udrv::ReceiveVmo(sockets.child.get(), udrv::kRightSameRights, udrv::DeadlineAfter(5s));
  REQUIRE(StatusOf(received) == "ACCESS_DENIED");
  CHECK(received.error().what.find("write-only") != std::string::npos);
  CHECK(OpenFdCount() == fds_before);  // the fd that came was closed
}
