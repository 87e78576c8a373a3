// The buses busctl knows: one module each (tools/busctl/<bus>/), which adds
// that bus's commands. A new bus (dt, acpi, usb) adds a module and its line
// in bus_modules.cc, and touches no other module.
#pragma once

#include <span>
#include <string_view>

#include <CLI/CLI.hpp>

#include "commands.h"

namespace udrv::busctl {

struct BusModule {
  std::string_view name;  // the first component of its devices' node ids
  void (*add_commands)(CLI::App& app, GlobalOptions& options, int& status);
};

std::span<const BusModule> BusModules();

}  // namespace udrv::busctl
