// What `busctl config DEV` gathers, once, for its text and JSON renderers
// (config.cc): the function, its config space and its capabilities.
#pragma once

#include <optional>

#include "capabilities.h"
#include "privilege.h"
#include "udrv/pci/address.h"
#include "udrv/pci/config.h"
#include "udrv/pci/names.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

struct ConfigReport {
  pci::DeviceInfo info;
  pci::ConfigSpace config;  // as much as this user may read
  CapabilityWalk walk;
  Skipped skipped;          // the bytes left out of `config`, and why
  // The text's summary line names the function; the document gives only
  // numbers, so only text gathers the pci.ids lookup.
  std::optional<pci::Names> names;
};

}  // namespace udrv::busctl
