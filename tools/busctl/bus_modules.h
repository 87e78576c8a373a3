// The buses busctl knows: one module each (tools/busctl/<bus>/), which adds
// that bus's own commands, its part of `list` and its handlers for the
// commands that work on one device. A new bus (acpi, usb) adds a module and
// its line in bus_modules.cc, and touches no other module.
#pragma once

#include <compare>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "document.h"
#include "privilege.h"
#include "udrv/bus/bus.h"
#include "udrv/core/result.h"

namespace udrv::busctl {

// A device as the kernel names it: its bus and its name there ("pci",
// "0000:00:1f.2"; "amba", "9010000.pl031"). Companions are keyed by it.
struct KernelDeviceName {
  std::string bus;
  std::string name;
  auto operator<=>(const KernelDeviceName&) const = default;
};

// One module's view of a device another module lists: ACPI describes the
// PCI function 0000:00:01.0 as \_SB_.PCI0.S08_ (its physical node). busctl
// shows such a device once, with both views: the module that lists it
// attaches the companion to its entry (Companions::Take), and the module
// that offers it leaves the device out of its own part of list when
// another module's entry took it (Companions::Taken). No module includes
// another's code: they meet here, on the kernel's names.
struct Companion {
  std::string module;   // the offering module ("acpi"): the member it fills in JSON entries
  Json json;            // its view of the device
  std::string summary;  // for list lines: one word, no spaces ("\_SB_.PCI0.S08_")
  std::string text;     // for show: lines, each "\t...\n"
};

// The companions every module offers in one run, by the device each describes.
class Companions {
 public:
  void Add(KernelDeviceName device, Companion companion);
  // The companions of `device`, marked taken.
  std::vector<const Companion*> Take(const KernelDeviceName& device);
  // Whether another module's entry took `device`'s companions.
  bool Taken(const KernelDeviceName& device) const { return taken_.contains(device); }

 private:
  std::map<KernelDeviceName, std::vector<Companion>> by_device_;
  std::set<KernelDeviceName> taken_;
};

// Each of `companions` as a member of a list or show entry: entry[module] = json.
void AttachCompanions(const std::vector<const Companion*>& companions, Json& entry);

// One bus's part of `busctl list`.
struct ListBlock {
  Json devices = Json::array();  // its entries of the document's "devices"
  std::string text;              // its lines, each ending in a newline
  // The root-bus node id of each device it lists (and of a USB device's
  // interfaces, after the device), in its order, whatever --json and
  // --tree say: `list --ids` prints them, for shell completion and scripts.
  std::vector<std::string> ids;
  Skipped skipped;               // what it left out and why
  int status = kExitOk;          // kExitFailed when a device could not be read (said on stderr)
};

struct ListContribution {
  // Reads the bus's devices; an error is the whole command's. The modules
  // gather in BusModules() order, all with the same `companions`: a module
  // takes those of the devices it lists, one that offers companions sees
  // which were taken (it gathers after the modules that take them).
  std::function<Result<ListBlock>(Companions& companions)> gather;
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
  // The module's views of devices other modules list (Companion), by the
  // kernel's names of those devices; null when it has none to offer. An
  // error leaves them out, said in the command's skipped.
  Result<std::vector<std::pair<KernelDeviceName, Companion>>> (*offer_companions)(
      const GlobalOptions& options) = nullptr;
};

std::span<const BusModule> BusModules();

// Every module's companions for this run; what a module could not offer is
// added to `skipped`.
Companions GatherCompanions(const GlobalOptions& options, Skipped& skipped);

// The module whose device `argument` names (DeviceCommands::check_device),
// or INVALID_ARGS saying why none does.
Result<const BusModule*> ModuleOfDevice(std::string_view argument);

}  // namespace udrv::busctl
