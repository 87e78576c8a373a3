// The live kernel's view of ACPI, read-only: what Linux evaluated where
// udrv's AML reader must not (a _STA or _CRS method that reads hardware),
// and which kernel device each ACPI device became.
//
//   sys/bus/acpi/devices/<name>/   one per namespace device the kernel
//       enumerated ("PNP0103:00", "device:1c"): path, hid, uid, adr,
//       status (only where _STA exists), modalias ("acpi:HID:CID1:CID2:"),
//       physical_node, physical_node1.. (links to the device it
//       describes: pnp "00:04", platform "LNRO0005:00", amba
//       "ARMH0011:00", pci "0000:00:1f.0") and driver (an ACPI driver)
//   sys/bus/pnp/devices/<name>/resources   the evaluated _CRS of a PNP
//       device: "state = active", "io 0x3f8-0x3ff", "mem 0xfed00000-
//       0xfed003ff", "irq 4", "dma 2", "io disabled"
//   proc/iomem, proc/ioports   the regions drivers and the kernel claimed,
//       nested by two spaces a level ("fed00000-fed003ff : PNP0103:00"
//       under "HPET 0"); for a reader without CAP_SYS_ADMIN every address
//       reads as zero (kptr_restrict's rule for resources)
//
// Everything here is text the kernel wrote, parsed strictly: a line that
// does not parse is an error naming the file and the line.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/sysfs/paths.h"

namespace udrv::acpi {

// A kernel device an ACPI device describes (its physical_node link).
struct PhysicalNode {
  std::string bus;                    // "pnp", "platform", "amba", "pci"; "" when unknown
  std::string name;                   // "00:04", "LNRO0005:00", "0000:00:1f.0"
  std::optional<std::string> driver;  // its bound driver

  // "pnp/00:04": what the acpi.physical_node property holds ("cpu0" for a
  // device of an unknown bus).
  std::string Id() const { return bus.empty() ? name : bus + "/" + name; }
};

struct KernelAcpiDevice {
  std::string name;                 // "PNP0103:00"
  std::optional<std::string> path;  // "\_SB_.PCI0.SF8_.COM1"
  std::optional<std::string> hid;   // absent for a device named by _ADR only ("device:1c")
  std::vector<std::string> cids;    // modalias's IDs after the HID
  std::optional<std::string> uid;
  std::optional<uint64_t> adr;
  std::optional<uint32_t> status;            // _STA as the kernel evaluated it
  std::vector<PhysicalNode> physical_nodes;  // physical_node, physical_node1, ...
  std::optional<std::string> driver;         // an ACPI driver bound to the ACPI device itself
};

// Every device of sys/bus/acpi/devices, sorted by name. NOT_FOUND when the
// kernel has no ACPI bus (a device-tree machine, acpi=off).
Result<std::vector<KernelAcpiDevice>> ReadKernelAcpiDevices(const sysfs::LinuxPaths& paths);

// One line of a PNP device's `resources`.
struct PnpResource {
  enum class Kind : uint8_t { IO, MEM, IRQ, DMA, BUS };
  Kind kind = Kind::IO;
  uint64_t start = 0;  // the number for IRQ and DMA
  uint64_t end = 0;    // inclusive; == start for IRQ and DMA
  bool disabled = false;
  bool window = false;  // a bridge's window, not the device's own
};
std::string_view PnpResourceKindName(PnpResource::Kind kind);  // "io", "mem", ...

struct PnpResources {
  bool active = false;  // "state = active"
  std::vector<PnpResource> resources;
};
// The text of a `resources` file; IO_INVALID naming `source` and the line.
Result<PnpResources> ParsePnpResources(std::string_view text, std::string_view source);
// sys/bus/pnp/devices/<name>/resources.
Result<PnpResources> ReadPnpResources(const sysfs::LinuxPaths& paths, std::string_view name);

// One claim of /proc/iomem or /proc/ioports.
struct ResourceClaim {
  uint64_t start = 0;
  uint64_t end = 0;    // inclusive
  std::string name;    // "PNP0103:00", "HPET 0", "System RAM"
  uint32_t depth = 0;  // nesting: 0 at the top
  // The index of the enclosing claim in ResourceTree::claims; nullopt at the top.
  std::optional<size_t> parent;
};

struct ResourceTree {
  std::vector<ResourceClaim> claims;  // in file order, parents before children
  // Every address read as zero: the reader lacks CAP_SYS_ADMIN, and the
  // kernel hid them (the names are still true).
  bool addresses_hidden = false;

  // The claims that overlap [start, end], innermost last.
  std::vector<const ResourceClaim*> Overlapping(uint64_t start, uint64_t end) const;
  // The claims named `name`.
  std::vector<const ResourceClaim*> Named(std::string_view name) const;
  // "HPET 0 > PNP0103:00": the claim and its ancestors, outermost first.
  std::string Chain(const ResourceClaim& claim) const;
};
// The text of /proc/iomem or /proc/ioports; IO_INVALID naming `source`
// and the line (a malformed range, an indent that skips a level).
Result<ResourceTree> ParseResourceTree(std::string_view text, std::string_view source);
// proc/iomem and proc/ioports.
Result<ResourceTree> ReadIomem(const sysfs::LinuxPaths& paths);
Result<ResourceTree> ReadIoports(const sysfs::LinuxPaths& paths);

// All of the above, read once: what the ACPI bus merges with the tables.
struct KernelView {
  std::vector<KernelAcpiDevice> devices;
  std::map<std::string, PnpResources, std::less<>> pnp;  // by PNP device name, for physical nodes on pnp
  std::optional<ResourceTree> iomem;                     // nullopt when proc/iomem could not be read
  std::optional<ResourceTree> ioports;                   // likewise

  // The device whose path is `path`; nullptr when the kernel has none.
  const KernelAcpiDevice* FindByPath(std::string_view path) const;
};
// NOT_FOUND when the kernel has no ACPI bus; a missing proc file or PNP
// bus is no error (the members stay empty).
Result<KernelView> ReadKernelView(const sysfs::LinuxPaths& paths);

}  // namespace udrv::acpi
