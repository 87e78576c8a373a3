#include "udrv/drivers/registry.h"

namespace udrv::drivers {

std::vector<bus::Driver> AllDrivers() {
  return {edu::MakeBusDriver(), e1000e::MakeBusDriver(), net_traffic::MakeBusDriver(),
          pl031::MakeBusDriver(), hpet::MakeBusDriver(), virtio_mmio_probe::MakeBusDriver(),
          usb_mass_storage::MakeBusDriver()};
}

}  // namespace udrv::drivers
