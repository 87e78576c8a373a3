// A memory BAR through its sysfs resource file (private to udrv_pci): the
// physical-VMO route of the UIO device, fit for any route that reaches BARs
// through sysfs. `resourceN` maps uncached (UNCACHED_DEVICE);
// `resourceN_wc`, which the kernel makes only for prefetchable BARs, maps
// write-combining.
#pragma once

#include <fcntl.h>

#include <cerrno>
#include <string>

#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"
#include "udrv/pci/sysfs.h"

namespace udrv::pci::internal {

// The file name of BAR `index`'s resource file.
inline std::string ResourceFileName(uint32_t index, bool write_combining) {
  return "resource" + std::to_string(index) + (write_combining ? "_wc" : "");
}

// Opens memory BAR `bar` through its resource file in `device_dir_fd` (the
// function's sysfs directory) with `access_mode` (O_RDWR or O_RDONLY) and
// makes it a physical VMO. A failed open keeps its errno (ENOENT: no such
// file, or the function is gone) for the caller to interpret.
inline Result<Vmo> OpenResourceVmo(int device_dir_fd, const BarInfo& bar, bool write_combining,
                                   int access_mode, const std::string& object) {
  const std::string file = ResourceFileName(bar.index, write_combining);
  // The kernel maps a BAR smaller than a page as the page around it, but the
  // resource file's size is the BAR's, and a physical VMO may not run past
  // its file.
  if (bar.size < PageSize()) {
    return Fail(Status::NOT_SUPPORTED,
                "BAR " + std::to_string(bar.index) + " is " + std::to_string(bar.size) +
                    " bytes, less than a page: " + file + " cannot back a physical VMO",
                object);
  }
  UniqueFd fd(::openat(device_dir_fd, file.c_str(), access_mode | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "open " + file, object);
  // BAR sizes are powers of two, so one of a page or more is whole pages.
  return Vmo::CreatePhysical(
      std::move(fd), 0, bar.size,
      write_combining ? PhysicalRoute::SYSFS_RESOURCE_WC : PhysicalRoute::SYSFS_RESOURCE,
      object + " BAR " + std::to_string(bar.index) + (write_combining ? " (write-combining)" : ""),
      FdReach::REGION_ONLY);
}

}  // namespace udrv::pci::internal
