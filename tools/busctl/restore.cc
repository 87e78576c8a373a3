// `busctl restore`: undoes what bind and unbind recorded in the state file
// (binding_state.h), newest first, the same way on every bus (sysfs/bind.h:
// driver_override and drivers_probe).
#include <cstdio>
#include <optional>
#include <string>

#include "binding_state.h"
#include "bus_modules.h"
#include "commands.h"
#include "output.h"
#include "privilege.h"
#include "udrv/core/text.h"
#include "udrv/sysfs/bind.h"

namespace udrv::busctl {

namespace {

constexpr std::string_view kNeedsRoot =
    "it writes sysfs (driver_override, drivers_probe, the drivers' unbind files)";

Result<void> RestoreRecord(const GlobalOptions& options, const RollbackRecord& record) {
  const sysfs::BusDevice device{options.paths(), record.bus, record.device};
  const std::string what =
      "restore " + record.shown() + " to " + sysfs::DriverOrNone(record.previous_driver);
  if (!device.Exists()) {
    return Fail(Status::IO_NOT_PRESENT, what + ": no such " + record.bus + " device in sysfs",
                device.Path());
  }
  return sysfs::RestoreDriver(
      device, sysfs::DriverBinding{record.previous_driver, record.previous_override}, what);
}

bool Names(const RecordName& name, const RollbackRecord& record) {
  return record.path ? name.member == "path" && *record.path == name.value
                     : name.member == "address" && record.device == name.value;
}

}  // namespace

int RunRestore(const GlobalOptions& options, const RestoreArguments& arguments) {
  if (arguments.all == !arguments.device.empty()) {
    std::fprintf(stderr, "busctl restore: give either DEV or --all\n");
    return kExitUsage;
  }
  Json document = NewDocument("restore");
  std::optional<RecordName> only;
  if (!arguments.all) {
    const BusModule* module = *ModuleOfDevice(arguments.device);  // validated
    if (module->device_commands.record_name == nullptr) {
      return ReportError(options, "restore",
                         Error{Status::NOT_SUPPORTED,
                               "the " + std::string(module->name) + " bus has no bindings to restore",
                               arguments.device, 0},
                         std::move(document));
    }
    only = module->device_commands.record_name(arguments.device);
    document[only->member] = only->value;
  }
  if (auto live = RequireLiveMachine(options, "restore"); !live) {
    return ReportError(options, "restore", live.error(), std::move(document));
  }
  if (auto root = RequireRoot("restore", kNeedsRoot); !root) {
    return ReportError(options, "restore", root.error(), std::move(document));
  }
  auto state = BindingState::Open(arguments.state_file);
  if (!state) return ReportError(options, "restore", state.error(), std::move(document));
  document["state_file"] = state->path();

  // Newest first, so that a device changed several times ends where it was
  // before the first change.
  Json restored = Json::array();
  bool any = false;
  for (size_t index = state->records().size(); index-- > 0;) {
    const RollbackRecord record = state->records()[index];
    if (only && !Names(*only, record)) continue;
    any = true;
    auto done = RestoreRecord(options, record);
    if (!done) {
      document["restored"] = std::move(restored);
      document["remaining"] = state->records().size();
      return ReportError(options, "restore", done.error(), std::move(document));
    }
    state->Erase(index);
    if (auto saved = state->Save(); !saved) {
      document["restored"] = std::move(restored);
      document["remaining"] = state->records().size();
      Error error = saved.error();
      error.what = record.shown() + " was restored, but removing its record failed: " + error.what;
      return ReportError(options, "restore", error, std::move(document));
    }
    restored.push_back(RecordToJson(record));
    if (!options.json) {
      const std::string undone = record.command + (record.driver.empty() ? "" : " to " + record.driver);
      std::printf("restored %s to %s (undid the %s of %s)\n", Printable(record.shown()).c_str(),
                  Printable(sysfs::DriverOrNone(record.previous_driver)).c_str(),
                  Printable(undone).c_str(), Printable(record.recorded_at).c_str());
    }
  }
  if (!any && only) {
    return ReportError(options, "restore",
                       Error{Status::NOT_FOUND,
                             "no rollback record for the device in " + state->path(),
                             only->value, 0},
                       std::move(document));
  }
  document["restored"] = std::move(restored);
  document["remaining"] = state->records().size();
  if (options.json) {
    PrintDocument(document);
  } else if (!any) {
    std::printf("nothing to restore: %s holds no records\n", Printable(state->path()).c_str());
  }
  return kExitOk;
}

}  // namespace udrv::busctl
