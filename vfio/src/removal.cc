#include "udrv/vfio/removal.h"

#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "udrv/core/time.h"

namespace udrv::vfio {

RemovalWatcher::RemovalWatcher(std::shared_ptr<DeviceFile> file, std::function<void()> on_removed,
                               Interrupt removal, UniqueFd request_fd, UniqueFd stop_fd)
    : file_(std::move(file)),
      on_removed_(std::move(on_removed)),
      removal_(std::move(removal)),
      request_fd_(std::move(request_fd)),
      stop_fd_(std::move(stop_fd)) {}

Result<std::unique_ptr<RemovalWatcher>> RemovalWatcher::Start(std::shared_ptr<DeviceFile> file,
                                                              uint32_t request_index,
                                                              std::function<void()> on_removed,
                                                              std::string name) {
  UniqueFd request(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!request || !stop) return FailErrno(errno, "eventfd for the request interrupt", file->object());
  UDRV_TRY_ASSIGN(Interrupt removal, Interrupt::CreateVirtual(std::move(name)));
  const int32_t fds[] = {request.get()};
  UDRV_TRY(file->SetIrqs(request_index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0,
                         1, fds, "the request interrupt"));
  std::unique_ptr<RemovalWatcher> watcher(new RemovalWatcher(
      std::move(file), std::move(on_removed), std::move(removal), std::move(request),
      std::move(stop)));
  watcher->watcher_ = std::thread([w = watcher.get()] { w->WatchLoop(); });
  return watcher;
}

RemovalWatcher::~RemovalWatcher() {
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of a counter overflow.
  (void)!::write(stop_fd_.get(), &one, sizeof(one));
  watcher_.join();
}

void RemovalWatcher::WatchLoop() {
  pollfd fds[2] = {{request_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  for (;;) {
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    // poll on two eventfds we own cannot fail otherwise; stop either way.
    if (ready < 0 || fds[1].revents != 0) return;
    if (fds[0].revents != 0) {
      file_->Revoke();
      on_removed_();
      (void)removal_.Trigger(Now());
      return;
    }
  }
}

Result<Interrupt> RemovalWatcher::GetRequest() const {
  return removal_.Duplicate(kRightsBasic | kRightRead);
}

}  // namespace udrv::vfio
