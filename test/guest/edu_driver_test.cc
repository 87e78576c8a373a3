// The edu driver (drivers/edu) over VFIO, in the testbed guests with an
// IOMMU (the tests bind edu to vfio-pci):
//   [edu-driver]         what the driver does: setup, liveness, factorials
//                        and DMA round trips by interrupt, bounds, timeouts,
//                        quiescing
//   [edu-driver-faults]  what goes wrong: edu writing to IOVAs that were never
//                        pinned or were unpinned (the IOMMU blocks it, the
//                        guest kernel logs the fault, no memory changes, the
//                        driver reports it), and a driver process killed
//                        while it holds pins (edu-driver, next to this binary)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/dma/buffer.h"
#include "udrv/drivers/edu/edu.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/config.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/vfio.h"

using udrv::Hex;
using udrv::PageSize;
using udrv::UniqueFd;
using udrv::Vmar;
using udrv::Vmo;
using udrv::testing::StatusOf;
using namespace udrv::drivers::edu;
using namespace udrv::pci;
using namespace udrv::dma;
using namespace std::chrono_literals;

namespace {

using udrv::guest::FindEdu;
using udrv::guest::VfioEdu;

Edu MakeDriver(Device& device, Options options = {}) {
  auto driver = Edu::Create(device, options);
  REQUIRE_OK(driver);
  return std::move(*driver);
}

ContiguousBuffer MakeBuffer(const Edu& driver, uint32_t options, const char* name) {
  auto buffer = ContiguousBuffer::Create(driver.bti(), PageSize(), options, name);
  REQUIRE_OK(buffer);
  return std::move(*buffer);
}

std::span<std::byte> Bytes(const ContiguousBuffer& buffer) {
  return HostMemoryOf(buffer).cpu;
}

void FillPattern(std::span<std::byte> bytes, uint8_t seed) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = std::byte(static_cast<uint8_t>(i * 13 + seed + (i >> 8)));
  }
}

bool AllEqual(std::span<const std::byte> bytes, std::byte value) {
  return std::all_of(bytes.begin(), bytes.end(), [value](std::byte b) { return b == value; });
}

bool IsInverse(std::span<const std::byte> bytes, std::span<const std::byte> of) {
  return std::equal(bytes.begin(), bytes.end(), of.begin(),
                    [](std::byte b, std::byte original) { return b == ~original; });
}

uint16_t Command(Device& device) {
  auto command = device.ReadConfig16(kConfigCommand);
  REQUIRE_OK(command);
  return *command;
}

// Host memory the device was never given: three pages of a VMO mapped in
// this process, filled with kFill. Faulting DMAs aim at the middle page, so
// the pages around it show any stray write.
class GuardedPages {
 public:
  static constexpr std::byte kFill{0xc3};
  GuardedPages() {
    auto vmo = Vmo::Create(3 * PageSize(), "guarded-pages");
    REQUIRE_OK(vmo);
    vmo_ = std::move(*vmo);
    auto vmar = Vmar::Create(3 * PageSize(), "guarded-pages");
    REQUIRE_OK(vmar);
    vmar_ = std::move(*vmar);
    auto base = vmar_.Map(udrv::kVmPermRead | udrv::kVmPermWrite, 0, vmo_, 0, 3 * PageSize());
    REQUIRE_OK(base);
    all_ = std::span<std::byte>(reinterpret_cast<std::byte*>(*base), 3 * PageSize());
    Refill();
  }
  void Refill() { std::fill(all_.begin(), all_.end(), kFill); }
  const Vmo& vmo() const { return vmo_; }
  std::span<std::byte> middle() const { return all_.subspan(PageSize(), PageSize()); }
  std::span<std::byte> before() const { return all_.first(PageSize()); }
  std::span<std::byte> after() const { return all_.last(PageSize()); }

 private:
  Vmo vmo_;
  Vmar vmar_;
  std::span<std::byte> all_;
};

// The kernel's log from now on, read through /dev/kmsg.
class KernelLog {
 public:
  KernelLog() : fd_(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
    INFO("open /dev/kmsg: errno " << errno);
    REQUIRE(fd_.is_valid());
    REQUIRE(::lseek(fd_.get(), 0, SEEK_END) >= 0);
  }

  // Waits until `deadline` for the IOMMU's report of a blocked DMA write to
  // `iova`, keeping every line read for the test's report. As the 6.1
  // kernel prints them:
  //   x86_64 (VT-d): "DMAR: [DMA Write NO_PASID] Request device [00:03.0]
  //                   fault addr 0xff00000 [fault reason 0x..] ..."
  //   aarch64 (SMMUv3): "arm-smmu-v3 ...: event 0x10 received:", then the
  //                   event's four words, the third the input address.
  bool WaitForWriteFault(uint64_t iova, udrv::Time deadline) {
    for (;;) {
      ReadNew();
      if (HasWriteFault(iova)) return true;
      if (udrv::Now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
  }

  std::string Text() const {
    std::string text;
    for (const std::string& line : lines_) text += line + "\n";
    return text;
  }

 private:
  void ReadNew() {
    char record[8192];
    for (;;) {
      const ssize_t n = ::read(fd_.get(), record, sizeof(record) - 1);
      if (n < 0 && errno == EPIPE) continue;  // records were overwritten: read on
      if (n <= 0) return;
      record[n] = '\0';
      // "prio,seq,usec,flags;message\n" and maybe " KEY=value" lines.
      std::string text(record);
      const size_t start = text.find(';');
      if (start == std::string::npos) continue;
      lines_.push_back(text.substr(start + 1, text.find('\n') - start - 1));
    }
  }

  bool HasWriteFault(uint64_t iova) const {
#if defined(__x86_64__)
    const std::string address = "fault addr " + Hex(iova) + " ";
    return std::any_of(lines_.begin(), lines_.end(), [&](const std::string& line) {
      return line.find("DMAR: [DMA Write") != std::string::npos &&
             line.find(address) != std::string::npos;
    });
#elif defined(__aarch64__)
    char address[32];
    std::snprintf(address, sizeof(address), "0x%016llx", static_cast<unsigned long long>(iova));
    for (size_t i = 0; i < lines_.size(); ++i) {
      if (lines_[i].find("arm-smmu-v3") == std::string::npos ||
          lines_[i].find("event 0x") == std::string::npos) {
        continue;
      }
      for (size_t j = i + 1; j < std::min(lines_.size(), i + 5); ++j) {
        if (lines_[j].find(address) != std::string::npos) return true;
      }
    }
    return false;
#else
#error "which IOMMU reports faults on this architecture?"
#endif
  }

  UniqueFd fd_;
  std::vector<std::string> lines_;
};

// Waits for the kernel to log the IOMMU blocking edu's write to `iova`.
// Both kernels rate-limit these reports (10 per 5 s), and QEMU's SMMUv3
// reports every 4-byte access of a blocked transfer: one 4095-byte transfer
// spends the budget, and the next test's fault goes unreported. So each
// second without the report edu writes 4 more bytes there, blocked just the
// same, to be reported once the budget is back.
bool WaitForWriteFault(Edu& driver, KernelLog& log, uint64_t iova) {
  const udrv::Time deadline = udrv::DeadlineAfter(15s);
  while (!log.WaitForWriteFault(iova, std::min(deadline, udrv::DeadlineAfter(1s)))) {
    if (udrv::Now() >= deadline) return false;
    REQUIRE_OK(driver.CopyFromDevice(0, iova, 4));
  }
  return true;
}

// An IOVA below edu's limit that no test pins: edu's pins come from the
// bottom of the IOVA space.
constexpr uint64_t kNeverPinned = 0xff00000;

void RequireOutside(uint64_t iova, const ContiguousBuffer& buffer) {
  INFO(Hex(iova) << " vs a pin at " << Hex(buffer.phys()));
  REQUIRE((iova + PageSize() <= buffer.phys() || iova >= buffer.phys() + buffer.size()));
}

}  // namespace

TEST_CASE("edu driver: Create checks edu and sets it up; liveness; factorials by interrupt",
          "[edu-driver]") {
  VfioEdu edu;
  Edu driver = MakeDriver(edu.device());
  CHECK(driver.name().find(edu.device().address().ToString()) != std::string::npos);
  CHECK(driver.name().find("(vfio)") != std::string::npos);
  CHECK(driver.major_version() == 1);
  CHECK(driver.minor_version() == 0);
  // edu has MSI and no MSI-X: the fallback settles on MSI over VFIO.
  CHECK(driver.interrupt_mode() == InterruptMode::MSI);
  CHECK((Command(edu.device()) & kCommandBusMaster) != 0);
  auto info = driver.bti().GetInfo();
  REQUIRE_OK(info);
  CHECK(info->aspace_size <= kDmaLimit);
  CHECK_FALSE(driver.bti().is_physical());

  REQUIRE_OK(driver.CheckLiveness());
  uint32_t expected = 1;
  for (uint32_t n = 0; n <= kMaxFactorialInput; ++n) {
    if (n > 0) expected *= n;
    auto factorial = driver.Factorial(n);
    INFO(n << "!");
    REQUIRE_OK(factorial);
    CHECK(*factorial == expected);
  }
  auto too_big = driver.Factorial(kMaxFactorialInput + 1);
  CHECK(StatusOf(too_big) == "OUT_OF_RANGE");
  CHECK(too_big.error().object.find("edu ") != std::string::npos);
}

TEST_CASE("edu driver: DMA round trips of 1 to 4095 bytes, completed by interrupt",
          "[edu-driver]") {
  VfioEdu edu;
  Edu driver = MakeDriver(edu.device());
  ContiguousBuffer source = MakeBuffer(driver, kBtiPermRead, "source");
  ContiguousBuffer destination = MakeBuffer(driver, kBtiPermWrite, "destination");
  for (const ContiguousBuffer* buffer : {&source, &destination}) {
    CHECK(buffer->phys() + buffer->size() <= kDmaLimit);
  }
  // Ascending, so the bytes past each transfer were never written.
  for (uint32_t size : {1u, 2u, 63u, 512u, 4000u, kMaxTransfer}) {
    INFO(size << " bytes");
    FillPattern(Bytes(source), static_cast<uint8_t>(size));
    REQUIRE_OK(driver.RoundTrip(source, destination, size));
    CHECK(std::equal(Bytes(destination).begin(), Bytes(destination).begin() + size,
                     Bytes(source).begin()));
    CHECK(AllEqual(Bytes(destination).subspan(size), std::byte{0}));
  }

  SECTION("partial copies anywhere in edu's buffer, from and to any byte") {
    FillPattern(Bytes(source), 77);
    REQUIRE_OK(driver.CopyToDevice(source.phys() + 100, 4000, 95));  // ends at edu 0x40ffe
    REQUIRE_OK(driver.CopyToDevice(source.phys() + 7, 0, 3));
    REQUIRE_OK(driver.CopyFromDevice(4000, destination.phys() + 1, 95));
    REQUIRE_OK(driver.CopyFromDevice(0, destination.phys() + 2000, 3));
    const auto in = Bytes(source);
    const auto out = Bytes(destination);
    CHECK(std::equal(in.begin() + 100, in.begin() + 195, out.begin() + 1));
    CHECK(std::equal(in.begin() + 7, in.begin() + 10, out.begin() + 2000));
  }
}

TEST_CASE("edu driver: transfers past edu's buffer or its DMA reach are refused",
          "[edu-driver]") {
  VfioEdu edu;
  Edu driver = MakeDriver(edu.device());
  ContiguousBuffer source = MakeBuffer(driver, kBtiPermRead, "source");
  ContiguousBuffer destination = MakeBuffer(driver, kBtiPermWrite, "destination");
  const uint64_t host = source.phys();

  CHECK(StatusOf(driver.CopyToDevice(host, 0, 0)) == "INVALID_ARGS");
  // Nothing may reach edu 0x40fff: QEMU 7.2 would abort the whole VM.
  CHECK(StatusOf(driver.CopyToDevice(host, 0, kBufferSize)) == "OUT_OF_RANGE");
  CHECK(StatusOf(driver.CopyFromDevice(4000, destination.phys(), 96)) == "OUT_OF_RANGE");
  CHECK(StatusOf(driver.CopyToDevice(host, kMaxTransfer, 1)) == "OUT_OF_RANGE");
  CHECK(StatusOf(driver.CopyToDevice(host, UINT32_MAX, 2)) == "OUT_OF_RANGE");
  // edu masks addresses to 28 bits: past them it would wrap around.
  CHECK(StatusOf(driver.CopyToDevice(kDmaLimit, 0, 1)) == "OUT_OF_RANGE");
  CHECK(StatusOf(driver.CopyFromDevice(0, kDmaLimit - 10, 11)) == "OUT_OF_RANGE");
  CHECK(StatusOf(driver.CopyFromDevice(0, UINT64_MAX, 1)) == "OUT_OF_RANGE");
  auto refused = driver.CopyToDevice(host, 4000, 96);
  REQUIRE(StatusOf(refused) == "OUT_OF_RANGE");
  CHECK(refused.error().what.find("0x40fff") != std::string::npos);
  CHECK(refused.error().object == driver.name());

  CHECK(StatusOf(driver.RoundTrip(source, destination, kBufferSize)) == "OUT_OF_RANGE");
  HostMemory small = HostMemoryOf(destination);
  small.cpu = small.cpu.first(10);
  CHECK(StatusOf(driver.RoundTrip(HostMemoryOf(source), small, 11)) == "INVALID_ARGS");
  HostMemory overlapping = HostMemoryOf(source);
  overlapping.cpu = overlapping.cpu.subspan(100);
  CHECK(StatusOf(driver.RoundTrip(HostMemoryOf(source), overlapping, 200)) == "INVALID_ARGS");

  // None of it reached the device.
  FillPattern(Bytes(source), 5);
  REQUIRE_OK(driver.RoundTrip(source, destination, kMaxTransfer));
}

TEST_CASE("edu driver: a DMA whose interrupt does not come in time is TIMED_OUT",
          "[edu-driver]") {
  VfioEdu edu;
  {
    // edu finishes a DMA ~100 ms after it starts: far past 1 ms.
    Edu hasty = MakeDriver(edu.device(), Options{.completion_timeout = 1'000'000});
    ContiguousBuffer source = MakeBuffer(hasty, kBtiPermRead, "source");
    auto timed_out = hasty.CopyToDevice(source.phys(), 0, 64);
    REQUIRE(StatusOf(timed_out) == "TIMED_OUT");
    CHECK(timed_out.error().what.find("not done within 1 ms") != std::string::npos);
    CHECK(timed_out.error().object == hasty.name());
    // The DMA still runs: the next one waits for it.
    CHECK(StatusOf(hasty.CopyToDevice(source.phys(), 0, 64)) == "BAD_STATE");
    // The destructor turns bus mastering off under the running DMA.
  }
  CHECK((Command(edu.device()) & kCommandBusMaster) == 0);
  std::this_thread::sleep_for(300ms);

  // The late completion does not confuse the next driver.
  Edu driver = MakeDriver(edu.device());
  ContiguousBuffer source = MakeBuffer(driver, kBtiPermRead, "source");
  ContiguousBuffer destination = MakeBuffer(driver, kBtiPermWrite, "destination");
  FillPattern(Bytes(source), 9);
  REQUIRE_OK(driver.RoundTrip(source, destination, 256));
}

TEST_CASE("edu driver: the destructor quiesces edu; a moved driver keeps it running",
          "[edu-driver]") {
  VfioEdu edu;
  {
    Edu driver = MakeDriver(edu.device());
    Edu moved = std::move(driver);
    {
      Edu gone = std::move(moved);
      // The moved-from drivers leave the device alone when they go.
      REQUIRE_OK(gone.CheckLiveness());
      CHECK((Command(edu.device()) & kCommandBusMaster) != 0);
      REQUIRE_OK(gone.Factorial(5));
    }
    CHECK((Command(edu.device()) & kCommandBusMaster) == 0);
    CHECK(StatusOf(edu.device().MapInterrupt(0)) == "BAD_STATE");  // interrupts DISABLED
  }
  CHECK((Command(edu.device()) & kCommandBusMaster) == 0);
  // And a new driver takes the device up again.
  Edu again = MakeDriver(edu.device());
  REQUIRE_OK(again.Factorial(4));
}

#if defined(__x86_64__)
TEST_CASE("edu driver: Create refuses a device that is not edu", "[edu-driver]") {
  // The x86_64 guest's e1000e (8086:10d3), in an IOMMU group of its own.
  VfioEdu nic(udrv::guest::FindFunction(0x8086, 0x10d3));
  auto driver = Edu::Create(nic.device());
  REQUIRE(StatusOf(driver) == "NOT_SUPPORTED");
  CHECK(driver.error().what.find("the driver is for edu") != std::string::npos);
  CHECK((Command(nic.device()) & kCommandBusMaster) == 0);
}
#endif

TEST_CASE("edu driver faults: edu writing to an IOVA never pinned is blocked",
          "[edu-driver-faults]") {
  VfioEdu edu;
  Edu driver = MakeDriver(edu.device());
  KernelLog log;
  ContiguousBuffer canary = MakeBuffer(driver, kBtiPermRead | kBtiPermWrite, "canary");
  std::fill(Bytes(canary).begin(), Bytes(canary).end(), std::byte{0x5a});
  ContiguousBuffer source = MakeBuffer(driver, kBtiPermRead, "source");
  FillPattern(Bytes(source), 21);
  const std::vector<std::byte> pattern(Bytes(source).begin(), Bytes(source).end());
  RequireOutside(kNeverPinned, canary);
  RequireOutside(kNeverPinned, source);
  GuardedPages pages;

  auto blocked = driver.RoundTrip(HostMemoryOf(source), HostMemory{kNeverPinned, pages.middle()},
                                  kMaxTransfer);
  REQUIRE(StatusOf(blocked) == "IO_DATA_INTEGRITY");
  CHECK(blocked.error().what.find("none of them arrived") != std::string::npos);
  CHECK(blocked.error().object == driver.name());

  const bool faulted = WaitForWriteFault(driver, log, kNeverPinned);
  INFO("kernel log since the test began:\n" << log.Text());
  CHECK(faulted);
  // Nothing the device was not given changed: the destination holds what
  // the driver put there, the pages around it, the canary and the source
  // are as they were.
  CHECK(IsInverse(pages.middle().first(kMaxTransfer), std::span(pattern).first(kMaxTransfer)));
  CHECK(pages.middle()[kMaxTransfer] == GuardedPages::kFill);
  CHECK(AllEqual(pages.before(), GuardedPages::kFill));
  CHECK(AllEqual(pages.after(), GuardedPages::kFill));
  CHECK(AllEqual(Bytes(canary), std::byte{0x5a}));
  CHECK(std::equal(pattern.begin(), pattern.end(), Bytes(source).begin()));

  // The fault wedged nothing: the next round trip passes.
  ContiguousBuffer destination = MakeBuffer(driver, kBtiPermWrite, "destination");
  REQUIRE_OK(driver.RoundTrip(source, destination, kMaxTransfer));
}

TEST_CASE("edu driver faults: edu writing to an IOVA after Unpin is blocked",
          "[edu-driver-faults]") {
  VfioEdu edu;
  Edu driver = MakeDriver(edu.device());
  KernelLog log;
  ContiguousBuffer canary = MakeBuffer(driver, kBtiPermRead | kBtiPermWrite, "canary");
  std::fill(Bytes(canary).begin(), Bytes(canary).end(), std::byte{0x5a});
  ContiguousBuffer source = MakeBuffer(driver, kBtiPermRead, "source");
  FillPattern(Bytes(source), 33);
  const std::vector<std::byte> pattern(Bytes(source).begin(), Bytes(source).end());
  GuardedPages pages;

  // Pinned, the middle page takes the data.
  auto pmt = driver.bti().Pin(kBtiPermWrite, pages.vmo(), PageSize(), PageSize());
  REQUIRE_OK(pmt);
  const uint64_t stale = pmt->addresses()[0];
  REQUIRE_OK(driver.RoundTrip(HostMemoryOf(source), HostMemory{stale, pages.middle()},
                              kMaxTransfer));
  CHECK(std::equal(pattern.begin(), pattern.begin() + kMaxTransfer, pages.middle().begin()));

  // Unpinned, it does not; nothing is pinned in between, so no pin took
  // the IOVA over.
  REQUIRE_OK(pmt->Unpin());
  pages.Refill();
  auto blocked = driver.RoundTrip(HostMemoryOf(source), HostMemory{stale, pages.middle()},
                                  kMaxTransfer);
  REQUIRE(StatusOf(blocked) == "IO_DATA_INTEGRITY");
  CHECK(blocked.error().what.find("none of them arrived") != std::string::npos);

  const bool faulted = WaitForWriteFault(driver, log, stale);
  INFO("kernel log since the test began:\n" << log.Text());
  CHECK(faulted);
  CHECK(IsInverse(pages.middle().first(kMaxTransfer), std::span(pattern).first(kMaxTransfer)));
  CHECK(pages.middle()[kMaxTransfer] == GuardedPages::kFill);
  CHECK(AllEqual(pages.before(), GuardedPages::kFill));
  CHECK(AllEqual(pages.after(), GuardedPages::kFill));
  CHECK(AllEqual(Bytes(canary), std::byte{0x5a}));
  CHECK(std::equal(pattern.begin(), pattern.end(), Bytes(source).begin()));
  CHECK(driver.bti().GetInfo()->pmo_count == 2);  // the canary and the source
}

namespace {

std::string EduDriverPath() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  REQUIRE_FALSE(error);
  const auto path = self.parent_path() / "edu-driver";
  INFO(path);
  REQUIRE(::access(path.c_str(), X_OK) == 0);
  return path;
}

// edu-driver with its stdout on a pipe; killed if still running at the end.
class DriverProcess {
 public:
  explicit DriverProcess(std::vector<std::string> args) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    output_ = UniqueFd(fds[0]);
    UniqueFd write_end(fds[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    std::vector<char*> argv;
    args.insert(args.begin(), EduDriverPath());
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int spawned = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(spawned == 0);
  }
  ~DriverProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  pid_t pid() const { return pid_; }
  const std::string& output() const { return text_; }

  // Reads the output until `line` shows up (true), the pipe closes or the
  // deadline passes (false).
  bool WaitForOutput(const std::string& line, udrv::Time deadline) {
    while (text_.find(line) == std::string::npos) {
      pollfd poll_fd{output_.get(), POLLIN, 0};
      if (::poll(&poll_fd, 1, udrv::TimeoutMsUntil(deadline)) <= 0) return false;
      char chunk[512];
      const ssize_t n = ::read(output_.get(), chunk, sizeof(chunk));
      if (n <= 0) return false;
      text_.append(chunk, static_cast<size_t>(n));
    }
    return true;
  }

  // The wait status once it ended.
  int Wait() {
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    pid_ = 0;
    return status;
  }

 private:
  pid_t pid_ = 0;
  UniqueFd output_;
  std::string text_;
};

// The VmLck line of /proc/PID/status, in kB: VFIO accounts pinned pages there.
uint64_t LockedKilobytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmLck:", 0) == 0) return std::stoull(line.substr(6));
  }
  FAIL("no VmLck in /proc/" << pid << "/status");
  return 0;
}

}  // namespace

TEST_CASE("edu driver faults: a driver killed with live pins gives them back",
          "[edu-driver-faults]") {
  const Address address = FindEdu();
  SysfsPci sysfs;
  auto before = sysfs.Read(address);
  REQUIRE_OK(before);
  // What to go back to: the killed driver cannot restore it.
  const BindRecord original{address, before->driver, before->driver_override, "vfio-pci"};

  {
    DriverProcess holder({"--route", "vfio", "--hold-pins-seconds", "60"});
    const bool holding = holder.WaitForOutput("holding the pins", udrv::DeadlineAfter(60s));
    INFO("edu-driver said:\n" << holder.output());
    REQUIRE(holding);
    CHECK(LockedKilobytes(holder.pid()) >= 2 * PageSize() / 1024);
    REQUIRE(::kill(holder.pid(), SIGKILL) == 0);
    const int status = holder.Wait();
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
  }
  auto left = sysfs.Read(address);
  REQUIRE_OK(left);
  CHECK(left->driver == std::optional<std::string>("vfio-pci"));

  {
    // Its container and group went with it: the next driver opens them.
    DriverProcess next({"--route", "vfio"});
    if (!next.WaitForOutput("edu-driver: PASS", udrv::DeadlineAfter(120s))) {
      ::kill(next.pid(), SIGKILL);
    }
    const int status = next.Wait();
    INFO("edu-driver said:\n" << next.output());
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  // edu leaves vfio-pci, then binds again.
  REQUIRE_OK(RestoreDriver(original));
  auto restored = sysfs.Read(address);
  REQUIRE_OK(restored);
  CHECK(restored->driver == before->driver);
  auto rebound = BindDriver(address, "vfio-pci");
  REQUIRE_OK(rebound);
  REQUIRE_OK(RestoreDriver(*rebound));
}
