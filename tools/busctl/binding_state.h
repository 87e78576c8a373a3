// busctl's rollback records: what each `busctl bind` and `busctl unbind`
// changed, kept in a JSON file so that `busctl restore`, run later from
// another shell, can put it back (docs/busctl.md, "The state file").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "document.h"
#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"

namespace udrv::busctl {

// The state file's "schema" member.
inline constexpr std::string_view kStateFileSchema = "udrv.busctl.bindings/1";
// A record takes about 250 bytes: thousands of changes not yet restored.
inline constexpr uint64_t kMaxStateFileBytes = 1 << 20;

struct RollbackRecord {
  std::string command;  // "bind" or "unbind"
  // The device: sys/bus/<bus>/devices/<device> ("pci", "0000:00:02.0";
  // "amba", "9010000.pl031").
  std::string bus;
  std::string device;
  // The device-tree node a platform or AMBA device stands for; nullopt for PCI.
  std::optional<std::string> path;
  std::string driver;  // what the command bound ("" after unbind)
  // What to put back.
  std::optional<std::string> previous_driver;
  std::optional<std::string> previous_override;
  std::string recorded_at;  // UTC, "2026-11-22T07:50:00Z"

  // How messages name the device: its node path, else its sysfs name.
  const std::string& shown() const { return path ? *path : device; }
};

// A PCI function's record: {"command", "address", "driver",
// "previous_driver", "previous_override", "recorded_at"}, as version 1 of
// the file always wrote; another bus's: {"command", "bus", "device", "path",
// ...}. Absent values are null.
Json RecordToJson(const RollbackRecord& record);

// The records of a state file's text, oldest first. IO_INVALID for text that
// is not a busctl state file (not JSON, another "schema", a record without
// its members), naming `path`.
Result<std::vector<RollbackRecord>> ParseBindingRecords(std::string_view text,
                                                        const std::string& path);

// The current time as RollbackRecord::recorded_at writes it.
std::string CurrentUtcTime();

// The state file, open and locked.
class BindingState {
 public:
  // Opens `path`, creating it (and its directory) when missing, and takes an
  // exclusive lock on it that lasts as long as the object: busctl runs that
  // change bindings wait for each other. IO_INVALID naming the file when it
  // is a symbolic link or no regular file, or holds anything but a state
  // file; FILE_BIG, unread, when it is larger than kMaxStateFileBytes.
  static Result<BindingState> Open(const std::string& path);

  const std::string& path() const { return path_; }
  // Oldest first.
  const std::vector<RollbackRecord>& records() const { return records_; }
  void Append(RollbackRecord record) { records_.push_back(std::move(record)); }
  void Erase(size_t index) { records_.erase(records_.begin() + static_cast<ptrdiff_t>(index)); }

  // Writes the records back to the file.
  Result<void> Save() const;

  // A change a record undoes, recorded first (an unbind: without its record
  // it could not be undone): saves `record`, then runs `change`; when the
  // change fails, the record is taken back out, and the error says so if
  // that failed too.
  Result<void> RecordThenChange(RollbackRecord record, const std::function<Result<void>()>& change);
  // A change made already (a bind, whose previous state only the bind
  // learns): saves `record`; when that fails, `undo` puts the change back,
  // and the error says whether it did.
  Result<void> RecordChangeMade(RollbackRecord record, const std::function<Result<void>()>& undo);

 private:
  BindingState(std::string path, UniqueFd fd, std::vector<RollbackRecord> records)
      : path_(std::move(path)), fd_(std::move(fd)), records_(std::move(records)) {}

  std::string path_;
  UniqueFd fd_;  // holds the lock
  std::vector<RollbackRecord> records_;
};

}  // namespace udrv::busctl
