// The PCI root bus as a bus::Bus (bus/bus.h): the driver manager's view of
// PCI.
//
// Enumerate lists every function in sysfs (SysfsPci) as a device node with
// the properties below, read from its DeviceInfo; it only reads. Open takes
// a function for a driver: it binds the function to vfio-pci (BindDriver,
// which checks the whole IOMMU group first) and opens it over VFIO, or, on
// the unsafe uio route, binds uio_pci_generic and opens it over UIO. The
// driver gets the opened pci::Device as its "pci" protocol:
//
//   auto device = context.GetProtocol<pci::Device>();
//
// Release gives it back in this order, each step reported:
//   1. interrupts off   SetInterruptMode(DISABLED)
//   2. bus mastering off, read back from the command register
//   3. reset           ResetDevice; a device without a reset method (QEMU's
//                      edu) reports NOT_SUPPORTED, which is no failure
//   4. close           the pci::Device is destroyed (vfio-pci itself then
//                      disables the device, and resets it where it can)
//   5. kernel driver   RestoreDriver with the open's BindRecord when
//                      ReleaseOptions::restore_kernel_driver asks; otherwise
//                      the function stays bound to vfio-pci (or uio_pci_generic)
//
// Functions of one IOMMU group opened through one PciBus share a VFIO
// container (VFIO gives a group to one container); each group gets its own.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/bus/node.h"
#include "udrv/bus/protocol.h"
#include "udrv/dma/bti.h"
#include "udrv/pci/device.h"
#include "udrv/pci/sysfs.h"
#include "udrv/vfio/iommu.h"

// pci::Device is the protocol "pci".
template <>
struct udrv::bus::ProtocolTraits<udrv::pci::Device> {
  static constexpr std::string_view kName = "pci";
};

namespace udrv::pci {


inline constexpr std::string_view kBusName = "pci";

// The properties of a PCI node. Numbers unless said otherwise.
inline constexpr std::string_view kPropAddress = "pci.address";  // string: "0000:00:03.0"
inline constexpr std::string_view kPropVendor = "pci.vendor";
inline constexpr std::string_view kPropDevice = "pci.device";
inline constexpr std::string_view kPropSubsystemVendor = "pci.subsystem_vendor";
inline constexpr std::string_view kPropSubsystemDevice = "pci.subsystem_device";
inline constexpr std::string_view kPropClass = "pci.class";          // base class
inline constexpr std::string_view kPropSubclass = "pci.subclass";
inline constexpr std::string_view kPropInterface = "pci.interface";  // programming interface
inline constexpr std::string_view kPropRevision = "pci.revision";
// Present only when it applies:
inline constexpr std::string_view kPropDriver = "pci.driver";  // string: the bound kernel driver
inline constexpr std::string_view kPropIommuGroup = "pci.iommu_group";

// The properties above for `info`, in that order.
bus::Properties PropertiesOf(const DeviceInfo& info);

enum class PciRoute : uint8_t {
  VFIO = 0,  // vfio-pci behind an IOMMU: DMA confined to what the driver pins
  UIO = 1,   // uio_pci_generic: no IOMMU, the device can DMA anywhere
};

struct PciBusOptions {
  sysfs::LinuxPaths paths;
  PciRoute route = PciRoute::VFIO;
  // The uio route needs this consent (uio.h, dma/bti.h): it leaves the
  // device's DMA unconfined, and it is what lets its drivers get a Bti.
  dma::UnsafePhysicalDma physical_dma;
  // Where Enumerate says which function it skipped and why (may be empty).
  bus::Logger log;
};

class PciBus final : public bus::Bus {
 public:
  // INVALID_ARGS for the uio route without physical_dma consent, or the
  // consent on the vfio route (where it means nothing).
  static Result<std::unique_ptr<PciBus>> Create(PciBusOptions options = {});

  std::string_view name() const override { return kBusName; }

  // Every function, sorted by address, which puts each bridge before the
  // functions behind it. A function whose attributes cannot be read is left
  // out, and options.log says which and why. Ids are "pci/" and the path of addresses from the
  // root bus down ("pci/0000:00:1c.0/0000:03:00.0"); the parent is the
  // bridge's node ("" for a function on a root bus).
  Result<std::vector<bus::DeviceNode>> Enumerate() const override;

  // Binds and opens the function of `node` (see the top of this file).
  // INVALID_ARGS for a node of another bus or without a valid pci.address;
  // BAD_STATE when the function's IDs changed since the node was enumerated;
  // BindDriver's and the route's open errors otherwise, after the function
  // was put back to its previous driver.
  Result<std::unique_ptr<bus::BoundDevice>> Open(const bus::DeviceNode& node) override;

 private:
  explicit PciBus(PciBusOptions options);

  // The VFIO container for IOMMU group `group`: the live one a device of
  // that group uses, or a new one.
  Result<std::shared_ptr<vfio::Iommu>> IommuForGroup(uint32_t group);

  PciBusOptions options_;
  SysfsPci sysfs_;
  std::map<uint32_t, std::weak_ptr<vfio::Iommu>> iommus_;
};

}  // namespace udrv::pci
