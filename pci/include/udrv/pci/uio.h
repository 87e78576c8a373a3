// The UIO route: a PCI function bound to uio_pci_generic, for machines
// without an IOMMU. Nothing isolates the device's DMA on this route: it can
// reach all of memory. Prefer vfio-pci (vfio.h) where there is an IOMMU.
//
// What uio_pci_generic gives, and how udrv builds pci::Device on it:
//   - Config space: the function's sysfs `config` file (uio_pci_generic has
//     no config region; root may read and write all of it), 256 or 4096 bytes.
//   - BARs: memory BARs are physical VMOs over sysfs `resourceN` (uncached,
//     the whole BAR mappable); GetBarWriteCombining gives a prefetchable BAR
//     over `resourceN_wc`. I/O BARs come as their port range. (6.1 kernels
//     also list the memory BARs as UIO maps; resourceN covers older ones too.)
//   - Interrupts: legacy INTx only. uio_pci_generic has no MSI or MSI-X, so
//     GetInterruptModes reports 0 vectors for both. The kernel masks INTx
//     (the command register's INTx-disable bit) each time it fires and counts
//     it on /dev/uioN. uio_pci_generic has no irqcontrol (writing /dev/uioN
//     is ENOSYS): udrv unmasks by clearing the bit through config space.
//     Interrupt objects from MapInterrupt wait on the count and unmask on Ack.
//   - Reset: the sysfs `reset` attribute, where the kernel has a reset method
//     for the function (FLR, PM, bus); QEMU's edu has none.
//   - DMA: a physical Bti (device addresses are physical addresses of huge
//     pages), only when the caller opts in with UioOptions::physical_dma and
//     only where no IOMMU translates the function's DMA.
//
// A function removed while open (`echo 1 > .../remove`): config access,
// GetBar, GetDeviceInfo, interrupt mode changes, Ack, ResetDevice and
// Interrupt::Wait (a blocked one wakes) return IO_NOT_PRESENT. The object
// reaches sysfs only through the function's directory as it was at open, so
// a function that reappears after a rescan is a new one it never touches.
// Mappings of BARs made before are another matter: the kernel does not revoke
// them (they map the physical address, not the sysfs file), so they keep
// reaching whatever decodes that address: the removed function, which still
// answers, or after a rescan whatever the bus puts there. Drop them when
// the device reports IO_NOT_PRESENT.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/pci/address.h"
#include "udrv/pci/device.h"
#include "udrv/pci/sysfs.h"

namespace udrv::pci {

struct UioOptions {
  sysfs::LinuxPaths paths;
  // Lets GetBti hand out a physical Bti (dma::Bti::CreatePhysical). Without
  // it GetBti on the uio route is ACCESS_DENIED saying how to opt in.
  dma::UnsafePhysicalDma physical_dma;
};

// Opens `address`, which must be bound to uio_pci_generic (BAD_STATE naming
// its driver otherwise: BindDriver(address, "uio") binds it). Needs root.
Result<std::unique_ptr<Device>> OpenUioDevice(const Address& address,
                                              const sysfs::LinuxPaths& paths = {});
Result<std::unique_ptr<Device>> OpenUioDevice(const Address& address, const UioOptions& options);

class UioDevice final : public Device {
 public:
  // As OpenUioDevice, for callers that want the UIO-only calls below.
  static Result<std::unique_ptr<UioDevice>> Open(const Address& address,
                                                 const sysfs::LinuxPaths& paths = {});
  static Result<std::unique_ptr<UioDevice>> Open(const Address& address,
                                                 const UioOptions& options);
  // Masks INTx again if it was enabled and destroys the mapped Interrupts.
  ~UioDevice() override;

  std::string_view route() const override { return "uio"; }
  Result<DeviceInfo> GetDeviceInfo() const override;
  Result<Bar> GetBar(uint32_t index) override;
  // A prefetchable memory BAR over `resourceN_wc`, whose VMO maps
  // WRITE_COMBINING. NOT_SUPPORTED for a BAR that is not prefetchable (the
  // kernel offers write-combining for those only) or when the kernel made no
  // `resourceN_wc` (architectures that cannot map PCI memory
  // write-combining); WRONG_TYPE for an I/O BAR.
  Result<Bar> GetBarWriteCombining(uint32_t index);

  // Through the lock that INTx masking takes (see uio.cc).
  Result<void> SetBusMastering(bool enable) override;

  // Legacy only; msi_count and msix_count are 0 (uio_pci_generic is INTx
  // only). No legacy either when the function has no interrupt pin or Linux
  // routed it no IRQ.
  Result<InterruptModes> GetInterruptModes() const override;
  // LEGACY with count 1 unmasks INTx, DISABLED (count 0) masks it; MSI and
  // MSI-X are NOT_SUPPORTED. As on VFIO, the Interrupts mapped in the old
  // mode are destroyed (their waiters get CANCELED): map again.
  Result<void> SetInterruptMode(InterruptMode mode, uint32_t count) override;
  // Vector 0 in LEGACY mode: an Interrupt over a duplicate of this device's
  // /dev/uioN whose ack unmasks INTx. Every such Interrupt shares one
  // interrupt count, kept since the device was opened, so none is missed
  // between SetInterruptMode and MapInterrupt, or across a mode change.
  // Asking again gives another handle to the same mapping.
  Result<Interrupt> MapInterrupt(uint32_t which) override;
  // Unmasks INTx (vector 0 in LEGACY mode).
  Result<void> AckInterrupt(uint32_t which) override;
  Result<void> ResetDevice() override;

  // A physical Bti (dma::Bti::CreatePhysical): uio_pci_generic leaves the
  // device's DMA untranslated, so its bus addresses are physical addresses.
  // One Bti, index 0 (OUT_OF_RANGE otherwise). ACCESS_DENIED unless the
  // device was opened with UioOptions::physical_dma (or without
  // CAP_SYS_ADMIN). BAD_STATE (Zircon has no FAILED_PRECONDITION) when the
  // function sits behind a translating IOMMU (its iommu_group's type is not
  // "identity"), where physical addresses would fault: use vfio-pci there.
  Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit = dma::kNoDmaLimit) override;

  // "/dev/uio0".
  const std::string& uio_path() const { return uio_path_; }

 protected:
  Result<uint32_t> DoReadConfig(uint16_t offset, size_t width) const override;
  Result<void> DoWriteConfig(uint16_t offset, size_t width, uint32_t value) override;
  size_t ConfigSize() const override { return config_size_; }
  // WRITE_COMBINING maps through resourceN_wc (GetBarWriteCombining).
  Result<Bar> GetBarForPolicy(uint32_t index, CachePolicy policy) override;

 private:
  // The command register's read-modify-writes (INTx masking, bus
  // mastering); shared with the acks of the Interrupts.
  class CommandRegister;
  struct Parts {
    sysfs::LinuxPaths paths;
    UniqueFd device_dir;
    UniqueFd config;
    size_t config_size = 0;
    UniqueFd uio;
    std::string uio_path;
    std::shared_ptr<CommandRegister> command;
    std::vector<BarInfo> bars;
    bool has_legacy = false;
    dma::UnsafePhysicalDma physical_dma;
  };
  UioDevice(const Address& address, Parts parts);

  // Whether the function was removed (its config file answers ENODEV).
  bool Removed() const;
  // IO_NOT_PRESENT once the function is gone.
  Result<void> CheckPresent(std::string_view op) const;
  // A failed call's error: IO_NOT_PRESENT when the function is gone.
  std::unexpected<Error> FailCall(int err, const std::string& what) const;
  Result<Bar> OpenBar(uint32_t index, bool write_combining, std::string_view op);
  void DestroyMappedInterrupts();
  Result<void> CheckVector(uint32_t which, std::string_view op) const;
  // BAD_STATE when an IOMMU translates the function's DMA.
  Result<void> CheckUntranslated(std::string_view op) const;

  const sysfs::LinuxPaths paths_;
  const UniqueFd device_dir_;  // O_PATH: the function's sysfs directory
  const UniqueFd config_;
  const size_t config_size_;
  const UniqueFd uio_;  // /dev/uioN, read only: its interrupt count
  const std::string uio_path_;
  // Shared with the ack of each Interrupt, which may outlive the device.
  const std::shared_ptr<CommandRegister> command_;
  const std::vector<BarInfo> bars_;
  const bool has_legacy_;
  const dma::UnsafePhysicalDma physical_dma_;
  std::mutex mapped_mutex_;
  Interrupt mapped_;  // the one mapping, destroyed at a mode change
};

}  // namespace udrv::pci
