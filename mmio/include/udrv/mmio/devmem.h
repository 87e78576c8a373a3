// Device registers through /dev/mem: the route for devices no bus module
// serves (a device-tree device without the UIO module, an ACPI device),
// and busctl's register access. Opened O_SYNC, so the mapping is uncached
// (Device-nGnRnE on arm64, UC- on x86). Both the platform and the ACPI
// bus open their regions here; neither includes the other.
//
// Debian's kernels are STRICT_DEVMEM + IO_STRICT_DEVMEM: a region a kernel
// driver has claimed cannot be mapped (EPERM) until that driver lets go.
// OpenDevmemRegion tries a mapping first, so that refusal comes here, with
// the driver to unbind, not later at a driver's Map.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "udrv/core/result.h"
#include "udrv/core/vmo.h"
#include "udrv/sysfs/paths.h"

namespace udrv::mmio {

// One register region: a physical VMO of whole pages and where in it the
// region starts (a region need not be page aligned: a PL011 at 0x3f201000
// of 0x200 bytes sits inside one page).
struct PhysicalRegion {
  Vmo vmo;
  uint64_t offset = 0;  // of the region within the VMO
  uint64_t size = 0;    // of the region, as the firmware gives it
  uint64_t phys = 0;    // its CPU physical address
};

// The kernel's device for the region, whose driver a refusal names.
struct RegionHolder {
  std::string device;                 // "amba device 9010000.pl031", "pnp device 00:04"
  std::optional<std::string> driver;  // its bound driver, when one is
};

// The CPU physical region [phys, phys + size) as a physical VMO of the
// whole pages around it (route DEV_MEM) and the region's offset in it.
// `object` names the device in errors; `holder` is the kernel's device for
// it, when there is one. INVALID_ARGS for an empty or wrapping region;
// ACCESS_DENIED when the kernel refuses the mapping (a driver holds it, or
// the region is RAM), saying what to unbind; the open's errno otherwise
// (EACCES: not root).
Result<PhysicalRegion> OpenDevmemRegion(const sysfs::LinuxPaths& paths, uint64_t phys, uint64_t size,
                                        const std::string& object, const RegionHolder* holder);

}  // namespace udrv::mmio
