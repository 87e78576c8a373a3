// pci::Device: the protocol a PCI driver speaks to its device, after
// Fuchsia's fuchsia.hardware.pci.Device. The PCI root bus opens a device
// through one route and hands the driver this interface:
//   - vfio.h:  vfio-pci with an IOMMU (the normal case; DMA-safe)
//   - uio.h:   uio_pci_generic, BARs through sysfs resource files, INTx only
//   - sysfs_device.h: no driver at all; read-only inspection (busctl)
// Each route implements the virtual parts; the checks every route shares
// (config header protection, bounds, fallbacks) live here once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/pci/address.h"
#include "udrv/pci/config.h"
#include "udrv/pci/sysfs.h"

namespace udrv::pci {

// A BAR as the route exposes it. Memory BARs come as a physical VMO the
// driver maps; I/O BARs as a port range (x86) the route reads and writes.
struct Bar {
  uint32_t index = 0;
  uint64_t size = 0;
  bool is_io = false;
  bool is_64bit = false;
  bool is_prefetchable = false;
  Vmo vmo;               // memory BARs; invalid for I/O BARs
  uint64_t io_base = 0;  // I/O BARs: the port base
  // Byte ranges [offset, offset + size) of the BAR that can be mapped. One
  // range covering the BAR when all of it can; VFIO leaves out the MSI-X
  // table on kernels without CAP_MSIX_MAPPABLE (sparse mmap).
  std::vector<std::pair<uint64_t, uint64_t>> mappable;
};

enum class InterruptMode : uint8_t { DISABLED = 0, LEGACY = 1, MSI = 3, MSI_X = 4 };
std::string_view InterruptModeName(InterruptMode mode);

struct InterruptModes {
  bool has_legacy = false;
  uint32_t msi_count = 0;   // vectors MSI can give (0: no MSI)
  uint32_t msix_count = 0;  // MSI-X table entries (0: no MSI-X)
};

class Device {
 public:
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const Address& address() const { return address_; }
  // "vfio", "uio" or "sysfs"; named in errors and by busctl.
  virtual std::string_view route() const = 0;

  virtual Result<DeviceInfo> GetDeviceInfo() const = 0;

  // Config space. Reads anywhere the route can see (OUT_OF_RANGE past it);
  // offsets aligned to the width (INVALID_ARGS). Writes below 0x40, the
  // header the root bus owns, are ACCESS_DENIED: use SetBusMastering,
  // SetInterruptMode and GetBar instead.
  Result<uint8_t> ReadConfig8(uint16_t offset) const;
  Result<uint16_t> ReadConfig16(uint16_t offset) const;
  Result<uint32_t> ReadConfig32(uint16_t offset) const;
  Result<void> WriteConfig8(uint16_t offset, uint8_t value);
  Result<void> WriteConfig16(uint16_t offset, uint16_t value);
  Result<void> WriteConfig32(uint16_t offset, uint32_t value);
  // All the config space the route can read, for capability walks.
  Result<ConfigSpace> ReadConfigSpace() const;

  // BAR `index` (0..5). NOT_FOUND for an unimplemented BAR, OUT_OF_RANGE
  // past 5. A fresh VMO each call: a driver may map a BAR more than once.
  virtual Result<Bar> GetBar(uint32_t index) = 0;

  // Maps a whole memory BAR with `policy` into a region of `vmar`. A policy
  // the route cannot honour is an error (VFIO maps BARs UNCACHED_DEVICE only;
  // the sysfs and UIO routes map prefetchable BARs WRITE_COMBINING through
  // resourceN_wc); an I/O
  // BAR is WRONG_TYPE; a BAR whose MSI-X table cannot be mapped is
  // NOT_SUPPORTED naming the mappable ranges (map a View of them instead).
  Result<mmio::MmioBuffer> MapMmio(uint32_t bar, CachePolicy policy, const Vmar& vmar);

  // Sets or clears the command register's bus-master bit.
  virtual Result<void> SetBusMastering(bool enable);

  virtual Result<InterruptModes> GetInterruptModes() const = 0;
  // Switches the device to `mode` with `count` vectors (0 with DISABLED).
  // NOT_SUPPORTED when the device or route lacks the mode, OUT_OF_RANGE for
  // more vectors than it has.
  virtual Result<void> SetInterruptMode(InterruptMode mode, uint32_t count) = 0;
  // MSI-X, then MSI, then legacy: the first that gives `count` vectors
  // (legacy gives one). Returns the mode chosen; NOT_SUPPORTED listing what
  // each mode said when none could.
  Result<InterruptMode> SetInterruptModeWithFallback(uint32_t count);
  // An Interrupt for vector `which` of the current mode (BAD_STATE when
  // DISABLED, OUT_OF_RANGE past the vectors set). Legacy interrupts are
  // masked by the kernel as they fire: Interrupt::Ack (or the next Wait, or
  // AckInterrupt) unmasks. A vector has one mapping at a time: asking again
  // gives another handle to the same interrupt object (no new fd), until it
  // is destroyed or the mode changes.
  virtual Result<Interrupt> MapInterrupt(uint32_t which) = 0;
  virtual Result<void> AckInterrupt(uint32_t which) = 0;

  // Function-level reset (VFIO_DEVICE_RESET, or sysfs `reset`);
  // NOT_SUPPORTED when the device has no reset method.
  virtual Result<void> ResetDevice() = 0;

  // The device's bus transaction initiator `index` (zx: pci GetBti), whose
  // pins get device addresses below `dma_limit` (the device's last
  // reachable address + 1: 1 << 32 for a 32-bit device). VFIO pins through
  // the IOMMU; UIO gives a physical Bti when opened with the unsafe opt-in
  // (uio.h); the default, for routes that do no DMA (sysfs), is NOT_SUPPORTED.
  virtual Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit = dma::kNoDmaLimit);

 protected:
  explicit Device(Address address) : address_(address) {}

  // The route's raw config access, after the checks above. `width` is 1, 2
  // or 4 and `offset` aligned to it.
  virtual Result<uint32_t> DoReadConfig(uint16_t offset, size_t width) const = 0;
  virtual Result<void> DoWriteConfig(uint16_t offset, size_t width, uint32_t value) = 0;
  // How many config bytes the route reaches (256 or 4096; 64 unprivileged).
  virtual size_t ConfigSize() const = 0;

  // The BAR MapMmio maps for `policy`: GetBar, unless the route reaches the
  // BAR another way for that policy (sysfs resourceN_wc for WRITE_COMBINING).
  virtual Result<Bar> GetBarForPolicy(uint32_t index, CachePolicy policy);

  // "0000:00:02.0 (vfio)" for error messages.
  std::string Describe() const;

 private:
  // Alignment to the width and the route's reach, for reads and writes alike.
  Result<void> CheckConfigAccess(uint16_t offset, size_t width, std::string_view op) const;
  Result<uint32_t> CheckedRead(uint16_t offset, size_t width, std::string_view op) const;
  Result<void> CheckedWrite(uint16_t offset, size_t width, uint32_t value, std::string_view op);

  Address address_;
};

}  // namespace udrv::pci
