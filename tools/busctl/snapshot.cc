// `busctl snapshot FILE` records what the read commands look at into one file;
// the global `--from FILE` unpacks such a file into a private temporary
// directory and points every read command there (snapshot_file.h).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "commands.h"
#include "output.h"
#include "privilege.h"
#include "snapshot_file.h"
#include "udrv/core/text.h"

namespace udrv::busctl {
namespace {

// The commands a snapshot can answer: they only read sysfs. Every other one
// (read and write of registers, bind, unbind, restore, and any command added
// later until it is listed here) needs the live machine.
constexpr std::string_view kReplayableCommands[] = {"list", "show", "config", "iommu", "snapshot"};

std::string SkippedConfigText(const SnapshotManifest::LimitedConfig& config) {
  return "config space of " + config.device + " beyond byte " + std::to_string(config.recorded) +
         " (of " + std::to_string(config.size) + ")";
}

struct SnapshotArguments {
  std::string file;
  bool force = false;
};

int RunSnapshot(const GlobalOptions& options, const SnapshotArguments& arguments,
                const SnapshotReplay* replay) {
  auto snapshot = RecordSnapshot(options.sysfs_root, replay ? &replay->manifest() : nullptr);
  if (!snapshot) return ReportError(options, "snapshot", snapshot.error());
  auto bytes = WriteSnapshotFile(*snapshot, arguments.file, arguments.force);
  if (!bytes) return ReportError(options, "snapshot", bytes.error());
  const SnapshotManifest& manifest = snapshot->manifest;
  Skipped skipped;
  for (const auto& config : manifest.limited_configs) {
    skipped.Add(SkippedConfigText(config), kConfigNeedsRoot);
  }
  for (const auto& entry : manifest.skipped) skipped.Add(entry.what, entry.why);
  if (!options.json) {
    skipped.Print("snapshot", options);
    std::printf("%s: %u PCI functions, %u IOMMU groups from %s (%llu bytes, %s)\n",
                Printable(arguments.file).c_str(), manifest.functions, manifest.iommu_groups,
                Printable(manifest.source).c_str(), static_cast<unsigned long long>(*bytes),
                std::string(kSnapshotFormat).c_str());
    return kExitOk;
  }
  Json document = NewDocument("snapshot");
  document["file"] = arguments.file;
  document["format"] = kSnapshotFormat;
  document["bytes"] = *bytes;
  document["members"] = static_cast<uint64_t>(snapshot->tree.size() + 1);
  document["source"] = manifest.source;
  document["uid"] = manifest.uid;
  document["functions"] = manifest.functions;
  document["iommu_groups"] = manifest.iommu_groups;
  Json& limited = document["config_limited"] = Json::array();
  for (const auto& config : manifest.limited_configs) {
    Json& item = limited.emplace_back(Json::object());
    item["device"] = config.device;
    item["recorded"] = config.recorded;
    item["size"] = config.size;
  }
  document["skipped"] = skipped.ToJson(options);
  PrintDocument(document);
  return kExitOk;
}

std::string TemporaryParent() {
  const char* tmpdir = std::getenv("TMPDIR");
  return tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
}

}  // namespace

void AddSnapshotCommand(CLI::App& app, GlobalOptions& options, int& status) {
  // The unpacked --from snapshot lives as long as the app (the end of main).
  auto replay = std::make_shared<std::optional<SnapshotReplay>>();

  auto* from = app.add_option_function<std::string>(
      "--from",
      [&app, &options, &status, replay](const std::string& file) {
        // Runs after parsing, before any command's callback.
        const std::vector<CLI::App*> selected = app.get_subcommands();
        if (selected.empty()) return;  // CLI11 reports the missing command
        const std::string command = selected.front()->get_name();
        const bool replayable =
            std::find(std::begin(kReplayableCommands), std::end(kReplayableCommands), command) !=
            std::end(kReplayableCommands);
        if (!replayable) {
          GlobalOptions replaying = options;
          replaying.from = file;
          auto live = RequireLiveMachine(replaying, command);
          status = ReportError(options, command,
                               live ? Error{Status::NOT_SUPPORTED, command + " needs the live machine",
                                            file}
                                    : live.error());
          throw CLI::RuntimeError(kExitFailed);  // no command runs; the message is out
        }
        auto snapshot = ReadSnapshotFile(file);
        Result<SnapshotReplay> unpacked = snapshot
            ? SnapshotReplay::Unpack(*snapshot, TemporaryParent(), file)
            : Result<SnapshotReplay>(std::unexpected(snapshot.error()));
        if (!unpacked) {
          status = ReportError(options, command, unpacked.error());
          throw CLI::RuntimeError(kExitFailed);
        }
        replay->emplace(std::move(*unpacked));
        options.from = file;
        options.sysfs_root = (*replay)->sysfs_root();
        options.replay_directory = (*replay)->directory();
        if (!(*replay)->manifest().limited_configs.empty()) {
          std::fprintf(stderr,
                       "busctl %s: note: %s was recorded without root (uid %u): config space of "
                       "%zu functions holds only its first 64 bytes\n",
                       command.c_str(), Printable(file).c_str(), (*replay)->manifest().uid,
                       (*replay)->manifest().limited_configs.size());
        }
      },
      "replay a `busctl snapshot` FILE instead of this machine (read commands only)");
  from->type_name("FILE");
  if (CLI::Option* sysfs_root = app.get_option_no_throw("--sysfs-root")) from->excludes(sysfs_root);

  auto arguments = std::make_shared<SnapshotArguments>();
  auto* snapshot = app.add_subcommand(
      "snapshot", "record what the read commands look at (sysfs, config space) into FILE");
  snapshot->add_option("FILE", arguments->file, "the snapshot file to write")->required();
  snapshot->add_flag("--force", arguments->force, "replace FILE if it exists");
  snapshot->callback([&options, &status, arguments, replay] {
    status = RunSnapshot(options, *arguments, replay->has_value() ? &**replay : nullptr);
  });
}

}  // namespace udrv::busctl
