// busctl's platform module: the device tree's devices (the live tree, or a
// .dtb given with --dtb) in list and show, their registers through
// /dev/mem (read, write), and their kernel drivers on the platform and AMBA
// buses (bind, unbind, restore). docs/busctl.md, "The platform bus".
#pragma once

#include <CLI/CLI.hpp>

#include "bus_modules.h"
#include "commands.h"

namespace udrv::busctl {

BusModule PlatformModule();

// show.cc
int RunPlatformShow(const GlobalOptions& options, const ShowArguments& arguments);
// registers.cc
int RunPlatformRead(const GlobalOptions& options, const RegisterArguments& arguments);
int RunPlatformWrite(const GlobalOptions& options, const WriteArguments& arguments);
// binding.cc
int RunPlatformBind(const GlobalOptions& options, const BindArguments& arguments);
int RunPlatformUnbind(const GlobalOptions& options, const UnbindArguments& arguments);

}  // namespace udrv::busctl
