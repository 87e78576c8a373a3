// Bus transaction initiators and pinned memory tokens, as Zircon's
// zx_bti_pin / zx_pmt_unpin.
//
// A Bti is the DMA view of one device: Pin makes a range of a VMO reachable
// by the device and returns a Pmt holding the device addresses. Two kinds:
//
//  - Over an IOMMU domain (Create): Pin maps the pages into the device's
//    domain. Every pin is IOVA-contiguous: the pages are mapped at one run of
//    IOVAs with ONE map call, whatever their physical layout. So CONTIGUOUS
//    works for any VMO here, and the per-page addresses of a pin without it
//    are simply iova, iova + page, ...
//  - Physical (CreatePhysical), for routes without an IOMMU: device
//    addresses are the physical addresses of the pages, and the device
//    reaches all memory, pinned or not. Only contiguous VMOs (one huge page)
//    can be pinned.
//  - Remote (CreateRemote), in an isolated driver host: the process that
//    owns the IOMMU pins. Pin checks its arguments here, then sends the VMO
//    to that process (RemotePinner), which pins it through its own Bti; the
//    host never holds the IOMMU, so its device reaches only memory it shared.
//
// Lifetime, as in Zircon: Pmt::Unpin unmaps. A Pmt destroyed without Unpin
// is quarantined: it stays mapped and its memory stays alive (the device may
// still be writing to it) until Bti::ReleaseQuarantine, or until the last
// Bti handle and every Pmt are gone.
//
// Bti and Pmt are handles with rights, as Zircon's (kDefaultBtiRights,
// kDefaultPmtRights): Duplicate only narrows, Pin needs MAP, GetInfo
// INSPECT, ReleaseQuarantine WRITE. A Pmt has no DUPLICATE right: one
// handle owns each pin. Across processes a host's BTI stays a name the root
// bus checks (host/), not a transferred handle. Thread safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "udrv/core/handle.h"
#include "udrv/core/result.h"
#include "udrv/core/rights.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/iommu.h"
#include "udrv/dma/iova_allocator.h"

namespace udrv::dma {

// Pin options, with the ZX_BTI_* values. PERM_* are the device's view:
// PERM_READ lets the device read the memory (needs the VMO's READ right),
// PERM_WRITE lets it write (needs WRITE).
inline constexpr uint32_t kBtiPermRead = 1u << 0;
inline constexpr uint32_t kBtiPermWrite = 1u << 1;
inline constexpr uint32_t kBtiPermExecute = 1u << 2;
inline constexpr uint32_t kBtiCompress = 1u << 3;
inline constexpr uint32_t kBtiContiguous = 1u << 4;

struct BtiInfo {
  // The contiguity COMPRESS guarantees per address: the page size (as
  // Zircon's, for both kinds).
  uint64_t minimum_contiguity = 0;
  // The device-address span the Bti can use: the top of the IOMMU's IOVA
  // ranges, or the DMA address limit when that is lower. A physical Bti:
  // the DMA address limit.
  uint64_t aspace_size = 0;
  uint64_t pmo_count = 0;         // live pins (quarantined ones included)
  uint64_t quarantine_count = 0;  // pins dropped without Unpin
};

class Pmt;
class BtiObject;
class PmtObject;
std::string DescribeObject(const BtiObject& object);
std::string DescribeObject(const PmtObject& object);

// What a remote Bti pins through: in a driver host, its connection to the
// root bus that owns the device's IOMMU (pci/isolation.h). Calls may come
// from any thread.
class RemotePinner {
 public:
  virtual ~RemotePinner() = default;
  struct RemotePin {
    uint64_t id = 0;  // the pin's name on the remote side
    std::vector<uint64_t> addresses;
  };
  // Pins [offset, offset+size) of `vmo`, whose arguments Bti::Pin checked.
  virtual Result<RemotePin> Pin(uint32_t options, const Vmo& vmo, uint64_t offset,
                                uint64_t size) = 0;
  virtual Result<void> Unpin(uint64_t id) = 0;
  // The Pmt went without Unpin: the remote side quarantines the pin.
  virtual void Quarantine(uint64_t id) = 0;
  virtual Result<BtiInfo> GetInfo() = 0;
  virtual Result<void> ReleaseQuarantine() = 0;
};

// The explicit consent a physical Bti needs: without an IOMMU a device that
// DMAs can read and write ALL memory of the machine, not only the pins.
struct UnsafePhysicalDma {
  bool device_may_reach_all_memory = false;
};

class Bti : public Handle<Bti, BtiObject> {
 public:
  Bti() = default;
  // `dma_limit`: the device's last reachable address + 1 (its "DMA mask"
  // plus one: 1 << 32 for a 32-bit device, 1 << 28 for QEMU's edu);
  // kNoDmaLimit for a device that reaches 64 bits. INVALID_ARGS for a null
  // domain or a limit below one page.
  static Result<Bti> Create(std::shared_ptr<IommuDomain> domain, uint64_t dma_limit = kNoDmaLimit,
                            std::string name = "bti");

  // A Bti without an IOMMU (the UIO and /dev/mem routes): device addresses
  // are physical addresses, read from /proc/self/pagemap, of locked huge
  // pages (contiguous VMOs only: ordinary pages may be moved by the kernel
  // while the device still uses the old address). ACCESS_DENIED without
  // `consent.device_may_reach_all_memory`, or without CAP_SYS_ADMIN (the
  // kernel hides physical frame numbers from everyone else), saying which;
  // INVALID_ARGS for a limit below one page.
  //
  // Huge pages are never swapped nor compacted. The kernel still moves one
  // for memory hot-remove, a NUMA migration the process asks for
  // (move_pages, mbind), or to assemble a gigantic page or CMA area
  // (alloc_contig_range); a machine that DMAs this way must avoid those
  // while devices run. No IOMMU means no protection either: a device
  // programmed with a wrong address writes wherever it points.
  //
  // `cpu_minus_bus`: where the device's bus sees memory elsewhere than the
  // CPU does (a device tree's `dma-ranges`: a Raspberry Pi 3's peripherals
  // reach RAM at 0xc0000000 + physical), the CPU address minus the bus
  // address. Pins give bus addresses; a page the bus cannot reach is
  // OUT_OF_RANGE, as one past the limit, which is a bus address too.
  static Result<Bti> CreatePhysical(UnsafePhysicalDma consent, uint64_t dma_limit = kNoDmaLimit,
                                    std::string name = "physical-bti", int64_t cpu_minus_bus = 0);

  // A Bti whose pins `pinner` makes in another process (see the top of
  // this file). INVALID_ARGS for a null pinner.
  static Result<Bti> CreateRemote(std::shared_ptr<RemotePinner> pinner,
                                  std::string name = "remote-bti");

  // True for a CreatePhysical Bti: its pins need contiguous VMOs.
  bool is_physical() const;

  // Pins [offset, offset+size) of a paged or contiguous VMO (zx_bti_pin).
  // Needs MAP on the Bti. Errors as Zircon: INVALID_ARGS for no
  // PERM_READ/PERM_WRITE, EXECUTE (devices here do not fetch instructions),
  // COMPRESS with CONTIGUOUS, an unknown option bit, an unaligned offset or
  // size, or size 0;
  // OUT_OF_RANGE past the VMO's end; ACCESS_DENIED when the VMO handle lacks
  // MAP or the READ/WRITE right the permissions need; NOT_SUPPORTED for a
  // physical VMO (device memory is not DMA memory); NO_RESOURCES when the
  // pin would pass RLIMIT_MEMLOCK (naming the limit and the amount needed),
  // when no IOVAs below the DMA limit are free, or when the IOMMU is out of
  // mappings.
  // A physical Bti adds: NOT_SUPPORTED for a paged VMO (saying what to use
  // instead); OUT_OF_RANGE when the memory lies at or above the DMA limit
  // (naming the address and the limit); ACCESS_DENIED when the process lost
  // CAP_SYS_ADMIN since (pagemap shows no frame numbers).
  // Addresses: CONTIGUOUS: one; COMPRESS: one per minimum_contiguity;
  // otherwise one per page.
  Result<Pmt> Pin(uint32_t options, const Vmo& vmo, uint64_t offset, uint64_t size) const;

  Result<BtiInfo> GetInfo() const;  // INSPECT

  // Unmaps and frees every quarantined pin (WRITE). On a failed unmap the
  // pin stays quarantined and the first error is returned.
  Result<void> ReleaseQuarantine() const;

 private:
  friend class Handle<Bti, BtiObject>;
  Bti(std::shared_ptr<BtiObject> object, Rights rights) : Handle(std::move(object), rights) {}
};

class Pmt : public Handle<Pmt, PmtObject> {
 public:
  Pmt() = default;

  // The device addresses (see Bti::Pin for how many); none for an invalid
  // or unpinned Pmt.
  std::span<const uint64_t> addresses() const;
  uint64_t size() const;

  // Unmaps the pin and frees its IOVAs (zx_pmt_unpin), and, as there,
  // consumes the handle. The device must have stopped using the memory.
  // BAD_HANDLE on an unpinned or moved-from Pmt; when the IOMMU refuses the
  // unmap the Pmt stays pinned (and this handle valid).
  Result<void> Unpin();

 private:
  friend class Handle<Pmt, PmtObject>;
  friend class BtiObject;
  Pmt(std::shared_ptr<PmtObject> object, Rights rights) : Handle(std::move(object), rights) {}
};

}  // namespace udrv::dma
