// The VFIO route: a PCI device bound to vfio-pci, behind an IOMMU.
//
// Three pieces, kept apart as in the kernel's VFIO selftests library and
// libvfn (IOMMU object, device, driver):
//   - vfio::Iommu (udrv/vfio/iommu.h): the IOMMU domain devices are attached
//     to, a type1v2 container or an iommufd IOAS, shared by every bus's VFIO
//     devices.
//   - VfioDevice: pci::Device over the vfio-pci device fd (a
//     vfio::DeviceFile): config space, BAR VMOs, interrupts through
//     eventfds, reset, removal. What is PCI here is which region is config
//     space or a BAR and which interrupt index is INTx, MSI or MSI-X.
//   - the driver, which sees only pci::Device (and, where it cares, the
//     VfioDevice extras below).
//
//   auto bound = BindDriver(address, "vfio-pci");          // bind.h
//   auto device = OpenVfioDevice(address);
//   auto regs = (*device)->MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar);
//
// Everything here is tested in the x86_64 (VT-d) and aarch64 (SMMUv3)
// guests, but for the iommufd backend (see udrv/vfio/iommu.h).
//
// Device removal. When the kernel wants the device back (`echo 1 >
// /sys/bus/pci/devices/BDF/remove`, or an unbind from vfio-pci) vfio-pci
// signals the device's request interrupt and blocks the remover until every
// reference to the device file is gone. A VfioDevice watches that interrupt
// (vfio::RemovalWatcher) and, when it fires, at once:
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
#include <vector>

#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/dma/bti.h"
#include "udrv/pci/address.h"
#include "udrv/pci/device.h"
#include "udrv/sysfs/paths.h"
#include "udrv/vfio/device.h"
#include "udrv/vfio/iommu.h"
#include "udrv/vfio/removal.h"

namespace udrv::pci {

// A PCI function bound to vfio-pci. Open with OpenVfioDevice.
class VfioDevice final : public Device {
 public:
  // The device must already be bound to vfio-pci (BAD_STATE naming its
  // driver otherwise: use BindDriver), be in an IOMMU group (NOT_SUPPORTED
  // without one), and that group must be viable (BAD_STATE; bind.h's
  // CheckGroupViability names the members in the way). `iommu` is the
  // domain to attach to; devices of one IOMMU group must share one.
  static Result<std::unique_ptr<VfioDevice>> Open(const Address& address,
                                                  std::shared_ptr<vfio::Iommu> iommu,
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
  // A Bti over this device's vfio::Iommu (shared with the other devices
  // attached to it). Only index 0 exists (OUT_OF_RANGE otherwise).
  Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit = dma::kNoDmaLimit) override;

  // Fires once when the kernel asks for the device back (removal or unbind).
  // By then the device is already closed (see the top of this file); drop
  // every mapping of its BARs. NOT_SUPPORTED on kernels without vfio-pci's
  // request interrupt.
  Result<Interrupt> GetRemovalRequest() const;
  // True once the device was taken away.
  bool removed() const;

  const std::shared_ptr<vfio::Iommu>& iommu() const { return file_->iommu(); }

 protected:
  Result<uint32_t> DoReadConfig(uint16_t offset, size_t width) const override;
  Result<void> DoWriteConfig(uint16_t offset, size_t width, uint32_t value) override;
  size_t ConfigSize() const override { return config_.size; }

 private:
  VfioDevice(Address address, sysfs::LinuxPaths paths, std::shared_ptr<vfio::DeviceFile> file);

  Result<void> ReadDeviceLayout();
  // Called on the removal watcher's thread once the file was revoked.
  void OnRemoved();
  // Turns off the current interrupt mode in the kernel and forgets its
  // vectors; returns the Interrupts mapped in it, to destroy outside locks.
  Result<std::vector<Interrupt>> DisableInterruptsLocked();

  const sysfs::LinuxPaths paths_;
  // Shared with the INTx unmask callbacks of Interrupts the driver may keep
  // after the device is gone (they hold it weakly).
  const std::shared_ptr<vfio::DeviceFile> file_;

  // Read once at open; never change.
  std::vector<vfio::Region> bars_;  // BAR0..5
  vfio::Region config_;
  InterruptModes modes_;

  std::mutex irq_mutex_;                          // taken before file_'s lock, never after
  InterruptMode mode_ = InterruptMode::DISABLED;  // guarded by irq_mutex_
  std::vector<UniqueFd> vector_fds_;              // guarded by irq_mutex_
  // The mapping of each vector (an invalid handle until mapped); destroyed
  // at a mode change. Guarded by irq_mutex_.
  std::vector<Interrupt> mapped_;

  // Watches the request interrupt, on kernels whose vfio-pci has one.
  std::unique_ptr<vfio::RemovalWatcher> removal_;
};

// VfioDevice::Open with an IOMMU domain of its own (AUTO backend).
Result<std::unique_ptr<Device>> OpenVfioDevice(const Address& address,
                                               const sysfs::LinuxPaths& paths = {});
// VfioDevice::Open attached to `iommu`: devices sharing it share DMA mappings.
Result<std::unique_ptr<Device>> OpenVfioDevice(const Address& address,
                                               std::shared_ptr<vfio::Iommu> iommu,
                                               const sysfs::LinuxPaths& paths = {});

}  // namespace udrv::pci
