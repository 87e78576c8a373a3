#include "binding_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <optional>

#include "udrv/pci/address.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/sysfs/bind.h"
#include "udrv/sysfs/file.h"

namespace udrv::busctl {

namespace {

Json OptionalString(const std::optional<std::string>& value) {
  return value ? Json(*value) : Json();
}

// A member that must be a string, or null where `nullable`.
Result<std::optional<std::string>> ReadStringMember(const Json& object, std::string_view key,
                                                    bool nullable, const std::string& path) {
  const auto member = object.find(key);
  if (member != object.end() && member->is_string()) return member->get<std::string>();
  if (member != object.end() && member->is_null() && nullable) return std::optional<std::string>();
  return Fail(Status::IO_INVALID,
              "read rollback record: \"" + std::string(key) + "\" is missing or not a string" +
                  (nullable ? " or null" : ""),
              path);
}

// One component of a sysfs path: a name as the kernel gives drivers, not
// "." or "..".
bool IsSysfsName(const std::string& name) {
  return sysfs::IsDriverName(name) && name != "." && name != "..";
}

Result<RollbackRecord> RecordFromJson(const Json& json, const std::string& path) {
  RollbackRecord record;
  auto command = ReadStringMember(json, "command", false, path);
  if (!command) return std::unexpected(command.error());
  record.command = **command;
  if (json.contains("bus")) {
    auto bus = ReadStringMember(json, "bus", false, path);
    if (!bus) return std::unexpected(bus.error());
    auto device = ReadStringMember(json, "device", false, path);
    if (!device) return std::unexpected(device.error());
    auto node = ReadStringMember(json, "path", true, path);
    if (!node) return std::unexpected(node.error());
    record.bus = **bus;
    record.device = **device;
    record.path = *node;
    // The names become a sysfs path when the record is restored.
    if (!IsSysfsName(record.bus) || !IsSysfsName(record.device) || record.bus == pci::kBusName) {
      return Fail(Status::IO_INVALID,
                  "read rollback record: bus '" + record.bus + "' device '" + record.device +
                      "' cannot name a sysfs device (a PCI function's record has \"address\")",
                  path);
    }
  } else {
    auto address_text = ReadStringMember(json, "address", false, path);
    if (!address_text) return std::unexpected(address_text.error());
    auto address = pci::Address::Parse(**address_text);
    if (!address) {
      return Fail(Status::IO_INVALID, "read rollback record: " + address.error().what, path);
    }
    record.bus = std::string(pci::kBusName);
    record.device = address->ToString();
  }
  auto driver = ReadStringMember(json, "driver", true, path);
  if (!driver) return std::unexpected(driver.error());
  record.driver = driver->value_or("");
  auto previous_driver = ReadStringMember(json, "previous_driver", true, path);
  if (!previous_driver) return std::unexpected(previous_driver.error());
  record.previous_driver = *previous_driver;
  auto previous_override = ReadStringMember(json, "previous_override", true, path);
  if (!previous_override) return std::unexpected(previous_override.error());
  record.previous_override = *previous_override;
  auto recorded_at = ReadStringMember(json, "recorded_at", false, path);
  if (!recorded_at) return std::unexpected(recorded_at.error());
  record.recorded_at = **recorded_at;
  return record;
}

}  // namespace

Result<std::vector<RollbackRecord>> ParseBindingRecords(std::string_view text,
                                                        const std::string& path) {
  auto document = ParseJson(text, path);
  if (!document) return Fail(Status::IO_INVALID, "read state file: " + document.error().what, path);
  const auto schema = document->find("schema");
  if (schema == document->end() || !schema->is_string() ||
      schema->get<std::string>() != kStateFileSchema) {
    return Fail(Status::IO_INVALID,
                "read state file: not a busctl state file (its \"schema\" is not \"" +
                    std::string(kStateFileSchema) + "\")",
                path);
  }
  const auto list = document->find("records");
  if (list == document->end() || !list->is_array()) {
    return Fail(Status::IO_INVALID, "read state file: \"records\" is missing or not an array",
                path);
  }
  std::vector<RollbackRecord> records;
  for (const Json& entry : *list) {
    auto record = RecordFromJson(entry, path);
    if (!record) return std::unexpected(record.error());
    records.push_back(std::move(*record));
  }
  return records;
}

Json RecordToJson(const RollbackRecord& record) {
  Json json = Json::object();
  json["command"] = record.command;
  if (record.bus == pci::kBusName) {
    json["address"] = record.device;
  } else {
    json["bus"] = record.bus;
    json["device"] = record.device;
    json["path"] = OptionalString(record.path);
  }
  json["driver"] = record.driver.empty() ? Json() : Json(record.driver);
  json["previous_driver"] = OptionalString(record.previous_driver);
  json["previous_override"] = OptionalString(record.previous_override);
  json["recorded_at"] = record.recorded_at;
  return json;
}

std::string CurrentUtcTime() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

Result<BindingState> BindingState::Open(const std::string& path) {
  const std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (!directory.empty()) {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      return FailErrno(error.value(), "create the state file's directory " + directory.string());
    }
  }
  // Never through a link, never a device node: busctl runs as root, and a
  // link planted where the state file belongs would have it read and rewrite
  // another file. lstat keeps special files unopened, O_NOFOLLOW closes the
  // race, ReadWholeFile's fstat checks what was opened.
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Fail(Status::IO_INVALID,
                S_ISLNK(st.st_mode)
                    ? "open state file: a symbolic link, which busctl does not follow"
                    : "open state file: not a regular file, so not a busctl state file",
                path);
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd && errno == ELOOP) {
    return Fail(Status::IO_INVALID,
                "open state file: a symbolic link, which busctl does not follow", path, ELOOP);
  }
  if (!fd) return FailErrno(errno, "open state file " + path);
  int locked;
  do {
    locked = ::flock(fd.get(), LOCK_EX);
  } while (locked != 0 && errno == EINTR);
  if (locked != 0) return FailErrno(errno, "lock state file " + path);

  auto text = sysfs::ReadWholeFile(fd.get(), path, kMaxStateFileBytes, "a busctl state file");
  if (!text) return Wrap(text.error(), "read state file");
  std::vector<RollbackRecord> records;
  // A file just created is empty: no records yet. Written at once, so that
  // whatever busctl leaves behind is a state file.
  if (text->empty()) {
    BindingState state(path, std::move(fd), std::move(records));
    if (auto saved = state.Save(); !saved) return std::unexpected(saved.error());
    return state;
  }
  auto parsed = ParseBindingRecords(*text, path);
  if (!parsed) return std::unexpected(parsed.error());
  records = std::move(*parsed);
  return BindingState(path, std::move(fd), std::move(records));
}

Result<void> BindingState::Save() const {
  Json document = Json::object();
  document["schema"] = kStateFileSchema;
  Json list = Json::array();
  for (const RollbackRecord& record : records_) list.push_back(RecordToJson(record));
  document["records"] = std::move(list);
  const std::string text = DumpJson(document);

  // Rewritten in place: the lock is on this file, and a rename would leave
  // a waiting busctl holding the old one.
  if (::ftruncate(fd_.get(), 0) != 0) return FailErrno(errno, "truncate state file " + path_);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n =
        ::pwrite(fd_.get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(errno, "write state file " + path_);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd_.get()) != 0) return FailErrno(errno, "sync state file " + path_);
  return {};
}

Result<void> BindingState::RecordThenChange(RollbackRecord record,
                                           const std::function<Result<void>()>& change) {
  Append(std::move(record));
  if (auto saved = Save(); !saved) {
    Erase(records_.size() - 1);
    return saved;
  }
  if (auto changed = change(); !changed) {
    Erase(records_.size() - 1);
    Error error = changed.error();
    if (auto saved = Save(); !saved) {
      error.what += "; removing its rollback record failed too: " + saved.error().what;
    }
    return std::unexpected(std::move(error));
  }
  return {};
}

Result<void> BindingState::RecordChangeMade(RollbackRecord record,
                                           const std::function<Result<void>()>& undo) {
  Append(std::move(record));
  if (auto saved = Save(); !saved) {
    Erase(records_.size() - 1);
    Error error = saved.error();
    error.what = "record the rollback: " + error.what;
    auto undone = undo();
    error.what += undone ? "; the change was undone" : "; undoing the change failed too: " + undone.error().what;
    return std::unexpected(std::move(error));
  }
  return {};
}

}  // namespace udrv::busctl
