// What `busctl list` gathers, once, for its text and JSON renderers
// (list.cc): the functions of the tree with what the selectors said of each.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "commands.h"
#include "udrv/pci/names.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

struct ListedFunction {
  pci::DeviceInfo info;
  // Bridges' bus numbers from the config header (PCI-to-PCI: type 1,
  // CardBus: type 2; both keep secondary and subordinate at 0x19/0x1a); read
  // only for the tree.
  std::optional<uint8_t> header_type;
  uint8_t secondary_bus = 0;
  uint8_t subordinate_bus = 0;
  bool selected = true;  // matches -s and -d
};

struct ListReport {
  // Every function read, in sysfs order: the tree draws the bridges above
  // the selected ones too.
  std::vector<ListedFunction> functions;
  bool filtered = false;  // -s or -d was given
  pci::Names names;       // the pci.ids lookup the text and documents name IDs with
  int status = kExitOk;   // kExitFailed when a function could not be read
};

}  // namespace udrv::busctl
