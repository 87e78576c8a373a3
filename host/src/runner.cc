#include "udrv/host/runner.h"

#include <signal.h>
#include <sys/socket.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "udrv/core/text.h"
#include "udrv/host/host_process.h"

namespace udrv::host {

namespace {

// The uid and gid of the n-th host: first_uid + n, refused (not wrapped)
// past 0xfffffffe.
Result<uid_t> HostUid(uid_t first_uid, uint32_t n, const std::string& node_id) {
  constexpr uint64_t kLastHostUid = 0xfffffffe;  // (uid_t)-1 means "no change" to set*id
  const uint64_t uid = uint64_t{first_uid} + n;
  if (uid > kLastHostUid) {
    return Fail(Status::OUT_OF_RANGE,
                "driver host " + std::to_string(n + 1) + " would get uid " + std::to_string(uid) +
                    ", past the last one a host may have (" + std::to_string(kLastHostUid) +
                    "): give --host-uid a lower first uid",
                node_id);
  }
  return static_cast<uid_t>(uid);
}

// One driver's host, and the thread that serves and restarts it.
class HostSupervisor final : public bus::DriverInstance {
 public:
  HostSupervisor(std::shared_ptr<const RunnerOptions> options, std::unique_ptr<HostService> service,
                 bus::DeviceNode node, std::string driver, uid_t uid)
      : options_(std::move(options)),
        service_(std::move(service)),
        node_(std::move(node)),
        driver_(std::move(driver)),
        uid_(uid) {}

  ~HostSupervisor() override { (void)Stop(); }

  // Launches the first host and waits until it says whether the driver
  // started, or ends, or start_timeout passes.
  Result<void> Start() {
    thread_ = std::thread([this] { Run(); });
    std::unique_lock lock(mutex_);
    const bool answered = cv_.wait_for(lock, std::chrono::nanoseconds(options_->start_timeout),
                                       [this] { return first_start_.has_value(); });
    Result<void> started =
        answered ? *first_start_
                 : Fail(Status::TIMED_OUT,
                        "the driver host did not report within " +
                            std::to_string(options_->start_timeout / 1'000'000'000) + " s",
                        node_.id);
    lock.unlock();
    if (!started) (void)Stop();
    return started;
  }

  Result<void> Stop() override {
    {
      std::unique_lock lock(mutex_);
      if (!thread_.joinable()) return stop_result_;
      stopping_ = true;
      if (current_ != nullptr) (void)current_->Signal(SIGTERM);
      const bool ended = cv_.wait_for(lock, std::chrono::nanoseconds(options_->stop_grace),
                                      [this] { return current_ == nullptr; });
      if (!ended && current_ != nullptr) {
        Log("driver host pid " + std::to_string(current_->pid()) + " ignored SIGTERM for " +
            std::to_string(options_->stop_grace / 1'000'000'000) + " s: SIGKILL");
        (void)current_->Signal(SIGKILL);
      }
    }
    thread_.join();
    return stop_result_;
  }

 private:
  void Log(const std::string& line) const {
    if (options_->log) options_->log(node_.id + ": " + Printable(line));
  }

  // Serves hosts until one ends while stopping, ends having not started its
  // driver, or ends with no restart left.
  void Run() {
    for (uint32_t launch = 0;; ++launch) {
      int sockets[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
        End(FailErrno(errno, "socketpair for the driver host", node_.id).error());
        return;
      }
      UniqueFd ours(sockets[0]);
      UniqueFd theirs(sockets[1]);
      std::vector<std::string> arguments = {"--driver", driver_, "--node", node_.id};
      arguments.insert(arguments.end(), options_->host_arguments.begin(),
                       options_->host_arguments.end());
      auto host = HostProcess::Launch({.program = options_->host_program,
                                            .arguments = std::move(arguments),
                                            .uid = uid_,
                                            .gid = static_cast<gid_t>(uid_),
                                            .max_processes = options_->budget.max_processes,
                                            .channel_fd = theirs.get()});
      theirs.reset();
      if (!host) {
        End(Wrap(host.error(), "launch the driver host").error());
        return;
      }
      const pid_t pid = host->pid();
      Log("launched driver host pid " + std::to_string(pid) + " (uid " + std::to_string(uid_) +
          ") for " + driver_);
      bool started = false;
      {
        std::lock_guard lock(mutex_);
        current_ = &*host;
        if (stopping_) (void)host->Signal(SIGTERM);
      }

      HostServerOptions server_options;
      server_options.log = options_->log;
      server_options.budget = options_->budget;
      server_options.host_ended_fd = host->pidfd();
      server_options.on_started = [&](const Result<void>& outcome) {
        started = outcome.has_value();
        Log(outcome ? driver_ + " started in driver host pid " + std::to_string(pid)
                    : driver_ + " failed to start in driver host pid " + std::to_string(pid) +
                          ": " + outcome.error().ToString());
        std::lock_guard lock(mutex_);
        if (!first_start_) first_start_ = outcome;
        cv_.notify_all();
      };
      HostServer server(*service_, node_, std::move(ours), std::move(server_options));
      const Result<void> served = server.Serve();

      {
        std::lock_guard lock(mutex_);
        current_ = nullptr;
        cv_.notify_all();
      }
      // The host ended or closed its socket (and is about to end); one
      // that broke the protocol or stopped reading gets no grace.
      if (!served) (void)host->Signal(SIGKILL);
      auto status = host->Wait(DeadlineAfter(options_->stop_grace));
      if (!status) status = host->Terminate(options_->stop_grace);
      const std::string ended =
          status ? status->ToString() : "not reaped: " + status.error().ToString();
      Log("driver host pid " + std::to_string(pid) + " ended: " + ended +
          (served ? "" : " (connection dropped: " + served.error().ToString() + ")"));
      const bus::ReleaseReport reclaimed = server.Reclaim();
      Log("reclaimed after driver host pid " + std::to_string(pid) + ": " + reclaimed.ToString());

      std::unique_lock lock(mutex_);
      if (!first_start_) {
        first_start_ = Fail(Status::BAD_STATE,
                            "the driver host ended (" + ended + ") before its driver started",
                            node_.id);
      }
      cv_.notify_all();
      if (stopping_) {
        stop_result_ = status && status->ok() && reclaimed.ok()
                           ? Result<void>()
                           : Fail(Status::IO,
                                  "driver host pid " + std::to_string(pid) + " ended: " + ended +
                                      "; reclaimed: " + reclaimed.ToString(),
                                  node_.id);
        return;
      }
      if (!started) {
        stop_result_ = Fail(Status::BAD_STATE, "the driver did not start; its host ended: " + ended,
                            node_.id);
        return;
      }
      if (launch >= options_->restarts) {
        Log("not restarting: " + std::to_string(options_->restarts) + " restart(s) used");
        stop_result_ = Fail(Status::IO_NOT_PRESENT,
                            "the driver host ended (" + ended + ") and was not restarted", node_.id);
        return;
      }
      lock.unlock();
      Log("restarting the driver host (" + std::to_string(launch + 1) + " of " +
          std::to_string(options_->restarts) + ")");
    }
  }

  void End(Error error) {
    Log(error.ToString());
    std::lock_guard lock(mutex_);
    if (!first_start_) first_start_ = std::unexpected(error);
    stop_result_ = std::unexpected(std::move(error));
    cv_.notify_all();
  }

  const std::shared_ptr<const RunnerOptions> options_;
  const std::unique_ptr<HostService> service_;
  const bus::DeviceNode node_;
  const std::string driver_;
  const uid_t uid_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Result<void>> first_start_;  // guarded by mutex_
  bool stopping_ = false;                     // guarded by mutex_
  // The host being served; only signalled through here, under mutex_.
  HostProcess* current_ = nullptr;
  Result<void> stop_result_;  // written by the thread before it ends
  std::thread thread_;
};

}  // namespace

Result<bus::DriverRunner> MakeIsolatedRunner(RunnerOptions options, ServiceFactory make_service) {
  if (options.host_program.empty()) {
    return Fail(Status::INVALID_ARGS, "isolated runner: no driver host program");
  }
  if (options.first_uid == 0 || options.first_uid == static_cast<uid_t>(-1)) {
    return Fail(Status::INVALID_ARGS,
                "isolated runner: first uid " + std::to_string(options.first_uid) +
                    ": driver hosts never run as root (0) or as (uid_t)-1, which set*id reads as "
                    "\"no change\"; give them uids of their own");
  }
  auto shared = std::make_shared<const RunnerOptions>(std::move(options));
  auto next_host = std::make_shared<uint32_t>(0);
  return [shared, next_host, make_service = std::move(make_service)](
             const bus::Driver& driver,
             bus::DriverContext& context) -> Result<std::unique_ptr<bus::DriverInstance>> {
    UDRV_TRY_ASSIGN(std::unique_ptr<HostService> service, make_service(context));
    const bus::DeviceNode& node = context.node();
    UDRV_TRY_ASSIGN(const uid_t uid, HostUid(shared->first_uid, *next_host, node.id));
    ++*next_host;
    auto supervisor =
        std::make_unique<HostSupervisor>(shared, std::move(service), node, driver.name, uid);
    UDRV_TRY(supervisor->Start());
    return std::unique_ptr<bus::DriverInstance>(std::move(supervisor));
  };
}

}  // namespace udrv::host
