#include "udrv/mmio/devmem.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"

namespace udrv::mmio {

Result<PhysicalRegion> OpenDevmemRegion(const sysfs::LinuxPaths& paths, uint64_t phys, uint64_t size,
                                        const std::string& object, const RegionHolder* holder) {
  const std::string what = "map " + Hex(phys) + "+" + Hex(size) + " through /dev/mem";
  uint64_t end = 0;
  if (size == 0 || __builtin_add_overflow(phys, size, &end)) {
    return Fail(Status::INVALID_ARGS, what + ": an empty or wrapping region", object);
  }
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = phys & ~(page - 1);
  uint64_t last = 0;
  if (__builtin_add_overflow(end, page - 1, &last) || first > INT64_MAX) {
    return Fail(Status::INVALID_ARGS, what + ": past the largest file offset", object);
  }
  const uint64_t span = (last & ~(page - 1)) - first;

  const std::string mem = paths.dev + "/mem";
  UniqueFd fd(::open(mem.c_str(), O_RDWR | O_SYNC | O_CLOEXEC));
  if (!fd) return FailErrno(errno, what + ": open " + mem, object);

  // IO_STRICT_DEVMEM decides at mmap: try one now, so a refusal names its cause.
  void* probe = ::mmap(nullptr, span, PROT_READ, MAP_SHARED, fd.get(), static_cast<off_t>(first));
  if (probe == MAP_FAILED) {
    const int err = errno;
    if (err != EPERM) return FailErrno(err, what + ": mmap", object);
    std::string why = ": the kernel refuses the region (IO_STRICT_DEVMEM)";
    if (holder != nullptr && holder->driver) {
      why += ", which kernel driver " + *holder->driver + " holds (" + holder->device +
             "): unbind it first";
    } else {
      why += "; no kernel driver holds the device, so the region is RAM or claimed by another driver "
             "(see /proc/iomem)";
    }
    return Fail(Status::ACCESS_DENIED, what + why, object, err);
  }
  ::munmap(probe, span);

  UDRV_TRY_ASSIGN(Vmo vmo, Vmo::CreatePhysical(std::move(fd), first, span, PhysicalRoute::DEV_MEM,
                                               object + " " + Hex(phys)));
  return PhysicalRegion{std::move(vmo), phys - first, size, phys};
}

}  // namespace udrv::mmio
