// The driver-host process: the identity and fds it starts with, its
// containment (PID, network and IPC namespaces, RLIMIT_NPROC), launch
// failures reported and reaped, exit statuses, Wait's deadline, Terminate's
// grace and the destructor's kill. Runs /bin/sh as the host, as kHostUid.
// Launching a host needs root (CAP_SETUID for its uid, CAP_SYS_ADMIN for
// its namespaces): run as another user, every case but the first fails, and
// the first checks that the launch is refused and says why.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "result_helpers.h"
#include "udrv/host/host_process.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"

using udrv::DeadlineAfter;
using udrv::Now;
using udrv::Status;
using udrv::UniqueFd;
using udrv::host::HostProcess;
using udrv::host::HostProcessOptions;
using udrv::testing::StatusOf;
using namespace std::chrono_literals;

namespace {

// The test's end and the host's end of the channel socket.
struct Channel {
  UniqueFd ours;
  UniqueFd theirs;
};

Channel MakeChannel() {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// A uid and gid no account on a test machine has: RLIMIT_NPROC counts the
// uid's processes machine-wide, so it must be the host's alone.
constexpr uid_t kHostUid = 61990;

// /bin/sh -c SCRIPT as kHostUid.
HostProcessOptions Shell(std::string script, int channel_fd) {
  HostProcessOptions options;
  options.program = "/bin/sh";
  options.arguments = {"-c", std::move(script)};
  options.uid = kHostUid;
  options.gid = kHostUid;
  options.channel_fd = channel_fd;
  return options;
}

// The pids (as this process sees them) of the processes whose parent is
// `parent`, and of those running as `uid`.
std::vector<pid_t> ProcessesWhere(const std::string& key, const std::string& value) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  REQUIRE(proc != nullptr);
  while (const dirent* entry = readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream status("/proc/" + name + "/status");
    for (std::string line; std::getline(status, line);) {
      if (!line.starts_with(key + ":\t")) continue;
      const std::string rest = line.substr(key.size() + 2);
      if (rest == value || rest.starts_with(value + "\t")) found.push_back(std::stoi(name));
      break;
    }
  }
  closedir(proc);
  return found;
}
std::vector<pid_t> ChildrenOf(pid_t parent) { return ProcessesWhere("PPid", std::to_string(parent)); }
std::vector<pid_t> ProcessesOf(uid_t uid) { return ProcessesWhere("Uid", std::to_string(uid)); }

bool Gone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

// Reads until EOF, or until `stop` has been read when it is not empty; a
// host that hangs fails the test after 10 s instead of hanging it.
std::string Read(int fd, const std::string& stop = {}) {
  std::string text;
  const udrv::Time deadline = DeadlineAfter(10s);
  for (;;) {
    if (!stop.empty() && text.find(stop) != std::string::npos) return text;
    pollfd ready{.fd = fd, .events = POLLIN, .revents = 0};
    const int n = poll(&ready, 1, udrv::TimeoutMsUntil(deadline));
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n == 1);
    char buffer[4096];
    const ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    REQUIRE(got >= 0);
    if (got == 0) return text;
    text.append(buffer, static_cast<size_t>(got));
  }
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The value after "key: " on the line that starts with it.
std::string Field(const std::vector<std::string>& lines, const std::string& key) {
  for (const std::string& line : lines) {
    if (line.starts_with(key + ": ")) return line.substr(key.size() + 2);
  }
  return "(no " + key + ")";
}

// Not our child (any more): reaped, no zombie of ours left behind.
bool NotOurChild(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD;
}

// The pid in an error's object, "driver host /bin/sh (pid 1234)".
pid_t PidIn(const std::string& object) {
  const size_t at = object.find("(pid ");
  REQUIRE(at != std::string::npos);
  return static_cast<pid_t>(std::stol(object.substr(at + 5)));
}

}  // namespace

TEST_CASE("host process: starts as its own uid and gid with only fds 0-3", "[host_process]") {
  Channel channel = MakeChannel();
  // `ls -l /proc/self/fd` lists the fds ls inherited from the shell, which
  // are those the host was started with: the shell's own fds (dash keeps a
  // saved copy of a redirected fd at 10) are CLOEXEC, and nothing else is
  // open while ls runs (no command substitution, which would add a pipe).
  // ls adds one fd of its own: the /proc/PID/fd directory it reads.
  const std::string script =
      "echo fds-begin >&3; ls -l /proc/self/fd >&3; echo fds-end >&3;"
      "echo \"uid: $(id -u)\" >&3; echo \"gid: $(id -g)\" >&3;"
      "echo \"groups: $(id -G)\" >&3;"
      "grep NoNewPrivs /proc/self/status >&3;"
      "echo env-begin >&3; env >&3; echo env-end >&3";

  if (geteuid() == 0) {
    HostProcessOptions options = Shell(script, channel.theirs.get());
    auto host = HostProcess::Launch(options);
    REQUIRE_OK(host);
    channel.theirs.reset();  // EOF once the host and its commands are done
    const std::vector<std::string> lines = Lines(Read(channel.ours.get()));
    auto status = host->Wait(DeadlineAfter(10s));
    REQUIRE_OK(status);
    CHECK(status->ok());

    std::string report;
    for (const std::string& line : lines) report += line + "\n";
    INFO("report:\n" << report);
    const std::string id = std::to_string(kHostUid);
    CHECK(Field(lines, "uid") == id);
    CHECK(Field(lines, "gid") == id);
    CHECK(Field(lines, "groups") == id);  // no supplementary groups
    CHECK(std::find(lines.begin(), lines.end(), "NoNewPrivs:\t1") != lines.end());

    auto begin = std::find(lines.begin(), lines.end(), "fds-begin");
    auto end = std::find(lines.begin(), lines.end(), "fds-end");
    REQUIRE(begin != lines.end());
    REQUIRE(end != lines.end());
    // "lrwx------ 1 nobody nogroup 64 Nov 22 10:34 3 -> socket:[1234]"
    std::set<std::string> fds;
    for (auto line = begin + 1; line != end; ++line) {
      const size_t arrow = line->find(" -> ");
      if (arrow == std::string::npos) continue;  // "total 0"
      const size_t name = line->rfind(' ', arrow - 1) + 1;
      const std::string fd = line->substr(name, arrow - name);
      const std::string target = line->substr(arrow + 4);
      if (target.starts_with("/proc/") && target.ends_with("/fd")) continue;  // ls's own
      fds.insert(fd);
      if (fd == "3") CHECK(target.starts_with("socket:"));
    }
    CHECK(fds == std::set<std::string>{"0", "1", "2", "3"});

    auto env_begin = std::find(lines.begin(), lines.end(), "env-begin");
    auto env_end = std::find(lines.begin(), lines.end(), "env-end");
    REQUIRE(env_begin != lines.end());
    REQUIRE(env_end != lines.end());
    const std::vector<std::string> env(env_begin + 1, env_end);
    CHECK(std::find(env.begin(), env.end(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin") != env.end());
    for (const std::string& variable : env) {
      // The shell may set PWD (and busybox's SHLVL) itself; nothing of the
      // test's environment passes.
      CHECK((variable.starts_with("PATH=") || variable.starts_with("PWD=") ||
             variable.starts_with("SHLVL=")));
    }
  } else {
    // Not root: the host's namespaces cannot be made; nothing was started.
    auto host = HostProcess::Launch(Shell(script, channel.theirs.get()));
    REQUIRE_FALSE(host.has_value());
    INFO(host.error().ToString());
    CHECK(host.error().what.find("CAP_SYS_ADMIN") != std::string::npos);
    CHECK(host.error().err_no == EPERM);
    CHECK(host.error().object.find("/bin/sh") != std::string::npos);
    FAIL("launching driver hosts needs root: the other host process cases fail as this user");
  }
}

TEST_CASE("host process: a channel already at fd 3 stays open in the host", "[host_process]") {
  Channel channel = MakeChannel();
  // Put the host's end at fd 3 (CLOEXEC, as the daemon's fds are), keeping
  // whatever the test process had there.
  UniqueFd saved(fcntl(3, F_DUPFD_CLOEXEC, 10));
  REQUIRE(dup3(channel.theirs.get(), 3, O_CLOEXEC) == 3);
  auto host = HostProcess::Launch(Shell("echo hello >&3", 3));
  if (saved) {
    dup3(saved.get(), 3, O_CLOEXEC);
  } else {
    close(3);
  }
  REQUIRE_OK(host);
  channel.theirs.reset();
  CHECK(Read(channel.ours.get()) == "hello\n");
  auto status = host->Wait(DeadlineAfter(10s));
  REQUIRE_OK(status);
  CHECK(status->ok());
}

TEST_CASE("host process: exit codes and signals", "[host_process]") {
  Channel channel = MakeChannel();

  SECTION("exit code") {
    auto host = HostProcess::Launch(Shell("exit 3", channel.theirs.get()));
    REQUIRE_OK(host);
    auto status = host->Wait(DeadlineAfter(10s));
    REQUIRE_OK(status);
    CHECK(status->exited);
    CHECK(status->code == 3);
    CHECK_FALSE(status->ok());
    CHECK(status->ToString() == "exit code 3");
    // Waiting again returns the same status; the pid is not waited on again.
    auto again = host->Wait(DeadlineAfter(0ns));
    REQUIRE_OK(again);
    CHECK(again->code == 3);
    CHECK(NotOurChild(host->pid()));
  }

  SECTION("exit code 0 is ok") {
    auto host = HostProcess::Launch(Shell("exit 0", channel.theirs.get()));
    REQUIRE_OK(host);
    auto status = host->Wait(DeadlineAfter(10s));
    REQUIRE_OK(status);
    CHECK(status->ok());
    CHECK(status->ToString() == "exit code 0");
  }

  SECTION("killed") {
    auto host = HostProcess::Launch(Shell("exec sleep 30", channel.theirs.get()));
    REQUIRE_OK(host);
    REQUIRE_OK(host->Signal(SIGKILL));
    auto status = host->Wait(DeadlineAfter(10s));
    REQUIRE_OK(status);
    CHECK_FALSE(status->exited);
    CHECK(status->signal == SIGKILL);
    CHECK_FALSE(status->ok());
    CHECK(status->ToString() == "killed by SIGKILL");
    // Reaped: its pid may be another process's now, so it is not signalled.
    auto late = host->Signal(SIGTERM);
    CHECK(StatusOf(late) == "BAD_STATE");
    CHECK(late.error().object.find("(pid " + std::to_string(host->pid()) + ")") !=
          std::string::npos);
  }
}

TEST_CASE("host process: Wait times out at its deadline", "[host_process]") {
  Channel channel = MakeChannel();
  auto host = HostProcess::Launch(Shell("exec sleep 5", channel.theirs.get()));
  REQUIRE_OK(host);
  const udrv::Time start = Now();
  auto status = host->Wait(DeadlineAfter(100ms));
  const udrv::Duration took = Now() - start;
  CHECK(StatusOf(status) == "TIMED_OUT");
  CHECK(took >= 100'000'000);
  CHECK(took < 4'000'000'000);
  // Still running and still ours: it can be killed and waited for.
  REQUIRE_OK(host->Signal(SIGKILL));
  auto killed = host->Wait(DeadlineAfter(10s));
  REQUIRE_OK(killed);
  CHECK(killed->signal == SIGKILL);
}

TEST_CASE("host process: Terminate", "[host_process]") {
  Channel channel = MakeChannel();

  SECTION("a host that ignores SIGTERM is killed after the grace") {
    // "ready" once the trap is set: a SIGTERM before it would end the shell.
    auto host = HostProcess::Launch(
        Shell("trap '' TERM; echo ready >&3; exec sleep 30", channel.theirs.get()));
    REQUIRE_OK(host);
    Read(channel.ours.get(), "ready\n");
    const udrv::Time start = Now();
    auto status = host->Terminate(200'000'000);
    const udrv::Duration took = Now() - start;
    REQUIRE_OK(status);
    CHECK(status->ToString() == "killed by SIGKILL");
    CHECK(took >= 200'000'000);
    CHECK(NotOurChild(host->pid()));
  }

  SECTION("a cooperative host ends by itself with its exit code") {
    auto host = HostProcess::Launch(Shell(
        "trap 'exit 7' TERM; echo ready >&3; while :; do sleep 0.05; done", channel.theirs.get()));
    REQUIRE_OK(host);
    Read(channel.ours.get(), "ready\n");
    auto status = host->Terminate(10'000'000'000);
    REQUIRE_OK(status);
    CHECK(status->exited);
    CHECK(status->code == 7);
    CHECK(status->ToString() == "exit code 7");
    // Terminate again: the status it ended with, nothing sent.
    auto again = host->Terminate(0);
    REQUIRE_OK(again);
    CHECK(again->code == 7);
  }
}

TEST_CASE("host process: launch failures name the step and leave no zombie", "[host_process]") {
  Channel channel = MakeChannel();

  SECTION("exec of a program that is not there") {
    HostProcessOptions options = Shell("", channel.theirs.get());
    options.program = "/nonexistent/udrv-driver-host";
    auto host = HostProcess::Launch(options);
    REQUIRE_FALSE(host.has_value());
    INFO(host.error().ToString());
    CHECK(host.error().what.find("execve") != std::string::npos);
    CHECK(host.error().err_no == ENOENT);
    CHECK(host.error().object.find("/nonexistent/udrv-driver-host") != std::string::npos);
    CHECK(NotOurChild(PidIn(host.error().object)));
  }

  SECTION("no channel") {
    HostProcessOptions options = Shell("exit 0", -1);
    CHECK(StatusOf(HostProcess::Launch(options)) == "INVALID_ARGS");
  }

  SECTION("a channel fd that is not open") {
    HostProcessOptions options = Shell("exit 0", channel.theirs.get());
    channel.theirs.reset();
    auto host = HostProcess::Launch(options);
    REQUIRE_FALSE(host.has_value());
    CHECK(host.error().err_no == EBADF);
  }
}

TEST_CASE("host process: the destructor kills and reaps a running host", "[host_process]") {
  Channel channel = MakeChannel();
  pid_t pid = -1;
  {
    auto host = HostProcess::Launch(Shell("exec sleep 30", channel.theirs.get()));
    REQUIRE_OK(host);
    pid = host->pid();
    REQUIRE(kill(pid, 0) == 0);
  }
  CHECK(NotOurChild(pid));
  CHECK((kill(pid, 0) == -1 && errno == ESRCH));
}

TEST_CASE("host process: moving hands the host over", "[host_process]") {
  Channel channel = MakeChannel();
  auto first = HostProcess::Launch(Shell("exec sleep 30", channel.theirs.get()));
  auto second = HostProcess::Launch(Shell("exec sleep 30", channel.theirs.get()));
  REQUIRE_OK(first);
  REQUIRE_OK(second);
  const pid_t first_pid = first->pid();
  const pid_t second_pid = second->pid();

  HostProcess moved(std::move(*first));
  CHECK(moved.pid() == first_pid);
  CHECK(first->pid() == -1);
  CHECK(StatusOf(first->Signal(SIGKILL)) == "BAD_STATE");

  // Assigning over a running host kills and reaps it.
  moved = std::move(*second);
  CHECK(moved.pid() == second_pid);
  CHECK(NotOurChild(first_pid));
  // sleep is process 1 of the host's PID namespace and has no SIGTERM
  // handler: the kernel drops the SIGTERM, and the grace ends in SIGKILL.
  auto status = moved.Terminate(200'000'000);
  REQUIRE_OK(status);
  CHECK(status->ToString() == "killed by SIGKILL");
}

TEST_CASE("host process: never root, never (uid_t)-1", "[host_process]") {
  Channel channel = MakeChannel();
  for (const auto& [uid, gid] : {std::pair<uid_t, gid_t>{0, kHostUid}, {kHostUid, 0},
                                 {static_cast<uid_t>(-1), kHostUid},
                                 {kHostUid, static_cast<gid_t>(-1)}}) {
    HostProcessOptions options = Shell("exit 0", channel.theirs.get());
    options.uid = uid;
    options.gid = gid;
    auto host = HostProcess::Launch(options);
    INFO("uid " << uid << ", gid " << gid);
    REQUIRE_FALSE(host.has_value());
    CHECK(StatusOf(host) == "INVALID_ARGS");
    CHECK(host.error().what.find("never runs as root") != std::string::npos);
  }
  HostProcessOptions no_processes = Shell("exit 0", channel.theirs.get());
  no_processes.max_processes = 0;
  CHECK(StatusOf(HostProcess::Launch(no_processes)) == "INVALID_ARGS");
}

TEST_CASE("host process: contained: what it forks dies with it", "[host_process]") {
  Channel channel = MakeChannel();
  // The host forks a child that keeps the channel (as a rogue host's child
  // would keep its socket and BARs), reports what it sees and waits.
  auto host = HostProcess::Launch(Shell(
      "sleep 300 & echo \"pid: $$\" >&3; echo \"links: $(grep -c : /proc/net/dev)\" >&3;"
      "echo ready >&3; wait",
      channel.theirs.get()));
  REQUIRE_OK(host);
  channel.theirs.reset();
  const std::vector<std::string> lines = Lines(Read(channel.ours.get(), "ready\n"));
  // Process 1 of a PID namespace of its own, with a network namespace of
  // its own (only a loopback link).
  CHECK(Field(lines, "pid") == "1");
  CHECK(Field(lines, "links") == "1");

  std::vector<pid_t> children;
  const udrv::Time deadline = DeadlineAfter(10s);
  while (children.empty() && Now() < deadline) children = ChildrenOf(host->pid());
  REQUIRE(children.size() == 1);
  const pid_t child = children.front();
  REQUIRE_FALSE(Gone(child));

  // The child still holds the channel: only the host's end says it ended.
  REQUIRE(host->pidfd() >= 0);
  pollfd ended{.fd = host->pidfd(), .events = POLLIN, .revents = 0};
  CHECK(poll(&ended, 1, 0) == 0);
  REQUIRE_OK(host->Signal(SIGKILL));
  CHECK(poll(&ended, 1, 10'000) == 1);
  auto status = host->Wait(DeadlineAfter(10s));
  REQUIRE_OK(status);
  CHECK(status->signal == SIGKILL);
  CHECK(Gone(child));
  // Its end of the channel went with it.
  CHECK(Read(channel.ours.get()).empty());
}

TEST_CASE("host process: RLIMIT_NPROC bounds what the host can fork", "[host_process]") {
  Channel channel = MakeChannel();
  HostProcessOptions options = Shell(
      "grep 'Max processes' /proc/self/limits >&3;"
      "(for i in 1 2 3 4 5 6 7 8 9 10; do sleep 300 & done) 2>&3; echo ready >&3; exec sleep 300",
      channel.theirs.get());
  options.max_processes = 4;
  auto host = HostProcess::Launch(options);
  REQUIRE_OK(host);
  const std::string said = Read(channel.ours.get(), "ready\n");
  INFO(said);
  // "Max processes  4  4  processes": the soft and the hard limit.
  const size_t at = said.find("Max processes");
  REQUIRE(at != std::string::npos);
  std::istringstream limits(said.substr(at + std::string_view("Max processes").size()));
  std::string soft, hard;
  limits >> soft >> hard;
  CHECK(soft == "4");
  CHECK(hard == "4");
  CHECK(said.find("fork") != std::string::npos);  // the shell said it could not
  // Everything of the host's uid, the host included.
  const size_t processes = ProcessesOf(kHostUid).size();
  CHECK(processes >= 2);
  CHECK(processes <= 4);
  REQUIRE_OK(host->Signal(SIGKILL));
  REQUIRE_OK(host->Wait(DeadlineAfter(10s)));
  CHECK(ProcessesOf(kHostUid).empty());
}

TEST_CASE("host process: launches while other threads come and go never hang", "[host_process]") {
  // The launching process is multithreaded (the driver manager's
  // supervisors, VFIO watchers). The child of a raw clone must not take
  // the C library's locks another thread held at the clone (set*id's
  // broadcast to every thread does): it would wait for them forever.
  std::atomic<bool> stop = false;
  std::vector<std::thread> churners;
  for (int i = 0; i < 2; ++i) {
    churners.emplace_back([&] {
      while (!stop) std::thread([] {}).join();
    });
  }
  Channel channel = MakeChannel();
  int launched = 0;
  for (int i = 0; i < 200; ++i) {
    auto host = HostProcess::Launch(Shell("exit 0", channel.theirs.get()));
    if (!host) {
      INFO(host.error().ToString());
      CHECK(host.has_value());
      break;
    }
    REQUIRE_OK(host->Wait(DeadlineAfter(10s)));
    ++launched;
  }
  stop = true;
  for (std::thread& churner : churners) churner.join();
  CHECK(launched == 200);
}
