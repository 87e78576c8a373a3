#include "udrv/host/host_process.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace udrv::host {
namespace {

// The host's whole environment: no LD_PRELOAD, locale or daemon secrets
// leak into it.
constexpr char kHostEnvironmentPath[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

// How long the child may take from clone to exec.
constexpr Duration kLaunchTimeout = 30'000'000'000;

// The namespaces a host gets of its own (see the header).
constexpr unsigned long kHostNamespaces = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;

// The steps the child takes between fork and exec, as it reports a failure.
enum class ChildStep : int {
  kPdeathsig,
  kProcessLimit,
  kSetgroups,
  kSetresgid,
  kSetresuid,
  kVerifyIdentity,
  kNoNewPrivs,
  kChannelFd,
  kCloseFds,
  kSignals,
  kExecve,
};

const char* ChildStepName(int step) {
  switch (static_cast<ChildStep>(step)) {
    case ChildStep::kPdeathsig: return "prctl(PR_SET_PDEATHSIG)";
    case ChildStep::kProcessLimit: return "setrlimit(RLIMIT_NPROC)";
    case ChildStep::kSetgroups: return "setgroups";
    case ChildStep::kSetresgid: return "setresgid";
    case ChildStep::kSetresuid: return "setresuid";
    case ChildStep::kVerifyIdentity:
      return "verify the dropped identity (a uid, gid, group or capability was left)";
    case ChildStep::kNoNewPrivs: return "prctl(PR_SET_NO_NEW_PRIVS)";
    case ChildStep::kChannelFd: return "channel fd to 3";
    case ChildStep::kCloseFds: return "close inherited fds";
    case ChildStep::kSignals: return "reset signals";
    case ChildStep::kExecve: return "execve";
  }
  return "unknown step";
}

// What the child writes to the report socket when a step fails. The socket
// is CLOEXEC, so a successful execve closes it with nothing written.
struct ChildFailure {
  int step = 0;
  int err = 0;
};

// Everything the child needs, prepared before fork: after fork only
// async-signal-safe calls are allowed (the daemon may have other threads,
// one of which may hold the malloc lock).
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  uid_t uid = 0;
  gid_t gid = 0;
  rlim_t max_processes = 0;
  int channel_fd = -1;
  // The child's end of the report socket: > kHostChannelFd, so moving the
  // channel cannot clobber it. The parent's end, which the child closes at
  // once: the child's end then hangs up when the parent is gone.
  int report_fd = -1;
  int parent_report_fd = -1;
};

[[noreturn]] void ChildFail(int report_fd, ChildStep step, int err) {
  const ChildFailure failure{static_cast<int>(step), err};
  ssize_t n;
  do {
    n = write(report_fd, &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  _exit(127);
}

// Closes every fd >= `first` except `keep` (>= first).
bool CloseFdsFrom(unsigned first, unsigned keep) {
  bool ok = true;
  if (keep > first && syscall(SYS_close_range, first, keep - 1, 0) != 0) ok = false;
  if (ok && syscall(SYS_close_range, keep + 1, ~0U, 0) == 0) return true;
  // No close_range (Linux < 5.9): close up to the fd limit one by one.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  rlim_t end = limit.rlim_cur;
  if (end == RLIM_INFINITY || end > (1U << 20)) end = 1U << 20;
  for (rlim_t fd = first; fd < end; ++fd) {
    if (fd != keep) close(static_cast<int>(fd));
  }
  return true;
}

// True when the uids, gids, groups and capabilities are exactly what the
// drop asked for: nothing of the daemon's is left.
bool IdentityDropped(const ChildPlan& plan) {
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) return false;
  if (ruid != plan.uid || euid != plan.uid || suid != plan.uid) return false;
  if (rgid != plan.gid || egid != plan.gid || sgid != plan.gid) return false;
  if (getgroups(0, nullptr) != 0) return false;
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  for (const __user_cap_data_struct& word : data) {
    if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0) return false;
  }
  // Ambient capabilities cannot outlive an empty permitted set; check anyway.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0) return false;
  }
  return true;
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  const int report = plan.report_fd;
  // A daemon that dies must not leave a host behind holding devices. The
  // parent may already have died before the prctl took effect: then its end
  // of the report socket is closed and ours hangs up. (getppid cannot tell:
  // in a PID namespace of its own the child sees parent 0.)
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(report, ChildStep::kPdeathsig, errno);
  close(plan.parent_report_fd);
  pollfd parent_gone{.fd = report, .events = POLLRDHUP, .revents = 0};
  if (poll(&parent_gone, 1, 0) != 0) _exit(127);

  const rlimit processes{plan.max_processes, plan.max_processes};
  if (setrlimit(RLIMIT_NPROC, &processes) != 0) ChildFail(report, ChildStep::kProcessLimit, errno);
  // Raw system calls, not the C library's: in a multithreaded process its
  // set*id wrappers change every thread's ids, taking a lock and signalling
  // each thread; in this child of a raw clone the other threads do not
  // exist and the lock may be held by one of them for good.
  if (syscall(SYS_setgroups, 0, nullptr) != 0) ChildFail(report, ChildStep::kSetgroups, errno);
  if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) {
    ChildFail(report, ChildStep::kSetresgid, errno);
  }
  // All three uids: with a saved uid of 0 the host could switch back.
  if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) {
    ChildFail(report, ChildStep::kSetresuid, errno);
  }
  if (!IdentityDropped(plan)) ChildFail(report, ChildStep::kVerifyIdentity, EPERM);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    ChildFail(report, ChildStep::kNoNewPrivs, errno);
  }

  // dup2 onto itself would leave FD_CLOEXEC set, and exec would close it.
  if (plan.channel_fd == kHostChannelFd) {
    if (fcntl(kHostChannelFd, F_SETFD, 0) != 0) ChildFail(report, ChildStep::kChannelFd, errno);
  } else if (dup2(plan.channel_fd, kHostChannelFd) != kHostChannelFd) {
    ChildFail(report, ChildStep::kChannelFd, errno);
  }
  // The report pipe stays until exec (it is CLOEXEC): a failure after this
  // must still be reported.
  if (!CloseFdsFrom(kHostChannelFd + 1, static_cast<unsigned>(report))) {
    ChildFail(report, ChildStep::kCloseFds, errno);
  }

  // Ignored signals stay ignored across exec; handlers would run the
  // daemon's code in the child until exec. All signals are still blocked
  // (Launch blocked them before fork), so none arrives while this runs.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int signo = 1; signo < NSIG; ++signo) {
    // EINVAL for SIGKILL, SIGSTOP and the C library's own signals: those
    // cannot be changed and need not be.
    sigaction(signo, &dfl, nullptr);
  }
  sigset_t empty;
  sigemptyset(&empty);
  if (sigprocmask(SIG_SETMASK, &empty, nullptr) != 0) {
    ChildFail(report, ChildStep::kSignals, errno);
  }

  execve(plan.path, plan.argv, plan.envp);
  ChildFail(report, ChildStep::kExecve, errno);
}

// Puts `fd` above kHostChannelFd (CLOEXEC), so the child's dup2 to
// kHostChannelFd cannot overwrite it.
Result<UniqueFd> AboveChannelFd(UniqueFd fd, const std::string& object) {
  if (fd.get() > kHostChannelFd) return fd;
  const int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, kHostChannelFd + 1);
  if (moved < 0) return FailErrno(errno, "launch: move the report socket above fd 3", object);
  return UniqueFd(moved);
}

std::string SignalName(int signo) {
  if (const char* abbrev = sigabbrev_np(signo)) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(signo);
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (exited) return "exit code " + std::to_string(code);
  return "killed by " + SignalName(signal);
}

Result<HostProcess> HostProcess::Launch(const HostProcessOptions& options) {
  std::string object = "driver host " + options.program;
  if (options.program.empty()) {
    return Fail(Status::INVALID_ARGS, "launch: no program", "driver host");
  }
  if (options.channel_fd < 0) return Fail(Status::INVALID_ARGS, "launch: no channel fd", object);
  if (fcntl(options.channel_fd, F_GETFD) < 0) {
    return FailErrno(errno, "launch: channel fd " + std::to_string(options.channel_fd), object);
  }
  // setresuid(-1, ...) means "keep the uid": the host would stay root.
  if (options.uid == 0 || options.uid == static_cast<uid_t>(-1) || options.gid == 0 ||
      options.gid == static_cast<gid_t>(-1)) {
    return Fail(Status::INVALID_ARGS,
                "launch: uid " + std::to_string(options.uid) + ", gid " +
                    std::to_string(options.gid) +
                    ": a driver host never runs as root (0) or as (uid_t)-1, which set*id reads "
                    "as \"no change\"",
                object);
  }
  if (options.max_processes == 0) {
    return Fail(Status::INVALID_ARGS, "launch: max_processes 0: the host itself is one", object);
  }

  // argv and envp, built before fork (no allocation after it).
  std::vector<std::string> strings;
  strings.reserve(options.arguments.size() + 2);
  const size_t slash = options.program.rfind('/');
  std::string file_name =
      slash == std::string::npos ? options.program : options.program.substr(slash + 1);
  strings.push_back(file_name.empty() ? options.program : std::move(file_name));
  strings.insert(strings.end(), options.arguments.begin(), options.arguments.end());
  strings.emplace_back(kHostEnvironmentPath);
  std::vector<char*> argv;
  for (size_t i = 0; i + 1 < strings.size(); ++i) argv.push_back(strings[i].data());
  argv.push_back(nullptr);
  char* envp[] = {strings.back().data(), nullptr};

  // SEQPACKET: the child's report is one message; EOF once it has exec'd.
  int report_fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report_fds) != 0) {
    return FailErrno(errno, "launch: report socket", object);
  }
  auto report_ours = AboveChannelFd(UniqueFd(report_fds[0]), object);
  UniqueFd child_end(report_fds[1]);
  if (!report_ours) return std::unexpected(report_ours.error());
  auto report_child = AboveChannelFd(std::move(child_end), object);
  if (!report_child) return std::unexpected(report_child.error());

  const ChildPlan plan{
      .path = options.program.c_str(),
      .argv = argv.data(),
      .envp = envp,
      .uid = options.uid,
      .gid = options.gid,
      .max_processes = options.max_processes,
      .channel_fd = options.channel_fd,
      .report_fd = report_child->get(),
      .parent_report_fd = report_ours->get(),
  };

  // Block every signal across the clone: the child must not run a handler
  // of the daemon's before it has reset them (RunChild unblocks). A raw
  // clone, as fork would be, but into new namespaces (glibc has no fork
  // that takes flags; the child makes only system calls until exec).
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  const auto pid = static_cast<pid_t>(syscall(SYS_clone, kHostNamespaces | SIGCHLD, 0, 0, 0, 0));
  if (pid == 0) RunChild(plan);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) {
    if (clone_errno == EPERM) {
      return FailErrno(clone_errno,
                       "launch: clone into new PID, network and IPC namespaces needs "
                       "CAP_SYS_ADMIN: driver hosts are launched by a root daemon",
                       object);
    }
    if (clone_errno == EINVAL) {
      return FailErrno(clone_errno,
                       "launch: clone into new PID, network and IPC namespaces: the kernel lacks "
                       "one of them (CONFIG_PID_NS, CONFIG_NET_NS, CONFIG_IPC_NS)",
                       object);
    }
    return FailErrno(clone_errno, "launch: clone", object);
  }

  object += " (pid " + std::to_string(pid) + ")";
  report_child->reset();  // EOF on our end once the child has exec'd or died

  // The child makes a few system calls and execs: a child that neither
  // reports nor execs in kLaunchTimeout is stuck, and is killed rather than
  // left to hold the launching thread.
  const Time deadline = DeadlineAfter(kLaunchTimeout);
  pollfd reported{.fd = report_ours->get(), .events = POLLIN, .revents = 0};
  int ready;
  do {
    ready = poll(&reported, 1, TimeoutMsUntil(deadline));
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    kill(pid, SIGKILL);
    siginfo_t info{};
    while (waitid(P_PID, pid, &info, WEXITED) != 0 && errno == EINTR) {
    }
    return Fail(Status::TIMED_OUT,
                "launch: the child neither reached exec nor reported a failure within " +
                    std::to_string(kLaunchTimeout / 1'000'000'000) + " s (killed)",
                object);
  }
  ChildFailure failure;
  ssize_t n;
  do {
    n = read(report_ours->get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  const int read_errno = errno;
  if (n != 0) {
    // The child failed (or its report could not be read): it exits by
    // itself with 127 (or is killed here) and is reaped, leaving no zombie.
    if (n != static_cast<ssize_t>(sizeof(failure))) kill(pid, SIGKILL);
    siginfo_t info{};
    while (waitid(P_PID, pid, &info, WEXITED) != 0 && errno == EINTR) {
    }
    if (n < 0) return FailErrno(read_errno, "launch: read the child's report", object);
    if (n != static_cast<ssize_t>(sizeof(failure))) {
      return Fail(Status::INTERNAL, "launch: short report from the child", object);
    }
    return FailErrno(failure.err, std::string("launch: ") + ChildStepName(failure.step), object);
  }

  // The child is not reaped until Wait, so its pid cannot be reused yet and
  // the pidfd refers to it. Without pidfd_open (Linux < 5.3) Wait polls.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  return HostProcess(pid, std::move(pidfd), std::move(object));
}

HostProcess::HostProcess(pid_t pid, UniqueFd pidfd, std::string name)
    : pid_(pid), pidfd_(std::move(pidfd)), name_(std::move(name)) {}

HostProcess::HostProcess(HostProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      name_(std::move(other.name_)),
      status_(std::exchange(other.status_, std::nullopt)),
      lost_(std::exchange(other.lost_, false)) {}

HostProcess& HostProcess::operator=(HostProcess&& other) noexcept {
  if (this != &other) {
    Release();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    name_ = std::move(other.name_);
    status_ = std::exchange(other.status_, std::nullopt);
    lost_ = std::exchange(other.lost_, false);
  }
  return *this;
}

HostProcess::~HostProcess() { Release(); }

void HostProcess::Release() noexcept {
  if (pid_ > 0 && !status_ && !lost_ && SendSignal(SIGKILL) == 0) {
    siginfo_t info{};
    while (waitid(P_PID, pid_, &info, WEXITED) != 0 && errno == EINTR) {
    }
  }
  pidfd_.reset();
  pid_ = -1;
  status_.reset();
  lost_ = false;
}

int HostProcess::SendSignal(int signo) {
  // Through the pidfd where there is one: it cannot reach another process
  // even if the host was reaped behind this object's back.
  if (pidfd_) {
    return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd_.get(), signo, nullptr, 0));
  }
  return kill(pid_, signo);
}

Result<void> HostProcess::Signal(int signo) {
  const std::string what = "signal " + SignalName(signo);
  if (pid_ <= 0) return Fail(Status::BAD_STATE, what + ": no process (moved from)", name_);
  if (status_) {
    return Fail(Status::BAD_STATE, what + ": the host has ended (" + status_->ToString() + ")",
                name_);
  }
  if (lost_) return Fail(Status::BAD_STATE, what + ": the host was reaped elsewhere", name_);
  if (SendSignal(signo) != 0) return FailErrno(errno, what, name_);
  return {};
}

Result<bool> HostProcess::TryReap() {
  if (status_) return true;
  siginfo_t info{};
  while (waitid(P_PID, pid_, &info, WEXITED | WNOHANG) != 0) {
    if (errno == EINTR) continue;
    if (errno == ECHILD) {
      // Someone else reaped it (waitpid(-1), SIGCHLD ignored): the status is
      // gone and the pid may be reused.
      lost_ = true;
      return Fail(Status::BAD_STATE,
                  "wait: not a child any more (reaped elsewhere, or SIGCHLD ignored)", name_,
                  ECHILD);
    }
    return FailErrno(errno, "wait: waitid", name_);
  }
  if (info.si_pid != pid_) return false;  // WNOHANG and still running
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.exited = true;
    status.code = info.si_status;
  } else {
    status.signal = info.si_status;  // CLD_KILLED or CLD_DUMPED
  }
  status_ = status;
  pidfd_.reset();
  return true;
}

Result<ExitStatus> HostProcess::Wait(Time deadline) {
  if (pid_ <= 0 && !status_) return Fail(Status::BAD_STATE, "wait: no process (moved from)", name_);
  if (lost_) return Fail(Status::BAD_STATE, "wait: the host was reaped elsewhere", name_, ECHILD);
  for (;;) {
    auto reaped = TryReap();
    if (!reaped) return std::unexpected(reaped.error());
    if (*reaped) return *status_;
    int timeout_ms = TimeoutMsUntil(deadline);
    if (timeout_ms == 0) {
      return Fail(Status::TIMED_OUT, "wait: still running at the deadline", name_);
    }
    if (pidfd_) {
      // Readable once the process has ended.
      pollfd ready{.fd = pidfd_.get(), .events = POLLIN, .revents = 0};
      if (poll(&ready, 1, timeout_ms) < 0 && errno != EINTR) {
        return FailErrno(errno, "wait: poll the pidfd", name_);
      }
    } else {
      // No pidfd: look again every 10 ms.
      if (timeout_ms < 0 || timeout_ms > 10) timeout_ms = 10;
      poll(nullptr, 0, timeout_ms);
    }
  }
}

Result<ExitStatus> HostProcess::Terminate(Duration grace) {
  if (status_) return *status_;
  if (auto sent = Signal(SIGTERM); !sent) return std::unexpected(sent.error());
  auto status = Wait(DeadlineAfter(grace));
  if (status || status.error().status != Status::TIMED_OUT) return status;
  if (auto sent = Signal(SIGKILL); !sent) return std::unexpected(sent.error());
  return Wait(kInfinite);
}

}  // namespace udrv::host
