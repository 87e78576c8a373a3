// The e1000e driver as the driver manager runs it (bus/driver_manager.h):
// it binds PCI nodes 8086:10d3 and, when started, drives the context's
// pci::Device with E1000e and publishes the NIC's port as a child node
// "port0" of bus "net" (properties net.mac and net.driver, protocol
// net::Device) for tools and net drivers to bind. Where the runner
// publishes nothing (a driver host, for now) it logs so and runs on. Stop
// stops the NIC (E1000e::Stop: DMA off before the memory goes).
#pragma once

#include <string_view>

#include "udrv/bus/driver.h"
#include "udrv/drivers/e1000e/e1000e.h"

namespace udrv::drivers::e1000e {

inline constexpr std::string_view kDriverName = "e1000e";
inline constexpr std::string_view kPortName = "port0";

// The registration: name "e1000e", rules pci.vendor == 0x8086 &&
// pci.device == 0x10d3, and its options (`--driver-option e1000e.NAME=VALUE`):
//   interrupts (string, auto): auto, msix, msi, legacy or polling;
//   itr (number, 0): the most interrupts per second per vector, 0 for no
//     throttling (the register counts 256 ns units; QEMU caps at 7813/s);
//   rx-ring, tx-ring (numbers, 256): descriptors, multiples of 8, 8..4096;
//   buffers (number, 0): pool buffers, 0 for rx-ring + tx-ring + 512.
bus::Driver MakeBusDriver();

}  // namespace udrv::drivers::e1000e
