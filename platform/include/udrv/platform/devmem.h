// Device registers through /dev/mem: the route for platform devices when
// nothing better exists (no vfio-platform, no UIO module), and busctl's
// register access. Opened O_SYNC, so the mapping is uncached
// (Device-nGnRnE on arm64, UC- on x86).
//
// Debian's kernels are STRICT_DEVMEM + IO_STRICT_DEVMEM: a region a kernel
// driver has claimed cannot be mapped (EPERM) until that driver lets go.
// OpenDevmemRegion tries a mapping first, so that refusal comes here, with
// the driver to unbind, not later at a driver's Map.
#pragma once

#include <cstdint>
#include <string>

#include "udrv/core/result.h"
#include "udrv/platform/device.h"
#include "udrv/platform/kernel_devices.h"
#include "udrv/sysfs/paths.h"

namespace udrv::platform {

// The CPU physical region [phys, phys + size) as an Mmio: a physical VMO of
// the whole pages around it (route DEV_MEM) and the region's offset in it.
// `object` names the device in errors; `holder` is the kernel's device for
// it, when there is one, whose driver the refusal then names.
// INVALID_ARGS for an empty or wrapping region; ACCESS_DENIED when the
// kernel refuses the mapping (a driver holds it, or the region is RAM),
// saying what to unbind; the open's errno otherwise (EACCES: not root).
Result<Mmio> OpenDevmemRegion(const sysfs::LinuxPaths& paths, uint64_t phys, uint64_t size,
                              const std::string& object, const KernelDevice* holder);

}  // namespace udrv::platform
