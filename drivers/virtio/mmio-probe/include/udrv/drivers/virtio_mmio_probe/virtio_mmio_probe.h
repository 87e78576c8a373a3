// A probe of virtio-mmio transports (virtio 1.2 §4.2.2), on acpi::Device
// alone: QEMU's arm64 `virt` board, booted with UEFI, describes its 32
// virtio-mmio slots as ACPI devices LNRO0005. The probe maps memory range
// 0 of a slot and reads its identification: the magic "virt"
// (0x74726976), the version (1 legacy, 2 modern) and the device ID (0 for
// an empty slot). It drives nothing: a virtio driver would start here.
//
// The driver manager binds it to nodes whose acpi.hid is "LNRO0005".
#pragma once

#include <cstdint>
#include <string_view>

#include "udrv/acpi/device.h"
#include "udrv/bus/driver.h"
#include "udrv/core/result.h"

namespace udrv::drivers::virtio_mmio_probe {

inline constexpr std::string_view kDriverName = "virtio-mmio-probe";
inline constexpr std::string_view kHid = "LNRO0005";

inline constexpr uint64_t kMagicValue = 0x000;
inline constexpr uint64_t kVersion = 0x004;
inline constexpr uint64_t kDeviceId = 0x008;
inline constexpr uint64_t kVendorId = 0x00c;
inline constexpr uint64_t kIdentificationEnd = 0x010;
inline constexpr uint32_t kMagic = 0x74726976;  // "virt", little-endian

struct Identification {
  uint64_t phys = 0;
  uint32_t version = 0;
  uint32_t device_id = 0;  // 0: no device in the slot
  uint32_t vendor_id = 0;
};

// Reads the slot's identification: NOT_SUPPORTED naming what was read when
// the magic is not virtio's or the version neither 1 nor 2.
Result<Identification> Probe(acpi::Device& device);

// The registration with the driver manager: rule acpi.hid == "LNRO0005".
bus::Driver MakeBusDriver();

}  // namespace udrv::drivers::virtio_mmio_probe
