#include "privilege.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>

#include "output.h"
#include "udrv/core/text.h"

namespace udrv::busctl {

bool IsRoot() { return ::geteuid() == 0; }

Result<void> RequireRoot(std::string_view command, std::string_view why) {
  if (IsRoot()) return {};
  return Fail(Status::ACCESS_DENIED, std::string(command) + " needs root: " + std::string(why) +
                                         " (busctl runs as uid " + std::to_string(::geteuid()) +
                                         ")");
}

Result<void> RequireLiveMachine(const GlobalOptions& options, std::string_view command) {
  if (!options.from.empty()) {
    return Fail(Status::NOT_SUPPORTED,
                std::string(command) + " works on the live machine only: the snapshot " +
                    options.from + " (--from) records sysfs, not device registers or drivers");
  }
  if (!options.dtb.empty()) {
    return Fail(Status::NOT_SUPPORTED,
                std::string(command) + " works on the live machine only: --dtb " + options.dtb +
                    " is a board to inspect, yet the registers and drivers it names would be "
                    "this machine's; run it without --dtb");
  }
  // /sys by any name (a link to it) is this machine's.
  char real[PATH_MAX];
  if (::realpath(options.sysfs_root.c_str(), real) != nullptr && std::string_view(real) == "/sys") {
    return {};
  }
  return Fail(Status::NOT_SUPPORTED,
              std::string(command) + " works on the live machine only: --sysfs-root " +
                  options.sysfs_root +
                  " is a tree to inspect, yet the device nodes, BAR registers and drivers it "
                  "names would be this machine's; run it without --sysfs-root");
}

void Skipped::Add(std::string what, std::string_view why) {
  items_.push_back(Item{std::move(what), std::string(why)});
}

void Skipped::Print(std::string_view command, const GlobalOptions& options) const {
  for (const Item& item : items_) {
    std::fprintf(stderr, "busctl %.*s: skipped %s: %s\n", static_cast<int>(command.size()),
                 command.data(), Printable(NameReplayedFiles(options, item.what)).c_str(),
                 Printable(NameReplayedFiles(options, item.why)).c_str());
  }
}

Json Skipped::ToJson(const GlobalOptions& options) const {
  Json array = Json::array();
  for (const Item& item : items_) {
    Json entry = Json::object();
    entry["what"] = NameReplayedFiles(options, item.what);
    entry["why"] = NameReplayedFiles(options, item.why);
    array.push_back(std::move(entry));
  }
  return array;
}

}  // namespace udrv::busctl
