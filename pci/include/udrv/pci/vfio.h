// The VFIO route: a PCI device bound to vfio-pci, behind an IOMMU.
//
// Three pieces, kept apart as in the kernel's VFIO selftests library and
// libvfn (IOMMU object, device, driver):
//   - VfioIommu: the IOMMU domain devices are attached to. Either a VFIO
//     container with the type1v2 IOMMU (/dev/vfio/vfio plus one
//     /dev/vfio/GROUP per IOMMU group), or an iommufd IOAS (/dev/iommu plus
//     the device's cdev /dev/vfio/devices/vfioN). Several devices share one
//     VfioIommu, and so one DMA address space; each device keeps it alive.
//   - VfioDevice: pci::Device over the vfio-pci device fd: config space,
//     BAR VMOs, interrupts through eventfds, reset, removal.
//   - the driver, which sees only pci::Device (and, where it cares, the
//     VfioDevice extras below).
//
//   auto bound = BindDriver(address, "vfio-pci");          // bind.h
//   auto device = OpenVfioDevice(address);
//   auto regs = (*device)->MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar);
//
// The iommufd route follows the kernel UAPI (linux/iommufd.h and the VFIO
// cdev ioctls VFIO_DEVICE_BIND_IOMMUFD / VFIO_DEVICE_ATTACH_IOMMUFD_PT, Linux
// 6.6+), with the ABI defined in a private header because the Debian 6.1
// headers udrv builds against lack it. It is chosen at run time only when the
// kernel has /dev/iommu and /dev/vfio/devices/. It is UNTESTED on a real
// kernel: Debian's kernels (6.1, 6.12, 7.x) are built without IOMMUFD, so the
// testbed guests only prove that AUTO falls back to the container and that
// asking for iommufd says why it cannot. Everything else here is tested in
// the x86_64 (VT-d) and aarch64 (SMMUv3) guests.
//
// Device removal. When the kernel wants the device back (`echo 1 >
// /sys/bus/pci/devices/BDF/remove`, or an unbind from vfio-pci) vfio-pci
// signals the device's request interrupt and blocks the remover until every
// reference to the device file is gone. A VfioDevice watches that interrupt
// on a thread of its own and, when it fires, at once:
//   - closes its device fd, and every later call on it returns IO_NOT_PRESENT;
//   - revokes the BAR VMOs it handed out (their fd now refers to /dev/null,
//     so a later Vmar::Map of them is IO_NOT_PRESENT too);
//   - destroys the Interrupts it mapped (a Wait on them returns CANCELED);
//   - fires GetRemovalRequest()'s interrupt.
// What it cannot revoke are the driver's own BAR mappings (MmioBuffers):
// each one holds the device file open. A driver must drop them when the
// removal request fires; the remover finishes as soon as it does. Until then
// the kernel keeps waiting and repeats the request every 10 s. The same holds
// for an unbind from vfio-pci (RestoreDriver): drop BAR mappings first. A
// child forked without exec inherits the device fd and the mappings and holds
// the device just the same.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/dma/bti.h"
#include "udrv/dma/iommu.h"
#include "udrv/pci/address.h"
#include "udrv/pci/device.h"
#include "udrv/sysfs/paths.h"

namespace udrv::pci {

// One range of I/O virtual addresses a device may use, last byte included.
struct IovaRange {
  uint64_t start = 0;
  uint64_t last = 0;
};

struct VfioIommuInfo {
  // Bit n set: the IOMMU maps pages of 2^n bytes (VFIO_IOMMU_GET_INFO). The
  // iommufd route reports only the IOVA alignment it needs, as that one bit.
  uint64_t iova_pgsizes = 0;
  // Where DMA may go (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE /
  // IOMMU_IOAS_IOVA_RANGES): the MSI doorbell window and reserved regions are
  // cut out (x86: 0xfee00000-0xfeefffff; arm64 virt: 0x8000000-0x80fffff).
  std::vector<IovaRange> iova_ranges;
  // DMA mappings the container can still make (type1's dma_entry_limit,
  // 65535 by default; VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL). iommufd has no such
  // limit: nullopt.
  std::optional<uint32_t> dma_avail;
};

enum class VfioIommuBackend : uint8_t {
  AUTO = 0,     // iommufd when the kernel has it, else the container
  TYPE1V2 = 1,  // /dev/vfio/vfio container with VFIO_TYPE1v2_IOMMU
  IOMMUFD = 2,  // /dev/iommu IOAS and the device's VFIO cdev (untested, see above)
};
std::string_view VfioIommuBackendName(VfioIommuBackend backend);

class VfioDevice;

// An IOMMU domain for VFIO devices. Thread safe. The DMA layer maps memory
// through it (dma::IommuDomain, what a dma::Bti pins through); devices attach
// to it when they are opened.
class VfioIommu final : public dma::IommuDomain {
 public:
  // Opens the container (or iommufd and an IOAS). `paths.dev` is where the
  // VFIO nodes live ("/dev"; tests point elsewhere). NOT_FOUND when vfio (or
  // /dev/iommu for IOMMUFD) is not there; NOT_SUPPORTED when the kernel lacks
  // the backend asked for.
  static Result<std::shared_ptr<VfioIommu>> Create(
      VfioIommuBackend backend = VfioIommuBackend::AUTO, sysfs::LinuxPaths paths = {});

  ~VfioIommu() override;

  // TYPE1V2 or IOMMUFD, never AUTO.
  VfioIommuBackend backend() const { return backend_; }

  // Page sizes, IOVA ranges and the mapping budget. A type1 container has
  // them only once a group is attached (VFIO sets the IOMMU type with the
  // first group): BAD_STATE before the first device is opened.
  Result<VfioIommuInfo> GetInfo() const;

  // "vfio container (type1v2)" / "iommufd ioas 3", for errors.
  std::string Describe() const;

  // dma::IommuDomain. Type1v2: VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA;
  // iommufd: IOMMU_IOAS_MAP with FIXED_IOVA / IOMMU_IOAS_UNMAP (untested:
  // no Debian kernel has IOMMUFD). READ/WRITE from the device's view.
  // ENOMEM is almost always RLIMIT_MEMLOCK (NO_RESOURCES, saying so);
  // type1's ENOSPC is the container's mapping budget (DMA_AVAIL) spent
  // (NO_RESOURCES naming dma_entry_limit); EEXIST an IOVA already mapped.
  // Info: GetInfo in the DMA layer's terms; dma_avail UINT32_MAX when the
  // backend has no budget.
  Result<void> Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool device_read,
                   bool device_write) override;
  Result<void> Unmap(uint64_t iova, uint64_t size) override;
  Result<dma::IommuInfo> Info() const override;

 private:
  friend class VfioDevice;
  struct Group {
    uint32_t number = 0;
    UniqueFd fd;
  };

  VfioIommu(VfioIommuBackend backend, sysfs::LinuxPaths paths, UniqueFd fd, uint32_t ioas_id);

  // The device fd of `address` (IOMMU group `group`), with the device
  // attached to this domain: the group joins the container (the first one
  // sets the IOMMU type), or the cdev is bound to iommufd and attached to the IOAS.
  // ALREADY_BOUND when this domain has the device open already: vfio-pci
  // keeps interrupts and the request eventfd per device, not per fd, so two
  // VfioDevices of one function would take them from each other.
  Result<UniqueFd> OpenDeviceFd(const Address& address, uint32_t group);
  // The device was closed (or removed): it may be opened again.
  void ReleaseDevice(const Address& address);
  Result<UniqueFd> OpenGroupDeviceFd(const Address& address, uint32_t group);
  Result<UniqueFd> OpenCdevDeviceFd(const Address& address);
  Result<VfioIommuInfo> GetType1Info() const;
  Result<VfioIommuInfo> GetIommufdInfo() const;

  const VfioIommuBackend backend_;
  const sysfs::LinuxPaths paths_;
  const UniqueFd fd_;       // the container, or iommufd
  const uint32_t ioas_id_;  // iommufd only
  mutable std::mutex mutex_;
  std::vector<Group> groups_;          // guarded by mutex_; container only
  bool iommu_set_ = false;             // guarded by mutex_; VFIO_SET_IOMMU done
  std::vector<Address> open_devices_;  // guarded by mutex_
};

// A PCI function bound to vfio-pci. Open with OpenVfioDevice.
class VfioDevice final : public Device {
 public:
  // The device must already be bound to vfio-pci (BAD_STATE naming its
  // driver otherwise: use BindDriver), be in an IOMMU group (NOT_SUPPORTED
  // without one), and that group must be viable (BAD_STATE; bind.h's
  // CheckGroupViability names the members in the way). `iommu` is the
  // domain to attach to; devices of one IOMMU group must share one.
  static Result<std::unique_ptr<VfioDevice>> Open(const Address& address,
                                                  std::shared_ptr<VfioIommu> iommu,
                                                  const sysfs::LinuxPaths& paths = {});
  ~VfioDevice() override;

  std::string_view route() const override { return "vfio"; }
  Result<DeviceInfo> GetDeviceInfo() const override;
  // Memory BARs: a VFIO_REGION physical VMO (UNCACHED_DEVICE only) over the
  // region, its size rounded up to a page. `mappable` is the whole BAR, the
  // sparse-mmap areas (the MSI-X table left out, kernels before 4.16), or
  // empty when vfio-pci refuses mmap for the BAR (too small, or not page
  // aligned). I/O BARs: is_io, io_base, no VMO. The VMO holds the device
  // file open; one kept after the VfioDevice is closed makes an unbind or a
  // removal wait for it (only an open VfioDevice revokes its VMOs).
  Result<Bar> GetBar(uint32_t index) override;
  Result<InterruptModes> GetInterruptModes() const override;
  // Disables the previous mode first; the Interrupts mapped in it are
  // destroyed (their waiters get CANCELED): their eventfds no longer fire.
  Result<void> SetInterruptMode(InterruptMode mode, uint32_t count) override;
  Result<Interrupt> MapInterrupt(uint32_t which) override;
  // Legacy: unmasks INTx (vfio-pci masks it as it fires). MSI/MSI-X: nothing to do.
  Result<void> AckInterrupt(uint32_t which) override;
  // VFIO_DEVICE_RESET; NOT_SUPPORTED when vfio-pci found no reset method for
  // the device (no FLR, PM or bus reset: sysfs reset_method is empty).
  Result<void> ResetDevice() override;
  // A Bti over this device's VfioIommu (shared with the other devices
  // attached to it). Only index 0 exists (OUT_OF_RANGE otherwise).
  Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit = dma::kNoDmaLimit) override;

  // Fires once when the kernel asks for the device back (removal or unbind).
  // By then the device is already closed (see the top of this file); drop
  // every mapping of its BARs. NOT_SUPPORTED on kernels without vfio-pci's
  // request interrupt.
  Result<Interrupt> GetRemovalRequest() const;
  // True once the device was taken away.
  bool removed() const;

  const std::shared_ptr<VfioIommu>& iommu() const { return iommu_; }

 protected:
  Result<uint32_t> DoReadConfig(uint16_t offset, size_t width) const override;
  Result<void> DoWriteConfig(uint16_t offset, size_t width, uint32_t value) override;
  size_t ConfigSize() const override { return config_.size; }

 private:
  struct Core;  // the device fd and what guards it; shared with INTx unmask callbacks
  // A VFIO region as VFIO_DEVICE_GET_REGION_INFO described it.
  struct Region {
    uint32_t flags = 0;
    uint64_t size = 0;
    uint64_t offset = 0;  // opaque: where the region sits in the device fd
    std::vector<std::pair<uint64_t, uint64_t>> sparse_areas;  // VFIO_REGION_INFO_CAP_SPARSE_MMAP
    bool msix_mappable = false;                               // VFIO_REGION_INFO_CAP_MSIX_MAPPABLE
  };

  VfioDevice(Address address, std::shared_ptr<VfioIommu> iommu, sysfs::LinuxPaths paths,
             std::shared_ptr<Core> core);

  Result<void> ReadDeviceLayout();
  Result<void> WatchRemovalRequests();
  void WatchLoop();
  // Called on the watcher thread when the kernel asks for the device.
  void Revoke();
  // Turns off the current interrupt mode in the kernel and forgets its
  // vectors; returns the Interrupts mapped in it, to destroy outside locks.
  Result<std::vector<Interrupt>> DisableInterruptsLocked();

  const std::shared_ptr<VfioIommu> iommu_;
  const sysfs::LinuxPaths paths_;
  const std::shared_ptr<Core> core_;

  // Read once at open; never change.
  uint32_t device_flags_ = 0;
  std::vector<Region> bars_;  // BAR0..5
  Region config_;
  InterruptModes modes_;
  bool has_request_irq_ = false;  // VFIO_PCI_REQ_IRQ_INDEX exists

  std::mutex irq_mutex_;                          // taken before core_'s lock, never after
  InterruptMode mode_ = InterruptMode::DISABLED;  // guarded by irq_mutex_
  std::vector<UniqueFd> vector_fds_;              // guarded by irq_mutex_
  // The mapping of each vector (an invalid handle until mapped); destroyed
  // at a mode change. Guarded by irq_mutex_.
  std::vector<Interrupt> mapped_;

  Interrupt removal_;    // virtual; fired by the watcher
  UniqueFd request_fd_;  // signalled by vfio-pci (VFIO_PCI_REQ_IRQ_INDEX)
  UniqueFd stop_fd_;     // tells the watcher to finish
  std::thread watcher_;
};

// VfioDevice::Open with an IOMMU domain of its own (AUTO backend).
Result<std::unique_ptr<Device>> OpenVfioDevice(const Address& address,
                                               const sysfs::LinuxPaths& paths = {});
// VfioDevice::Open attached to `iommu`: devices sharing it share DMA mappings.
Result<std::unique_ptr<Device>> OpenVfioDevice(const Address& address,
                                               std::shared_ptr<VfioIommu> iommu,
                                               const sysfs::LinuxPaths& paths = {});

}  // namespace udrv::pci
