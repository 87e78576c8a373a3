// What every PCI driver does first, once: check that the device is the one
// it drives, map its register BAR, and say in an error which step of its
// start failed on which device.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "udrv/core/result.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/pci/device.h"

namespace udrv::pci {

// `inner` as the failure of `step` of driver instance `driver_name` ("edu
// 0000:00:02.0 (vfio)"): "STEP: what", the object the instance, or the
// instance and the object `inner` named when that is not the device.
std::unexpected<Error> DriverStepError(Error inner, std::string_view step,
                                       const std::string& driver_name, const Device& device);

// OK when config space names `vendor`:`device_id`; NOT_SUPPORTED saying
// what it names instead and which device `driver_name`'s driver is for
// (`device_kind`: "edu", "the 82574L"); config read errors as they come.
Result<void> CheckDeviceIds(const Device& device, uint16_t vendor, uint16_t device_id,
                            std::string_view device_kind);

// A BAR's registers, mapped UNCACHED_DEVICE in a region of `region_size`
// bytes of their own (the BAR's size, at least).
struct MappedRegisters {
  Vmar vmar;
  mmio::MmioBuffer mmio;
};
// NOT_SUPPORTED when the mapping ends before `registers_end`, the end of
// the last register the driver touches; MapMmio's errors otherwise.
Result<MappedRegisters> MapRegisters(Device& device, uint32_t bar, uint64_t region_size,
                                     uint64_t registers_end, std::string_view device_kind);

}  // namespace udrv::pci
