#include "udrv/pci/driver_support.h"

#include <utility>

#include "udrv/core/text.h"
#include "udrv/pci/config.h"

namespace udrv::pci {

std::unexpected<Error> DriverStepError(Error inner, std::string_view step,
                                       const std::string& driver_name, const Device& device) {
  inner.what = std::string(step) + ": " + inner.what;
  if (inner.object.empty() || inner.object.find(device.address().ToString()) != std::string::npos) {
    inner.object = driver_name;
  } else {
    inner.object = driver_name + ", " + inner.object;
  }
  return std::unexpected(std::move(inner));
}

Result<void> CheckDeviceIds(const Device& device, uint16_t vendor, uint16_t device_id,
                            std::string_view device_kind) {
  auto read_vendor = device.ReadConfig16(kConfigVendorId);
  if (!read_vendor) return Wrap(read_vendor.error(), "read the vendor ID");
  auto read_device = device.ReadConfig16(kConfigDeviceId);
  if (!read_device) return Wrap(read_device.error(), "read the device ID");
  if (*read_vendor != vendor || *read_device != device_id) {
    return Fail(Status::NOT_SUPPORTED,
                "config space says " + Hex(*read_vendor) + ":" + Hex(*read_device) +
                    "; the driver is for " + std::string(device_kind) + " (" + Hex(vendor) + ":" +
                    Hex(device_id) + ")",
                device.address().ToString());
  }
  return {};
}

Result<MappedRegisters> MapRegisters(Device& device, uint32_t bar, uint64_t region_size,
                                     uint64_t registers_end, std::string_view device_kind) {
  const std::string bar_name = "BAR " + std::to_string(bar);
  UDRV_TRY_ASSIGN(Vmar vmar, Vmar::Create(region_size, std::string(device_kind) + " " + bar_name));
  UDRV_TRY_ASSIGN(mmio::MmioBuffer mmio, device.MapMmio(bar, CachePolicy::UNCACHED_DEVICE, vmar));
  if (mmio.get_size() < registers_end) {
    return Fail(Status::NOT_SUPPORTED,
                bar_name + " maps " + Hex(mmio.get_size()) + " bytes, too small for " +
                    std::string(device_kind) + "'s registers (" + Hex(registers_end) + ")",
                device.address().ToString());
  }
  return MappedRegisters{std::move(vmar), std::move(mmio)};
}

}  // namespace udrv::pci
