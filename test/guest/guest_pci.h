// What the guest PCI suites share: finding a function on the guest's bus.
// A function that is not there fails the test: a guest machine without its
// devices is a broken testbed, never a reason to skip.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>

#include "result_helpers.h"
#include "udrv/pci/sysfs.h"

namespace udrv::guest {

inline pci::Address FindFunction(uint16_t vendor, uint16_t device) {
  pci::SysfsPci sysfs;
  auto addresses = sysfs.List();
  REQUIRE_OK(addresses);
  for (const pci::Address& address : *addresses) {
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    if (info->vendor_id == vendor && info->device_id == device) return address;
  }
  FAIL("no PCI function " << std::hex << vendor << ":" << device << " in this guest");
  return {};
}

// QEMU's edu device.
inline pci::Address FindEdu() { return FindFunction(0x1234, 0x11e8); }

}  // namespace udrv::guest
