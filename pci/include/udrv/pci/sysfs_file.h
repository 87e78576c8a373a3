// Reading sysfs attribute files: the one reader for every tree udrv and
// busctl look at, the kernel's /sys or one that is not (--sysfs-root, a
// replayed snapshot, a tree a bug report brought). An attribute is a
// regular file; anything else where one belongs is refused before it is
// opened for reading: a FIFO would block the reader forever, and opening a
// device node runs its driver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "udrv/core/result.h"

namespace udrv::pci {

struct SysfsFileContents {
  std::string bytes;
  // st_size: what the file says it holds. sysfs says 4096 for a one-line
  // attribute, and the whole size of config space whatever a user may read.
  uint64_t size = 0;
};

// The file's bytes, read to EOF (sysfs gives short reads) but no more than
// `max`. The open's errno when it cannot be opened (ENOENT: no such
// attribute); EISDIR for a directory; NOT_FILE naming the file for a FIFO,
// device node or socket.
Result<SysfsFileContents> ReadSysfsFile(const std::string& path, size_t max);

// A one-line attribute ("0x8086\n", at most a page): its text without the
// trailing newline and spaces.
Result<std::string> ReadSysfsAttribute(const std::string& path);

// The last component of a link's target ("vfio-pci" for .../driver);
// nullopt when `path` is no link.
std::optional<std::string> ReadLinkName(const std::string& path);

// The IOMMU group a function's `iommu_group` link names: nullopt without the
// link (no IOMMU, or no group yet). IO_INVALID naming the link when it is
// there but leads to no group: it cannot be followed (a loop: ELOOP), or its
// target is no group number. A link to a group directory that a recorded
// tree left out still names its group.
Result<std::optional<uint32_t>> ReadIommuGroupLink(const std::string& device_path);

}  // namespace udrv::pci
