// Watching a VFIO device's request interrupt (device.h's "Removal"): on a
// thread of its own, and when the kernel asks for the device, it revokes
// the device file, runs the route's own cleanup and fires an interrupt the
// driver waits on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/vfio/device.h"

namespace udrv::vfio {

class RemovalWatcher {
 public:
  // Arms the request interrupt `request_index` (VFIO_PCI_REQ_IRQ_INDEX for
  // vfio-pci) with an eventfd and starts watching it. On a request:
  // file->Revoke(), then `on_removed` (on the watcher's thread), then the
  // request Interrupt fires.
  static Result<std::unique_ptr<RemovalWatcher>> Start(std::shared_ptr<DeviceFile> file,
                                                       uint32_t request_index,
                                                       std::function<void()> on_removed,
                                                       std::string name);
  // Stops the watcher and waits for it.
  ~RemovalWatcher();
  RemovalWatcher(const RemovalWatcher&) = delete;
  RemovalWatcher& operator=(const RemovalWatcher&) = delete;

  // A handle to the interrupt that fires once the device was taken.
  Result<Interrupt> GetRequest() const;

 private:
  RemovalWatcher(std::shared_ptr<DeviceFile> file, std::function<void()> on_removed,
                 Interrupt removal, UniqueFd request_fd, UniqueFd stop_fd);
  void WatchLoop();

  const std::shared_ptr<DeviceFile> file_;
  const std::function<void()> on_removed_;
  const Interrupt removal_;  // virtual; fired by the watcher
  const UniqueFd request_fd_;  // signalled by the kernel
  const UniqueFd stop_fd_;     // tells the watcher to finish
  std::thread watcher_;
};

}  // namespace udrv::vfio
