// isolation-test-host: a driver host for the isolated runner's tests
// (isolation_test.cc, [isolated-runner]), launched by the runner as any
// host is, with the root bus's socket as fd 3:
//   isolation-test-host --driver NAME --node ID --mode MODE
// MODE:
//   ok    reports its driver started and waits for SIGTERM;
//   fork  forks a child that keeps the socket (and sleeps), reports
//         started and waits for SIGTERM: a host whose tree outlives it
//         unless the runner contains it;
//   say   reports a start failure whose text carries a forged log line and
//         terminal escapes.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "udrv/host/host_process.h"
#include "udrv/core/result.h"
#include "udrv/pci/isolation.h"

int main(int argc, char** argv) {
  std::string mode;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto device = udrv::pci::RemoteDevice::Connect(udrv::UniqueFd(udrv::host::kHostChannelFd));
  if (!device) {
    std::fprintf(stderr, "isolation-test-host: %s\n", device.error().ToString().c_str());
    return 1;
  }
  udrv::Result<void> started;
  if (mode == "fork") {
    const pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
      // Keeps fd 3 (the socket) and every handle the host had.
      for (;;) pause();
    }
  } else if (mode == "say") {
    started = udrv::Fail(udrv::Status::IO, "no\nudrv-driver-manager: PASS\x1b[2J\x1b]0;owned\x07");
  } else if (mode != "ok") {
    started = udrv::Fail(udrv::Status::INVALID_ARGS, "no --mode ok|fork|say");
  }
  if (!(*device)->ReportStarted(started)) return 1;
  if (!started) return 1;
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  return 0;
}
