// The buses busctl knows: one module each (tools/busctl/<bus>/), which adds
// that bus's commands. A new bus (dt, acpi, usb) adds a module and its line
// in bus_modules.cc, and touches no other module.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "udrv/bus/bus.h"
#include "udrv/core/result.h"

namespace udrv::busctl {

struct BusModule {
  std::string_view name;  // the first component of its devices' node ids
  void (*add_commands)(CLI::App& app, GlobalOptions& options, int& status);
  // The bus as the driver manager sees it, read from `options` (the sysfs
  // root): generic commands (match) build the root bus from every module's.
  // `log` gets what the bus skipped.
  Result<std::unique_ptr<bus::Bus>> (*create_bus)(const GlobalOptions& options,
                                                  std::function<void(std::string_view)> log);
};

std::span<const BusModule> BusModules();

}  // namespace udrv::busctl
