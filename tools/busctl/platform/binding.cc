// `busctl bind` and `busctl unbind` of a device-tree node: the kernel's
// device for it (on the platform or the AMBA bus, kernel_devices.h) moved
// between drivers by driver_override (sysfs/bind.h), each change kept as a
// rollback record in the state file that `restore` puts back.
#include <cstdio>
#include <string>

#include "binding_state.h"
#include "output.h"
#include "platform/module.h"
#include "platform/view.h"
#include "privilege.h"
#include "udrv/core/text.h"
#include "udrv/platform/platform_bus.h"
#include "udrv/sysfs/bind.h"

namespace udrv::busctl {

namespace {

constexpr std::string_view kNeedsRoot =
    "it writes sysfs (driver_override, drivers_probe, the drivers' unbind files)";

Json OptionalString(const std::optional<std::string>& value) {
  return value ? Json(*value) : Json();
}

// The kernel's device for the node DEV names, on the live machine.
Result<sysfs::BusDevice> KernelDeviceOf(const GlobalOptions& options, const std::string& path,
                                        const std::string& what) {
  auto view = ReadPlatformView(options);
  if (!view) return Wrap(view.error(), what);
  if (!*view) {
    return Fail(Status::NOT_FOUND,
                what + ": this machine has no device tree (no " + platform::LiveTreePath(options.paths()) + ")",
                path);
  }
  auto entry = (*view)->Find(path);
  if (!entry) return Wrap(entry.error(), what);
  if (!(*entry)->kernel) {
    return Fail(Status::NOT_FOUND,
                what + ": the kernel made no device for the node (it populates enabled nodes "
                       "under the root and simple-bus nodes), so no driver can have it",
                path);
  }
  return sysfs::BusDevice{options.paths(), (*entry)->kernel->bus, (*entry)->kernel->name};
}

// "/pl031@9010000 (amba 9010000.pl031)"
std::string Describe(const std::string& path, const sysfs::BusDevice& device) {
  return Printable(path) + " (" + device.bus + " " + Printable(device.name) + ")";
}

}  // namespace

int RunPlatformBind(const GlobalOptions& options, const BindArguments& arguments) {
  const std::string path = NodePathOf(arguments.device);
  // "uio" is short for udrv's UIO platform module, as it is for uio_pci_generic on PCI.
  const std::string driver =
      arguments.driver == "uio" ? std::string(platform::kUioDriverName) : arguments.driver;
  const std::string what = "bind " + path + " to " + driver;
  Json document = NewDocument("bind");
  document["path"] = path;
  document["driver"] = driver;
  if (auto live = RequireLiveMachine(options, "bind"); !live) {
    return ReportError(options, "bind", live.error(), std::move(document));
  }
  if (auto root = RequireRoot("bind", kNeedsRoot); !root) {
    return ReportError(options, "bind", root.error(), std::move(document));
  }
  if (!sysfs::IsDriverName(driver)) {
    return ReportError(options, "bind",
                       Error{Status::INVALID_ARGS, what + ": '" + driver + "' is not a driver name",
                             path, 0},
                       std::move(document));
  }
  auto device = KernelDeviceOf(options, path, what);
  if (!device) return ReportError(options, "bind", device.error(), std::move(document));
  document["bus"] = device->bus;
  document["device"] = device->name;
  if (auto loaded = sysfs::CheckDriverLoaded(*device, driver); !loaded) {
    Error error = loaded.error();
    if (driver == platform::kUioDriverName) {
      error.what += " (load udrv's UIO platform module: insmod udrv_uio_platform.ko)";
    }
    return ReportError(options, "bind", error, std::move(document));
  }
  auto current = sysfs::ReadDriverBinding(*device);
  if (!current) return ReportError(options, "bind", current.error(), std::move(document));
  auto state = BindingState::Open(arguments.state_file);
  if (!state) return ReportError(options, "bind", state.error(), std::move(document));
  const bool changed = current->driver != driver;
  document["previous_driver"] = OptionalString(current->driver);
  document["previous_override"] = OptionalString(current->driver_override);
  document["changed"] = changed;
  document["state_file"] = state->path();
  if (changed) {
    if (auto bound = sysfs::BindDriver(*device, driver, *current, what); !bound) {
      return ReportError(options, "bind", bound.error(), std::move(document));
    }
    auto recorded = state->RecordChangeMade(
        RollbackRecord{"bind", device->bus, device->name, path, driver, current->driver,
                       current->driver_override, CurrentUtcTime()},
        [&] { return sysfs::RestoreDriver(*device, *current, "undo " + what); });
    if (!recorded) return ReportError(options, "bind", recorded.error(), std::move(document));
  }
  if (options.json) {
    PrintDocument(document);
  } else if (changed) {
    std::printf("bound %s to %s (was: %s); undo with: busctl restore %s\n",
                Describe(path, *device).c_str(), Printable(driver).c_str(),
                Printable(sysfs::DriverOrNone(current->driver)).c_str(), Printable(path).c_str());
  } else {
    std::printf("%s is bound to %s already; nothing changed\n", Describe(path, *device).c_str(),
                Printable(driver).c_str());
  }
  return kExitOk;
}

int RunPlatformUnbind(const GlobalOptions& options, const UnbindArguments& arguments) {
  const std::string path = NodePathOf(arguments.device);
  const std::string what = "unbind " + path;
  Json document = NewDocument("unbind");
  document["path"] = path;
  if (auto live = RequireLiveMachine(options, "unbind"); !live) {
    return ReportError(options, "unbind", live.error(), std::move(document));
  }
  if (auto root = RequireRoot("unbind", kNeedsRoot); !root) {
    return ReportError(options, "unbind", root.error(), std::move(document));
  }
  auto device = KernelDeviceOf(options, path, what);
  if (!device) return ReportError(options, "unbind", device.error(), std::move(document));
  document["bus"] = device->bus;
  document["device"] = device->name;
  auto state = BindingState::Open(arguments.state_file);
  if (!state) return ReportError(options, "unbind", state.error(), std::move(document));
  auto current = sysfs::ReadDriverBinding(*device);
  if (!current) return ReportError(options, "unbind", current.error(), std::move(document));
  document["previous_driver"] = OptionalString(current->driver);
  document["previous_override"] = OptionalString(current->driver_override);
  document["changed"] = current->driver.has_value();
  document["state_file"] = state->path();
  if (!current->driver) {
    if (options.json) {
      PrintDocument(document);
    } else {
      std::printf("%s is bound to no driver; nothing changed\n", Describe(path, *device).c_str());
    }
    return kExitOk;
  }
  auto unbound = state->RecordThenChange(
      RollbackRecord{"unbind", device->bus, device->name, path, "", current->driver,
                     current->driver_override, CurrentUtcTime()},
      [&] { return sysfs::UnbindDriver(*device, *current->driver, what); });
  if (!unbound) return ReportError(options, "unbind", unbound.error(), std::move(document));
  if (options.json) {
    PrintDocument(document);
  } else {
    std::printf("unbound %s from %s; undo with: busctl restore %s\n",
                Describe(path, *device).c_str(), Printable(*current->driver).c_str(),
                Printable(path).c_str());
  }
  return kExitOk;
}

}  // namespace udrv::busctl
