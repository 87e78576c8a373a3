#include "udrv/pci/pci_bus.h"

#include <utility>

#include "quiesce.h"
#include "udrv/core/text.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/config.h"
#include "udrv/pci/uio.h"
#include "udrv/pci/vfio.h"

namespace udrv::pci {

namespace {

std::string DriverName(const std::optional<std::string>& driver) {
  return driver ? *driver : "no driver";
}

// A function opened for a driver: the route's pci::Device and what the
// bind changed.
class PciBoundDevice final : public bus::BoundDevice {
 public:
  PciBoundDevice(bus::DeviceNode node, BindRecord record, std::unique_ptr<Device> device,
                 sysfs::LinuxPaths paths)
      : BoundDevice(std::move(node)),
        record_(std::move(record)),
        device_(std::move(device)),
        paths_(std::move(paths)) {}
  ~PciBoundDevice() override {
    if (!released_) (void)Release({});
  }

  bus::ProtocolSet protocols() override {
    bus::ProtocolSet protocols;
    if (device_) protocols.Add<Device>(device_.get());
    return protocols;
  }

  std::string Describe() const override {
    return record_.address.ToString() + " bound to " + record_.driver + " (was: " +
           DriverName(record_.previous_driver) + ")" +
           (device_ ? ", open over " + std::string(device_->route()) : ", closed");
  }

  Result<bus::ReleaseReport> Release(const bus::ReleaseOptions& options) override;

 private:
  BindRecord record_;
  std::unique_ptr<Device> device_;
  const sysfs::LinuxPaths paths_;
  bool released_ = false;
};

using Outcome = bus::ReleaseStep::Outcome;

using bus::StepOf;

Result<bus::ReleaseReport> PciBoundDevice::Release(const bus::ReleaseOptions& options) {
  if (released_) {
    return Fail(Status::BAD_STATE, "release: released already", record_.address.ToString());
  }
  released_ = true;
  bus::ReleaseReport report;

  (void)internal::Quiesce(*device_, report);

  const std::string route(device_->route());
  device_.reset();
  report.steps.push_back({"close", Outcome::DONE, "closed the " + route + " device"});

  if (options.restore_kernel_driver) {
    report.steps.push_back(StepOf("kernel driver", RestoreDriver(record_, paths_),
                                  "back to " + DriverName(record_.previous_driver)));
  } else {
    report.steps.push_back({"kernel driver", Outcome::SKIPPED,
                            "left bound to " + record_.driver + "; before: " +
                                DriverName(record_.previous_driver)});
  }
  return report;
}

}  // namespace

bus::Properties PropertiesOf(const DeviceInfo& info) {
  bus::Properties properties;
  properties.Set(std::string(kPropAddress), info.address.ToString());
  properties.Set(std::string(kPropVendor), info.vendor_id);
  properties.Set(std::string(kPropDevice), info.device_id);
  properties.Set(std::string(kPropSubsystemVendor), info.subsystem_vendor_id);
  properties.Set(std::string(kPropSubsystemDevice), info.subsystem_id);
  properties.Set(std::string(kPropClass), info.base_class());
  properties.Set(std::string(kPropSubclass), info.sub_class());
  properties.Set(std::string(kPropInterface), info.prog_if());
  properties.Set(std::string(kPropRevision), info.revision);
  if (info.driver) properties.Set(std::string(kPropDriver), *info.driver);
  if (info.iommu_group) properties.Set(std::string(kPropIommuGroup), *info.iommu_group);
  return properties;
}

PciBus::PciBus(PciBusOptions options)
    : options_(std::move(options)), sysfs_(options_.paths) {}

Result<std::unique_ptr<PciBus>> PciBus::Create(PciBusOptions options) {
  const bool consent = options.physical_dma.device_may_reach_all_memory;
  if (options.route == PciRoute::UIO && !consent) {
    return Fail(Status::INVALID_ARGS,
                "create the PCI bus: the uio route leaves device DMA unconfined (no IOMMU); it "
                "needs the explicit consent physical_dma.device_may_reach_all_memory");
  }
  if (options.route == PciRoute::VFIO && consent) {
    return Fail(Status::INVALID_ARGS,
                "create the PCI bus: physical_dma applies to the uio route only; vfio confines "
                "DMA through the IOMMU");
  }
  return std::unique_ptr<PciBus>(new PciBus(std::move(options)));
}

Result<std::vector<bus::DeviceNode>> PciBus::Enumerate() const {
  auto addresses = sysfs_.List();
  if (!addresses) return std::unexpected(addresses.error());
  std::map<Address, std::string> ids;
  std::vector<bus::DeviceNode> nodes;
  for (const Address& address : *addresses) {
    auto info = sysfs_.Read(address);
    if (!info) {
      // A function removed while we list is simply no longer there; one with
      // a bad attribute does not hide the others.
      if (info.error().status != Status::IO_NOT_PRESENT && options_.log) {
        options_.log("skipped " + address.ToString() + ": " + Printable(info.error().ToString()));
      }
      continue;
    }
    bus::DeviceNode node;
    node.bus = std::string(kBusName);
    if (info->parent_bridge) {
      if (auto parent = ids.find(*info->parent_bridge); parent != ids.end()) {
        node.parent = parent->second;
      }
    }
    node.id = (node.parent.empty() ? node.bus : node.parent) + "/" + address.ToString();
    node.properties = PropertiesOf(*info);
    ids[address] = node.id;
    nodes.push_back(std::move(node));
  }
  return nodes;
}

Result<std::shared_ptr<vfio::Iommu>> PciBus::IommuForGroup(uint32_t group) {
  if (auto live = iommus_[group].lock()) return live;
  auto iommu = vfio::Iommu::Create(vfio::IommuBackend::AUTO, options_.paths);
  if (!iommu) return std::unexpected(iommu.error());
  iommus_[group] = *iommu;
  return std::move(*iommu);
}

Result<std::unique_ptr<bus::BoundDevice>> PciBus::Open(const bus::DeviceNode& node) {
  if (node.bus != kBusName) {
    return Fail(Status::INVALID_ARGS, "open: the node belongs to bus '" + node.bus + "', not pci",
                node.id);
  }
  auto text = node.properties.FindString(kPropAddress);
  if (!text) {
    return Fail(Status::INVALID_ARGS, "open: the node has no string " + std::string(kPropAddress),
                node.id);
  }
  auto address = Address::Parse(*text);
  if (!address) return Fail(Status::INVALID_ARGS, "open: " + address.error().what, node.id);

  // Never bind a function that is not the one the driver was matched to.
  auto info = sysfs_.Read(*address);
  if (!info) return Wrap(info.error(), "open: read the function");
  if (node.properties.FindNumber(kPropVendor) != info->vendor_id ||
      node.properties.FindNumber(kPropDevice) != info->device_id) {
    return Fail(Status::BAD_STATE,
                "open: the function is " + Hex(info->vendor_id) + ":" + Hex(info->device_id) +
                    " now, not what was enumerated",
                node.id);
  }

  const bool vfio = options_.route == PciRoute::VFIO;
  const std::string driver = vfio ? std::string(kVfioPciDriver) : std::string(kUioPciDriver);
  auto record = BindDriver(*address, driver, options_.paths);
  if (!record) return Wrap(record.error(), "open: bind " + driver);

  auto device = [&]() -> Result<std::unique_ptr<Device>> {
    if (!vfio) {
      UioOptions uio;
      uio.paths = options_.paths;
      uio.physical_dma = options_.physical_dma;
      return OpenUioDevice(*address, uio);
    }
    // Read again: on arm64 the IOMMU group appears with the first driver bound.
    auto bound = sysfs_.Read(*address);
    if (!bound) return std::unexpected(bound.error());
    if (!bound->iommu_group) return OpenVfioDevice(*address, options_.paths);
    auto iommu = IommuForGroup(*bound->iommu_group);
    if (!iommu) return std::unexpected(iommu.error());
    return OpenVfioDevice(*address, std::move(*iommu), options_.paths);
  }();
  if (!device) {
    Error error = device.error();
    if (auto restored = RestoreDriver(*record, options_.paths); !restored) {
      error.what += "; putting back " + DriverName(record->previous_driver) + " failed too: " +
                    restored.error().ToString();
    }
    return Wrap(std::move(error), std::string("open: over ") + (vfio ? "vfio" : "uio"));
  }
  return std::make_unique<PciBoundDevice>(node, std::move(*record), std::move(*device),
                                          options_.paths);
}

}  // namespace udrv::pci
