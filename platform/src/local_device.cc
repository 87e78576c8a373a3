#include "local_device.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "udrv/mmio/devmem.h"
#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"

namespace udrv::platform::internal {
namespace {

uint64_t PageSize() { return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)); }

// One map of a UIO device: sys/class/uio/uioN/maps/mapM.
struct UioMap {
  uint32_t index = 0;
  uint64_t addr = 0;    // page aligned where the module aligned it
  uint64_t size = 0;
  uint64_t offset = 0;  // of the region within its first page
};

Result<std::vector<UioMap>> ReadUioMaps(const std::string& uio_dir, const std::string& object) {
  std::vector<UioMap> maps;
  auto names = sysfs::ListDirectory(uio_dir + "/maps");
  if (!names) {
    if (names.error().err_no == ENOENT) return maps;  // a device without memory
    return std::unexpected(std::move(names.error()));
  }
  for (const std::string& name : *names) {
    if (!name.starts_with("map")) continue;
    auto index = sysfs::ParseDecimal(std::string_view(name).substr(3), 0, 1023);
    if (!index) continue;
    const std::string dir = uio_dir + "/maps/" + name;
    UioMap map{.index = static_cast<uint32_t>(*index)};
    for (auto [attribute, field] : {std::pair{"addr", &map.addr}, std::pair{"size", &map.size},
                                    std::pair{"offset", &map.offset}}) {
      UDRV_TRY_ASSIGN(const std::string text, sysfs::ReadAttribute(dir + "/" + attribute));
      auto value = sysfs::ParsePrefixedHex(text);
      if (!value) {
        return Fail(Status::IO_INVALID, dir + "/" + attribute + ": '" + text + "' is no 0x number",
                    object);
      }
      *field = *value;
    }
    maps.push_back(map);
  }
  return maps;
}

class UioDevice final : public LocalDevice {
 public:
  UioDevice(bus::DeviceNode node, DtDevice tree_device, KernelDevice kernel,
            const PlatformBusOptions& options, UniqueFd uio, std::string uio_path,
            std::vector<UioMap> maps)
      : LocalDevice(std::move(node), std::move(tree_device), std::move(kernel), options),
        uio_(std::move(uio)),
        uio_path_(std::move(uio_path)),
        maps_(std::move(maps)) {}

  using Device::GetInterrupt;
  using Device::GetMmio;
  std::string_view route() const override { return "uio"; }
  int uio_fd() const override { return uio_.get(); }

  Result<Mmio> GetMmio(uint32_t index) override {
    UDRV_TRY_ASSIGN(const RegEntry* reg, Reg(index));
    const uint64_t phys = *reg->phys;
    const uint64_t page = PageSize();
    for (const UioMap& map : maps_) {
      // The module maps whole pages: the map's first page holds the region's start.
      const uint64_t first = map.addr & ~(page - 1);
      if (phys < first || phys - first >= map.size) continue;
      const uint64_t offset = phys - first;
      if (reg->size > map.size - offset) {
        return Fail(Status::OUT_OF_RANGE,
                    "get MMIO " + std::to_string(index) + ": " + uio_path_ + " map " +
                        std::to_string(map.index) + " (" + Hex(map.addr) + "+" + Hex(map.size) +
                        ") is shorter than the region " + Hex(phys) + "+" + Hex(reg->size),
                    Object());
      }
      // An open file of its own: a driver host that holds it cannot take
      // the interrupt counts this process reads from uio_.
      UniqueFd fd(::open(uio_path_.c_str(), O_RDWR | O_CLOEXEC));
      if (!fd) return FailErrno(errno, "get MMIO: open " + uio_path_, Object());
      uint64_t end = 0;
      if (__builtin_add_overflow(offset + reg->size, page - 1, &end)) {
        return Fail(Status::IO_INVALID,
                    "get MMIO " + std::to_string(index) + ": " + uio_path_ + " map " +
                        std::to_string(map.index) + " says it is " + Hex(map.size) +
                        " bytes, past any address",
                    Object());
      }
      const uint64_t span = end & ~(page - 1);
      // UIO takes the map's number, in pages, as the mmap offset.
      UDRV_TRY_ASSIGN(Vmo vmo, Vmo::CreatePhysical(std::move(fd), uint64_t{map.index} * page, span,
                                                   PhysicalRoute::UIO_MAP,
                                                   tree_device_.path + " reg " + std::to_string(index),
                                                   FdReach::DEVICE_ONLY));
      return Mmio{std::move(vmo), offset, reg->size, phys};
    }
    return Fail(Status::NOT_FOUND,
                "get MMIO " + std::to_string(index) + ": " + uio_path_ + " has no map of " + Hex(phys) +
                    " (the kernel gave the device no resource for it: an AMBA device gets its "
                    "first region only)",
                Object());
  }

  Result<Interrupt> GetInterrupt(uint32_t index) override {
    if (index >= tree_device_.interrupts.size()) {
      return Fail(Status::NOT_FOUND,
                  "get interrupt " + std::to_string(index) + ": the node has " +
                      std::to_string(tree_device_.interrupts.size()) + " interrupt(s)",
                  Object());
    }
    if (index != 0) {
      return Fail(Status::NOT_SUPPORTED,
                  "get interrupt " + std::to_string(index) +
                      ": the UIO module delivers the device's first interrupt only",
                  Object());
    }
    UniqueFd fd(::fcntl(uio_.get(), F_DUPFD_CLOEXEC, 0));
    if (!fd) return FailErrno(errno, "get interrupt: dup(" + uio_path_ + ")", Object());
    const int raw = uio_.get();
    const std::string object = Object();
    // The module masks the interrupt at its controller when it fires (it
    // may be level triggered); the ack unmasks it.
    UDRV_TRY_ASSIGN(Interrupt interrupt,
                    Interrupt::CreateFromUio(std::move(fd), tree_device_.path + " irq 0",
                                             [raw, object]() { return WriteIrqControl(raw, 1, object); }));
    UDRV_TRY(WriteIrqControl(raw, 1, object));
    return interrupt;
  }

  Result<void> MaskInterrupts() override {
    if (tree_device_.interrupts.empty()) return {};
    return WriteIrqControl(uio_.get(), 0, Object());
  }

  // The module's irqcontrol: 1 unmasks, 0 masks.
  static Result<void> WriteIrqControl(int fd, int32_t value, const std::string& object) {
    const ssize_t n = ::write(fd, &value, sizeof(value));
    if (n == static_cast<ssize_t>(sizeof(value))) return {};
    return FailErrno(n < 0 ? errno : EIO,
                     std::string(value != 0 ? "unmask" : "mask") + " the interrupt (UIO irqcontrol)",
                     object);
  }

 private:
  UniqueFd uio_;
  std::string uio_path_;
  std::vector<UioMap> maps_;
};

class DevmemDevice final : public LocalDevice {
 public:
  DevmemDevice(bus::DeviceNode node, DtDevice tree_device, KernelDevice kernel,
               const PlatformBusOptions& options)
      : LocalDevice(std::move(node), std::move(tree_device), std::move(kernel), options) {}
  using Device::GetInterrupt;
  using Device::GetMmio;
  std::string_view route() const override { return "devmem"; }

  Result<Mmio> GetMmio(uint32_t index) override {
    UDRV_TRY_ASSIGN(const RegEntry* reg, Reg(index));
    const mmio::RegionHolder holder{kernel_.bus + " device " + kernel_.name, kernel_.driver};
    return mmio::OpenDevmemRegion(paths_, *reg->phys, reg->size, Object(), &holder);
  }
  Result<Interrupt> GetInterrupt(uint32_t index) override {
    return Fail(Status::NOT_SUPPORTED,
                "get interrupt " + std::to_string(index) +
                    ": the devmem route has no interrupts; load udrv's UIO platform module and "
                    "use the uio route",
                Object());
  }
  Result<void> MaskInterrupts() override { return {}; }
};

}  // namespace

Result<const RegEntry*> LocalDevice::Reg(uint32_t index) const {
  if (index >= tree_device_.regs.size()) {
    return Fail(Status::NOT_FOUND,
                "get MMIO " + std::to_string(index) + ": the node has " +
                    std::to_string(tree_device_.regs.size()) + " reg entry(s)",
                Object());
  }
  const RegEntry& reg = tree_device_.regs[index];
  if (!reg.phys) {
    return Fail(Status::NOT_SUPPORTED,
                "get MMIO " + std::to_string(index) + ": no CPU address (" + reg.untranslated + ")",
                Object());
  }
  return &reg;
}

Result<dma::Bti> LocalDevice::GetBti() {
  uint64_t limit = dma::kNoDmaLimit;
  int64_t offset = 0;
  if (tree_device_.dma) {
    offset = tree_device_.dma->offset;
    // The limit is the last bus address reached; the Bti's is one past it.
    if (tree_device_.dma->limit != UINT64_MAX) limit = tree_device_.dma->limit + 1;
  }
  return dma::Bti::CreatePhysical(physical_dma_, limit, tree_device_.path, offset);
}

Result<std::unique_ptr<LocalDevice>> OpenUioDevice(bus::DeviceNode node, DtDevice tree_device,
                                                   KernelDevice kernel,
                                                   const PlatformBusOptions& options) {
  const std::string object = tree_device.path + " (uio)";
  const std::string device_dir = options.paths.BusDevice(kernel.bus, kernel.name);
  auto names = sysfs::ListDirectory(device_dir + "/uio");
  if (!names) {
    return Wrap(names.error(), "open " + tree_device.path + ": " + std::string(kUioDriverName) +
                                   " registered no UIO device");
  }
  std::string uio_name;
  for (const std::string& entry : *names) {
    if (entry.starts_with("uio")) uio_name = entry;
  }
  if (uio_name.empty()) {
    return Fail(Status::BAD_STATE, std::string(kUioDriverName) + " registered no UIO device (uio/ is empty)",
                object);
  }
  UDRV_TRY_ASSIGN(std::vector<UioMap> maps, ReadUioMaps(device_dir + "/uio/" + uio_name, object));
  const std::string uio_path = options.paths.dev + "/" + uio_name;
  UniqueFd uio(::open(uio_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!uio) return FailErrno(errno, "open " + uio_path, object);
  auto device = std::make_unique<UioDevice>(std::move(node), std::move(tree_device), std::move(kernel),
                                            options, std::move(uio), uio_path, std::move(maps));
  // Interrupts start masked, as on every route, until the driver maps one.
  UDRV_TRY(device->MaskInterrupts());
  return std::unique_ptr<LocalDevice>(std::move(device));
}

std::unique_ptr<LocalDevice> OpenDevmemDevice(bus::DeviceNode node, DtDevice tree_device,
                                              KernelDevice kernel, const PlatformBusOptions& options) {
  return std::make_unique<DevmemDevice>(std::move(node), std::move(tree_device), std::move(kernel),
                                        options);
}

}  // namespace udrv::platform::internal
