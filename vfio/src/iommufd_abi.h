// The slice of the iommufd / VFIO cdev kernel ABI the iommufd route uses,
// written out from the kernel's UAPI documentation (include/uapi/linux/
// iommufd.h and vfio.h, Linux 6.6+) because the 6.1 headers udrv builds
// against have neither linux/iommufd.h nor VFIO_DEVICE_BIND_IOMMUFD. Names
// differ from the kernel's so a newer <linux/vfio.h> cannot clash; where the
// system headers do define an ioctl, the numbers are checked against it.
// Private to udrv_vfio.
#pragma once

#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace udrv::vfio::abi {

// iommufd: every ioctl is _IO(';', 0x80 + command); the struct's first
// field is its size, which is how the kernel versions them.
inline constexpr unsigned kIommufdType = ';';
inline constexpr unsigned kIommufdCmdIoasAlloc = 0x81;
inline constexpr unsigned kIommufdCmdIoasIovaRanges = 0x84;
inline constexpr unsigned kIommufdCmdIoasMap = 0x85;
inline constexpr unsigned kIommufdCmdIoasUnmap = 0x86;

struct IommuIoasAlloc {
  uint32_t size;
  uint32_t flags;  // must be 0
  uint32_t out_ioas_id;
};
static_assert(sizeof(IommuIoasAlloc) == 12);
inline constexpr unsigned long kIommuIoasAlloc = _IO(kIommufdType, kIommufdCmdIoasAlloc);

struct IommuIovaRange {
  alignas(8) uint64_t start;
  alignas(8) uint64_t last;  // inclusive
};
static_assert(sizeof(IommuIovaRange) == 16);

// num_iovas in: how many IommuIovaRange entries `allowed_iovas` points to;
// out: how many exist (EMSGSIZE when they did not fit).
struct IommuIoasIovaRanges {
  uint32_t size;
  uint32_t ioas_id;
  uint32_t num_iovas;
  uint32_t reserved;
  alignas(8) uint64_t allowed_iovas;  // user pointer
  alignas(8) uint64_t out_iova_alignment;
};
static_assert(sizeof(IommuIoasIovaRanges) == 32);
inline constexpr unsigned long kIommuIoasIovaRanges = _IO(kIommufdType, kIommufdCmdIoasIovaRanges);

// Maps user memory into an IOAS. With FIXED_IOVA the mapping lands at `iova`
// (the Bti's allocator picks it); READABLE/WRITEABLE are the device's view.
inline constexpr uint32_t kIommuIoasMapFixedIova = 1u << 0;
inline constexpr uint32_t kIommuIoasMapWriteable = 1u << 1;
inline constexpr uint32_t kIommuIoasMapReadable = 1u << 2;
struct IommuIoasMap {
  uint32_t size;
  uint32_t flags;
  uint32_t ioas_id;
  uint32_t reserved;
  alignas(8) uint64_t user_va;
  alignas(8) uint64_t length;
  alignas(8) uint64_t iova;  // in with FIXED_IOVA, else out
};
static_assert(sizeof(IommuIoasMap) == 40);
inline constexpr unsigned long kIommuIoasMap = _IO(kIommufdType, kIommufdCmdIoasMap);

// Unmaps whole mappings inside [iova, iova+length); `length` comes back as
// the bytes unmapped.
struct IommuIoasUnmap {
  uint32_t size;
  uint32_t ioas_id;
  alignas(8) uint64_t iova;
  alignas(8) uint64_t length;
};
static_assert(sizeof(IommuIoasUnmap) == 24);
inline constexpr unsigned long kIommuIoasUnmap = _IO(kIommufdType, kIommufdCmdIoasUnmap);

// VFIO cdev (/dev/vfio/devices/vfioN): bind the opened device to an iommufd,
// then attach it to an IOAS (or a hardware page table) of that iommufd.
struct VfioDeviceBindIommufd {
  uint32_t argsz;
  uint32_t flags;  // 0: no VF token
  int32_t iommufd;
  uint32_t out_devid;
};
static_assert(sizeof(VfioDeviceBindIommufd) == 16);
inline constexpr unsigned long kVfioDeviceBindIommufd = _IO(VFIO_TYPE, VFIO_BASE + 18);

struct VfioDeviceAttachIommufdPt {
  uint32_t argsz;
  uint32_t flags;  // 0: the whole device, no PASID
  uint32_t pt_id;  // in: IOAS id; out: the page table actually attached
};
static_assert(sizeof(VfioDeviceAttachIommufdPt) == 12);
inline constexpr unsigned long kVfioDeviceAttachIommufdPt = _IO(VFIO_TYPE, VFIO_BASE + 19);

#ifdef VFIO_DEVICE_BIND_IOMMUFD
static_assert(kVfioDeviceBindIommufd == VFIO_DEVICE_BIND_IOMMUFD);
#endif
#ifdef VFIO_DEVICE_ATTACH_IOMMUFD_PT
static_assert(kVfioDeviceAttachIommufdPt == VFIO_DEVICE_ATTACH_IOMMUFD_PT);
#endif

}  // namespace udrv::vfio::abi
