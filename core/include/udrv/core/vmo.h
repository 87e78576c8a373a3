// Virtual memory objects. Three kinds, as in Zircon:
//  - paged: ordinary memory, a memfd; it can be read, written, mapped, shared
//    with another process and pinned for DMA.
//  - physical: a device's memory region, minted by a root bus as an fd +
//    offset + size and the route that made it (a VFIO region, a sysfs
//    resource file, a UIO map, a /dev/mem window). Read and Write are refused:
//    seed 001 says drivers must map device memory and use MMIO accessors.
//  - contiguous: one hugetlb page (2 MiB or 1 GiB), physically contiguous.
//
// Cache policy follows what the route can honour: a request it cannot is an
// error, never a silent downgrade.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "udrv/core/handle.h"
#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"

namespace udrv {

// Values as ZX_CACHE_POLICY_*.
enum class CachePolicy : uint32_t {
  CACHED = 0,
  UNCACHED = 1,
  UNCACHED_DEVICE = 2,
  WRITE_COMBINING = 3,
};
std::string_view CachePolicyName(CachePolicy policy);
// Bit (1 << policy) for each policy a route can honour.
using CachePolicySet = uint32_t;
constexpr CachePolicySet CachePolicyBit(CachePolicy p) { return 1u << static_cast<uint32_t>(p); }

enum class VmoKind : uint32_t { PAGED = 0, PHYSICAL = 1, CONTIGUOUS = 2 };

// Vmo::OpRange operations, with ZX_VMO_OP_* values.
enum class VmoOp : uint32_t {
  CACHE_SYNC = 6,              // make writes visible to instruction fetch (READ)
  CACHE_INVALIDATE = 7,        // performed as CACHE_CLEAN_INVALIDATE (WRITE); see OpRange
  CACHE_CLEAN = 8,             // write dirty lines back to memory (READ)
  CACHE_CLEAN_INVALIDATE = 9,  // write back, then drop the lines (READ)
};

// How a physical VMO reaches the device's memory. The route fixes the
// cache policies a mapping can have.
enum class PhysicalRoute : uint32_t {
  VFIO_REGION = 0,      // vfio-pci region: always non-cached (UNCACHED_DEVICE)
  SYSFS_RESOURCE = 1,   // /sys/bus/pci/devices/*/resourceN: UNCACHED_DEVICE
  SYSFS_RESOURCE_WC = 2,// resourceN_wc (prefetchable BARs): WRITE_COMBINING
  UIO_MAP = 3,          // /dev/uioN map: UNCACHED_DEVICE
  DEV_MEM = 4,          // /dev/mem with O_SYNC: UNCACHED_DEVICE
  TEST_FILE = 5,        // an ordinary file standing in for device memory in tests: CACHED
};
std::string_view PhysicalRouteName(PhysicalRoute route);

// What a physical VMO's fd reaches besides the VMO's region. The route that
// makes the VMO says, since only it knows its fd; SendHandle sends a
// physical VMO to another process only when it is REGION_ONLY or
// DEVICE_ONLY (a service sends the latter only to the driver that was
// given the whole device).
enum class FdReach : uint32_t {
  BEYOND_REGION = 0,  // e.g. a VFIO device fd (config space too), /dev/mem, uio_pci_generic
  REGION_ONLY = 1,    // e.g. a sysfs resourceN file: that BAR and nothing else
  DEVICE_ONLY = 2,    // the device's regions and interrupt, nothing else: udrv's UIO platform module
};
// The cache policies `route` can honour.
CachePolicySet PhysicalRoutePolicies(PhysicalRoute route);

size_t PageSize();

class VmoObject;
std::string DescribeObject(const VmoObject& object);

class Vmo : public Handle<Vmo, VmoObject> {
 public:
  Vmo() = default;

  // A paged VMO of `size` bytes rounded up to the page size (zx_vmo_create).
  // `name` appears in errors and in /proc/PID/maps as memfd:NAME.
  static Result<Vmo> Create(uint64_t size, std::string name = "vmo");

  // A device region the caller already reaches through `fd` (a root bus does
  // this; drivers receive the VMO). `offset` and `size` must be page aligned,
  // size non-zero. The initial cache policy is the route's natural one.
  // `reach` is what else `fd` reaches: whether the VMO may leave this
  // process.
  static Result<Vmo> CreatePhysical(UniqueFd fd, uint64_t offset, uint64_t size,
                                    PhysicalRoute route, std::string name,
                                    FdReach reach = FdReach::BEYOND_REGION);

  // One huge page of at least `size` bytes, from the smallest hugetlb pool
  // that fits. NO_RESOURCES names the pool (nr_hugepages) when it has no free page.
  static Result<Vmo> CreateContiguous(uint64_t size, std::string name = "contiguous");

  // Rebuilds a VMO on the receiving side of a handle transfer; the fd is
  // already narrowed to what `rights` allow.
  struct Description {
    VmoKind kind = VmoKind::PAGED;
    uint64_t size = 0;
    uint64_t offset = 0;  // physical: where the region starts in the fd
    PhysicalRoute route = PhysicalRoute::TEST_FILE;
    CachePolicy cache_policy = CachePolicy::CACHED;
    std::string name;
    FdReach reach = FdReach::BEYOND_REGION;  // physical: what else the fd reaches
  };
  static Result<Vmo> FromDescription(UniqueFd fd, const Description& description, Rights rights);
  Result<Description> Describe() const;  // needs INSPECT

  // Copies in and out of a paged or contiguous VMO (READ / WRITE).
  // Physical: NOT_SUPPORTED. Past the end: OUT_OF_RANGE.
  Result<void> Read(std::span<std::byte> out, uint64_t offset) const;
  Result<void> Write(std::span<const std::byte> in, uint64_t offset) const;

  Result<uint64_t> GetSize() const;  // GET_PROPERTY
  Result<VmoKind> GetKind() const;   // GET_PROPERTY

  // SET_PROPERTY|MAP. BAD_STATE while mapped; NOT_SUPPORTED (naming the
  // route) for a policy the backing cannot honour.
  Result<void> SetCachePolicy(CachePolicy policy) const;
  Result<CachePolicy> GetCachePolicy() const;  // GET_PROPERTY

  // Cache maintenance on [offset, offset+size) (zx_vmo_op_range), for DMA
  // buffers: CLEAN before a device reads, CLEAN_INVALIDATE before the CPU
  // reads what a device wrote. Rights as Zircon: WRITE for CACHE_INVALIDATE
  // (it may drop dirty lines), READ for the others. size 0: INVALID_ARGS;
  // past the end: OUT_OF_RANGE; unknown op: INVALID_ARGS. Physical VMOs:
  // NOT_SUPPORTED, since device memory is mapped uncached and has nothing to
  // maintain.
  // CACHE_INVALIDATE cleans too: arm64 EL0 cannot invalidate without
  // cleaning (see CacheFlush). For a DMA read buffer the CPU has not written
  // since its last clean the result is the same.
  // The range need not be mapped by the caller: it is mapped read-only for
  // the duration of the call, and the lines are maintained through that
  // alias, which reaches the same physical lines (x86 and arm64 data caches
  // behave as physically tagged).
  Result<void> OpRange(VmoOp op, uint64_t offset, uint64_t size) const;

  // For Vmar::Map, busctl and transfers: the fd backing this VMO and the
  // offset of VMO byte 0 within it. Needs MAP.
  struct Backing {
    int fd;
    uint64_t fd_offset;
  };
  Result<Backing> GetBacking() const;

 private:
  friend class Handle<Vmo, VmoObject>;
  friend class Vmar;
  Vmo(std::shared_ptr<VmoObject> object, Rights rights) : Handle(std::move(object), rights) {}
};

}  // namespace udrv
