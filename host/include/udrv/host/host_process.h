// The driver-host process: the privileged driver manager (daemon) launches
// one for each isolated driver and owns it through a HostProcess.
//
// The host starts with nothing the daemon had but what it is given: its own
// uid and gid (never 0, never (uid_t)-1, which setresuid reads as "no
// change") with no supplementary groups, no capabilities (checked after the
// drop: a host that kept any is not started), no_new_privs (no setuid
// binary or file capability can raise it again), default signal
// dispositions and an empty mask, a minimal environment, stdin/stdout/stderr,
// and the one channel socket at fd kHostChannelFd: every other fd is closed.
// It dies with the thread that launched it (PR_SET_PDEATHSIG), so a daemon
// that crashes leaves no host holding devices behind.
//
// Contained: the host is process 1 of a PID namespace of its own, so when
// it ends the kernel kills everything it forked (a child cannot keep its
// socket, BAR fds or mappings past it); it has its own network and IPC
// namespaces (no abstract Unix sockets, network or SysV memory to share
// with other hosts), and RLIMIT_NPROC bounds how many processes and threads
// its uid may have. As process 1 it gets only the signals it handles or
// blocks (udrv-driver-host blocks SIGTERM and sigwaits): SIGTERM to a host
// that does neither is ignored, and Terminate's SIGKILL ends it. Creating
// the namespaces needs CAP_SYS_ADMIN: only a root daemon launches hosts.
//
// A HostProcess waits for, signals and reaps only its own child (by pid and
// pidfd, never waitpid(-1)). The daemon must not set SIGCHLD to SIG_IGN or
// reap children elsewhere: the exit status would be lost (Wait says so).
//
// Not thread safe: one thread owns a HostProcess.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"

namespace udrv::host {

// Where the host finds its channel socket.
inline constexpr int kHostChannelFd = 3;

struct HostProcessOptions {
  // Path of the host binary, exec'd as is (execve: no PATH search).
  std::string program;
  // argv[1..]; argv[0] is the program's file name.
  std::vector<std::string> arguments;
  // The host's identity (real, effective and saved); no supplementary groups.
  // 0 and (uid_t)-1 are refused (INVALID_ARGS).
  uid_t uid = 0;
  gid_t gid = 0;
  // RLIMIT_NPROC of the host: the processes and threads its uid may have
  // (counted by the kernel across the uid, so give each host a uid of its
  // own). At least 1.
  uint32_t max_processes = 64;
  // Becomes fd kHostChannelFd in the host (required). The caller keeps its
  // own copy and closes it when it likes.
  int channel_fd = -1;
};

struct ExitStatus {
  bool exited = false;  // true: exit code in `code`; false: killed by `signal`
  int code = 0;
  int signal = 0;

  // Exited with code 0.
  bool ok() const { return exited && code == 0; }
  // "exit code 0", "killed by SIGKILL".
  std::string ToString() const;
};

class HostProcess {
 public:
  // Forks, drops to the host's identity and execs the program. Returns once
  // the exec succeeded; a failure before it (setresuid EPERM, execve ENOENT,
  // ...) returns an error naming the step, with the child reaped; a child
  // that gets to neither within 30 s is killed (TIMED_OUT).
  static Result<HostProcess> Launch(const HostProcessOptions& options);

  HostProcess(HostProcess&& other) noexcept;
  HostProcess& operator=(HostProcess&& other) noexcept;
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;
  // A host still running is killed (SIGKILL) and reaped.
  ~HostProcess();

  pid_t pid() const { return pid_; }
  // Readable once the host has ended (not yet reaped); -1 once reaped, or
  // where the kernel has no pidfd_open (Linux < 5.3). A borrow.
  int pidfd() const { return pidfd_.get(); }
  // "driver host /usr/libexec/udrv-host (pid 1234)": errors name it so.
  const std::string& name() const { return name_; }
  // The status once Wait or Terminate has seen the host end.
  const std::optional<ExitStatus>& exit_status() const { return status_; }

  // Sends `signo`. BAD_STATE once the host has been reaped (its pid may
  // belong to another process by then).
  Result<void> Signal(int signo);
  // Waits until the host ends or `deadline` (TIMED_OUT) and reaps it. Once
  // it has ended, returns the same status again.
  Result<ExitStatus> Wait(Time deadline);
  // SIGTERM, `grace` to end, then SIGKILL; the status it ended with.
  Result<ExitStatus> Terminate(Duration grace);

 private:
  HostProcess(pid_t pid, UniqueFd pidfd, std::string name);
  // Reaps the host if it has ended; true when it has.
  Result<bool> TryReap();
  // Kills and reaps a host still running; closes the pidfd.
  void Release() noexcept;
  // kill(2) or pidfd_send_signal: 0, or -1 with errno.
  int SendSignal(int signo);

  pid_t pid_ = -1;
  UniqueFd pidfd_;  // invalid where pidfd_open is missing (Linux < 5.3): Wait polls
  std::string name_;
  std::optional<ExitStatus> status_;
  // Reaped by someone else (waitid said ECHILD): nothing to wait for or signal.
  bool lost_ = false;
};

}  // namespace udrv::host
