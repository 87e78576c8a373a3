// The buses busctl knows: one module each (tools/busctl/<bus>/), which adds
// that bus's own commands, its part of `list` and its handlers for the
// commands that work on one device. A new bus (acpi, usb) adds a module and
// its line in bus_modules.cc, and touches no other module.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "document.h"
#include "privilege.h"
#include "udrv/bus/bus.h"
#include "udrv/core/result.h"

namespace udrv::busctl {

// One bus's part of `busctl list`.
struct ListBlock {
  Json devices = Json::array();  // its entries of the document's "devices"
  std::string text;              // its lines, each ending in a newline
  Skipped skipped;               // what it left out and why
  int status = kExitOk;          // kExitFailed when a device could not be read (said on stderr)
};

struct ListContribution {
  // Reads the bus's devices; an error is the whole command's.
  std::function<Result<ListBlock>()> gather;
  // True when an option of this module's was given that selects among its
  // own devices (PCI's -s, -d, --tree): the other buses are left out then.
  std::function<bool()> narrows;
};

// How the state file's records know a device DEV names: a PCI function by
// its address (member "address", matched with the record's device), a
// device-tree node by its path (member "path", the record's path).
struct RecordName {
  std::string member;
  std::string value;
};

// The module's handlers of the commands that work on one device. The core
// parses their arguments and calls the module whose device DEV names; a
// null handler: the bus has no such command (NOT_SUPPORTED).
struct DeviceCommands {
  // Whether `argument` is written the way this bus names a device: nullopt
  // when not at all (another bus's), "" when it names one of this bus's,
  // else why it is malformed (a usage error).
  std::optional<std::string> (*check_device)(std::string_view argument) = nullptr;
  int (*show)(const GlobalOptions&, const ShowArguments&) = nullptr;
  int (*read)(const GlobalOptions&, const RegisterArguments&) = nullptr;
  int (*write)(const GlobalOptions&, const WriteArguments&) = nullptr;
  int (*bind)(const GlobalOptions&, const BindArguments&) = nullptr;
  int (*unbind)(const GlobalOptions&, const UnbindArguments&) = nullptr;
  // How restore finds DEV's rollback records (binding_state.h); null: the
  // bus has none.
  RecordName (*record_name)(std::string_view argument) = nullptr;
};

struct BusModule {
  std::string_view name;  // the first component of its devices' node ids
  // The bus's own commands (PCI: config, iommu).
  void (*add_commands)(CLI::App& app, GlobalOptions& options, int& status);
  // Adds the module's options to `list` and returns how it lists its
  // devices; `options` are read when gather runs.
  ListContribution (*add_list_options)(CLI::App& list, const GlobalOptions& options);
  // The module's options of `show` (PCI: -n), if any.
  void (*add_show_options)(CLI::App& show, ShowArguments& arguments);
  DeviceCommands device_commands;
  // The bus as the driver manager sees it, read from `options` (the sysfs
  // root): generic commands (match) build the root bus from every module's.
  // `log` gets what the bus skipped. Null when the machine has no such bus
  // (no device tree on x86).
  Result<std::unique_ptr<bus::Bus>> (*create_bus)(const GlobalOptions& options,
                                                  std::function<void(std::string_view)> log);
};

std::span<const BusModule> BusModules();

// The module whose device `argument` names (DeviceCommands::check_device),
// or INVALID_ARGS saying why none does.
Result<const BusModule*> ModuleOfDevice(std::string_view argument);

}  // namespace udrv::busctl
