// Isolated USB drivers: an interface served by the root bus to a driver in
// a driver host (host/server.h, host/connection.h), as PCI's and the
// platform bus's.
//
//   daemon: host::HostServer(USB service)  <== socket ==>  host: RemoteDevice
//
// The root bus opens the usbfs node (mode 0600, root), detaches the
// interface's kernel driver, and sends the host a second fd of the node
// (reopened, not dup'ed: privileges belong to the open file) with
// USBDEVFS_DROP_PRIVILEGES applied for that interface alone, then releases
// its own claim (a released usbfs claim probes no kernel driver). What the
// kernel then refuses the host (drivers/usb/core/devio.c, Linux 6.1):
//   - claiming an interface outside the mask, explicitly or by a transfer
//     on its endpoints (EACCES); a later DROP_PRIVILEGES only narrows it;
//   - USBDEVFS_IOCTL: detaching or attaching kernel drivers, or any
//     driver's ioctl (EACCES), and USBDEVFS_DISCONNECT_CLAIM of an
//     interface a driver holds (EACCES);
//   - a reset (USBDEVFS_RESET) while any interface it does not hold is
//     claimed, by a kernel driver or another usbfs user (EACCES); with every
//     claimed interface its own, the reset goes through.
// What it does not refuse: control requests to the device as a whole
// (recipient DEVICE, a raw SET_CONFIGURATION or SET_ADDRESS included) and
// every vendor request: the device is the host's to confuse, not the rest
// of the bus. Nor USBDEVFS_SETCONFIGURATION while no interface of the
// device is claimed (devio.c's proc_setconfig has no privilege check): on
// a device whose other interfaces nobody holds, a host that releases its
// own claim can unconfigure the device or reconfigure it, and the kernel
// then probes drivers for the new configuration's interfaces (usb-storage
// takes the disk back). The take-back below takes the interface from
// whichever driver that was; where the interface is gone it first sets the
// configuration the root bus opened again. Transfers go from the host straight to usbfs; the root bus
// relays nothing. No interrupt and no Bti cross (NOT_SUPPORTED): the
// kernel's controller driver does the DMA.
//
// After a host: the root bus takes the interface back from whatever holds
// it (USBDEVFS_DISCONNECT_CLAIM on its own, privileged fd: usbfs ends the
// other claim and kills its URBs, and the root bus claims the interface
// under the same hold of the device lock), so whatever kept the fd (the
// host's children die with it: host/host_process.h) reaches nothing of the
// interface; then the next host, or the release, follows.
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
