#include "udrv/drivers/e1000e/bus_driver.h"

#include <memory>
#include <string>
#include <utility>

#include "udrv/net/device.h"
#include "udrv/pci/pci_bus.h"

namespace udrv::drivers::e1000e {

namespace {

class E1000eInstance final : public bus::DriverInstance {
 public:
  explicit E1000eInstance(std::unique_ptr<E1000e> driver) : driver_(std::move(driver)) {}
  ~E1000eInstance() override { (void)Stop(); }

  // The manager stopped the port's driver and removed the child before.
  Result<void> Stop() override { return driver_->Stop(); }

 private:
  std::unique_ptr<E1000e> driver_;
};

Result<uint32_t> GetNumber32(const bus::DriverOptionValues& settings, std::string_view name) {
  UDRV_TRY_ASSIGN(const uint64_t value, settings.GetNumber(name));
  if (value > 0xffffffffu) {
    return Fail(Status::INVALID_ARGS,
                "option " + std::string(name) + "=" + std::to_string(value) + " is too large");
  }
  return static_cast<uint32_t>(value);
}

}  // namespace

bus::Driver MakeBusDriver() {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Equal(std::string(pci::kPropVendor), kVendorId),
                  bus::BindRule::Equal(std::string(pci::kPropDevice), kDeviceId)};
  using Type = bus::DriverOption::Type;
  driver.options = {
      {"interrupts", Type::STRING, "auto",
       "auto (MSI-X, else MSI, else legacy), msix, msi, legacy or polling (no interrupts)"},
      {"itr", Type::NUMBER, "0",
       "the most interrupts per second per vector; 0: no throttling (QEMU caps at 7813/s)"},
      {"rx-ring", Type::NUMBER, "256", "receive descriptors (a multiple of 8, 8..4096)"},
      {"tx-ring", Type::NUMBER, "256", "transmit descriptors (a multiple of 8, 8..4096)"},
      {"buffers", Type::NUMBER, "0", "buffers in the pool; 0: rx-ring + tx-ring + 512"},
  };
  driver.start = [](bus::DriverContext& context) -> Result<std::unique_ptr<bus::DriverInstance>> {
    const bus::DriverOptionValues& settings = context.options();
    Options options;
    UDRV_TRY_ASSIGN(const std::string interrupts, settings.GetString("interrupts"));
    UDRV_TRY_ASSIGN(options.interrupts, ParseInterruptChoice(interrupts));
    UDRV_TRY_ASSIGN(options.interrupt_rate, GetNumber32(settings, "itr"));
    UDRV_TRY_ASSIGN(options.rx_ring_size, GetNumber32(settings, "rx-ring"));
    UDRV_TRY_ASSIGN(options.tx_ring_size, GetNumber32(settings, "tx-ring"));
    UDRV_TRY_ASSIGN(options.pool_size, GetNumber32(settings, "buffers"));
    UDRV_TRY_ASSIGN(pci::Device* device, context.GetProtocol<pci::Device>());
    UDRV_TRY_ASSIGN(std::unique_ptr<E1000e> nic, E1000e::Create(*device, options));
    const net::DeviceInfo info = nic->GetInfo();
    context.Log(nic->name() + " is up: MAC " + info.mac.ToString() + ", " + info.interrupt_mode +
                ", rings " + std::to_string(info.rx_ring_size) + "/" +
                std::to_string(info.tx_ring_size) + ", " + std::to_string(info.pool_size) +
                " buffers");

    bus::ChildNode port;
    port.name = std::string(kPortName);
    port.bus = std::string(net::kBusName);
    port.properties.Set(std::string(net::kPropMac), info.mac.ToString());
    port.properties.Set(std::string(net::kPropDriver), std::string(kDriverName));
    port.protocols.Add<net::Device>(nic.get());
    auto published = context.PublishChild(std::move(port));
    if (published) {
      context.Log("published " + published->id);
    } else if (published.error().status == Status::NOT_SUPPORTED) {
      context.Log("the port is not published (" + published.error().what +
                  "): the NIC runs without a net node");
    } else {
      return Wrap(published.error(), "publish the port");
    }
    return std::make_unique<E1000eInstance>(std::move(nic));
  };
  return driver;
}

}  // namespace udrv::drivers::e1000e
