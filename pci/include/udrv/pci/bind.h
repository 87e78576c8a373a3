// Binding a PCI function to a kernel driver from userspace, and undoing it.
//
// A driver reaches its device through vfio-pci (vfio.h) or uio_pci_generic
// (uio.h), so the function must first be taken from whatever driver holds it.
// The binding itself is every bus's (udrv/sysfs/bind.h: driver_override and
// drivers_probe); what is PCI's here is the IOMMU group check around it.
//
// VFIO gives a whole IOMMU group to one user, and opens it only when the
// group is viable: every member bound to vfio-pci (or a variant driver such
// as mlx5_vfio_pci), to a driver that manages DMA itself (pci-stub,
// pcieport), or to none. BindDriver checks that before it binds a function to
// vfio-pci, and CheckGroupViability reports it, naming the members that block.
//
// Everything here writes sysfs and needs root; `paths` lets tests run on a
// tree of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/pci/address.h"
#include "udrv/sysfs/paths.h"

namespace udrv::pci {

inline constexpr std::string_view kVfioPciDriver = "vfio-pci";
inline constexpr std::string_view kUioPciDriver = "uio_pci_generic";

// What BindDriver changed, for RestoreDriver. Plain values, so busctl can
// store it as a rollback record and restore from another process.
struct BindRecord {
  Address address;
  std::optional<std::string> previous_driver;    // bound before; nullopt: none
  std::optional<std::string> previous_override;  // driver_override before; nullopt: none
  std::string driver;                            // bound now ("uio" already resolved)
};

// The kernel's name for `driver`: "uio" is short for uio_pci_generic; any
// other name is returned as it is.
std::string CanonicalDriverName(std::string_view driver);

// Binds `address` to `driver` ("vfio-pci", "uio" or "uio_pci_generic", or any
// PCI driver) and returns what to restore. When it is bound to `driver`
// already, nothing changes and the record restores to that same state.
// Errors:
//   NOT_FOUND       the driver is not loaded (no bus/pci/drivers/NAME)
//   IO_NOT_PRESENT  no such function in sysfs
//   INVALID_ARGS    `driver` is not a driver name
//   NOT_SUPPORTED   vfio-pci for a function outside any IOMMU group (no
//                   IOMMU, or booted without one; VFIO's no-IOMMU mode is not
//                   supported), or the driver's probe declined the function
//   BAD_STATE       vfio-pci while another member of the group blocks it;
//                   the message names each ("0000:00:1f.2 bound to ahci")
//   from a write    which write failed, with its errno
// On a failure after the function was unbound, the previous state is
// restored first (the message says so if that failed too).
Result<BindRecord> BindDriver(const Address& address, const std::string& driver,
                              const sysfs::LinuxPaths& paths = {});

// Takes `address` from its driver (the driver's `unbind` file), leaving
// driver_override as it is, and returns what to restore: a BindRecord with
// an empty `driver`. Nothing changes when no driver holds the function.
// IO_NOT_PRESENT when there is no such function; a failed write says which.
Result<BindRecord> UnbindDriver(const Address& address, const sysfs::LinuxPaths& paths = {});

// Puts back what `record` (of BindDriver or UnbindDriver) changed: unbinds the function from its current
// driver, restores driver_override (clears it when there was none) and, when
// a driver held the function before, probes so that it binds again and checks
// that it did. Nothing happens when the function is in the recorded state
// already. NOT_FOUND when the previous driver is no longer loaded.
Result<void> RestoreDriver(const BindRecord& record, const sysfs::LinuxPaths& paths = {});

// Whether the IOMMU group of `address` is usable by VFIO once `address` is
// bound to vfio-pci: its other members must be unbound or bound to a driver
// for which DriverKeepsGroupViable holds.
struct GroupViability {
  uint32_t group = 0;
  bool viable = false;
  // Every PCI function of the group, `address` included, sorted, each with
  // its current driver ("" when unbound).
  std::vector<std::pair<Address, std::string>> members;
  // One per blocking member: "0000:00:1f.2 bound to ahci". A group can hold
  // devices of other buses (arm64 platform devices); those are named as sysfs
  // names them.
  std::vector<std::string> blockers;
};
// NOT_SUPPORTED when the function has no IOMMU group and the system has no
// IOMMU; NOT_FOUND when an IOMMU exists but has no group for the function yet
// (arm64 SMMUv3 makes it when a driver first probes the function);
// IO_NOT_PRESENT for a function not in sysfs.
Result<GroupViability> CheckGroupViability(const Address& address,
                                           const sysfs::LinuxPaths& paths = {});

// vfio-pci and its variant drivers (names ending in vfio-pci / vfio_pci),
// pci-stub and pcieport: drivers the kernel lets share a group with VFIO.
bool DriverKeepsGroupViable(std::string_view driver);

}  // namespace udrv::pci
