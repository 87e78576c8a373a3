#include "udrv/pci/sysfs_device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace udrv::pci {
namespace {

constexpr uint32_t kMaxBarIndex = 5;
constexpr std::string_view kReadOnly = "the sysfs route is read-only";
constexpr std::string_view kNoInterrupts =
    "the sysfs route has no interrupts; bind vfio-pci or uio_pci_generic";

uint64_t RoundUpToPage(uint64_t size) {
  const uint64_t page = PageSize();
  return (size + page - 1) / page * page;
}

}  // namespace

SysfsDevice::SysfsDevice(Address address, SysfsPci sysfs, UniqueFd config, size_t config_size)
    : Device(address), sysfs_(std::move(sysfs)), config_(std::move(config)),
      config_size_(config_size) {}

Result<std::unique_ptr<SysfsDevice>> SysfsDevice::Open(const Address& address,
                                                       const sysfs::LinuxPaths& paths) {
  SysfsPci sysfs(paths);
  const std::string object = address.ToString() + " (sysfs)";
  // The attributes first: a missing or broken function fails here, naming the file.
  auto info = sysfs.Read(address);
  if (!info) return Wrap(info.error(), "open PCI device through sysfs");
  // How much config space this process may read is fixed when the file is
  // opened (root or not), so measure it once.
  auto config_space = sysfs.ReadConfig(address);
  if (!config_space) return Wrap(config_space.error(), "open PCI device through sysfs");
  const std::string path = sysfs.DevicePath(address) + "/config";
  UniqueFd config(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!config) return FailErrno(errno, "open PCI device through sysfs: open " + path, object);
  return std::unique_ptr<SysfsDevice>(
      new SysfsDevice(address, std::move(sysfs), std::move(config), config_space->size()));
}

Result<std::unique_ptr<Device>> OpenSysfsDevice(const Address& address,
                                                const sysfs::LinuxPaths& paths) {
  auto device = SysfsDevice::Open(address, paths);
  if (!device) return std::unexpected(device.error());
  return std::unique_ptr<Device>(std::move(*device));
}

Result<DeviceInfo> SysfsDevice::GetDeviceInfo() const {
  auto info = sysfs_.Read(address());
  if (!info) return Wrap(info.error(), "get device info of " + Describe());
  return info;
}

Result<uint32_t> SysfsDevice::DoReadConfig(uint16_t offset, size_t width) const {
  uint8_t bytes[4] = {};
  ssize_t n;
  do {
    n = ::pread(config_.get(), bytes, width, offset);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    // A removed device's attributes fail with ENODEV: IO_NOT_PRESENT.
    return FailErrno(errno, "read config at " + Hex(offset) + " (pread of config)",
                     Describe());
  }
  if (static_cast<size_t>(n) != width) {
    return Fail(Status::IO,
                "read config at " + Hex(offset) + ": got " + std::to_string(n) +
                    " of " + std::to_string(width) + " bytes",
                Describe());
  }
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) value |= uint32_t{bytes[i]} << (8 * i);
  return value;
}

Result<void> SysfsDevice::DoWriteConfig(uint16_t offset, size_t, uint32_t) {
  return Fail(Status::ACCESS_DENIED,
              "write config at " + Hex(offset) + ": " + std::string(kReadOnly),
              Describe());
}

Result<BarInfo> SysfsDevice::FindBar(uint32_t index, std::string_view op) const {
  const std::string what = std::string(op) + " " + std::to_string(index);
  if (index > kMaxBarIndex) {
    return Fail(Status::OUT_OF_RANGE, what + ": BARs are 0..5", Describe());
  }
  auto info = sysfs_.Read(address());
  if (!info) return Wrap(info.error(), what);
  if (const BarInfo* bar = info->FindBar(index)) return *bar;
  if (index > 0) {
    if (const BarInfo* lower = info->FindBar(index - 1); lower != nullptr && lower->is_64bit) {
      return Fail(Status::NOT_FOUND,
                  what + ": the upper half of 64-bit BAR " + std::to_string(index - 1),
                  Describe());
    }
  }
  return Fail(Status::NOT_FOUND, what + ": not implemented by the device", Describe());
}

Result<Bar> SysfsDevice::OpenMemoryBar(const BarInfo& info, bool write_combining) const {
  const std::string file = "resource" + std::to_string(info.index) + (write_combining ? "_wc" : "");
  const std::string what = "map BAR " + std::to_string(info.index) + " through " + file;
  if (info.size % PageSize() != 0) {
    return Fail(Status::NOT_SUPPORTED,
                what + ": the BAR is " + std::to_string(info.size) +
                    " bytes, not whole pages; a VMO maps pages and the file is only as long as "
                    "the BAR",
                Describe());
  }
  const std::string path = sysfs_.DevicePath(address()) + "/" + file;
  // Read-write where this process may (root); otherwise read-only, and the
  // VMO then carries no WRITE right.
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd && (errno == EACCES || errno == EPERM || errno == EROFS)) {
    fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
  if (!fd) {
    const int err = errno;
    if (err == ENOENT) {
      struct stat st{};
      if (::stat(sysfs_.DevicePath(address()).c_str(), &st) != 0) {
        return Fail(Status::IO_NOT_PRESENT, what + ": the device is gone", path, err);
      }
      return Fail(Status::NOT_SUPPORTED,
                  what + ": the kernel offers no " + file +
                      (write_combining ? " (write-combining needs x86 PAT)" : ""),
                  path, err);
    }
    return FailErrno(err, what + ": open " + path, Describe());
  }
  auto vmo = Vmo::CreatePhysical(
      std::move(fd), 0, RoundUpToPage(info.size),
      write_combining ? PhysicalRoute::SYSFS_RESOURCE_WC : PhysicalRoute::SYSFS_RESOURCE,
      address().ToString() + " " + file, FdReach::REGION_ONLY);  // that BAR only
  if (!vmo) return Wrap(vmo.error(), what);
  Bar bar;
  bar.index = info.index;
  bar.size = info.size;
  bar.is_64bit = info.is_64bit;
  bar.is_prefetchable = info.is_prefetchable;
  bar.vmo = std::move(*vmo);
  bar.mappable = {{0, info.size}};
  return bar;
}

Result<Bar> SysfsDevice::GetBar(uint32_t index) {
  auto info = FindBar(index, "get BAR");
  if (!info) return std::unexpected(info.error());
  if (info->is_io) {
    Bar bar;
    bar.index = index;
    bar.size = info->size;
    bar.is_io = true;
    bar.io_base = info->address;
    return bar;
  }
  return OpenMemoryBar(*info, false);
}

Result<Bar> SysfsDevice::GetBarWriteCombining(uint32_t index) {
  auto info = FindBar(index, "get write-combining BAR");
  if (!info) return std::unexpected(info.error());
  if (info->is_io || !info->is_prefetchable) {
    return Fail(Status::NOT_SUPPORTED,
                "get write-combining BAR " + std::to_string(index) + ": only prefetchable memory "
                    "BARs can be mapped write-combining; this one is " +
                    (info->is_io ? "an I/O BAR" : "not prefetchable"),
                Describe());
  }
  return OpenMemoryBar(*info, true);
}

Result<void> SysfsDevice::SetBusMastering(bool enable) {
  return Fail(Status::ACCESS_DENIED,
              std::string(enable ? "enable" : "disable") + " bus mastering: " +
                  std::string(kReadOnly),
              Describe());
}

Result<InterruptModes> SysfsDevice::GetInterruptModes() const {
  auto config = sysfs_.ReadConfig(address());
  if (!config) return Wrap(config.error(), "get interrupt modes");
  InterruptModes modes;
  auto pin = config->Read8(kConfigInterruptPin);
  if (!pin) return Wrap(pin.error(), "get interrupt modes");
  modes.has_legacy = *pin != 0;
  auto capabilities = ListCapabilities(*config);
  if (!capabilities) return Wrap(capabilities.error(), "get interrupt modes");
  for (const Capability& capability : *capabilities) {
    if (capability.id == kCapMsi) {
      auto msi = DecodeMsi(*config, capability);
      if (!msi) return Wrap(msi.error(), "get interrupt modes");
      modes.msi_count = msi->vectors_capable;
    } else if (capability.id == kCapMsix) {
      auto msix = DecodeMsix(*config, capability);
      if (!msix) return Wrap(msix.error(), "get interrupt modes");
      modes.msix_count = msix->table_size;
    }
  }
  return modes;
}

Result<void> SysfsDevice::SetInterruptMode(InterruptMode mode, uint32_t) {
  return Fail(Status::NOT_SUPPORTED,
              "set interrupt mode " + std::string(InterruptModeName(mode)) + ": " +
                  std::string(kNoInterrupts),
              Describe());
}

Result<Interrupt> SysfsDevice::MapInterrupt(uint32_t which) {
  return Fail(Status::NOT_SUPPORTED,
              "map interrupt " + std::to_string(which) + ": " + std::string(kNoInterrupts),
              Describe());
}

Result<void> SysfsDevice::AckInterrupt(uint32_t which) {
  return Fail(Status::NOT_SUPPORTED,
              "ack interrupt " + std::to_string(which) + ": " + std::string(kNoInterrupts),
              Describe());
}

Result<void> SysfsDevice::ResetDevice() {
  return Fail(Status::NOT_SUPPORTED, "reset: " + std::string(kReadOnly), Describe());
}

Result<Bar> SysfsDevice::GetBarForPolicy(uint32_t index, CachePolicy policy) {
  if (policy == CachePolicy::WRITE_COMBINING) return GetBarWriteCombining(index);
  return GetBar(index);
}

}  // namespace udrv::pci
