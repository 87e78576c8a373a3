// UsbBus::Open: an interface node claimed over usbfs for a driver, and its
// release (usb_bus.h).
#include <fcntl.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "udrv/usb/usb_bus.h"
#include "usbfs_device.h"

namespace udrv::usb {
namespace {

class BoundUsbDevice final : public bus::BoundDevice {
 public:
  // `previous_driver`: the interface's kernel driver before the claim ("" none).
  BoundUsbDevice(bus::DeviceNode node, std::unique_ptr<UsbfsDevice> device, std::string interface_name,
                 std::string usbfs_node, std::string previous_driver)
      : BoundDevice(std::move(node)),
        device_(std::move(device)),
        interface_name_(std::move(interface_name)),
        usbfs_node_(std::move(usbfs_node)),
        previous_driver_(std::move(previous_driver)) {}
  ~BoundUsbDevice() override {
    if (device_) (void)Release({});
  }

  bus::ProtocolSet protocols() override {
    bus::ProtocolSet set;
    if (device_) set.Add<Device>(device_.get());
    return set;
  }

  std::string Describe() const override {
    return "interface " + interface_name_ + (device_ ? " claimed" : " released") + " over usbfs (was: " +
           (previous_driver_.empty() ? "no driver" : previous_driver_) + ")";
  }

  Result<bus::ReleaseReport> Release(const bus::ReleaseOptions& options) override {
    if (!device_) return Fail(Status::BAD_STATE, "release: released already", node().id);
    bus::ReleaseReport report = device_->Shutdown(options.restore_kernel_driver);
    device_.reset();
    report.steps.push_back({"close", bus::ReleaseStep::Outcome::DONE, usbfs_node_});
    return report;
  }

 private:
  std::unique_ptr<UsbfsDevice> device_;
  std::string interface_name_;
  std::string usbfs_node_;
  std::string previous_driver_;
};

// The device and interface found under the node's kernel name must still
// be what the node listed and the bind rules matched: a device unplugged
// and another plugged in at the same port between Enumerate and Open has
// the same name. NOT_FOUND naming the first property that changed.
Result<void> CheckStillListed(const bus::DeviceNode& node, const bus::Properties& now, const std::string& what) {
  static constexpr std::string_view kIdentity[] = {kPropVid,      kPropPid,      kPropBus,
                                                   kPropAddress,  kPropClass,    kPropSubclass,
                                                   kPropProtocol, kPropInterface, kPropConfiguration};
  const auto text = [](std::optional<uint32_t> value) { return value ? std::to_string(*value) : "none"; };
  for (const std::string_view key : kIdentity) {
    const std::optional<uint32_t> listed = node.properties.FindNumber(key);
    const std::optional<uint32_t> found = now.FindNumber(key);
    if (listed != found) {
      return Fail(Status::NOT_FOUND,
                  what + ": the device changed since it was listed (" + std::string(key) + " " + text(listed) +
                      " then, " + text(found) + " now: another device at its port?)",
                  node.id);
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<bus::BoundDevice>> UsbBus::Open(const bus::DeviceNode& node) {
  if (node.bus != kBusName) {
    return Fail(Status::INVALID_ARGS, "open: a node of bus '" + node.bus + "', not usb", node.id);
  }
  const auto number = node.properties.FindNumber(kPropInterface);
  if (!number) {
    return Fail(Status::NOT_SUPPORTED, "open: a device node; drivers bind to its interfaces", node.id);
  }
  const auto device_name = node.properties.FindString(kPropDevice);
  if (!device_name || *number > 0xFF) {
    return Fail(Status::INVALID_ARGS,
                "open: the node lacks " + std::string(kPropDevice) + " or has an interface number past 255",
                node.id);
  }
  const std::string what = "open interface " + std::to_string(*number) + " of " + *device_name;
  UDRV_TRY_ASSIGN(const KernelUsbView view, ReadKernelUsbDevices(options_.paths));
  const KernelUsbDevice* device = nullptr;
  for (const KernelUsbDevice& candidate : view.devices) {
    if (candidate.name == *device_name) device = &candidate;
  }
  if (device == nullptr) return Fail(Status::NOT_FOUND, what + ": the device is gone", node.id);
  const KernelUsbInterface* interface = nullptr;
  for (const KernelUsbInterface& candidate : device->interfaces) {
    if (candidate.number == *number) interface = &candidate;
  }
  if (interface == nullptr) {
    return Fail(Status::NOT_FOUND, what + ": the device's active configuration has no such interface",
                node.id);
  }
  UDRV_TRY(CheckStillListed(node, PropertiesOf(*device, *interface), what));
  UniqueFd fd(::open(device->usbfs_node.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == EACCES || err == EPERM) {
      return Fail(Status::ACCESS_DENIED,
                  what + ": open " + device->usbfs_node +
                      ": usbfs nodes are root's (mode 0600); the root bus must run as root",
                  node.id, err);
    }
    return FailErrno(err, what + ": open " + device->usbfs_node, node.id);
  }
  auto opened = UsbfsDevice::Create(std::move(fd), node, device->descriptors, interface->configuration,
                                    static_cast<uint8_t>(*number), interface->name, /*privileged=*/true);
  if (!opened) return Wrap(std::move(opened).error(), what);
  return std::unique_ptr<bus::BoundDevice>(std::make_unique<BoundUsbDevice>(
      node, std::move(*opened), interface->name, device->usbfs_node, interface->driver.value_or("")));
}

}  // namespace udrv::usb
