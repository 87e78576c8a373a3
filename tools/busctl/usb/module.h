// busctl's USB module: the kernel's USB devices (sys/bus/usb/devices) in
// list, as lsusb lists them (-t: as lsusb -t draws them), and in show, whose
// text decodes the descriptors as lsusb -v does (the device's, every
// configuration's, interface's, alternate setting's and endpoint's, and
// their class descriptors) and, as root on the live machine, what lsusb -v
// reads from the device through usbfs (BOS, hub descriptor and port
// status, device qualifier, status). docs/busctl.md, "The USB bus".
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "bus_modules.h"
#include "commands.h"

namespace udrv::busctl {

struct UsbView;

BusModule UsbModule();

// list.cc: the module's part of list; the tree lsusb -t draws.
ListContribution AddUsbListOptions(CLI::App& list, const GlobalOptions& options);
std::string UsbTreeText(const UsbView& view);
// show.cc: show DEV.
int RunUsbShow(const GlobalOptions& options, const ShowArguments& arguments);

}  // namespace udrv::busctl
