// A function's capabilities as busctl reports them: each one's line in
// lspci -vv's words ("MSI-X: Enable+ Count=3 Masked-", "Express (v2) Root
// Complex Integrated Endpoint, MSI 00"), the detail lines lspci prints under
// the ones udrv decodes, and the decoded fields for JSON. Used by `config`
// (every capability) and `show` (interrupt vector counts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "document.h"
#include "udrv/pci/config.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

struct CapabilityReport {
  pci::Capability capability;
  std::string name;                  // lspci's name: "MSI-X", "Advanced Error Reporting"
  std::string line;                  // lspci -vv's line after "[off] "
  std::vector<std::string> details;  // lspci -vv's lines below it (without the tabs)
  Json decoded;                      // the udrv decoder's fields, or null
};

struct CapabilityWalk {
  std::vector<CapabilityReport> reports;  // standard ones, then extended ones
  // Why a list could not be walked (a broken or looped chain, a pointer past
  // what could be read); `reports` holds the lists that could.
  std::optional<Error> error;
};

// Walks both lists of `config` (`info` tells VirtIO functions apart).
CapabilityWalk WalkCapabilities(const pci::ConfigSpace& config, const pci::DeviceInfo& info);

}  // namespace udrv::busctl
