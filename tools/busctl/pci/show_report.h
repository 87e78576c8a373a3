// What `busctl show DEV` gathers, once, for its text and JSON renderers
// (show.cc): the function, its interrupts, its BARs with the routes that can
// map each one, and its IOMMU group as VFIO would see it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bus_modules.h"
#include "privilege.h"
#include "udrv/core/result.h"
#include "udrv/pci/address.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/names.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

// One way to reach a BAR (device.h): the sysfs and UIO routes map
// resourceN (uncached) and, for prefetchable BARs, resourceN_wc
// (write-combining); VFIO maps its BAR region, uncached only.
struct Route {
  std::string route;  // "sysfs", "uio", "vfio" (pci::Device::route())
  std::optional<std::string> file;
  std::optional<uint32_t> region;
  std::string cache_policy;  // the CachePolicy MapMmio takes through it
  bool mappable = false;     // MapMmio can map it (VFIO can still read and write a region)
  std::optional<std::string> why_not;  // why it is not usable now
};

struct BarReport {
  pci::BarInfo bar;
  bool enabled = false;  // the command register decodes its space
  std::string text;      // lspci's "Region N: ..." line, without the tab
  std::vector<Route> routes;
};

struct ShowReport {
  pci::Address address;
  pci::DeviceInfo info;
  pci::Names names;
  uint8_t header_type = 0;    // without the multi-function bit
  uint8_t interrupt_pin = 0;  // 0: none, 1-4: INTA-INTD
  // From the capabilities; unknown when they could not be read.
  std::optional<uint32_t> msi_vectors;
  std::optional<uint32_t> msix_vectors;
  std::vector<BarReport> bars;
  std::optional<std::string> rom_line;  // lspci's Expansion ROM line; none for CardBus bridges
  std::optional<std::string> group_type;  // the IOMMU group's type ("DMA", "identity")
  Result<pci::GroupViability> viability;
  std::optional<std::string> no_group;  // why VFIO cannot have the function at all
  Skipped skipped;
  // Other modules' views of the function (ACPI's), owned by the caller.
  std::vector<const Companion*> companions;
};

}  // namespace udrv::busctl
