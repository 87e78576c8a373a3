// busctl's core commands and what every command shares. Each command file
// adds its subcommands to the CLI11 app; their callbacks leave the process
// exit status in `status`. The buses' own commands come from their modules
// (bus_modules.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "udrv/core/result.h"
#include "udrv/sysfs/paths.h"

namespace udrv::busctl {

struct GlobalOptions {
  std::string sysfs_root = "/sys";
  std::string pci_ids;  // empty: libpci's default database
  bool json = false;    // print the versioned JSON document (docs/busctl.md)
  std::string from;     // a `busctl snapshot` file to read instead of the machine
  std::string replay_directory;  // where --from unpacked it (the sysfs root's parent)
  std::string dtb;  // a device tree blob to read the platform bus from, offline
  // ACPI tables to read instead of this machine's, offline: a directory of
  // table files or an acpidump text dump.
  std::string acpi;

  // A tree that is not this machine's /sys (recorded, replayed) has its
  // proc beside it (DIR/../proc: iomem, ioports) or none: never this
  // machine's, which would describe other devices.
  sysfs::LinuxPaths paths() const {
    sysfs::LinuxPaths paths{.sys = sysfs_root};
    if (sysfs_root != "/sys") paths.proc = sysfs_root + "/../proc";
    return paths;
  }
};

// Exit statuses, the same for every command: 0 done, 1 the operation failed
// (the error says why), 2 bad arguments (as CLI11's own parse errors).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Where bind and unbind keep their rollback records (binding_state.h). Under
// /run: the records describe the running kernel's bindings and mean nothing
// after a reboot, when /run starts empty.
inline constexpr std::string_view kDefaultStateFile = "/run/udrv/busctl-bindings.json";

// The commands that work on one device (DEV), whichever bus it is on: the
// core parses their arguments and hands them to the module whose device
// DEV names (bus_modules.h).
struct ShowArguments {
  std::string device;
  bool numeric = false;  // PCI: numbers only in the summary line
};
struct RegisterArguments {
  std::string device;
  // [REGION] OFFSET: PCI's BAR index, or a platform device's `reg` index or
  // `reg-names` name; nullopt when not given.
  std::optional<std::string> region;
  uint64_t offset = 0;
  uint32_t width = 32;  // bits
};
struct WriteArguments {
  RegisterArguments target;
  uint64_t value = 0;
  bool yes = false;
  bool dry_run = false;
};
struct BindArguments {
  std::string device;
  std::string driver;
  std::string state_file{kDefaultStateFile};
};
struct UnbindArguments {
  std::string device;
  std::string state_file{kDefaultStateFile};
};
struct RestoreArguments {
  std::string device;  // empty with --all
  bool all = false;
  std::string state_file{kDefaultStateFile};
};

// list.cc: list, every module's devices in one document.
void AddListCommand(CLI::App& app, GlobalOptions& options, int& status);

// device_commands.cc: show, read, write, bind, unbind, restore.
void AddDeviceCommands(CLI::App& app, GlobalOptions& options, int& status);
// restore.cc: restore DEV, restore --all, for every bus.
int RunRestore(const GlobalOptions& options, const RestoreArguments& arguments);

// Decimal, or hex with 0x: what OFFSET and VALUE accept.
std::optional<uint64_t> ParseNumber(std::string_view text);

// match.cc: match ID, the driver manager's verdicts on one root-bus node.
void AddMatchCommand(CLI::App& app, GlobalOptions& options, int& status);

// snapshot.cc: snapshot, and the global --from SNAPSHOT that replays one for
// the read commands (registered after --json, whose value its errors use).
void AddSnapshotCommand(CLI::App& app, GlobalOptions& options, int& status);

}  // namespace udrv::busctl
