// Isolated USB drivers: an interface served by the root bus to a driver in
// a driver host (host/server.h, host/connection.h), as PCI's and the
// platform bus's.
//
//   daemon: host::HostServer(USB service)  <== socket ==>  host: RemoteDevice
//
// The root bus opens the usbfs node (mode 0600, root), detaches the
// interface's kernel driver, and sends the host a second fd of the node
// with USBDEVFS_DROP_PRIVILEGES applied: the host can claim only the
// interfaces it was given, cannot detach or attach kernel drivers
// (USBDEVFS_IOCTL) and cannot reset the device unless it holds every
// interface. Transfers then go from the host straight to usbfs; the root
// bus relays nothing.
//
// After a host: the root bus takes the interface back from whatever holds
// it (USBDEVFS_DISCONNECT on its own, privileged fd: usbfs kills the
// claim's URBs) and claims it again, so a child the host left holding the
// fd reaches nothing; then the next host, or the release, follows.
#pragma once

#include <memory>

#include "udrv/host/connection.h"
#include "udrv/host/runner.h"
#include "udrv/usb/device.h"

namespace udrv::usb {

// The service factory for the isolated runner (host/runner.h): refuses a
// device that is not the USB bus's.
host::ServiceFactory MakeServiceFactory();

// The host's side: a usb::Device over the fd the root bus sent, greeted
// with the interface's node. IO_INVALID for a node of another bus.
Result<std::unique_ptr<Device>> CreateRemoteDevice(std::shared_ptr<host::Connection> connection,
                                                   host::Greeting greeting);

}  // namespace udrv::usb
