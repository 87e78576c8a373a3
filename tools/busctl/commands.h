// busctl's subcommands. Each command file adds its subcommands to the CLI11
// app; their callbacks leave the process exit status in `status`.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "udrv/core/result.h"

namespace udrv::busctl {

struct GlobalOptions {
  std::string sysfs_root = "/sys";
  std::string pci_ids;  // empty: libpci's default database
  bool json = false;    // print the versioned JSON document (docs/busctl.md)
  std::string from;     // a `busctl snapshot` file to read instead of the machine
  std::string replay_directory;  // where --from unpacked it (the sysfs root's parent)
};

// Exit statuses, the same for every command: 0 done, 1 the operation failed
// (the error says why), 2 bad arguments (as CLI11's own parse errors).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

void AddListCommand(CLI::App& app, GlobalOptions& options, int& status);
// show.cc, config.cc, iommu.cc: show DEV, config DEV, iommu.
void AddShowCommand(CLI::App& app, GlobalOptions& options, int& status);
void AddConfigCommand(CLI::App& app, GlobalOptions& options, int& status);
void AddIommuCommand(CLI::App& app, GlobalOptions& options, int& status);
// registers.cc: read, write.
void AddRegisterCommands(CLI::App& app, GlobalOptions& options, int& status);
// match.cc: match ID, the driver manager's verdicts on one root-bus node.
void AddMatchCommand(CLI::App& app, GlobalOptions& options, int& status);
// binding.cc: bind, unbind, restore.
void AddBindingCommands(CLI::App& app, GlobalOptions& options, int& status);

// snapshot.cc: snapshot, and the global --from SNAPSHOT that replays one for
// the read commands (registered after --json, whose value its errors use).
void AddSnapshotCommand(CLI::App& app, GlobalOptions& options, int& status);

}  // namespace udrv::busctl
