#include "udrv/acpi/acpi_bus.h"

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "udrv/mmio/devmem.h"
#include "udrv/mmio/uio.h"
#include "udrv/sysfs/bind.h"

namespace udrv::acpi {
namespace {

// The path of `path`'s parent ("\_SB_" for "\_SB_.PCI0"); "" at the root.
std::string ParentPath(std::string_view path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) return {};
  return std::string(path.substr(0, dot));
}

// The kernel's resources for `kernel`: its PNP physical node's, or else the
// /proc/iomem and /proc/ioports claims named after it or a physical node.
void KernelResources(const KernelAcpiDevice& kernel, const KernelView& view, MergedDevice& merged) {
  for (const PhysicalNode& node : kernel.physical_nodes) {
    if (node.bus != "pnp") continue;
    const auto found = view.pnp.find(node.name);
    if (found == view.pnp.end()) continue;
    uint32_t index = 0;
    for (const PnpResource& resource : found->second.resources) {
      const uint32_t position = index++;
      if (resource.disabled) continue;
      switch (resource.kind) {
        case PnpResource::Kind::MEM:
          merged.memory.push_back({MemoryRange{resource.start, resource.end - resource.start + 1, true,
                                               resource.window, position},
                                   ResourceOrigin::KERNEL_PNP});
          break;
        case PnpResource::Kind::IO:
          merged.io.push_back(
              {IoRange{resource.start, resource.end - resource.start + 1, resource.window, position},
               ResourceOrigin::KERNEL_PNP});
          break;
        case PnpResource::Kind::IRQ:
          if (resource.start > UINT32_MAX) break;
          merged.interrupts.push_back(
              {InterruptInfo{static_cast<uint32_t>(resource.start), false, false, false, false, position},
               false, ResourceOrigin::KERNEL_PNP});
          break;
        case PnpResource::Kind::DMA:
        case PnpResource::Kind::BUS: break;
      }
    }
    return;
  }
  // A PCI function's claims are its BARs, the PCI bus's business, not the
  // ACPI device's resources; so may be those of a node whose bus is unknown.
  std::vector<std::string> names = {kernel.name};
  for (const PhysicalNode& node : kernel.physical_nodes) {
    // (An ACPI platform device has the ACPI device's name: one claim, read once.)
    const bool listed = std::find(names.begin(), names.end(), node.name) != names.end();
    if (node.bus != "pci" && !node.bus.empty() && !listed) names.push_back(node.name);
  }
  const auto claims = [&names](const ResourceTree& tree) {
    std::vector<const ResourceClaim*> found;
    for (const std::string& name : names) {
      for (const ResourceClaim* claim : tree.Named(name)) found.push_back(claim);
    }
    std::sort(found.begin(), found.end(),
              [](const ResourceClaim* a, const ResourceClaim* b) { return a->start < b->start; });
    return found;
  };
  std::vector<std::string> hidden;
  if (view.iomem) {
    if (view.iomem->addresses_hidden) {
      hidden.push_back("/proc/iomem");
    } else {
      for (const ResourceClaim* claim : claims(*view.iomem)) {
        merged.memory.push_back({MemoryRange{claim->start, claim->end - claim->start + 1, true, false, 0},
                                 ResourceOrigin::KERNEL_IOMEM});
      }
    }
  }
  if (view.ioports) {
    if (view.ioports->addresses_hidden) {
      hidden.push_back("/proc/ioports");
    } else {
      for (const ResourceClaim* claim : claims(*view.ioports)) {
        merged.io.push_back(
            {IoRange{claim->start, claim->end - claim->start + 1, false, 0}, ResourceOrigin::KERNEL_IOPORTS});
      }
    }
  }
  if (!hidden.empty()) {
    merged.resources_note += (merged.resources_note.empty() ? "" : "; ") + hidden.front() +
                             (hidden.size() > 1 ? " and " + hidden.back() + " show" : " shows") +
                             " every address as zero to a reader without CAP_SYS_ADMIN";
  }
}

// The resources of a decoded template, with its origin.
void TemplateResources(const ResourceTemplate& crs, ResourceOrigin origin, MergedDevice& merged) {
  for (const MemoryRange& range : acpi::MemoryRanges(crs.resources)) merged.memory.push_back({range, origin});
  for (const IoRange& range : IoRanges(crs.resources)) merged.io.push_back({range, origin});
  for (const InterruptInfo& info : Interrupts(crs.resources))
    merged.interrupts.push_back({info, true, origin});
}

template <typename T>
std::optional<T> KnownValue(const AmlValue<T>& value) {
  if (value.source == ValueSource::STATIC || value.source == ValueSource::EVALUATED) return value.value;
  return std::nullopt;
}

// Whether the tables leave `value` to the kernel: a method the reader did
// not run, or broken AML.
template <typename T>
bool NeedsKernel(const AmlValue<T>& value) {
  return value.source == ValueSource::NEEDS_KERNEL || value.source == ValueSource::BROKEN;
}

MergedDevice FromTables(const NamespaceDevice& device, const KernelView* view) {
  MergedDevice merged;
  merged.path = device.path;
  merged.tables = &device;
  const KernelAcpiDevice* kernel = view != nullptr ? view->FindByPath(device.path) : nullptr;
  merged.kernel = kernel;

  merged.hid = KnownValue(device.hid);
  if (!merged.hid && NeedsKernel(device.hid) && kernel != nullptr) merged.hid = kernel->hid;
  if (auto cids = KnownValue(device.cid)) {
    merged.cids = std::move(*cids);
  } else if (NeedsKernel(device.cid) && kernel != nullptr) {
    merged.cids = kernel->cids;
  }
  merged.uid = KnownValue(device.uid);
  if (!merged.uid && NeedsKernel(device.uid) && kernel != nullptr) merged.uid = kernel->uid;
  merged.adr = KnownValue(device.adr);
  if (!merged.adr && NeedsKernel(device.adr) && kernel != nullptr) merged.adr = kernel->adr;

  switch (device.sta.source) {
    case ValueSource::ABSENT:
      merged.status = kStaDefault;
      merged.status_source = "default (no _STA)";
      break;
    case ValueSource::STATIC:
    case ValueSource::EVALUATED:
      merged.status = device.sta.value;
      merged.status_source = "_STA (" + std::string(ValueSourceName(device.sta.source)) + ")";
      break;
    case ValueSource::NEEDS_KERNEL:
    case ValueSource::BROKEN:
      if (kernel != nullptr && kernel->status) {
        merged.status = kernel->status;
        merged.status_source = "kernel: status";
      } else if (kernel != nullptr) {
        // Linux shows `status` wherever _STA exists; without it the kernel
        // found none to run, and the device is there.
        merged.status = kStaDefault;
        merged.status_source = "kernel: no status attribute";
      } else if (view != nullptr) {
        // The kernel enumerates every device present or functioning.
        merged.status = 0;
        merged.status_source = "kernel: no device for it";
      } else {
        merged.status_source = "_STA needs the kernel (" + device.sta.detail + "); offline";
      }
      break;
  }

  switch (device.crs.source) {
    case ValueSource::ABSENT: break;
    case ValueSource::STATIC:
    case ValueSource::EVALUATED:
      if (device.crs.value) {
        TemplateResources(*device.crs.value,
                          device.crs.source == ValueSource::STATIC ? ResourceOrigin::CRS_STATIC
                                                                   : ResourceOrigin::CRS_EVALUATED,
                          merged);
      }
      break;
    case ValueSource::NEEDS_KERNEL:
    case ValueSource::BROKEN:
      merged.resources_note =
          "_CRS " + std::string(device.crs.source == ValueSource::BROKEN ? "is broken" : "needs the kernel") +
          " (" + device.crs.detail + ")";
      if (kernel != nullptr) {
        KernelResources(*kernel, *view, merged);
      } else {
        merged.resources_note += view != nullptr ? "; the kernel made no device for it" : "; offline";
      }
      break;
  }
  return merged;
}

MergedDevice FromKernel(const KernelAcpiDevice& kernel, const KernelView& view) {
  MergedDevice merged;
  merged.path = *kernel.path;
  merged.kernel = &kernel;
  merged.hid = kernel.hid;
  merged.cids = kernel.cids;
  merged.uid = kernel.uid;
  merged.adr = kernel.adr;
  merged.status = kernel.status.value_or(kStaDefault);
  merged.status_source = kernel.status ? "kernel: status" : "kernel: no status attribute";
  KernelResources(kernel, view, merged);
  return merged;
}

// What every route gives a driver: the device's resources described.
class OpenedDevice : public Device {
 public:
  const bus::DeviceNode& GetNode() const override { return node_; }
  const std::vector<DeviceMemory>& MemoryRanges() const override { return memory_; }
  const std::vector<DeviceIo>& GetIoPorts() const override { return io_; }

  Result<DeviceInterrupt> GetInterruptInfo(uint32_t index) const override {
    if (index >= interrupts_.size()) {
      return Fail(Status::NOT_FOUND,
                  "get interrupt " + std::to_string(index) + ": the device has " +
                      std::to_string(interrupts_.size()) + " interrupt(s)",
                  Object());
    }
    return interrupts_[index];
  }

  // The device's interrupt masked until the driver maps it again (uio), or
  // nothing to do (devmem).
  virtual Result<void> MaskInterrupts() = 0;

 protected:
  OpenedDevice(bus::DeviceNode node, const MergedDevice& device)
      : node_(std::move(node)), path_(device.path), io_(device.io), interrupts_(device.interrupts) {
    for (const DeviceMemory& memory : device.memory) {
      if (!memory.range.producer) memory_.push_back(memory);
    }
  }

  // "\_SB_.HPET (devmem)": errors name the device so.
  std::string Object() const { return path_ + " (" + std::string(route()) + ")"; }

  // Memory range `index`: NOT_FOUND past the last.
  Result<const MemoryRange*> Range(uint32_t index) const {
    if (index >= memory_.size()) {
      return Fail(Status::NOT_FOUND,
                  "get MMIO " + std::to_string(index) + ": the device has " + std::to_string(memory_.size()) +
                      " memory range(s)",
                  Object());
    }
    return &memory_[index].range;
  }

  bus::DeviceNode node_;
  std::string path_;
  std::vector<DeviceMemory> memory_;
  std::vector<DeviceIo> io_;
  std::vector<DeviceInterrupt> interrupts_;
};

// Over /dev/mem: the device's consumer memory ranges, nothing taken from
// the kernel.
class DevmemDevice final : public OpenedDevice {
 public:
  DevmemDevice(bus::DeviceNode node, const MergedDevice& device, const KernelView* view,
               sysfs::LinuxPaths paths)
      : OpenedDevice(std::move(node), device), paths_(std::move(paths)) {
    if (view != nullptr && view->iomem && !view->iomem->addresses_hidden) iomem_ = view->iomem;
    // The kernel's device whose driver could hold the registers: the
    // physical node with a driver, else the ACPI device's own.
    if (device.kernel != nullptr) {
      for (const PhysicalNode& physical : device.kernel->physical_nodes) {
        if (physical.driver) {
          holder_ = mmio::RegionHolder{physical.bus + " device " + physical.name, physical.driver};
          break;
        }
      }
      if (!holder_) holder_ = mmio::RegionHolder{"acpi device " + device.kernel->name, device.kernel->driver};
    }
  }

  std::string_view route() const override { return RouteName(AcpiRoute::DEVMEM); }

  Result<Mmio> GetMmio(uint32_t index) override {
    UDRV_TRY_ASSIGN(const MemoryRange* range, Range(index));
    // Whatever the tables or a kernel claim say the range is, RAM is not a
    // device's: refused here too, where the kernel's STRICT_DEVMEM is off
    // or (x86's first MiB) lets RAM through.
    if (iomem_) {
      for (const ResourceClaim* claim : iomem_->Overlapping(range->base, range->base + range->size - 1)) {
        if (claim->name != "System RAM") continue;
        return Fail(Status::ACCESS_DENIED,
                    "get MMIO " + std::to_string(index) + ": " + Hex(range->base) + " size " + Hex(range->size) +
                        " overlaps System RAM " + Hex(claim->start) + "-" + Hex(claim->end) + " (/proc/iomem)",
                    Object());
      }
    }
    auto mapped =
        mmio::OpenDevmemRegion(paths_, range->base, range->size, Object(), holder_ ? &*holder_ : nullptr);
    if (!mapped && mapped.error().status == Status::ACCESS_DENIED && iomem_) {
      std::string claims;
      for (const ResourceClaim* claim : iomem_->Overlapping(range->base, range->base + range->size - 1)) {
        if (claim->depth == 0 && claim->name.starts_with("PCI Bus")) continue;
        claims += (claims.empty() ? "" : ", ") + Hex(claim->start) + "-" + Hex(claim->end) + " " +
                  iomem_->Chain(*claim);
      }
      if (!claims.empty()) {
        return Wrap(mapped.error(), "get MMIO " + std::to_string(index) + " (/proc/iomem: " + claims + ")");
      }
    }
    return mapped;
  }

  Result<Interrupt> GetInterrupt(uint32_t index) override {
    UDRV_TRY_ASSIGN(const DeviceInterrupt interrupt, GetInterruptInfo(index));
    return Fail(Status::NOT_SUPPORTED,
                "get interrupt " + std::to_string(index) + " (GSI " + std::to_string(interrupt.info.gsi) +
                    "): the devmem route delivers no interrupts (GetInterruptInfo describes it; the uio "
                    "route delivers a platform device's first)",
                Object());
  }

  Result<void> MaskInterrupts() override { return {}; }

 private:
  sysfs::LinuxPaths paths_;
  std::optional<ResourceTree> iomem_;
  std::optional<mmio::RegionHolder> holder_;
};

// Over udrv's UIO platform module, bound to the device's physical node
// already: its memory ranges through the maps of /dev/uioN (one per memory
// resource of the kernel's device, whole pages), its first interrupt
// through the device itself.
class UioDevice final : public OpenedDevice {
 public:
  UioDevice(bus::DeviceNode node, const MergedDevice& device, mmio::UioDevice uio)
      : OpenedDevice(std::move(node), device), uio_(std::move(uio)) {}

  std::string_view route() const override { return RouteName(AcpiRoute::UIO); }

  Result<Mmio> GetMmio(uint32_t index) override {
    UDRV_TRY_ASSIGN(const MemoryRange* range, Range(index));
    auto mapped = uio_.MapRegion(range->base, range->size, path_ + " memory " + std::to_string(index));
    if (!mapped) {
      Error error = std::move(mapped.error());
      if (error.status == Status::NOT_FOUND) {
        error.what += " (the kernel's device has no memory resource there)";
      }
      return Wrap(std::move(error), "get MMIO " + std::to_string(index));
    }
    return std::move(*mapped);
  }

  Result<Interrupt> GetInterrupt(uint32_t index) override {
    UDRV_TRY_ASSIGN(const DeviceInterrupt interrupt, GetInterruptInfo(index));
    if (index != 0) {
      return Fail(Status::NOT_SUPPORTED,
                  "get interrupt " + std::to_string(index) + " (GSI " + std::to_string(interrupt.info.gsi) +
                      "): the UIO module delivers the device's first interrupt only",
                  Object());
    }
    return uio_.GetInterrupt(path_ + " GSI " + std::to_string(interrupt.info.gsi));
  }

  Result<void> MaskInterrupts() override {
    if (interrupts_.empty()) return {};
    return uio_.MaskInterrupt();
  }

 private:
  mmio::UioDevice uio_;
};

class BoundAcpiDevice final : public bus::BoundDevice {
 public:
  // `physical`: the kernel device the route bound `driver` to; nullopt
  // when the route took nothing from the kernel (devmem).
  BoundAcpiDevice(bus::DeviceNode node, std::unique_ptr<OpenedDevice> device, std::string kernel,
                  std::optional<sysfs::BusDevice> physical, sysfs::DriverBinding previous, std::string driver)
      : BoundDevice(std::move(node)),
        device_(std::move(device)),
        kernel_(std::move(kernel)),
        route_(device_->route()),
        physical_(std::move(physical)),
        previous_(std::move(previous)),
        driver_(std::move(driver)) {}
  ~BoundAcpiDevice() override {
    if (device_) (void)Release({});
  }

  bus::ProtocolSet protocols() override {
    bus::ProtocolSet set;
    if (device_) set.Add<Device>(device_.get());
    return set;
  }

  std::string Describe() const override {
    if (!physical_) return "nothing taken from the kernel (" + kernel_ + "), opened over " + route_;
    return physical_->bus + " device " + physical_->name + " bound to " + driver_ +
           " (was: " + sysfs::DriverOrNone(previous_.driver) + "), opened over " + route_;
  }

  Result<bus::ReleaseReport> Release(const bus::ReleaseOptions& options) override {
    if (!device_) return Fail(Status::BAD_STATE, "release: released already", node().id);
    bus::ReleaseReport report;
    report.steps.push_back(bus::StepOf("interrupts off", device_->MaskInterrupts()));
    device_.reset();
    report.steps.push_back({"close", bus::ReleaseStep::Outcome::DONE, ""});
    if (!physical_) {
      report.steps.push_back({"kernel driver", bus::ReleaseStep::Outcome::SKIPPED,
                              options.restore_kernel_driver ? "nothing was unbound" : "left as it was"});
    } else if (options.restore_kernel_driver) {
      report.steps.push_back(
          bus::StepOf("kernel driver", sysfs::RestoreDriver(*physical_, previous_, "restore " + physical_->name),
                      sysfs::DriverOrNone(previous_.driver)));
    } else {
      report.steps.push_back({"kernel driver", bus::ReleaseStep::Outcome::SKIPPED, "left with " + driver_});
    }
    return report;
  }

 private:
  std::unique_ptr<OpenedDevice> device_;
  std::string kernel_;
  std::string route_;
  std::optional<sysfs::BusDevice> physical_;
  sysfs::DriverBinding previous_;
  std::string driver_;
};

// Binds udrv's UIO platform module to `device`'s physical node (platform
// or amba) and opens the device over it; the node given back to its
// driver when that fails.
Result<std::unique_ptr<bus::BoundDevice>> OpenOverUio(const bus::DeviceNode& node, const MergedDevice& device,
                                                      const sysfs::LinuxPaths& paths, std::string kernel,
                                                      const std::string& what) {
  const PhysicalNode* physical = nullptr;
  if (device.kernel != nullptr) {
    for (const PhysicalNode& candidate : device.kernel->physical_nodes) {
      if (candidate.bus == "platform" || candidate.bus == "amba") {
        physical = &candidate;
        break;
      }
    }
  }
  if (physical == nullptr) {
    return Fail(Status::NOT_SUPPORTED,
                what + ": udrv's UIO platform module serves platform and amba devices, and the kernel made "
                       "none for it (" + kernel + "); use the devmem route",
                node.id);
  }
  const sysfs::BusDevice bus_device{paths, physical->bus, physical->name};
  const std::string driver(mmio::kUioPlatformDriverName);
  if (auto loaded = sysfs::CheckDriverLoaded(bus_device, driver); !loaded) {
    return Fail(Status::NOT_FOUND,
                what + ": udrv's UIO platform module is not loaded (no " + physical->bus + " driver " + driver +
                    "): build platform/kmod against this kernel and insmod " +
                    std::string(mmio::kUioPlatformModuleName) + ".ko (docs/DRIVERS.md), or use the devmem route",
                node.id, ENOENT);
  }
  UDRV_TRY_ASSIGN(const sysfs::DriverBinding previous, sysfs::ReadDriverBinding(bus_device));
  if (previous.driver != driver) UDRV_TRY(sysfs::BindDriver(bus_device, driver, previous, what));
  auto uio = mmio::UioDevice::Open(paths, bus_device.Path(), !device.interrupts.empty(),
                                   device.path + " (" + std::string(RouteName(AcpiRoute::UIO)) + ")");
  if (!uio) {
    if (auto restored = sysfs::RestoreDriver(bus_device, previous, what); !restored) {
      return Wrap(uio.error(),
                  what + " (and putting " + physical->name + " back failed: " + restored.error().what + ")");
    }
    return Wrap(uio.error(), what);
  }
  return std::unique_ptr<bus::BoundDevice>(std::make_unique<BoundAcpiDevice>(
      node, std::make_unique<UioDevice>(node, device, std::move(*uio)), std::move(kernel), bus_device, previous,
      driver));
}

}  // namespace

std::string_view ResourceOriginName(ResourceOrigin origin) {
  switch (origin) {
    case ResourceOrigin::CRS_STATIC: return "_CRS (static)";
    case ResourceOrigin::CRS_EVALUATED: return "_CRS (evaluated)";
    case ResourceOrigin::KERNEL_PNP: return "kernel: pnp resources";
    case ResourceOrigin::KERNEL_IOMEM: return "kernel: /proc/iomem";
    case ResourceOrigin::KERNEL_IOPORTS: return "kernel: /proc/ioports";
  }
  return "unknown";
}

std::string_view RouteName(AcpiRoute route) {
  switch (route) {
    case AcpiRoute::DEVMEM: return "devmem";
    case AcpiRoute::UIO: return "uio";
  }
  return "unknown";
}

std::vector<MergedDevice> MergeDevices(const Namespace* tables_view, const KernelView* kernel) {
  std::vector<MergedDevice> merged;
  if (tables_view != nullptr) {
    for (const NamespaceDevice& device : tables_view->devices) merged.push_back(FromTables(device, kernel));
    return merged;
  }
  if (kernel == nullptr) return merged;
  for (const KernelAcpiDevice& device : kernel->devices) {
    // The root and \_SB_ are scopes, not devices; a fixed-feature button has no path.
    if (!device.path || *device.path == "\\" || *device.path == "\\_SB_") continue;
    merged.push_back(FromKernel(device, *kernel));
  }
  // Parents before children: a path sorts before every path it prefixes.
  std::sort(merged.begin(), merged.end(),
            [](const MergedDevice& a, const MergedDevice& b) { return a.path < b.path; });
  return merged;
}

std::string NodeIdOf(std::string_view path) {
  std::string id(kBusName);
  if (path.starts_with('\\')) path.remove_prefix(1);
  id += '/';
  for (const char c : path) id += c == '.' ? '/' : c;
  return id;
}

Result<bus::Properties> PropertiesOf(const MergedDevice& device) {
  bus::Properties properties;
  properties.Set(std::string(kPropPath), device.path);
  if (device.hid) properties.Set(std::string(kPropHid), *device.hid);
  if (!device.cids.empty()) UDRV_TRY(properties.SetList(std::string(kPropCid), device.cids));
  if (device.uid) properties.Set(std::string(kPropUid), *device.uid);
  if (device.adr) {
    if (*device.adr <= UINT32_MAX) {
      properties.Set(std::string(kPropAdr), static_cast<uint32_t>(*device.adr));
    } else {
      properties.Set(std::string(kPropAdr), Hex(*device.adr));
    }
  }
  if (device.status) properties.Set(std::string(kPropStatus), *device.status);
  if (device.kernel != nullptr) {
    properties.Set(std::string(kPropKernelDevice), device.kernel->name);
    if (!device.kernel->physical_nodes.empty()) {
      properties.Set(std::string(kPropPhysicalNode), device.kernel->physical_nodes.front().Id());
    }
    std::optional<std::string> driver = device.kernel->driver;
    for (const PhysicalNode& node : device.kernel->physical_nodes) {
      if (node.driver) {
        driver = node.driver;
        break;
      }
    }
    if (driver) properties.Set(std::string(kPropDriver), *driver);
  }
  return properties;
}

AcpiBus::AcpiBus(AcpiBusOptions options, TableSet tables, Namespace names, std::optional<KernelView> kernel,
                 bool have_tables)
    : options_(std::move(options)),
      tables_(std::move(tables)),
      namespace_(std::move(names)),
      kernel_(std::move(kernel)),
      devices_(MergeDevices(have_tables ? &namespace_ : nullptr, kernel_ ? &*kernel_ : nullptr)) {}

Result<std::unique_ptr<AcpiBus>> AcpiBus::Create(AcpiBusOptions options) {
  const bool live = options.tables.empty();
  TableSet tables;
  bool have_tables = true;
  if (live) {
    auto read = ReadLiveTables(options.paths);
    if (!read && read.error().status == Status::NOT_FOUND) {
      return Wrap(read.error(),
                  "acpi bus: this machine has no ACPI tables (a device-tree board, or acpi=off); "
                  "--acpi DIR reads another machine's offline");
    }
    if (!read && read.error().status == Status::ACCESS_DENIED) {
      have_tables = false;
      if (options.log) {
        options.log("acpi: the tables are root's (" + read.error().what +
                    "): the devices are the kernel's view alone");
      }
    } else if (!read) {
      return std::unexpected(std::move(read.error()));
    } else {
      tables = std::move(*read);
    }
  } else {
    UDRV_TRY_ASSIGN(tables, ReadTables(options.tables));
  }
  Namespace names;
  if (have_tables) {
    names = ReadNamespace(tables);
    if (options.log) {
      for (const Error& problem : names.problems) options.log("acpi: namespace: " + problem.ToString());
    }
  }
  std::optional<KernelView> kernel;
  if (live) {
    auto view = ReadKernelView(options.paths);
    if (!view) return Wrap(view.error(), "acpi bus: read the kernel's view");
    kernel = std::move(*view);
  }
  return std::unique_ptr<AcpiBus>(
      new AcpiBus(std::move(options), std::move(tables), std::move(names), std::move(kernel), have_tables));
}

const MergedDevice* AcpiBus::Find(std::string_view path) const {
  for (const MergedDevice& device : devices_) {
    if (device.path == path) return &device;
  }
  return nullptr;
}

Result<std::vector<bus::DeviceNode>> AcpiBus::Enumerate() const {
  std::set<std::string, std::less<>> listed;
  std::set<std::string, std::less<>> seen;
  // Subtrees Linux does not enumerate: under a device neither present nor functioning.
  std::vector<std::string> gone;
  std::vector<bus::DeviceNode> nodes;
  const auto log = [this](const std::string& line) {
    if (options_.log) options_.log("acpi: " + line);
  };
  for (const MergedDevice& device : devices_) {
    if (!seen.insert(device.path).second) {
      log(device.path + " left out: declared again" +
          (device.tables != nullptr ? " (" + device.tables->table + " " + Hex(device.tables->offset) + ")"
                                    : ""));
      continue;
    }
    const bool under_gone = std::any_of(gone.begin(), gone.end(), [&device](const std::string& path) {
      return device.path.starts_with(path) && device.path.size() > path.size() &&
             device.path[path.size()] == '.';
    });
    if (under_gone) continue;
    if (!device.MayBePresent()) {
      const bool functioning = (*device.status & kStaFunctioning) != 0;
      if (!functioning) gone.push_back(device.path);
      log(device.path + " left out: not present (status " + Hex(*device.status) + ", " +
          device.status_source + ")" + (functioning ? "" : ", nor its children"));
      continue;
    }
    auto properties = PropertiesOf(device);
    if (!properties) {
      log(device.path + " left out: " + properties.error().ToString());
      continue;
    }
    std::string parent;
    for (std::string path = ParentPath(device.path); !path.empty(); path = ParentPath(path)) {
      if (listed.contains(path)) {
        parent = NodeIdOf(path);
        break;
      }
    }
    listed.insert(device.path);
    nodes.push_back(bus::DeviceNode{std::string(kBusName), NodeIdOf(device.path), std::move(parent),
                                    std::move(*properties)});
  }
  return nodes;
}

Result<std::unique_ptr<bus::BoundDevice>> AcpiBus::Open(const bus::DeviceNode& node) {
  if (node.bus != kBusName) {
    return Fail(Status::INVALID_ARGS, "open: a node of bus '" + node.bus + "', not acpi", node.id);
  }
  const auto path = node.properties.FindString(kPropPath);
  if (!path) return Fail(Status::INVALID_ARGS, "open: the node has no " + std::string(kPropPath), node.id);
  const std::string what = "open " + *path + " over " + std::string(RouteName(options_.route));
  const MergedDevice* device = Find(*path);
  if (device == nullptr) return Fail(Status::NOT_FOUND, what + ": the namespace has no such device", node.id);
  if (!options_.tables.empty()) {
    return Fail(Status::BAD_STATE,
                what + ": the bus reads " + options_.tables +
                    ", not this machine's tables; only the live "
                    "machine's devices open",
                node.id);
  }
  if (!device->status) {
    return Fail(Status::BAD_STATE,
                what + ": whether it is present is unknown (" + device->status_source + ")", node.id);
  }
  if ((*device->status & kStaPresent) == 0) {
    return Fail(Status::BAD_STATE,
                what + ": not present (status " + Hex(*device->status) + ", " + device->status_source + ")",
                node.id);
  }
  const KernelView* view = kernel_ ? &*kernel_ : nullptr;
  std::string kernel = "the kernel made no device for it";
  if (device->kernel != nullptr) {
    kernel = "kernel device " + device->kernel->name;
    for (const PhysicalNode& physical : device->kernel->physical_nodes) {
      kernel += ", " + physical.Id() + " " + sysfs::DriverOrNone(physical.driver);
    }
  }
  if (options_.route == AcpiRoute::UIO) return OpenOverUio(node, *device, options_.paths, std::move(kernel), what);
  return std::unique_ptr<bus::BoundDevice>(
      std::make_unique<BoundAcpiDevice>(node, std::make_unique<DevmemDevice>(node, *device, view, options_.paths),
                                        std::move(kernel), std::nullopt, sysfs::DriverBinding{}, ""));
}

}  // namespace udrv::acpi
