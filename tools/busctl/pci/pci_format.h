// How busctl's PCI commands write a function: lspci's one-line summary and
// the identity members of the JSON documents (docs/busctl.md), shared by
// list, show and config so the three say the same thing the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "commands.h"
#include "document.h"
#include "privilege.h"
#include "udrv/pci/config.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/pci/names.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

// Lowercase hex, zero padded to `digits`: HexId(0x8086, 4) is "8086".
std::string HexId(uint64_t value, int digits);

// lspci -Dnn's line ("0000:00:03.0 Ethernet controller [0200]: Red Hat, Inc.
// Virtio 1.0 network device [1af4:1041] (rev 01)"), or with `numeric`
// lspci -Dn's ("0000:00:03.0 0200: 1af4:1041 (rev 01)"); names Printable.
std::string SummaryLine(const pci::DeviceInfo& info, const pci::Names& names, bool numeric);

// A name from pci.ids as JSON: the string, or null when the database has none.
Json NameOrNull(std::string name);

// address, IDs and their names, class, prog-if, revision: the members every
// PCI document describes a function with (schema: $defs/list_function).
void SetIdentity(Json& object, const pci::DeviceInfo& info, const pci::Names& names);

// SetIdentity plus the bound driver, IOMMU group (or why it is unreadable),
// NUMA node and parent bridge: one entry of `list` ($defs/list_function), `show`'s "function".
Json FunctionToJson(const pci::DeviceInfo& info, const pci::Names& names);

// An attribute that may be absent (sysfs::ReadAttribute): its text, or
// nullopt when the file is missing or empty. One that is there but cannot be
// read (a FIFO, a device node) is nullopt too, and `skipped` says why.
std::optional<std::string> ReadOptionalAttribute(const std::string& path, Skipped& skipped);

// The function's config space, as much as this user may read. When that is
// less than the kernel has (64 of 256 or 4096 bytes unprivileged), `skipped`
// says which bytes were left out and why.
Result<pci::ConfigSpace> ReadConfigNoting(const pci::SysfsPci& sysfs, const pci::Address& address,
                                          Skipped& skipped);

// The sysfs attributes of the function a DEV argument names; NOT_FOUND when
// the tree has no such function (docs/busctl.md, Device arguments).
Result<pci::DeviceInfo> ReadDevice(const GlobalOptions& options, const pci::Address& address);

}  // namespace udrv::busctl
