// The "sysfs" route: a PCI function inspected through its sysfs directory
// with no driver of ours bound — what busctl uses to look at a machine.
// It is read-only: config space comes from the `config` file (64 bytes
// unprivileged, 256 or 4096 as root) and cannot be written; memory BARs are
// physical VMOs over `resourceN` (mapped uncached) or, for prefetchable
// BARs, `resourceN_wc` (write-combining); it has no interrupts, bus
// mastering or reset. A driver that needs those binds vfio-pci (vfio.h) or
// uio_pci_generic (uio.h).
#pragma once

#include <memory>
#include <string>

#include "udrv/core/unique_fd.h"
#include "udrv/pci/device.h"
#include "udrv/pci/sysfs.h"

namespace udrv::pci {

class SysfsDevice final : public Device {
 public:
  // IO_NOT_PRESENT when the function is not in the tree; an unreadable
  // `config` file is its open error.
  static Result<std::unique_ptr<SysfsDevice>> Open(const Address& address,
                                                   const sysfs::LinuxPaths& paths = {});

  std::string_view route() const override { return "sysfs"; }
  Result<DeviceInfo> GetDeviceInfo() const override;

  // Memory BARs: a physical VMO over `resourceN` (route SYSFS_RESOURCE,
  // UNCACHED_DEVICE), opened read-write where permitted and otherwise
  // read-only, in which case the VMO lacks the WRITE right. I/O BARs: is_io
  // and io_base, no VMO. BARs smaller than a page are NOT_SUPPORTED (the VMO
  // maps whole pages, the resource file is only as long as the BAR). The
  // route enables nothing: a function whose memory decoding is off (no
  // firmware, no driver) reads all ones until something writes 1 to its
  // sysfs `enable`.
  Result<Bar> GetBar(uint32_t index) override;
  // A prefetchable memory BAR through `resourceN_wc` (SYSFS_RESOURCE_WC,
  // WRITE_COMBINING). NOT_SUPPORTED for a non-prefetchable or I/O BAR and
  // where the kernel offers no `resourceN_wc` (it does on x86 with PAT).
  Result<Bar> GetBarWriteCombining(uint32_t index);

  // ACCESS_DENIED: the route is read-only.
  Result<void> SetBusMastering(bool enable) override;
  // What config space says: the legacy pin, MSI and MSI-X vector counts.
  Result<InterruptModes> GetInterruptModes() const override;
  // NOT_SUPPORTED: the route takes no interrupts.
  Result<void> SetInterruptMode(InterruptMode mode, uint32_t count) override;
  Result<Interrupt> MapInterrupt(uint32_t which) override;
  Result<void> AckInterrupt(uint32_t which) override;
  // NOT_SUPPORTED: the route is read-only.
  Result<void> ResetDevice() override;

 protected:
  Result<uint32_t> DoReadConfig(uint16_t offset, size_t width) const override;
  Result<void> DoWriteConfig(uint16_t offset, size_t width, uint32_t value) override;
  size_t ConfigSize() const override { return config_size_; }
  // WRITE_COMBINING maps through resourceN_wc (GetBarWriteCombining).
  Result<Bar> GetBarForPolicy(uint32_t index, CachePolicy policy) override;

 private:
  SysfsDevice(Address address, SysfsPci sysfs, UniqueFd config, size_t config_size);

  // The BarInfo of implemented BAR `index`, or the error GetBar gives for it.
  Result<BarInfo> FindBar(uint32_t index, std::string_view op) const;
  Result<Bar> OpenMemoryBar(const BarInfo& info, bool write_combining) const;

  SysfsPci sysfs_;
  UniqueFd config_;
  size_t config_size_;
};

// The route as the PCI root bus hands it out.
Result<std::unique_ptr<Device>> OpenSysfsDevice(const Address& address,
                                                const sysfs::LinuxPaths& paths = {});

}  // namespace udrv::pci
