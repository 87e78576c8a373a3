#include "udrv/sysfs/bind.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "udrv/sysfs/file.h"

namespace udrv::sysfs {
namespace {

// After a failed bind: puts `previous` back and reports `failure`, with the
// restore's own error if that failed too.
std::unexpected<Error> RollBack(const BusDevice& device, const DriverBinding& previous,
                                std::unexpected<Error> failure) {
  auto restored = RestoreDriver(device, previous,
                                "restore " + device.name + " to " + DriverOrNone(previous.driver));
  if (!restored) {
    failure.error().what += "; restoring " + DriverOrNone(previous.driver) +
                            " also failed: " + restored.error().what;
  }
  return failure;
}

}  // namespace

bool BusDevice::Exists() const {
  struct stat st{};
  return ::stat(Path().c_str(), &st) == 0;
}

std::optional<std::string> BusDevice::Driver() const { return ReadLinkName(Path() + "/driver"); }

Result<std::optional<std::string>> BusDevice::DriverOverride() const {
  const std::string path = Path() + "/driver_override";
  auto text = ReadAttribute(path);
  if (!text) {
    if (text.error().err_no == ENOENT) {
      return Fail(Status::NOT_SUPPORTED, "this kernel has no driver_override (Linux 3.16 added it)",
                  path, ENOENT);
    }
    return std::unexpected(std::move(text.error()));
  }
  if (text->empty() || *text == "(null)") return std::optional<std::string>();
  return std::optional<std::string>(std::move(*text));
}

Result<DriverBinding> ReadDriverBinding(const BusDevice& device) {
  UDRV_TRY_ASSIGN(std::optional<std::string> driver_override, device.DriverOverride());
  return DriverBinding{device.Driver(), std::move(driver_override)};
}

bool IsDriverName(std::string_view driver) {
  return !driver.empty() && driver.size() <= 255 &&
         std::none_of(driver.begin(), driver.end(),
                      [](char c) { return c == '/' || c <= ' ' || c > '~'; });
}

std::string DriverOrNone(const std::optional<std::string>& driver) {
  return driver ? *driver : "no driver";
}

Result<void> CheckDriverLoaded(const BusDevice& device, const std::string& driver) {
  const std::string path = device.paths.BusDriver(device.bus, driver);
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) return {};
  return Fail(Status::NOT_FOUND,
              "driver '" + driver + "' is not loaded (modprobe " + driver + "): no " + path,
              device.name);
}

Result<void> BindDriver(const BusDevice& device, const std::string& driver,
                        const DriverBinding& current, const std::string& what) {
  const std::string& object = device.name;
  const std::string path = device.Path();
  if (current.driver) {
    auto unbound = WriteAttribute(path + "/driver/unbind", object, object);
    if (!unbound) return Wrap(unbound.error(), what + ": unbind from " + *current.driver);
  }
  if (auto written = WriteAttribute(path + "/driver_override", driver, object); !written) {
    return RollBack(device, current, Wrap(written.error(), what + ": set driver_override"));
  }
  if (auto probed = WriteAttribute(device.paths.DriversProbe(device.bus), object, object);
      !probed) {
    return RollBack(device, current, Wrap(probed.error(), what + ": probe"));
  }
  const std::optional<std::string> bound = device.Driver();
  if (bound != driver) {
    return RollBack(device, current,
                    Fail(Status::NOT_SUPPORTED,
                         what + ": the driver declined the device (now bound to " +
                             DriverOrNone(bound) + "); the kernel log (dmesg) says why",
                         object));
  }
  return {};
}

Result<void> UnbindDriver(const BusDevice& device, const std::string& driver,
                          const std::string& what) {
  auto unbound = WriteAttribute(device.Path() + "/driver/unbind", device.name, device.name);
  if (!unbound) return Wrap(unbound.error(), what + " from " + driver);
  return {};
}

Result<void> RestoreDriver(const BusDevice& device, const DriverBinding& previous,
                           const std::string& what) {
  const std::string& object = device.name;
  const std::string path = device.Path();
  const std::optional<std::string> current = device.Driver();
  auto current_override = device.DriverOverride();
  if (!current_override) return Wrap(current_override.error(), what);
  if (current == previous.driver && *current_override == previous.driver_override) return {};
  if (previous.driver) {
    if (auto loaded = CheckDriverLoaded(device, *previous.driver); !loaded) {
      return Wrap(loaded.error(), what);
    }
  }
  if (current) {
    auto unbound = WriteAttribute(path + "/driver/unbind", object, object);
    if (!unbound) return Wrap(unbound.error(), what + ": unbind from " + *current);
  }
  // An empty line clears driver_override.
  auto written =
      WriteAttribute(path + "/driver_override", previous.driver_override.value_or("\n"), object);
  if (!written) return Wrap(written.error(), what + ": restore driver_override");
  // A device that had no driver stays without: probing could bind one that
  // was loaded since.
  if (!previous.driver) return {};
  if (auto probed = WriteAttribute(device.paths.DriversProbe(device.bus), object, object);
      !probed) {
    return Wrap(probed.error(), what + ": probe");
  }
  const std::optional<std::string> bound = device.Driver();
  if (bound != previous.driver) {
    return Fail(Status::BAD_STATE,
                what + ": the device did not bind again (now bound to " + DriverOrNone(bound) +
                    "); the kernel log (dmesg) says why",
                object);
  }
  return {};
}

}  // namespace udrv::sysfs
