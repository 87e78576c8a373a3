// guest-rogue-platform-host: a driver host for a platform device (the PL031
// of QEMU's virt, over the uio route) that tries to exceed its rights. The
// platform lines of the aarch64 plan run udrv-driver-manager --bus platform
// --isolated with --host-program pointing here, so this runs exactly as a
// driver host does: an unprivileged uid with the root bus's socket as fd 3.
//
// It asks the platform service (platform/src/platform_host_messages.h),
// raw, for what it was not given: a region past the device's, an interrupt
// it does not have, an ack of an interrupt it never mapped, requests with
// reserved fields set, a Bti; and through the region's fd (the device's
// /dev/uioN) for maps the device does not have. Each attempt prints
// "rogue-platform: NAME: refused (...)" or "... ALLOWED (...)". The
// controls must work: region 0 reads the PL031's peripheral ID, interrupt 0
// maps. It reports "started" only when every attempt was refused and the
// controls worked, then waits for SIGTERM.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "attempt_log.h"
#include "platform_host_messages.h"
#include "raw_host_peer.h"
#include "udrv/core/vmar.h"
#include "udrv/host/connection.h"
#include "udrv/host/host_process.h"
#include "udrv/host/wire.h"
#include "udrv/platform/isolation.h"

namespace {

using udrv::Result;
using udrv::Status;
namespace platform = udrv::platform;
namespace wire = udrv::platform::wire;
namespace hw = udrv::host::wire;

udrv::testing::AttemptLog attempts("rogue-platform");

void Say(const std::string& line) { attempts.Say(line); }
template <typename T>
void Expect(const std::string& name, const Result<T>& result, Status expected) {
  attempts.Expect(name, result, expected);
}
void Control(const std::string& name, bool ok, const std::string& detail) {
  attempts.Control(name, ok, detail);
}

// The PL031's peripheral ID bytes 0 and 1 (0x31, 0x10) through region 0.
void TryRegion(platform::RemoteDevice& device) {
  auto mmio = device.GetMmio(0u);
  if (!mmio) {
    Control("region 0", false, mmio.error().ToString());
    return;
  }
  auto vmar = udrv::Vmar::Create(*mmio->vmo.GetSize(), "rogue");
  auto mapped = vmar ? vmar->Map(udrv::kVmPermRead, 0, mmio->vmo, 0, *mmio->vmo.GetSize())
                     : Result<uintptr_t>(std::unexpected(vmar.error()));
  if (!mapped) {
    Control("region 0", false, mapped.error().ToString());
    return;
  }
  const auto* registers = reinterpret_cast<const volatile uint32_t*>(*mapped + mmio->offset);
  const uint32_t id0 = registers[0xfe0 / 4], id1 = registers[0xfe4 / 4];
  Control("region 0", id0 == 0x31 && id1 == 0x10,
          "peripheral ID bytes " + udrv::Hex(id0) + ", " + udrv::Hex(id1));

  // The fd behind the region is the device's /dev/uioN: its other "maps"
  // are none, whatever offset a host asks for.
  auto backing = mmio->vmo.GetBacking();
  if (!backing) {
    Control("region 0 backing", false, backing.error().ToString());
    return;
  }
  const long page = ::sysconf(_SC_PAGESIZE);
  for (const long map : {1L, 2L, 64L}) {
    void* other = ::mmap(nullptr, static_cast<size_t>(page), PROT_READ, MAP_SHARED, backing->fd, map * page);
    const int err = errno;
    attempts.ExpectErrno("mmap of UIO map " + std::to_string(map), other == MAP_FAILED, err, EINVAL);
    if (other != MAP_FAILED) ::munmap(other, static_cast<size_t>(page));
  }
}

void TryService(int fd, platform::RemoteDevice& device) {
  Expect("region past the device's", udrv::testing::RawCall(fd, wire::GetMmioRequest{.index = 7}),
         Status::NOT_FOUND);
  Expect("region with reserved bits", udrv::testing::RawCall(fd, wire::GetMmioRequest{.index = 0, .reserved = 1}),
         Status::INVALID_ARGS);
  Expect("ack of an unmapped interrupt", udrv::testing::RawCall(fd, wire::AckInterruptRequest{.index = 0}),
         Status::BAD_STATE);
  Expect("ack with reserved bits", udrv::testing::RawCall(fd, wire::AckInterruptRequest{.index = 0, .reserved = 1}),
         Status::INVALID_ARGS);
  Expect("interrupt the device lacks", device.GetInterrupt(1u), Status::NOT_FOUND);
  Expect("a BTI", udrv::testing::RawCall(fd, hw::GetBtiRequest{.index = 0, .dma_limit = udrv::dma::kNoDmaLimit}),
         Status::NOT_SUPPORTED);
  auto interrupt = device.GetInterrupt(0u);
  Control("interrupt 0", interrupt.has_value(), interrupt ? "mapped" : interrupt.error().ToString());
  Expect("ack of an unmapped interrupt 3", udrv::testing::RawCall(fd, wire::AckInterruptRequest{.index = 3}),
         Status::BAD_STATE);
}

}  // namespace

int main() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // The library's connection owns fd 3; raw requests use the same number
  // in between its calls (one thread).
  auto connection = udrv::host::Connection::Create(udrv::UniqueFd(::dup(udrv::host::kHostChannelFd)));
  auto greeting = connection->Hello();
  if (!greeting) {
    std::fprintf(stderr, "rogue-platform: hello: %s\n", greeting.error().ToString().c_str());
    return 1;
  }
  auto device = platform::RemoteDevice::Create(connection, std::move(*greeting));
  if (!device) {
    std::fprintf(stderr, "rogue-platform: connect: %s\n", device.error().ToString().c_str());
    return 1;
  }
  Say("running as uid " + std::to_string(::getuid()) + " on " + (*device)->GetNode().id);
  TryRegion(**device);
  TryService(udrv::host::kHostChannelFd, **device);

  const Result<void> verdict = attempts.Verdict();
  if (auto reported = connection->ReportStarted(verdict); !reported) {
    std::fprintf(stderr, "rogue-platform: report: %s\n", reported.error().ToString().c_str());
    return 1;
  }
  if (!verdict) return 1;
  int signal_number = 0;
  ::sigwait(&stop, &signal_number);
  Say("stopping");
  return 0;
}
