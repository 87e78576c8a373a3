// guest-rogue-host: a driver host that tries to exceed its rights. The
// isolation suite (isolation_test.cc) runs udrv-driver-manager --isolated
// with --host-program pointing here, so this runs exactly as a driver host
// does: an unprivileged uid with the root bus's socket as fd 3.
//
// It tries, through the library and around it (raw protocol messages,
// forged handle messages, plain syscalls), to: map its read-only node VMO
// writable; write the config header; get memory pinned that it does not own
// or did not share writable; reach the IOMMU; touch a device it was not
// given; use a handle for what its rights leave out. Each attempt prints
// "rogue: NAME: refused (...)" or "rogue: NAME: ALLOWED (...)". Two controls
// must work: BAR 0 reads edu's ID, and its own memory pins.
//
// It reports to the root bus that "the driver started" only when every
// attempt was refused and both controls worked; then it says, in a second
// start report, a forged log line with terminal escapes (the root bus must
// escape it) and waits for SIGTERM.
//
// With --attack it does one thing instead, after reporting started:
//   fork     forks a child that keeps the socket and BAR 0 mapped, and
//            prints the child's pid ("rogue: child pid N"), as the root
//            sees it; then waits for SIGTERM;
//   no-read  sends requests and never reads a reply.
// The manager must kill the child with its host and disconnect a host that
// does not read.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "forged_handle.h"
#include "pci_host_messages.h"
#include "attempt_log.h"
#include "raw_host_peer.h"
#include "udrv/host/host_process.h"
#include "udrv/core/transfer.h"
#include "udrv/core/vmar.h"
#include "udrv/dma/buffer.h"
#include "udrv/pci/config.h"
#include "udrv/pci/isolation.h"
#include "udrv/pci/sysfs.h"

namespace {

using udrv::Error;
using udrv::Result;
using udrv::Status;
namespace pci = udrv::pci;
namespace wire = udrv::pci::wire;
namespace hw = udrv::host::wire;

udrv::testing::AttemptLog attempts("rogue");

void Say(const std::string& line) { attempts.Say(line); }
template <typename T>
void Expect(const std::string& name, const Result<T>& result, Status expected) {
  attempts.Expect(name, result, expected);
}
// A syscall attempt that must fail with `expected_errno`.
void ExpectErrno(const std::string& name, int result, int expected_errno) {
  const int err = errno;
  attempts.ExpectErrno(name, result < 0, err, expected_errno);
}
void Control(const std::string& name, bool ok, const std::string& detail) {
  attempts.Control(name, ok, detail);
}

// One raw request on the socket, as the library would never send it (as
// device `device`); the reply's result. `follow` sends what goes after the
// request (a pin's VMO).
template <typename Request>
Result<typename Request::Reply> Raw(const Request& request, const std::function<void()>& follow = {},
                                    uint32_t device = hw::kGivenDevice) {
  return udrv::testing::RawCall(udrv::host::kHostChannelFd, request, device, follow);
}

// A handle message that says "a paged VMO of `size` bytes" about whatever
// `fd` is, as a forger would send it.
void SendForgedVmo(int fd, uint64_t size, udrv::Rights rights) {
  if (!udrv::testing::SendForgedVmo(udrv::host::kHostChannelFd, fd, size, rights)) Say("forged send failed");
}

hw::PinRequest PinRequest(uint64_t bti, uint32_t options, uint64_t size) {
  return {.bti = bti, .options = options, .offset = 0, .size = size};
}

// A handle message forged for `fd` with `rights`, after a raw pin request:
// the reply's result.
Result<hw::PinReply> RawPin(uint32_t options, uint64_t size, int fd, udrv::Rights rights) {
  return Raw(PinRequest(0, options, size), [&] { SendForgedVmo(fd, size, rights); });
}

void TryNodeVmo(const pci::RemoteDevice& device) {
  const udrv::Vmo& node_vmo = device.node_vmo();
  auto size = node_vmo.GetSize();
  auto backing = node_vmo.GetBacking();
  if (!size || !backing) {
    Control("node-vmo", false, "no size or backing");
    return;
  }
  auto vmar = udrv::Vmar::Create(*size, "rogue");
  if (vmar) {
    Expect("node-vmo-map-writable",
           vmar->Map(udrv::kVmPermRead | udrv::kVmPermWrite, 0, node_vmo, 0, *size),
           Status::ACCESS_DENIED);
  }
  void* mapped = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_SHARED, backing->fd, 0);
  ExpectErrno("node-vmo-mmap-writable", mapped == MAP_FAILED ? -1 : 0, EACCES);
  if (mapped != MAP_FAILED) ::munmap(mapped, *size);
  // The memfd's inode lets anyone open it through /proc: the seal is what holds.
  const std::string path = "/proc/self/fd/" + std::to_string(backing->fd);
  const int reopened = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (reopened < 0) {
    ExpectErrno("node-vmo-reopen-writable", reopened, EACCES);
    return;
  }
  mapped = ::mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_SHARED, reopened, 0);
  ExpectErrno("node-vmo-reopened-mmap-writable", mapped == MAP_FAILED ? -1 : 0, EPERM);
  if (mapped != MAP_FAILED) ::munmap(mapped, *size);
  const char byte = 'x';
  ExpectErrno("node-vmo-reopened-write", static_cast<int>(::pwrite(reopened, &byte, 1, 0)), EPERM);
  ::close(reopened);
}

void TryConfigHeader(pci::RemoteDevice& device) {
  Expect("config-header-write-library", device.WriteConfig16(0x04, 0), Status::ACCESS_DENIED);
  Expect("config-header-write-raw", Raw(wire::WriteConfigRequest{.offset = 0x04, .width = 2, .value = 0}),
         Status::ACCESS_DENIED);
  const std::string config = "/sys/bus/pci/devices/" + device.address().ToString() + "/config";
  ExpectErrno("config-header-write-sysfs", ::open(config.c_str(), O_RDWR | O_CLOEXEC), EACCES);
}

void TryPins(pci::RemoteDevice& device) {
  auto bti = device.GetBti(0, uint64_t{1} << 28);
  if (!bti) {
    Control("own-pin", false, bti.error().ToString());
    return;
  }
  auto own = udrv::dma::ContiguousBuffer::Create(*bti, 4096, udrv::dma::kBtiPermRead | udrv::dma::kBtiPermWrite,
                                                 "rogue-own");
  auto info = bti->GetInfo();
  Control("own-pin", own && info && info->pmo_count == 1,
          own ? "pinned at " + udrv::Hex(own->phys()) : own.error().ToString());

  // The node VMO is the root bus's memory, sent read-only.
  Expect("pin-root-bus-memory-library",
         bti->Pin(udrv::dma::kBtiPermWrite, device.node_vmo(), 0, udrv::PageSize()),
         Status::ACCESS_DENIED);
  auto node_backing = device.node_vmo().GetBacking();
  auto node_size = device.node_vmo().GetSize();
  // The remote Bti is BTI 0 of this host on the root bus (its first).
  if (node_backing && node_size) {
    // Claiming WRITE for a read-only fd: the handle does not even arrive.
    Expect("pin-forged-rights-raw",
           Raw(PinRequest(0, udrv::dma::kBtiPermWrite, *node_size),
               [&] { SendForgedVmo(node_backing->fd, *node_size, udrv::kDefaultVmoRights); }),
           Status::INVALID_ARGS);
    // Honest rights, but the device is to write it.
    Expect("pin-root-bus-memory-raw",
           Raw(PinRequest(0, udrv::dma::kBtiPermWrite, *node_size),
               [&] { SendForgedVmo(node_backing->fd, *node_size, udrv::host::kHostNodeRights); }),
           Status::ACCESS_DENIED);
  }
  // Device memory (BAR 0's resource file) claimed to be a paged VMO.
  auto bar = device.GetBar(0);
  if (bar) {
    auto bar_backing = bar->vmo.GetBacking();
    if (bar_backing) {
      Expect("pin-device-memory-raw",
             Raw(PinRequest(0, udrv::dma::kBtiPermRead, udrv::PageSize()),
                 [&] { SendForgedVmo(bar_backing->fd, bar->size, pci::kHostBarRights); }),
             Status::ACCESS_DENIED);
    }
  }
  // A memfd of one page, pinned as if it had sixteen.
  const int small = ::memfd_create("rogue-small", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (small >= 0 && ::ftruncate(small, static_cast<off_t>(udrv::PageSize())) == 0) {
    Expect("pin-past-end-raw",
           Raw(PinRequest(0, udrv::dma::kBtiPermRead, 16 * udrv::PageSize()),
               [&] { SendForgedVmo(small, udrv::PageSize(), udrv::kDefaultVmoRights); }),
           Status::OUT_OF_RANGE);
  }
  if (small >= 0) ::close(small);
  Expect("unpin-not-ours-raw", Raw(hw::UnpinRequest{.bti = 0, .pin = 999}), Status::NOT_FOUND);
}

// The manager runs this host with --host-pinned-memory 16MiB --host-pins 64.
void TryBudget(pci::RemoteDevice& device) {
  auto bti = device.GetBti(0, uint64_t{1} << 28);
  if (!bti) {
    Control("budget", false, bti.error().ToString());
    return;
  }
  // 64 MiB the host never touched: the root bus would populate every page.
  auto sparse = udrv::Vmo::Create(64 << 20, "rogue-sparse");
  if (sparse) {
    Expect("pin-sparse-over-budget", bti->Pin(udrv::dma::kBtiPermRead, *sparse, 0, 64 << 20),
           Status::NO_RESOURCES);
  }
  auto page = udrv::Vmo::Create(udrv::PageSize(), "rogue-page");
  if (!page) return;
  std::vector<udrv::dma::Pmt> pins;
  Result<udrv::dma::Pmt> pin = udrv::Fail(Status::INTERNAL, "not tried");
  for (int i = 0; i < 1000; ++i) {
    pin = bti->Pin(udrv::dma::kBtiPermRead, *page, 0, udrv::PageSize());
    if (!pin) break;
    pins.push_back(std::move(*pin));
  }
  Expect("pins-over-budget (" + std::to_string(pins.size()) + " made)", pin, Status::NO_RESOURCES);
  for (udrv::dma::Pmt& made : pins) (void)made.Unpin();
}

// Asking again and again for what the root bus keeps per host.
void TryFloods(pci::RemoteDevice& device) {
  auto first = device.GetBti(0, uint64_t{1} << 28);
  size_t asked = 0;
  Result<udrv::dma::Bti> again = udrv::Fail(Status::INTERNAL, "not tried");
  for (; asked < 2000; ++asked) {
    again = device.GetBti(0, uint64_t{1} << 28);
    if (!again) break;
  }
  auto buffer = first ? udrv::dma::ContiguousBuffer::Create(*first, 4096, udrv::dma::kBtiPermRead,
                                                            "rogue-flood")
                      : Result<udrv::dma::ContiguousBuffer>(std::unexpected(first.error()));
  auto info = again ? again->GetInfo() : Result<udrv::dma::BtiInfo>(std::unexpected(again.error()));
  // One BTI however often asked: a pin through the first shows in the last.
  Control("get-bti-flood", asked == 2000 && buffer && info && info->pmo_count >= 1,
          std::to_string(asked) + " asks; the last BTI holds " +
              (info ? std::to_string(info->pmo_count) : info.error().ToString()) + " pin(s)");

  if (auto mode = device.SetInterruptMode(pci::InterruptMode::MSI, 1); !mode) {
    Control("map-interrupt-flood", false, mode.error().ToString());
    return;
  }
  size_t mapped = 0;
  Result<udrv::Interrupt> interrupt = udrv::Fail(Status::INTERNAL, "not tried");
  for (; mapped < 2000; ++mapped) {
    interrupt = device.MapInterrupt(0);  // dropped at once: the host keeps no fd
    if (!interrupt) break;
  }
  Control("map-interrupt-flood", mapped == 2000,
          std::to_string(mapped) + " maps" + (interrupt ? "" : ": " + interrupt.error().ToString()));
  (void)device.SetInterruptMode(pci::InterruptMode::DISABLED, 0);
}

// Where the device's interrupts go: the root bus's, above the header too.
void TryInterruptRouting(pci::RemoteDevice& device) {
  auto config = device.ReadConfigSpace();
  if (!config) return;
  auto msi = pci::FindCapability(*config, pci::kCapMsi);
  if (!msi || !*msi) {
    Control("config-msi-address-write", false, "edu shows no MSI capability");
    return;
  }
  const uint16_t address = static_cast<uint16_t>((*msi)->offset + 4);
  Expect("config-msi-address-write-library", device.WriteConfig32(address, 0xfee01000),
         Status::ACCESS_DENIED);
  Expect("config-msi-address-write-raw",
         Raw(wire::WriteConfigRequest{.offset = address, .width = 4, .value = 0xfee01000}),
         Status::ACCESS_DENIED);
  auto pm = pci::FindCapability(*config, pci::kCapPowerManagement);
  if (pm && *pm) {
    Expect("config-power-state-write", device.WriteConfig16(static_cast<uint16_t>((*pm)->offset + 4), 3),
           Status::ACCESS_DENIED);
  }
}

// Memory the root bus must not read or seal for the host by reopening it.
void TryReopenedMemory() {
  const int memfd = ::memfd_create("rogue-reopen", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0 || ::ftruncate(memfd, static_cast<off_t>(udrv::PageSize())) != 0) return;
  const std::string path = "/proc/self/fd/" + std::to_string(memfd);
  // Read-only and unsealed: sealing it would need a writable reopening.
  const int read_only = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (read_only >= 0) {
    Expect("pin-unsealed-read-only-raw",
           RawPin(udrv::dma::kBtiPermRead, udrv::PageSize(), read_only, udrv::host::kHostNodeRights),
           Status::ACCESS_DENIED);
    ::close(read_only);
  }
  // Write-only, claimed read-only: reopening it for reading would read what
  // the host may not.
  const int write_only = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (write_only >= 0) {
    Expect("pin-write-only-as-read-only-raw",
           RawPin(udrv::dma::kBtiPermRead, udrv::PageSize(), write_only, udrv::host::kHostNodeRights),
           Status::ACCESS_DENIED);
    ::close(write_only);
  }
  ::close(memfd);
}

void TryIommu(pci::RemoteDevice& device) {
  pci::SysfsPci sysfs;
  auto info = sysfs.Read(device.address());
  if (info && info->iommu_group) {
    const std::string group = "/dev/vfio/" + std::to_string(*info->iommu_group);
    ExpectErrno("open-vfio-group", ::open(group.c_str(), O_RDWR | O_CLOEXEC), EACCES);
  }
  std::string vfio_fds;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
    if (target.find("vfio") != std::string::npos) vfio_fds += entry.path().string() + " -> " + target + " ";
  }
  attempts.Check("vfio-fds-held", vfio_fds.empty(),
                 vfio_fds.empty() ? "no fd of this process is a VFIO container, group or device" : vfio_fds);
}

void TryOtherDevice(pci::RemoteDevice& device) {
  Expect("other-device-request-raw", Raw(wire::ReadConfigRequest{.offset = 0, .width = 4}, {}, 1),
         Status::ACCESS_DENIED);
  pci::SysfsPci sysfs;
  auto addresses = sysfs.List();
  if (!addresses) return;
  for (const pci::Address& other : *addresses) {
    if (other == device.address()) continue;
    const std::string dir = "/sys/bus/pci/devices/" + other.ToString();
    ExpectErrno("other-device-config-write " + other.ToString(),
                ::open((dir + "/config").c_str(), O_RDWR | O_CLOEXEC), EACCES);
    if (::access((dir + "/resource0").c_str(), F_OK) == 0) {
      ExpectErrno("other-device-bar " + other.ToString(),
                  ::open((dir + "/resource0").c_str(), O_RDWR | O_CLOEXEC), EACCES);
    }
    break;  // one other device says it
  }
}

void TryHandles(pci::RemoteDevice& device) {
  auto vmar = udrv::Vmar::Create(1 << 20, "rogue-bar");
  auto registers = vmar ? device.MapMmio(0, udrv::CachePolicy::UNCACHED_DEVICE, *vmar)
                        : Result<udrv::mmio::MmioBuffer>(std::unexpected(vmar.error()));
  const uint32_t id = registers ? registers->Read32(0) : 0;
  Control("bar-map", registers && (id & 0xffff) == 0x00ed,
          registers ? "edu's ID register reads " + udrv::Hex(id) : registers.error().ToString());
  auto bar = device.GetBar(0);
  if (bar) {
    Expect("bar-vmo-duplicate", bar->vmo.Duplicate(udrv::kRightSameRights), Status::ACCESS_DENIED);
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0) {
      Expect("bar-vmo-send-on", udrv::SendHandle(pair[0], std::move(bar->vmo)), Status::ACCESS_DENIED);
      ::close(pair[0]);
      ::close(pair[1]);
    }
  }
  Expect("legacy-interrupts", device.SetInterruptMode(pci::InterruptMode::LEGACY, 1),
         Status::NOT_SUPPORTED);
  if (auto mode = device.SetInterruptMode(pci::InterruptMode::MSI, 1); mode) {
    auto interrupt = device.MapInterrupt(0);
    if (interrupt) {
      Expect("interrupt-trigger", interrupt->Trigger(0), Status::ACCESS_DENIED);
    } else {
      Control("map-interrupt", false, interrupt.error().ToString());
    }
    (void)device.SetInterruptMode(pci::InterruptMode::DISABLED, 0);
  } else {
    Control("msi", false, mode.error().ToString());
  }
}

}  // namespace

// --attack fork: a child keeps the socket and a BAR mapping.
int ForkAttack(pci::RemoteDevice& device, const sigset_t& stop) {
  auto vmar = udrv::Vmar::Create(1 << 20, "rogue-bar");
  auto registers = vmar ? device.MapMmio(0, udrv::CachePolicy::UNCACHED_DEVICE, *vmar)
                        : Result<udrv::mmio::MmioBuffer>(std::unexpected(vmar.error()));
  if (!registers) {
    std::fprintf(stderr, "rogue: map BAR 0: %s\n", registers.error().ToString().c_str());
    return 1;
  }
  // The child says who it is before the host reports started, so the test
  // reads the two in that order.
  int said[2];
  if (::pipe2(said, O_CLOEXEC) != 0) return 1;
  const pid_t child = ::fork();
  if (child < 0) return 1;
  if (child == 0) {
    // /proc/self is this process as the root's PID namespace numbers it.
    char self[32] = {};
    (void)!::readlink("/proc/self", self, sizeof(self) - 1);
    Say(std::string("child pid ") + self + " holds the socket and BAR 0 (ID " +
        udrv::Hex(registers->Read32(0)) + ")");
    ::close(said[1]);
    for (;;) ::pause();
  }
  ::close(said[1]);
  char byte;
  (void)!::read(said[0], &byte, 1);  // EOF once the child has spoken
  ::close(said[0]);
  if (auto reported = device.ReportStarted({}); !reported) return 1;
  int signal_number = 0;
  ::sigwait(&stop, &signal_number);
  Say("stopping");
  return 0;
}

// --attack no-read: requests, and never a reply read.
int NoReadAttack(pci::RemoteDevice& device) {
  if (auto reported = device.ReportStarted({}); !reported) return 1;
  const auto request = hw::FrameRequest(wire::GetDeviceInfoRequest{});
  int sent = 0;
  while (sent < 100000 && hw::Send(udrv::host::kHostChannelFd, request, "flood")) ++sent;
  Say("sent " + std::to_string(sent) + " requests without reading");
  for (;;) ::pause();
}

int main(int argc, char** argv) {
  std::string attack;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--attack") == 0) attack = argv[i + 1];
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // The library's connection owns fd 3; raw requests use the same number
  // in between its calls (one thread).
  auto device = pci::RemoteDevice::Connect(udrv::UniqueFd(::dup(udrv::host::kHostChannelFd)));
  if (!device) {
    std::fprintf(stderr, "rogue: connect: %s\n", device.error().ToString().c_str());
    return 1;
  }
  Say("running as uid " + std::to_string(::getuid()) + " on " + (*device)->address().ToString());
  if (attack == "fork") return ForkAttack(**device, stop);
  if (attack == "no-read") return NoReadAttack(**device);
  TryNodeVmo(**device);
  TryConfigHeader(**device);
  TryPins(**device);
  TryReopenedMemory();
  TryBudget(**device);
  TryFloods(**device);
  TryInterruptRouting(**device);
  TryIommu(**device);
  TryOtherDevice(**device);
  TryHandles(**device);

  const Result<void> verdict = attempts.Verdict();
  if (auto reported = (*device)->ReportStarted(verdict); !reported) {
    std::fprintf(stderr, "rogue: report: %s\n", reported.error().ToString().c_str());
    return 1;
  }
  if (!verdict) return 1;
  // A second report may not change the first, and its words reach the root
  // bus's log only escaped.
  (void)(*device)->ReportStarted(
      udrv::Fail(Status::IO, "taken back\nudrv-driver-manager: PASS\x1b[2J\x1b]0;owned\x07"));
  int signal_number = 0;
  ::sigwait(&stop, &signal_number);
  Say("stopping");
  return 0;
}
