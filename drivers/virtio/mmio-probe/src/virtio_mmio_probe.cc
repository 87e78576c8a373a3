#include "udrv/drivers/virtio_mmio_probe/virtio_mmio_probe.h"

#include <memory>
#include <utility>

#include "udrv/acpi/acpi_bus.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/mmio_buffer.h"

namespace udrv::drivers::virtio_mmio_probe {

namespace {

// The probe holds nothing once it has read the slot.
class ProbeInstance final : public bus::DriverInstance {
 public:
  Result<void> Stop() override { return {}; }
};

}  // namespace

Result<Identification> Probe(acpi::Device& device) {
  const std::string name = device.GetNode().id;
  UDRV_TRY_ASSIGN(acpi::Mmio mmio, device.GetMmio(0u));
  if (mmio.size < kIdentificationEnd) {
    return Fail(Status::NOT_SUPPORTED,
                "map memory range 0: " + Hex(mmio.size) + " bytes, too small for virtio-mmio's registers",
                name);
  }
  const uint64_t phys = mmio.phys;
  UDRV_TRY_ASSIGN(const uint64_t vmo_size, mmio.vmo.GetSize());
  UDRV_TRY_ASSIGN(Vmar vmar, Vmar::Create(vmo_size, "virtio-mmio"));
  UDRV_TRY_ASSIGN(mmio::MmioBuffer registers,
                  mmio::MmioBuffer::Create(vmar, mmio.offset, kIdentificationEnd, std::move(mmio.vmo),
                                           CachePolicy::UNCACHED_DEVICE));
  const uint32_t magic = registers.Read32(kMagicValue);
  Identification id{phys, registers.Read32(kVersion), registers.Read32(kDeviceId),
                    registers.Read32(kVendorId)};
  if (magic != kMagic || (id.version != 1 && id.version != 2)) {
    return Fail(Status::NOT_SUPPORTED,
                "at " + Hex(phys) + " magic " + Hex(magic) + ", version " + std::to_string(id.version) +
                    ": not a virtio-mmio transport (magic " + Hex(kMagic) + ", version 1 or 2)",
                name);
  }
  return id;
}

bus::Driver MakeBusDriver() {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Equal(std::string(acpi::kPropHid), std::string(kHid))};
  driver.start = [](bus::DriverContext& context) -> Result<std::unique_ptr<bus::DriverInstance>> {
    UDRV_TRY_ASSIGN(acpi::Device * device, context.GetProtocol<acpi::Device>());
    UDRV_TRY_ASSIGN(const Identification id, Probe(*device));
    context.Log("virtio-mmio at " + Hex(id.phys) + " over " + std::string(device->route()) + ": magic " +
                Hex(kMagic) + ", version " + std::to_string(id.version) + ", device " +
                std::to_string(id.device_id) + (id.device_id == 0 ? " (empty slot)" : "") + ", vendor " +
                Hex(id.vendor_id));
    return std::make_unique<ProbeInstance>();
  };
  return driver;
}

}  // namespace udrv::drivers::virtio_mmio_probe
