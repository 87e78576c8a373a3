// What busctl's ACPI device commands look at, read once: the ACPI bus
// (acpi_bus.h: the tables, the namespace and, on the live machine, the
// kernel's view, merged device by device) and what it left out. list, show
// and the companions offered to other modules all start here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus_modules.h"
#include "commands.h"
#include "document.h"
#include "privilege.h"
#include "udrv/acpi/acpi_bus.h"
#include "udrv/core/result.h"

namespace udrv::busctl {

struct AcpiView {
  std::unique_ptr<acpi::AcpiBus> bus;
  bool live = false;  // this machine's firmware and kernel, not --acpi's tables
  Skipped skipped;    // what the bus left out (the tables unprivileged), and why
};

// The firmware this run reads: --acpi's tables, else this machine's (the
// tables, root only, with the kernel's view). nullopt when there is no ACPI
// (a device-tree machine, a recorded tree or snapshot without it).
Result<std::optional<AcpiView>> ReadAcpiView(const GlobalOptions& options);

// The namespace path a DEV argument names: "\_SB_.HPET" as it is (segments
// shorter than four characters padded with '_' as ACPI pads them:
// "\_SB.HPET" is "\_SB_.HPET"), the node id "acpi/_SB_/HPET" as that path.
std::string AcpiPathOf(std::string_view argument);

// The kernel devices `device` describes (its physical nodes), as other
// modules' entries are keyed.
std::vector<KernelDeviceName> PhysicalNodesOf(const acpi::MergedDevice& device);

// list's line (without newline) and list's JSON entry
// ($defs/list_acpi_device, show's "device").
std::string AcpiListLine(const AcpiView& view, const acpi::MergedDevice& device);
Json AcpiDeviceToJson(const AcpiView& view, const acpi::MergedDevice& device);
// The companion other modules attach to the entry of a device's physical
// node: the kernel's record of the ACPI device (physical nodes are the
// kernel's), so that it needs no tables (root's) and replays from a
// snapshot, which records the kernel's ACPI devices.
Companion AcpiCompanionOf(const acpi::KernelAcpiDevice& device);

// "0x0f present, enabled, shown, functioning"; "unknown" without one.
std::string AcpiStatusText(const std::optional<uint32_t>& status);

}  // namespace udrv::busctl
