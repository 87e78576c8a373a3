// The driver manager --isolated, in the testbed guests: the root bus (the
// manager, root) serves edu to a driver host running as an unprivileged uid
// of its own.
//   - edu's driver runs in the host and passes its self test (DMA through
//     the remote Bti); the host holds no VFIO fd; stopping releases edu;
//   - a rogue host (guest-rogue-host) tries to exceed its rights and is
//     refused each time;
//   - the host is SIGKILLed while edu's DMA engine runs (read from edu's
//     DMA command register through its BAR): the manager lives on,
//     quarantines the host's pins, quiesces and resets edu, releases the
//     pins, starts a new host, and the driver works again.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "guest_pci.h"
#include "program_dir.h"
#include "result_helpers.h"
#include "udrv/core/time.h"
#include "udrv/pci/config.h"
#include "udrv/pci/sysfs.h"

using udrv::guest::FindEdu;
using namespace udrv::pci;

namespace {

constexpr uid_t kHostUid = 61000;

// udrv-driver-manager running in the background, its stdout and stderr
// read line by line as it goes.
class Manager {
 public:
  explicit Manager(const std::vector<std::string>& arguments) {
    int pipe_fds[2];
    REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    // edu only: an aarch64 guest's platform devices are the platform suite's,
    // the x86_64 guests' NICs the NIC suites'.
    std::vector<std::string> argv_strings = {udrv::testing::ProgramDir() + "udrv-driver-manager",
                                             "--bus", "pci", "--node",
                                             "pci/" + FindEdu().ToString()};
    argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], 1);
      ::dup2(pipe_fds[1], 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    out_ = pipe_fds[0];
  }
  ~Manager() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }

  // Reads until a line matches `pattern` (its match returned) or `seconds`
  // pass or the output ends (nullopt).
  std::optional<std::smatch> WaitFor(const std::string& pattern, int seconds) {
    auto match = Search(pattern, seconds);
    if (!match) UNSCOPED_INFO("not said within " << seconds << " s: " << pattern << "\nmanager said:\n" << output());
    return match;
  }

 private:
  std::optional<std::smatch> Search(const std::string& pattern, int seconds) {
    const std::regex re(pattern);
    const udrv::Time deadline = udrv::DeadlineAfter(std::chrono::seconds(seconds));
    for (;;) {
      while (next_line_ < lines_.size()) {
        std::smatch match;
        if (std::regex_search(lines_[next_line_++], match, re)) return match;
      }
      if (!ReadMore(deadline)) return std::nullopt;
    }
  }

 public:
  bool running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }
  pid_t pid() const { return pid_; }

  // SIGTERM, then the exit status (-1 when it did not end within `seconds`).
  int Terminate(int seconds) {
    ::kill(pid_, SIGTERM);
    const udrv::Time deadline = udrv::DeadlineAfter(std::chrono::seconds(seconds));
    while (ReadMore(deadline)) {
    }
    int status = 0;
    for (;;) {
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) break;
      if (udrv::Now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string output() const {
    std::string text;
    for (const std::string& line : lines_) text += line + "\n";
    return text + partial_;
  }

 private:
  // One read of whatever output there is; false at the end or the deadline.
  bool ReadMore(udrv::Time deadline) {
    pollfd pfd{out_, POLLIN, 0};
    if (::poll(&pfd, 1, udrv::TimeoutMsUntil(deadline)) <= 0) return false;
    char chunk[4096];
    const ssize_t n = ::read(out_, chunk, sizeof(chunk));
    if (n <= 0) return false;
    partial_.append(chunk, static_cast<size_t>(n));
    for (size_t newline; (newline = partial_.find('\n')) != std::string::npos;) {
      lines_.push_back(partial_.substr(0, newline));
      partial_.erase(0, newline + 1);
    }
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::vector<std::string> lines_;
  size_t next_line_ = 0;
  std::string partial_;
};

// udrv-driver-manager's arguments for guest-rogue-host as the driver host:
// all its attempts, or one --attack; `restarts`, and `more` after them.
std::vector<std::string> RogueManagerArguments(const std::string& attack, int restarts,
                                               const std::vector<std::string>& more = {}) {
  std::vector<std::string> arguments = {
      "--isolated", "--until-signal", "--restore-kernel-driver", "--restarts",
      std::to_string(restarts), "--host-uid", std::to_string(kHostUid), "--host-program",
      udrv::testing::ProgramDir() + "guest-rogue-host"};
  if (!attack.empty()) arguments.insert(arguments.end(), {"--host-arg", "--attack", "--host-arg", attack});
  arguments.insert(arguments.end(), more.begin(), more.end());
  return arguments;
}

struct ProcStatus {
  std::string uid, gid, groups, no_new_privs, cap_eff, cap_prm, ns_pid;
};

ProcStatus ReadProcStatus(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  REQUIRE(file);
  ProcStatus status;
  for (std::string line; std::getline(file, line);) {
    auto value = [&](const char* key) { return line.substr(std::strlen(key)); };
    if (line.starts_with("Uid:\t")) status.uid = value("Uid:\t");
    if (line.starts_with("Gid:\t")) status.gid = value("Gid:\t");
    if (line.starts_with("Groups:")) status.groups = value("Groups:");
    if (line.starts_with("NoNewPrivs:\t")) status.no_new_privs = value("NoNewPrivs:\t");
    if (line.starts_with("CapEff:\t")) status.cap_eff = value("CapEff:\t");
    if (line.starts_with("CapPrm:\t")) status.cap_prm = value("CapPrm:\t");
    if (line.starts_with("NSpid:\t")) status.ns_pid = value("NSpid:\t");
  }
  return status;
}

// The soft and hard limit of `name` ("Max processes") in /proc/PID/limits.
std::string Limit(pid_t pid, const std::string& name) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/limits");
  REQUIRE(file);
  for (std::string line; std::getline(file, line);) {
    if (!line.starts_with(name)) continue;
    std::istringstream values(line.substr(name.size()));
    std::string soft, hard;
    values >> soft >> hard;
    return soft + " " + hard;
  }
  return "(no " + name + ")";
}

size_t OpenFds(pid_t pid) {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++count;
  }
  return count;
}

bool Gone(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

// The targets of the process's fds that are VFIO's.
std::string VfioFds(pid_t pid) {
  std::string found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code error;
    const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
    if (target.find("vfio") != std::string::npos) found += target + " ";
  }
  return found;
}

bool BusMaster(const Address& address) {
  auto config = SysfsPci().ReadConfig(address);
  REQUIRE_OK(config);
  auto command = config->Read16(kConfigCommand);
  REQUIRE_OK(command);
  return (*command & kCommandBusMaster) != 0;
}

std::optional<std::string> Driver(const Address& address) {
  auto info = SysfsPci().Read(address);
  REQUIRE_OK(info);
  return info->driver;
}

// edu's DMA command register (0x98), read through BAR 0's resource file:
// bit 0 reads 1 while a transfer runs.
class EduDmaProbe {
 public:
  explicit EduDmaProbe(const Address& address) {
    const std::string path = "/sys/bus/pci/devices/" + address.ToString() + "/resource0";
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd_ >= 0);
    base_ = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd_, 0);
    REQUIRE(base_ != MAP_FAILED);
  }
  ~EduDmaProbe() {
    ::munmap(base_, 4096);
    ::close(fd_);
  }
  bool Running() const {
    return (*reinterpret_cast<const volatile uint64_t*>(static_cast<char*>(base_) + 0x98) & 1) != 0;
  }

 private:
  int fd_ = -1;
  void* base_ = nullptr;
};

}  // namespace

TEST_CASE("isolated: edu's driver runs in a driver host of its own uid; stopping releases edu",
          "[isolated]") {
  const Address edu = FindEdu();
  const std::optional<std::string> driver_before = Driver(edu);
  Manager manager({"--isolated", "--until-signal", "--restore-kernel-driver", "--host-uid",
                   std::to_string(kHostUid)});
  auto launched = manager.WaitFor("launched driver host pid ([0-9]+) \\(uid ([0-9]+)\\)", 60);
  REQUIRE(launched);
  const pid_t host = std::stoi((*launched)[1]);
  CHECK((*launched)[2] == std::to_string(kHostUid));
  REQUIRE(manager.WaitFor("edu started in driver host pid " + std::to_string(host), 120));

  // The host: its own uid and gid, no groups, no capabilities, no way back.
  const ProcStatus status = ReadProcStatus(host);
  const std::string ids = std::to_string(kHostUid) + "\t" + std::to_string(kHostUid) + "\t" +
                          std::to_string(kHostUid) + "\t" + std::to_string(kHostUid);
  CHECK(status.uid == ids);
  CHECK(status.gid == ids);
  CHECK(status.groups.find_first_not_of(" \t") == std::string::npos);
  CHECK(status.no_new_privs == "1");
  CHECK(status.cap_eff == "0000000000000000");
  CHECK(status.cap_prm == "0000000000000000");
  // Process 1 of a PID namespace of its own; bounded in processes.
  CHECK(status.ns_pid == std::to_string(host) + "\t1");
  CHECK(Limit(host, "Max processes") == "64 64");
  CHECK(VfioFds(host).empty());
  CHECK(Driver(edu) == "vfio-pci");
  CHECK(BusMaster(edu));

  REQUIRE(manager.Terminate(60) == 0);
  const std::string out = manager.output();
  CHECK_THAT(out, Catch::Contains("udrv-driver-host[1]: ") &&  // its own PID namespace
                      Catch::Contains("self test passed") &&
                      Catch::Contains("DMA round trip of 4095 bytes") &&
                      Catch::Contains("over the root bus (vfio), running as uid " + std::to_string(kHostUid)) &&
                      Catch::Contains("driver host pid " + std::to_string(host) + " ended: exit code 0") &&
                      Catch::Contains("pins quarantined: done (0 pin(s) the host left)") &&
                      Catch::Contains("kernel driver: done") &&
                      Catch::EndsWith("udrv-driver-manager: PASS\n"));
  CHECK_FALSE(BusMaster(edu));
  CHECK(Driver(edu) == driver_before);
}

TEST_CASE("isolated: a driver host that tries to exceed its rights is refused each time",
          "[isolated]") {
  const Address edu = FindEdu();
  Manager manager(RogueManagerArguments("", 0, {"--host-pinned-memory", "16MiB", "--host-pins", "64"}));
  auto verdict = manager.WaitFor("edu (started|failed to start) in driver host pid", 120);
  REQUIRE(verdict);
  CHECK((*verdict)[1] == "started");
  // 2000 interrupt maps and 2000 BTI requests left the root bus no fds.
  REQUIRE(manager.WaitFor("refused started: BAD_STATE", 30));
  CHECK(OpenFds(manager.pid()) < 64);
  const int exit_status = manager.Terminate(60);
  const std::string out = manager.output();
  INFO("manager said:\n" << out);
  CHECK(exit_status == 0);
  for (const char* attempt :
       {"node-vmo-map-writable: refused (ACCESS_DENIED", "node-vmo-mmap-writable: refused",
        "config-header-write-library: refused (ACCESS_DENIED", "config-header-write-raw: refused (ACCESS_DENIED",
        "config-header-write-sysfs: refused", "own-pin: works",
        "pin-root-bus-memory-library: refused (ACCESS_DENIED", "pin-forged-rights-raw: refused (INVALID_ARGS",
        "pin-root-bus-memory-raw: refused (ACCESS_DENIED",
        "pin-device-memory-raw: refused (ACCESS_DENIED", "pin-past-end-raw: refused (OUT_OF_RANGE",
        "unpin-not-ours-raw: refused (NOT_FOUND", "open-vfio-group: refused", "vfio-fds-held: refused",
        "other-device-request-raw: refused (ACCESS_DENIED", "other-device-config-write",
        "bar-map: works", "bar-vmo-duplicate: refused (ACCESS_DENIED",
        "bar-vmo-send-on: refused (ACCESS_DENIED", "legacy-interrupts: refused (NOT_SUPPORTED",
        "interrupt-trigger: refused (ACCESS_DENIED", "pin-unsealed-read-only-raw: refused (ACCESS_DENIED",
        "pin-write-only-as-read-only-raw: refused (ACCESS_DENIED",
        "pin-sparse-over-budget: refused (NO_RESOURCES", "pins-over-budget (", "get-bti-flood: works",
        "map-interrupt-flood: works (2000 maps)", "config-msi-address-write-library: refused (ACCESS_DENIED",
        "config-msi-address-write-raw: refused (ACCESS_DENIED", " 0 allowed"}) {
    CHECK_THAT(out, Catch::Contains(std::string("rogue: ") + attempt) ||
                        Catch::Contains(std::string(attempt)));
  }
  CHECK_THAT(out, !Catch::Contains("ALLOWED") && !Catch::Contains("FAILED"));
  // The root bus logged what it refused.
  CHECK_THAT(out, Catch::Contains("refused write config") && Catch::Contains("refused pin"));
  // A second start report changed nothing, and its words came escaped.
  CHECK_THAT(out, Catch::Contains("reported already; this report (taken back\\nudrv-driver-manager: "
                                  "PASS\\e[2J\\e]0;owned\\x07) changes nothing"));
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK_FALSE(BusMaster(edu));
}

TEST_CASE("isolated: what a host forks dies with it; its device is reclaimed all the same",
          "[isolated]") {
  const Address edu = FindEdu();
  Manager manager(RogueManagerArguments("fork", 1));
  auto launched = manager.WaitFor("launched driver host pid ([0-9]+)", 60);
  REQUIRE(launched);
  const pid_t host = std::stoi((*launched)[1]);
  auto forked = manager.WaitFor("rogue: child pid ([0-9]+) holds the socket and BAR 0 \\(ID 0x", 120);
  REQUIRE(forked);
  const pid_t child = std::stoi((*forked)[1]);
  REQUIRE(manager.WaitFor("edu started in driver host pid " + std::to_string(host), 60));
  REQUIRE_FALSE(Gone(child));

  REQUIRE(::kill(host, SIGKILL) == 0);
  REQUIRE(manager.WaitFor("driver host pid " + std::to_string(host) + " ended: killed by SIGKILL", 30));
  auto reclaimed = manager.WaitFor("reclaimed after driver host pid " + std::to_string(host) + ": (.*)", 30);
  REQUIRE(reclaimed);
  CHECK_THAT(std::string((*reclaimed)[1]), Catch::Contains("bus mastering off: done"));
  // The child that held the socket and BAR 0 went with its host.
  CHECK(Gone(child));
  // The restarted host forks again; stopping ends both.
  auto relaunched = manager.WaitFor("launched driver host pid ([0-9]+)", 30);
  REQUIRE(relaunched);
  auto second_child = manager.WaitFor("rogue: child pid ([0-9]+) holds", 120);
  REQUIRE(second_child);
  const pid_t child2 = std::stoi((*second_child)[1]);
  REQUIRE(manager.WaitFor("edu started in driver host pid " + std::string((*relaunched)[1]), 60));
  CHECK(manager.Terminate(60) == 0);
  CHECK(Gone(child2));
  CHECK_FALSE(BusMaster(edu));
}

TEST_CASE("isolated: a host that stops reading its replies is disconnected and reclaimed",
          "[isolated]") {
  const Address edu = FindEdu();
  Manager manager(RogueManagerArguments("no-read", 0));
  auto launched = manager.WaitFor("launched driver host pid ([0-9]+)", 60);
  REQUIRE(launched);
  const std::string host = (*launched)[1];
  REQUIRE(manager.WaitFor("dropped the connection: TIMED_OUT: the host did not read its replies", 60));
  REQUIRE(manager.WaitFor("driver host pid " + host + " ended: killed by SIGKILL", 30));
  REQUIRE(manager.WaitFor("reclaimed after driver host pid " + host + ": pins quarantined: done", 30));
  REQUIRE(manager.WaitFor("not restarting: 0 restart\\(s\\) used", 30));
  CHECK(manager.running());
  // Not restarted (--restarts 0): the manager says so as it stops.
  CHECK(manager.Terminate(60) == 1);
  CHECK_THAT(manager.output(), Catch::Contains("was not restarted"));
  CHECK_FALSE(BusMaster(edu));
}

TEST_CASE("isolated: a driver host killed mid-DMA is reclaimed and restarted; the manager lives on",
          "[isolated]") {
  const Address edu = FindEdu();
  Manager manager({"--isolated", "--until-signal", "--restore-kernel-driver", "--restarts", "1",
                   "--host-uid", std::to_string(kHostUid), "--driver-option",
                   "edu.dma-until-stopped=true"});
  auto launched = manager.WaitFor("launched driver host pid ([0-9]+)", 60);
  REQUIRE(launched);
  const pid_t first = std::stoi((*launched)[1]);
  REQUIRE(manager.WaitFor("DMA loop running", 120));
  // The host says its loop runs before it reports the start: a host killed
  // before the manager heard that is a failed start, never restarted.
  REQUIRE(manager.WaitFor("edu started in driver host pid " + std::to_string(first), 30));

  // Kill it while edu's DMA engine is moving data for it.
  bool dma_running = false;
  {
    EduDmaProbe probe(edu);
    const udrv::Time deadline = udrv::DeadlineAfter(std::chrono::seconds(10));
    while (!dma_running && udrv::Now() < deadline) dma_running = probe.Running();
    REQUIRE(::kill(first, SIGKILL) == 0);
  }
  CHECK(dma_running);

  auto ended = manager.WaitFor("driver host pid " + std::to_string(first) + " ended: (.*)", 30);
  REQUIRE(ended);
  CHECK((*ended)[1] == "killed by SIGKILL");
  auto reclaimed = manager.WaitFor("reclaimed after driver host pid " + std::to_string(first) +
                                       ": pins quarantined: done \\(([0-9]+) pin\\(s\\) the host left\\)(.*)",
                                   30);
  REQUIRE(reclaimed);
  CHECK(std::stoi((*reclaimed)[1]) >= 2);  // the loop's source and destination
  const std::string steps = (*reclaimed)[2];
  CHECK_THAT(steps, Catch::Contains("bus mastering off: done") &&
                        Catch::Contains("quarantine released: done"));
  CHECK(manager.running());

  auto relaunched = manager.WaitFor("launched driver host pid ([0-9]+)", 30);
  REQUIRE(relaunched);
  const pid_t second = std::stoi((*relaunched)[1]);
  CHECK(second != first);
  // The host says its loop runs before the manager hears it started.
  REQUIRE(manager.WaitFor("DMA loop running", 120));
  REQUIRE(manager.WaitFor("edu started in driver host pid " + std::to_string(second), 30));
  std::this_thread::sleep_for(std::chrono::seconds(2));

  REQUIRE(manager.Terminate(60) == 0);
  const std::string out = manager.output();
  CHECK_THAT(out, Catch::Contains("driver host pid " + std::to_string(second) + " ended: exit code 0"));
  std::smatch loops;
  REQUIRE(std::regex_search(out, loops, std::regex("DMA loop stopped after ([0-9]+) verified round trip")));
  CHECK(std::stoi(loops[1]) >= 1);
  CHECK_THAT(out, Catch::EndsWith("udrv-driver-manager: PASS\n"));
  CHECK_FALSE(BusMaster(edu));
}
