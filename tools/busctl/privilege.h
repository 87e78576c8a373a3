// What busctl may do as the user it runs as.
//
// Linux lets every user read the sysfs attribute files and the first 64
// bytes of config space. Reading the rest of config space needs CAP_SYS_ADMIN,
// BAR registers are reachable only through root-only resourceN files or VFIO
// device files, and every sysfs write (binding drivers) needs root. So:
//   - read commands do what they can and list what they skipped and why, in
//     a Skipped list: on stderr in text mode, as "skipped" in the JSON;
//   - commands that change things refuse up front (RequireRoot).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "commands.h"
#include "document.h"
#include "udrv/core/result.h"

namespace udrv::busctl {

// True when busctl runs with effective user id 0.
bool IsRoot();

// ACCESS_DENIED, unless busctl runs as root: "<command> needs root: <why>".
Result<void> RequireRoot(std::string_view command, std::string_view why);

// NOT_SUPPORTED unless `options` describe this machine: `command` reaches
// the live machine (device nodes, BAR registers, driver bindings). A replayed
// snapshot (--from) holds none of them; a sysfs tree other than /sys
// (--sysfs-root) would lead it to this machine's devices all the same (a
// tree that says vfio-pci names a real /dev/vfio group), and so would a
// board's device tree (--dtb). Checked before anything is read or opened.
Result<void> RequireLiveMachine(const GlobalOptions& options, std::string_view command);

// Why read commands skip things when not root, in the words they print.
inline constexpr std::string_view kConfigNeedsRoot =
    "Linux lets only root (CAP_SYS_ADMIN) read config space past the first 64 bytes";
inline constexpr std::string_view kBarNeedsRoot =
    "BAR registers are reachable only through the root-only sysfs resourceN files or VFIO "
    "device files";

// What a read command left out, each with its reason.
class Skipped {
 public:
  struct Item {
    std::string what;  // "config space 0x40-0xfff of 0000:00:02.0"
    std::string why;   // kConfigNeedsRoot, or another reason in words
  };

  void Add(std::string what, std::string_view why);
  bool empty() const { return items_.empty(); }
  const std::vector<Item>& items() const { return items_; }

  // Text mode: one line per item on stderr, "busctl COMMAND: skipped WHAT: WHY".
  // Both name a replayed snapshot's files as its members (NameReplayedFiles).
  void Print(std::string_view command, const GlobalOptions& options) const;
  // JSON: the document's "skipped" member, [{"what": ..., "why": ...}].
  Json ToJson(const GlobalOptions& options) const;

 private:
  std::vector<Item> items_;
};

}  // namespace udrv::busctl
