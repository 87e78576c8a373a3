// Device registers and the interrupt through udrv's UIO platform module
// (platform/kmod): the module, bound by driver_override to a platform or
// AMBA device, registers /dev/uioN with one map per memory resource of the
// device (widened to whole pages) and the device's first interrupt. Both
// the platform and the ACPI bus open their uio route here; neither
// includes the other.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/mmio/devmem.h"
#include "udrv/sysfs/paths.h"

namespace udrv::mmio {

// The driver name the module registers on the platform and AMBA buses.
inline constexpr std::string_view kUioPlatformDriverName = "udrv-uio-platform";
// The module's name for modprobe/insmod, as errors mention it.
inline constexpr std::string_view kUioPlatformModuleName = "udrv_uio_platform";

// One map of a UIO device: sys/class/uio/uioN/maps/mapM.
struct UioMap {
  uint32_t index = 0;
  uint64_t addr = 0;  // page aligned where the module aligned it
  uint64_t size = 0;
  uint64_t offset = 0;  // of the region within its first page
};

// The maps under `uio_dir` (sys/.../uio/uioN); none for a device without
// memory. IO_INVALID for an attribute that is no 0x number.
Result<std::vector<UioMap>> ReadUioMaps(const std::string& uio_dir, const std::string& object);

// The /dev/uioN the module registered for one kernel device, open.
class UioDevice {
 public:
  // The UIO device under `device_dir` (sys/bus/BUS/devices/NAME, bound to
  // the module already), its maps read and its interrupt masked when
  // `has_interrupt`: interrupts start masked, as on every route, until a
  // driver maps one. `object` names the device in errors.
  static Result<UioDevice> Open(const sysfs::LinuxPaths& paths, const std::string& device_dir,
                                bool has_interrupt, std::string object);

  UioDevice(UioDevice&&) = default;
  UioDevice& operator=(UioDevice&&) = default;

  const std::string& path() const { return path_; }  // "/dev/uio0"
  int fd() const { return fd_.get(); }
  const std::vector<UioMap>& maps() const { return maps_; }

  // The region [phys, phys + size) through the map whose pages hold it,
  // as a VMO of its own open file (route UIO_MAP). `name` names the VMO.
  // NOT_FOUND when no map holds its start, OUT_OF_RANGE when the map is
  // shorter than the region.
  Result<PhysicalRegion> MapRegion(uint64_t phys, uint64_t size, const std::string& name) const;

  // The device's interrupt (the module serves its first only), unmasked;
  // each ack unmasks it again, as the module masks it when it fires (it
  // may be level triggered).
  Result<Interrupt> GetInterrupt(std::string name) const;
  // The interrupt masked at its controller until GetInterrupt again.
  Result<void> MaskInterrupt() const;

 private:
  UioDevice(UniqueFd fd, std::string path, std::vector<UioMap> maps, std::string object)
      : fd_(std::move(fd)), path_(std::move(path)), maps_(std::move(maps)), object_(std::move(object)) {}

  UniqueFd fd_;
  std::string path_;
  std::vector<UioMap> maps_;
  std::string object_;
};

}  // namespace udrv::mmio
