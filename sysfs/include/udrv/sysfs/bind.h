// Binding a device to a kernel driver from userspace, and undoing it, the
// same way for every bus under sys/bus/<bus>/ (pci, platform, usb): as
// driverctl does, unbind from the current driver, write the new one to the
// device's `driver_override`, ask the bus to probe it (`drivers_probe`),
// then check the `driver` link. driver_override binds one device; `new_id`
// would capture every device with the same IDs.
//
// Bus-specific checks (PCI's IOMMU group viability for vfio-pci) are the
// bus's, made around these. Everything here writes sysfs and needs root.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "udrv/core/result.h"
#include "udrv/sysfs/paths.h"

namespace udrv::sysfs {

// One device of one bus: sys/bus/<bus>/devices/<name>.
struct BusDevice {
  LinuxPaths paths;
  std::string bus;   // "pci"
  std::string name;  // "0000:00:02.0"

  std::string Path() const { return paths.BusDevice(bus, name); }
  bool Exists() const;
  // The bound driver's name; nullopt when none.
  std::optional<std::string> Driver() const;
  // driver_override: nullopt when unset (the kernel shows "(null)").
  // NOT_SUPPORTED for a kernel without it.
  Result<std::optional<std::string>> DriverOverride() const;
};

// Which driver holds a device and what its driver_override says: what a
// bind changes and a restore puts back.
struct DriverBinding {
  std::optional<std::string> driver;
  std::optional<std::string> driver_override;
};

Result<DriverBinding> ReadDriverBinding(const BusDevice& device);

// Whether `driver` is a name the kernel could have: no '/', no spaces or
// control characters, 1 to 255 bytes.
bool IsDriverName(std::string_view driver);

// NOT_FOUND when `driver` is not loaded (no sys/bus/<bus>/drivers/<driver>).
Result<void> CheckDriverLoaded(const BusDevice& device, const std::string& driver);

// Binds `device`, now as `current` says, to `driver`: unbind, override,
// probe, check. NOT_SUPPORTED when the driver's probe declined the device.
// After a failure past the unbind, `current` is restored first (the message
// says so if that failed too). `what` begins each message ("bind X to D").
Result<void> BindDriver(const BusDevice& device, const std::string& driver,
                        const DriverBinding& current, const std::string& what);

// Takes the device from `driver` (its `unbind` file), leaving driver_override.
Result<void> UnbindDriver(const BusDevice& device, const std::string& driver,
                          const std::string& what);

// Puts back `previous`: unbinds the device from its current driver,
// restores driver_override (clears it when there was none) and, when a
// driver held the device before, probes and checks that it bound again
// (BAD_STATE when not). Nothing happens when the device is in that state
// already; NOT_FOUND when the previous driver is no longer loaded.
Result<void> RestoreDriver(const BusDevice& device, const DriverBinding& previous,
                           const std::string& what);

// "vfio-pci", or "no driver".
std::string DriverOrNone(const std::optional<std::string>& driver);

}  // namespace udrv::sysfs
