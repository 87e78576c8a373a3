// `busctl bind` and `busctl unbind` of a PCI function: moving it between
// kernel drivers with pci::BindDriver / UnbindDriver, each change kept as a
// rollback record in the state file (binding_state.h) that `restore`
// (restore.cc) puts back.

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binding_state.h"
#include "bus_modules.h"
#include "commands.h"
#include "pci/module.h"
#include "output.h"
#include "pci_format.h"
#include "privilege.h"
#include "select.h"
#include "udrv/core/text.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

namespace {

constexpr std::string_view kNeedsRoot =
    "it writes sysfs (driver_override, drivers_probe, the drivers' unbind files)";

// For text output: the driver's name, escaped (a tree can name it anything).
std::string DriverOrNone(const std::optional<std::string>& driver) {
  return driver ? Printable(*driver) : "no driver";
}

Json OptionalString(const std::optional<std::string>& value) {
  return value ? Json(*value) : Json();
}

Json ViabilityToJson(const pci::GroupViability& viability) {
  Json json = Json::object();
  json["group"] = viability.group;
  json["viable"] = viability.viable;
  Json members = Json::array();
  for (const auto& [address, driver] : viability.members) {
    Json member = Json::object();
    member["address"] = address.ToString();
    member["driver"] = driver.empty() ? Json() : Json(driver);
    members.push_back(std::move(member));
  }
  json["members"] = std::move(members);
  Json blockers = Json::array();
  for (const std::string& blocker : viability.blockers) blockers.push_back(blocker);
  json["blockers"] = std::move(blockers);
  return json;
}

void PrintViability(const pci::GroupViability& viability) {
  std::fprintf(stderr, "busctl bind: IOMMU group %u is %s for VFIO; its members:\n",
               viability.group, viability.viable ? "viable" : "not viable");
  for (const auto& [address, driver] : viability.members) {
    std::fprintf(stderr, "  %s  %s\n", address.ToString().c_str(),
                 driver.empty() ? "(no driver)" : Printable(driver).c_str());
  }
  for (const std::string& blocker : viability.blockers) {
    std::fprintf(stderr, "  blocked by %s\n", Printable(blocker).c_str());
  }
}

}  // namespace

int RunPciBind(const GlobalOptions& options, const BindArguments& arguments) {
  const pci::Address address = *ParseDeviceArgument(arguments.device);  // validated
  const std::string driver = pci::CanonicalDriverName(arguments.driver);
  Json document = NewDocument("bind");
  document["address"] = address.ToString();
  document["driver"] = driver;
  if (auto live = RequireLiveMachine(options, "bind"); !live) {
    return ReportError(options, "bind", live.error(), std::move(document));
  }
  if (auto root = RequireRoot("bind", kNeedsRoot); !root) {
    return ReportError(options, "bind", root.error(), std::move(document));
  }
  if (auto info = ReadDevice(options, address); !info) {
    return ReportError(options, "bind", info.error(), std::move(document));
  }
  auto state = BindingState::Open(arguments.state_file);
  if (!state) return ReportError(options, "bind", state.error(), std::move(document));

  // BindDriver checks the group too; asking first gets the verdict to show.
  // No group yet (arm64 makes it at probe) or no IOMMU: BindDriver decides.
  if (driver == pci::kVfioPciDriver) {
    auto viability = pci::CheckGroupViability(address, options.paths());
    if (viability) document["iommu_group"] = ViabilityToJson(*viability);
    if (viability && !viability->viable && !options.json) PrintViability(*viability);
  }
  auto record = pci::BindDriver(address, driver, options.paths());
  if (!record) return ReportError(options, "bind", record.error(), std::move(document));
  const bool changed = record->previous_driver != record->driver;
  document["previous_driver"] = OptionalString(record->previous_driver);
  document["previous_override"] = OptionalString(record->previous_override);
  document["changed"] = changed;
  document["state_file"] = state->path();
  if (changed) {
    auto recorded = state->RecordChangeMade(
        RollbackRecord{"bind", std::string(pci::kBusName), address.ToString(), std::nullopt,
                       record->driver, record->previous_driver, record->previous_override,
                       CurrentUtcTime()},
        [&] { return pci::RestoreDriver(*record, options.paths()); });
    if (!recorded) return ReportError(options, "bind", recorded.error(), std::move(document));
  }
  if (driver == pci::kVfioPciDriver) {
    // The group as it is now (on arm64 it exists only from now on).
    auto viability = pci::CheckGroupViability(address, options.paths());
    if (viability) document["iommu_group"] = ViabilityToJson(*viability);
  }
  if (options.json) {
    PrintDocument(document);
  } else if (changed) {
    std::printf("bound %s to %s (was: %s); undo with: busctl restore %s\n",
                address.ToString().c_str(), Printable(driver).c_str(),
                DriverOrNone(record->previous_driver).c_str(), address.ToString().c_str());
  } else {
    std::printf("%s is bound to %s already; nothing changed\n", address.ToString().c_str(),
                Printable(driver).c_str());
  }
  return kExitOk;
}


int RunPciUnbind(const GlobalOptions& options, const UnbindArguments& arguments) {
  const pci::Address address = *ParseDeviceArgument(arguments.device);  // validated
  Json document = NewDocument("unbind");
  document["address"] = address.ToString();
  if (auto live = RequireLiveMachine(options, "unbind"); !live) {
    return ReportError(options, "unbind", live.error(), std::move(document));
  }
  if (auto root = RequireRoot("unbind", kNeedsRoot); !root) {
    return ReportError(options, "unbind", root.error(), std::move(document));
  }
  auto state = BindingState::Open(arguments.state_file);
  if (!state) return ReportError(options, "unbind", state.error(), std::move(document));
  auto info = ReadDevice(options, address);
  if (!info) return ReportError(options, "unbind", info.error(), std::move(document));
  document["previous_driver"] = OptionalString(info->driver);
  document["previous_override"] = OptionalString(info->driver_override);
  document["changed"] = info->driver.has_value();
  document["state_file"] = state->path();
  if (!info->driver) {
    if (options.json) {
      PrintDocument(document);
    } else {
      std::printf("%s is bound to no driver; nothing changed\n", address.ToString().c_str());
    }
    return kExitOk;
  }
  auto unbound = state->RecordThenChange(
      RollbackRecord{"unbind", std::string(pci::kBusName), address.ToString(), std::nullopt, "",
                     info->driver, info->driver_override, CurrentUtcTime()},
      [&]() -> Result<void> {
        UDRV_TRY(pci::UnbindDriver(address, options.paths()));
        return {};
      });
  if (!unbound) return ReportError(options, "unbind", unbound.error(), std::move(document));
  if (options.json) {
    PrintDocument(document);
  } else {
    std::printf("unbound %s from %s; undo with: busctl restore %s\n", address.ToString().c_str(),
                DriverOrNone(info->driver).c_str(), address.ToString().c_str());
  }
  return kExitOk;
}


}  // namespace udrv::busctl
