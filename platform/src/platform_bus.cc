#include "udrv/platform/platform_bus.h"

#include <cerrno>
#include <map>
#include <set>
#include <utility>

#include "local_device.h"
#include "udrv/sysfs/bind.h"

namespace udrv::platform {
namespace {

// The id of the node at `path`: "platform/soc/serial@7e201000".
std::string NodeId(std::string_view path) { return std::string(kBusName) + std::string(path); }

// The path of `path`'s parent node; "" for the root.
std::string ParentPath(std::string_view path) {
  if (path == "/") return {};
  const size_t slash = path.rfind('/');
  return slash == 0 ? std::string("/") : std::string(path.substr(0, slash));
}

class BoundPlatformDevice final : public bus::BoundDevice {
 public:
  // `driver`: the kernel driver the route bound; empty for none (devmem).
  BoundPlatformDevice(bus::DeviceNode node, std::unique_ptr<internal::LocalDevice> device,
                      sysfs::BusDevice kernel, sysfs::DriverBinding previous, std::string driver)
      : BoundDevice(std::move(node)),
        device_(std::move(device)),
        kernel_(std::move(kernel)),
        previous_(std::move(previous)),
        route_(device_->route()),
        driver_(std::move(driver)) {}
  ~BoundPlatformDevice() override {
    if (device_) (void)Release({});
  }

  bus::ProtocolSet protocols() override {
    bus::ProtocolSet set;
    if (device_) set.Add<Device>(device_.get());
    return set;
  }

  std::string Describe() const override {
    return (driver_.empty() ? std::string("no kernel driver") : "bound to " + driver_) +
           " (was: " + sysfs::DriverOrNone(previous_.driver) + "), opened over " + route_;
  }

  Result<bus::ReleaseReport> Release(const bus::ReleaseOptions& options) override {
    if (!device_) return Fail(Status::BAD_STATE, "release: released already", node().id);
    bus::ReleaseReport report;
    report.steps.push_back(bus::StepOf("interrupts off", device_->MaskInterrupts()));
    device_.reset();
    report.steps.push_back({"close", bus::ReleaseStep::Outcome::DONE, ""});
    if (options.restore_kernel_driver) {
      report.steps.push_back(bus::StepOf(
          "kernel driver",
          sysfs::RestoreDriver(kernel_, previous_, "restore " + kernel_.name),
          sysfs::DriverOrNone(previous_.driver)));
    } else {
      report.steps.push_back({"kernel driver", bus::ReleaseStep::Outcome::SKIPPED,
                              driver_.empty() ? "left without a driver" : "left with " + driver_});
    }
    return report;
  }

 private:
  std::unique_ptr<internal::LocalDevice> device_;
  sysfs::BusDevice kernel_;
  sysfs::DriverBinding previous_;
  std::string route_;
  std::string driver_;
};

}  // namespace

std::string LiveTreePath(const sysfs::LinuxPaths& paths) { return paths.sys + "/firmware/fdt"; }

std::string_view RouteName(PlatformRoute route) {
  switch (route) {
    case PlatformRoute::UIO: return "uio";
    case PlatformRoute::DEVMEM: return "devmem";
    case PlatformRoute::VFIO: return "vfio";
  }
  return "unknown";
}

Result<bus::Properties> PropertiesOf(const DtDevice& device, const KernelDevice* kernel) {
  bus::Properties properties;
  properties.Set(std::string(kPropPath), device.path);
  properties.Set(std::string(kPropName), device.name);
  UDRV_TRY(properties.SetList(std::string(kPropCompatible), device.compatible));
  for (auto [key, names] : {std::pair{kPropRegNames, &device.reg_names},
                            std::pair{kPropInterruptNames, &device.interrupt_names},
                            std::pair{kPropClockNames, &device.clock_names}}) {
    if (!names->empty()) UDRV_TRY(properties.SetList(std::string(key), *names));
  }
  if (kernel != nullptr) {
    properties.Set(std::string(kPropKernelBus), kernel->bus);
    properties.Set(std::string(kPropKernelDevice), kernel->name);
    if (kernel->driver) properties.Set(std::string(kPropDriver), *kernel->driver);
  }
  return properties;
}

PlatformBus::PlatformBus(PlatformBusOptions options, DeviceTree tree)
    : options_(std::move(options)), tree_(std::move(tree)) {}

Result<std::unique_ptr<PlatformBus>> PlatformBus::Create(PlatformBusOptions options) {
  const bool live = options.dtb.empty();
  const std::string source = live ? LiveTreePath(options.paths) : options.dtb;
  auto tree = DeviceTree::FromFile(source);
  if (!tree && live && tree.error().err_no == ENOENT) {
    return Wrap(tree.error(), "platform bus: this machine has no device tree (firmware that describes "
                              "it with ACPI, or an x86 machine); busctl --dtb FILE reads a board's tree offline");
  }
  if (!tree && live && tree.error().err_no == EACCES) {
    return Wrap(tree.error(), "platform bus: the live device tree is readable by root only");
  }
  if (!tree) return std::unexpected(std::move(tree.error()));
  return std::unique_ptr<PlatformBus>(new PlatformBus(std::move(options), std::move(*tree)));
}

Result<std::vector<bus::DeviceNode>> PlatformBus::Enumerate() const {
  UDRV_TRY_ASSIGN(const std::vector<DtDevice> devices, tree_.Enumerate());
  // A .dtb is another machine's tree: this machine's kernel devices are not its.
  std::map<std::string, KernelDevice, std::less<>> kernel;
  if (options_.dtb.empty()) {
    UDRV_TRY_ASSIGN(kernel, KernelDevicesByNodePath(options_.paths));
  }
  std::set<std::string, std::less<>> listed;
  std::vector<bus::DeviceNode> nodes;
  for (const DtDevice& device : devices) {
    // The root's compatible names the board, not a device on it.
    if (device.path == "/" || !device.enabled) continue;
    if (!device.problems.empty()) {
      if (options_.log) {
        options_.log("platform: " + device.path + " left out: " + device.problems.front().ToString());
      }
      continue;
    }
    const auto found = kernel.find(device.path);
    auto properties = PropertiesOf(device, found == kernel.end() ? nullptr : &found->second);
    if (!properties) {
      if (options_.log) options_.log("platform: " + device.path + " left out: " + properties.error().ToString());
      continue;
    }
    // The parent is the nearest ancestor that is a listed node itself.
    std::string parent;
    for (std::string path = ParentPath(device.path); !path.empty(); path = ParentPath(path)) {
      if (listed.contains(path)) {
        parent = NodeId(path);
        break;
      }
    }
    listed.insert(device.path);
    nodes.push_back(bus::DeviceNode{std::string(kBusName), NodeId(device.path), std::move(parent),
                                    std::move(*properties)});
  }
  return nodes;
}

Result<std::unique_ptr<bus::BoundDevice>> PlatformBus::Open(const bus::DeviceNode& node) {
  if (node.bus != kBusName) {
    return Fail(Status::INVALID_ARGS, "open: a node of bus '" + node.bus + "', not platform", node.id);
  }
  const auto path = node.properties.FindString(kPropPath);
  if (!path) return Fail(Status::INVALID_ARGS, "open: the node has no " + std::string(kPropPath), node.id);
  const std::string what = "open " + *path + " over " + std::string(RouteName(options_.route));
  UDRV_TRY_ASSIGN(DtDevice device, tree_.Find(*path));
  if (!device.enabled) {
    return Fail(Status::BAD_STATE, what + ": disabled in the device tree (status \"" + device.status + "\")",
                node.id);
  }
  if (!device.problems.empty()) {
    return Fail(Status::BAD_STATE, what + ": the tree describes it wrongly: " + device.problems.front().what,
                node.id);
  }
  if (!options_.dtb.empty()) {
    return Fail(Status::BAD_STATE, what + ": the bus reads " + options_.dtb +
                                       ", not this machine's tree; only the live tree's devices open",
                node.id);
  }
  UDRV_TRY_ASSIGN(const auto kernel_devices, KernelDevicesByNodePath(options_.paths));
  const auto found = kernel_devices.find(*path);
  if (found == kernel_devices.end()) {
    return Fail(Status::BAD_STATE,
                what + ": the kernel made no device for the node (no platform or amba device "
                       "links to it)",
                node.id);
  }
  const KernelDevice kernel = found->second;
  const sysfs::BusDevice bus_device{options_.paths, kernel.bus, kernel.name};
  UDRV_TRY_ASSIGN(const sysfs::DriverBinding previous, sysfs::ReadDriverBinding(bus_device));

  if (options_.route == PlatformRoute::DEVMEM) {
    if (previous.driver) UDRV_TRY(sysfs::UnbindDriver(bus_device, *previous.driver, what));
    KernelDevice unbound = kernel;
    unbound.driver.reset();
    auto local = internal::OpenDevmemDevice(node, std::move(device), std::move(unbound), options_);
    return std::unique_ptr<bus::BoundDevice>(
        std::make_unique<BoundPlatformDevice>(node, std::move(local), bus_device, previous, ""));
  }

  const bool uio = options_.route == PlatformRoute::UIO;
  const std::string driver(uio ? kUioDriverName : internal::VfioDriverFor(kernel));
  if (auto loaded = sysfs::CheckDriverLoaded(bus_device, driver); !loaded) {
    if (uio) {
      return Fail(Status::NOT_FOUND,
                  what + ": udrv's UIO platform module is not loaded (no " + kernel.bus + " driver " +
                      driver + "): build platform/kmod against this kernel and insmod " +
                      std::string(kUioModuleName) + ".ko (docs/DRIVERS.md), or use the devmem route",
                  node.id, ENOENT);
    }
    return Fail(Status::NOT_SUPPORTED,
                what + ": this kernel has no " + driver + " driver (CONFIG_VFIO_PLATFORM" +
                    (kernel.bus == "amba" ? ", CONFIG_VFIO_AMBA" : "") +
                    "; modprobe it where it is built; Debian's arm64 kernels build none): use the "
                    "uio route",
                node.id, ENOENT);
  }
  if (previous.driver != driver) UDRV_TRY(sysfs::BindDriver(bus_device, driver, previous, what));
  KernelDevice bound = kernel;
  bound.driver = driver;
  auto opened = uio ? internal::OpenUioDevice(node, std::move(device), std::move(bound), options_)
                    : internal::OpenVfioDevice(node, std::move(device), std::move(bound), options_);
  if (!opened) {
    if (auto restored = sysfs::RestoreDriver(bus_device, previous, what); !restored) {
      return Wrap(opened.error(), what + " (and putting " + kernel.name + " back failed: " +
                                      restored.error().what + ")");
    }
    return Wrap(opened.error(), what);
  }
  return std::unique_ptr<bus::BoundDevice>(
      std::make_unique<BoundPlatformDevice>(node, std::move(*opened), bus_device, previous, driver));
}

}  // namespace udrv::platform
