// busctl's core commands and what every command shares. Each command file
// adds its subcommands to the CLI11 app; their callbacks leave the process
// exit status in `status`. The buses' own commands come from their modules
// (bus_modules.h).
#pragma once

#include <string>

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

  sysfs::LinuxPaths paths() const { return sysfs::LinuxPaths{.sys = sysfs_root}; }
};

// Exit statuses, the same for every command: 0 done, 1 the operation failed
// (the error says why), 2 bad arguments (as CLI11's own parse errors).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// match.cc: match ID, the driver manager's verdicts on one root-bus node.
void AddMatchCommand(CLI::App& app, GlobalOptions& options, int& status);

// snapshot.cc: snapshot, and the global --from SNAPSHOT that replays one for
// the read commands (registered after --json, whose value its errors use).
void AddSnapshotCommand(CLI::App& app, GlobalOptions& options, int& status);

}  // namespace udrv::busctl
