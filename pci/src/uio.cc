#include "udrv/pci/uio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <mutex>

#include "resource_file.h"
#include "udrv/pci/bind.h"
#include "udrv/sysfs/file.h"

namespace udrv::pci {
namespace {

constexpr uint32_t kBarCount = 6;

}  // namespace

// The command register, which this process and the kernel share: the
// kernel sets INTx-disable as it takes an interrupt, and userspace clears it
// through config space (uio_pci_generic has no irqcontrol: a write to
// /dev/uioN is ENOSYS). Every read-modify-write from this process goes
// through here, under one lock, so that an ack on another thread and
// SetBusMastering cannot undo each other; the lock also orders mode changes
// with acks. A write racing the kernel's masking costs one spurious
// interrupt, never a lost one: the kernel counted it and the line stays asserted.
class UioDevice::CommandRegister {
 public:
  CommandRegister(UniqueFd config, std::string object)
      : config_(std::move(config)), object_(std::move(object)) {}

  bool intx_enabled() const {
    std::lock_guard lock(mutex_);
    return intx_enabled_;
  }
  Result<void> EnableIntx() {
    std::lock_guard lock(mutex_);
    if (auto unmasked = UpdateLocked(kCommandInterruptDisable, false, "unmask INTx"); !unmasked) {
      return unmasked;
    }
    intx_enabled_ = true;
    return {};
  }
  Result<void> DisableIntx() {
    std::lock_guard lock(mutex_);
    intx_enabled_ = false;
    return UpdateLocked(kCommandInterruptDisable, true, "mask INTx");
  }
  // After an interrupt: unmasks unless the device was switched to DISABLED.
  Result<void> AckIntx() {
    std::lock_guard lock(mutex_);
    if (!intx_enabled_) return {};
    return UpdateLocked(kCommandInterruptDisable, false, "unmask INTx");
  }
  Result<void> SetBusMastering(bool enable) {
    std::lock_guard lock(mutex_);
    return UpdateLocked(kCommandBusMaster, enable, "set bus mastering");
  }

 private:
  Result<void> UpdateLocked(uint16_t bits, bool set, const std::string& what) {
    uint8_t bytes[2] = {};  // little endian, as PCI
    if (::pread(config_.get(), bytes, 2, kConfigCommand) != 2) {
      return Failed(errno, what + ": read command");
    }
    const auto command = static_cast<uint16_t>(bytes[0] | bytes[1] << 8);
    const auto updated = static_cast<uint16_t>(set ? (command | bits) : (command & ~bits));
    if (updated == command) return {};
    bytes[0] = static_cast<uint8_t>(updated);
    bytes[1] = static_cast<uint8_t>(updated >> 8);
    if (::pwrite(config_.get(), bytes, 2, kConfigCommand) != 2) {
      return Failed(errno, what + ": write command");
    }
    return {};
  }
  std::unexpected<Error> Failed(int err, const std::string& what) const {
    // sysfs answers ENODEV for the files of a removed function.
    if (err == ENODEV) {
      return Fail(Status::IO_NOT_PRESENT, what + ": the function was removed", object_, err);
    }
    return FailErrno(err, what, object_);
  }

  const UniqueFd config_;  // a duplicate of the device's config file
  const std::string object_;
  mutable std::mutex mutex_;
  bool intx_enabled_ = false;
};

namespace {

// The one uioN directory uio_pci_generic registered under the function.
Result<std::string> FindUioName(int device_dir, const std::string& device_path,
                                const std::string& object) {
  auto names = sysfs::ListDirectoryAt(device_dir, "uio", device_path + "/uio");
  if (!names) {
    if (names.error().err_no == ENOENT) {
      return Fail(Status::BAD_STATE,
                  "uio_pci_generic registered no UIO device (no uio/ directory)", object, ENOENT);
    }
    return std::unexpected(std::move(names.error()));
  }
  std::string name;
  for (const std::string& entry : *names) {
    if (entry.starts_with("uio")) name = entry;
  }
  if (name.empty()) {
    return Fail(Status::BAD_STATE, "uio_pci_generic registered no UIO device (uio/ is empty)",
                object);
  }
  return name;
}

}  // namespace

Result<std::unique_ptr<Device>> OpenUioDevice(const Address& address,
                                              const sysfs::LinuxPaths& paths) {
  return OpenUioDevice(address, UioOptions{.paths = paths, .physical_dma = {}});
}

Result<std::unique_ptr<Device>> OpenUioDevice(const Address& address, const UioOptions& options) {
  auto device = UioDevice::Open(address, options);
  if (!device) return std::unexpected(device.error());
  return std::unique_ptr<Device>(std::move(*device));
}

Result<std::unique_ptr<UioDevice>> UioDevice::Open(const Address& address,
                                                   const sysfs::LinuxPaths& paths) {
  return Open(address, UioOptions{.paths = paths, .physical_dma = {}});
}

Result<std::unique_ptr<UioDevice>> UioDevice::Open(const Address& address,
                                                   const UioOptions& options) {
  const std::string object = address.ToString() + " (uio)";
  const std::string what = "open " + address.ToString() + " through UIO";
  const SysfsPci sysfs(options.paths);
  auto info = sysfs.Read(address);
  if (!info) return Wrap(info.error(), what);
  if (info->driver != kUioPciDriver) {
    return Fail(Status::BAD_STATE,
                what + ": bound to " + (info->driver ? *info->driver : "no driver") +
                    ", not uio_pci_generic; bind it first (BindDriver(address, \"uio\"))",
                object);
  }
  Parts parts;
  parts.paths = options.paths;
  const std::string device_path = sysfs.DevicePath(address);
  parts.device_dir.reset(::open(device_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parts.device_dir) return FailErrno(errno, what + ": open " + device_path, object);

  auto uio_name = FindUioName(parts.device_dir.get(), device_path, object);
  if (!uio_name) return Wrap(uio_name.error(), what);
  parts.uio_path = options.paths.dev + "/" + *uio_name;
  // Only read: its count is the interrupt.
  parts.uio.reset(::open(parts.uio_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!parts.uio) return FailErrno(errno, what + ": open " + parts.uio_path, object);

  parts.config.reset(::openat(parts.device_dir.get(), "config", O_RDWR | O_CLOEXEC));
  if (!parts.config) return FailErrno(errno, what + ": open " + device_path + "/config", object);
  UniqueFd command_config(::fcntl(parts.config.get(), F_DUPFD_CLOEXEC, 0));
  if (!command_config) return FailErrno(errno, what + ": dup(config)", object);
  parts.command = std::make_shared<CommandRegister>(std::move(command_config), object);
  struct stat st {};
  if (::fstat(parts.config.get(), &st) != 0) {
    return FailErrno(errno, what + ": fstat(config)", object);
  }
  parts.config_size = static_cast<size_t>(st.st_size);
  if (parts.config_size < kConfigSize) {
    return Fail(
        Status::IO_INVALID,
        what + ": config is " + std::to_string(parts.config_size) + " bytes, not 256 or 4096",
        object);
  }
  uint8_t pin = 0;
  if (::pread(parts.config.get(), &pin, 1, kConfigInterruptPin) != 1) {
    return FailErrno(errno, what + ": read the interrupt pin", object);
  }
  parts.has_legacy = pin != 0 && info->irq != 0;
  parts.bars = info->bars;
  parts.physical_dma = options.physical_dma;

  // Interrupts start disabled, as on every route: masked until SetInterruptMode.
  if (parts.has_legacy) {
    if (auto masked = parts.command->DisableIntx(); !masked) {
      return Wrap(masked.error(), what + ": mask INTx");
    }
  }
  return std::unique_ptr<UioDevice>(new UioDevice(address, std::move(parts)));
}

UioDevice::UioDevice(const Address& address, Parts parts)
    : Device(address),
      paths_(std::move(parts.paths)),
      device_dir_(std::move(parts.device_dir)),
      config_(std::move(parts.config)),
      config_size_(parts.config_size),
      uio_(std::move(parts.uio)),
      uio_path_(std::move(parts.uio_path)),
      command_(std::move(parts.command)),
      bars_(std::move(parts.bars)),
      has_legacy_(parts.has_legacy),
      physical_dma_(parts.physical_dma) {}

UioDevice::~UioDevice() {
  DestroyMappedInterrupts();
  // Best effort: a removed function has nothing left to mask.
  if (command_->intx_enabled()) (void)command_->DisableIntx();
}

void UioDevice::DestroyMappedInterrupts() {
  Interrupt mapped;
  {
    std::lock_guard lock(mapped_mutex_);
    mapped = std::move(mapped_);
  }
  if (mapped) (void)mapped.Destroy();
}

Result<void> UioDevice::SetBusMastering(bool enable) { return command_->SetBusMastering(enable); }

bool UioDevice::Removed() const {
  // sysfs answers ENODEV for the open files of a removed function.
  uint8_t byte = 0;
  return ::pread(config_.get(), &byte, 1, 0) < 0 && errno == ENODEV;
}

Result<void> UioDevice::CheckPresent(std::string_view op) const {
  if (!Removed()) return {};
  return Fail(Status::IO_NOT_PRESENT, std::string(op) + ": the function was removed", Describe(),
              ENODEV);
}

std::unexpected<Error> UioDevice::FailCall(int err, const std::string& what) const {
  if (err == ENODEV || Removed()) {
    return Fail(Status::IO_NOT_PRESENT, what + ": the function was removed", Describe(), err);
  }
  return FailErrno(err, what, Describe());
}

Result<uint32_t> UioDevice::DoReadConfig(uint16_t offset, size_t width) const {
  uint8_t bytes[4] = {};
  const ssize_t n = ::pread(config_.get(), bytes, width, offset);
  if (n < 0) return FailCall(errno, "read config at " + Hex(offset));
  if (static_cast<size_t>(n) != width) {
    return Fail(Status::IO,
                "read config at " + Hex(offset) + ": " + std::to_string(n) + " of " +
                    std::to_string(width) + " bytes",
                Describe());
  }
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) value |= uint32_t{bytes[i]} << (8 * i);
  return value;
}

Result<void> UioDevice::DoWriteConfig(uint16_t offset, size_t width, uint32_t value) {
  uint8_t bytes[4] = {};
  for (size_t i = 0; i < width; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  const ssize_t n = ::pwrite(config_.get(), bytes, width, offset);
  if (n < 0) return FailCall(errno, "write config at " + Hex(offset));
  if (static_cast<size_t>(n) != width) {
    return Fail(Status::IO,
                "write config at " + Hex(offset) + ": " + std::to_string(n) + " of " +
                    std::to_string(width) + " bytes",
                Describe());
  }
  return {};
}

Result<DeviceInfo> UioDevice::GetDeviceInfo() const {
  // SysfsPci reads by path: check first that the path is still this function.
  if (auto present = CheckPresent("get device info"); !present) {
    return std::unexpected(present.error());
  }
  return SysfsPci(paths_).Read(address());
}

Result<Bar> UioDevice::OpenBar(uint32_t index, bool write_combining, std::string_view op) {
  const std::string what = std::string(op) + " " + std::to_string(index);
  if (index >= kBarCount) {
    return Fail(Status::OUT_OF_RANGE, what + ": BARs are 0 to 5", Describe());
  }
  if (auto present = CheckPresent(what); !present) return std::unexpected(present.error());
  const BarInfo* bar = nullptr;
  for (const BarInfo& candidate : bars_) {
    if (candidate.index == index) bar = &candidate;
    if (candidate.index + 1 == index && candidate.is_64bit) {
      return Fail(Status::NOT_FOUND,
                  what + ": the upper half of 64-bit BAR " + std::to_string(candidate.index),
                  Describe());
    }
  }
  if (bar == nullptr) return Fail(Status::NOT_FOUND, what + ": not implemented", Describe());

  Bar result;
  result.index = index;
  result.size = bar->size;
  result.is_io = bar->is_io;
  result.is_64bit = bar->is_64bit;
  result.is_prefetchable = bar->is_prefetchable;
  if (bar->is_io) {
    if (write_combining) {
      return Fail(Status::WRONG_TYPE, what + ": an I/O port BAR has no write-combining mapping",
                  Describe());
    }
    result.io_base = bar->address;
    return result;
  }
  if (write_combining && !bar->is_prefetchable) {
    return Fail(Status::NOT_SUPPORTED,
                what +
                    ": not prefetchable; the kernel maps only prefetchable BARs "
                    "write-combining (resourceN_wc)",
                Describe());
  }
  auto vmo =
      internal::OpenResourceVmo(device_dir_.get(), *bar, write_combining, O_RDWR, Describe());
  if (!vmo) {
    const int err = vmo.error().err_no;
    if (err == ENOENT && !Removed()) {
      if (write_combining) {
        return Fail(Status::NOT_SUPPORTED,
                    what + ": the kernel made no " + internal::ResourceFileName(index, true) +
                        " (this architecture cannot map PCI memory write-combining)",
                    Describe(), err);
      }
      return Wrap(vmo.error(), what);
    }
    if (err == ENOENT || err == ENODEV) return FailCall(err, what + ": " + vmo.error().what);
    return Wrap(vmo.error(), what);
  }
  result.vmo = std::move(*vmo);
  result.mappable = {{0, bar->size}};
  return result;
}

Result<Bar> UioDevice::GetBar(uint32_t index) { return OpenBar(index, false, "get BAR"); }

Result<Bar> UioDevice::GetBarWriteCombining(uint32_t index) {
  return OpenBar(index, true, "get write-combining BAR");
}

Result<InterruptModes> UioDevice::GetInterruptModes() const {
  return InterruptModes{.has_legacy = has_legacy_, .msi_count = 0, .msix_count = 0};
}

Result<void> UioDevice::SetInterruptMode(InterruptMode mode, uint32_t count) {
  const std::string what = "set interrupt mode " + std::string(InterruptModeName(mode)) + " (" +
                           std::to_string(count) + ")";
  switch (mode) {
    case InterruptMode::MSI:
    case InterruptMode::MSI_X:
      return Fail(Status::NOT_SUPPORTED,
                  what + ": uio_pci_generic supports only legacy INTx; bind vfio-pci for MSI/MSI-X",
                  Describe());
    case InterruptMode::DISABLED: {
      if (count != 0) {
        return Fail(Status::INVALID_ARGS, what + ": DISABLED takes count 0", Describe());
      }
      DestroyMappedInterrupts();
      if (has_legacy_) {
        if (auto masked = command_->DisableIntx(); !masked) return Wrap(masked.error(), what);
      }
      return {};
    }
    case InterruptMode::LEGACY: {
      if (!has_legacy_) {
        return Fail(Status::NOT_SUPPORTED,
                    what +
                        ": the function has no legacy interrupt (interrupt pin 0, or Linux "
                        "routed it no IRQ)",
                    Describe());
      }
      if (count == 0)
        return Fail(Status::INVALID_ARGS, what + ": LEGACY takes count 1", Describe());
      if (count > 1) {
        return Fail(Status::OUT_OF_RANGE, what + ": legacy INTx is one interrupt", Describe());
      }
      DestroyMappedInterrupts();
      if (auto unmasked = command_->EnableIntx(); !unmasked) return Wrap(unmasked.error(), what);
      return {};
    }
  }
  return Fail(Status::INVALID_ARGS, what + ": unknown mode", Describe());
}

Result<void> UioDevice::CheckVector(uint32_t which, std::string_view op) const {
  const std::string what = std::string(op) + " " + std::to_string(which);
  if (!command_->intx_enabled()) {
    return Fail(Status::BAD_STATE, what + ": interrupts are disabled; SetInterruptMode first",
                Describe());
  }
  if (which != 0) {
    return Fail(Status::OUT_OF_RANGE, what + ": legacy INTx has only vector 0", Describe());
  }
  return {};
}

Result<Interrupt> UioDevice::MapInterrupt(uint32_t which) {
  if (auto valid = CheckVector(which, "map interrupt"); !valid) {
    return std::unexpected(valid.error());
  }
  // One mapping: asking again gives the same object, not one more fd.
  std::lock_guard lock(mapped_mutex_);
  if (mapped_ && !mapped_.destroyed()) return mapped_.Duplicate(kRightSameRights);
  // A duplicate shares the open file, and with it the interrupt count that
  // started when the device was opened.
  UniqueFd fd(::fcntl(uio_.get(), F_DUPFD_CLOEXEC, 0));
  if (!fd) return FailErrno(errno, "map interrupt 0: dup(" + uio_path_ + ")", Describe());
  auto ack = [command = command_]() { return command->AckIntx(); };
  auto interrupt = Interrupt::CreateFromUio(std::move(fd), Describe() + " INTx", std::move(ack));
  if (!interrupt) return Wrap(interrupt.error(), "map interrupt 0");
  auto kept = interrupt->Duplicate(kRightSameRights);
  if (!kept) return Wrap(kept.error(), "map interrupt 0");
  mapped_ = std::move(*kept);
  return interrupt;
}

Result<void> UioDevice::AckInterrupt(uint32_t which) {
  if (auto valid = CheckVector(which, "ack interrupt"); !valid) return valid;
  if (auto unmasked = command_->AckIntx(); !unmasked) {
    return Wrap(unmasked.error(), "ack interrupt 0");
  }
  return {};
}

Result<void> UioDevice::ResetDevice() {
  if (auto present = CheckPresent("reset"); !present) return present;
  UniqueFd reset(::openat(device_dir_.get(), "reset", O_WRONLY | O_CLOEXEC));
  if (!reset) {
    const int err = errno;
    if (err == ENOENT && !Removed()) {
      return Fail(Status::NOT_SUPPORTED,
                  "reset: the kernel has no reset method for this function (no sysfs reset "
                  "attribute: no FLR, PM or bus reset)",
                  Describe());
    }
    return FailCall(err, "reset: open reset");
  }
  ssize_t n;
  do {
    n = ::write(reset.get(), "1", 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailCall(errno, "reset: write '1' to reset");
  return {};
}

Result<void> UioDevice::CheckUntranslated(std::string_view op) const {
  auto info = GetDeviceInfo();
  if (!info) return Wrap(std::move(info.error()), op);
  // No IOMMU group: no IOMMU stands between the function and memory, so its
  // bus addresses are physical addresses.
  if (!info->iommu_group) return {};
  const std::string group = std::to_string(*info->iommu_group);
  const std::string type_path = paths_.IommuGroup(*info->iommu_group) + "/type";
  const std::string type = sysfs::ReadAttribute(type_path).value_or("");
  // "identity": the IOMMU passes DMA through untranslated (iommu=pt).
  if (type == "identity") return {};
  return Fail(Status::BAD_STATE,
              std::string(op) + ": the function is in IOMMU group " + group + " of type " +
                  (type.empty() ? "unknown (" + type_path + " unreadable)" : "'" + type + "'") +
                  ": the IOMMU translates its DMA, so physical addresses would fault; bind "
                  "vfio-pci and DMA through the IOMMU (OpenVfioDevice)",
              Describe());
}

Result<dma::Bti> UioDevice::GetBti(uint32_t index, uint64_t dma_limit) {
  const std::string what = "get BTI " + std::to_string(index);
  if (index != 0) {
    return Fail(Status::OUT_OF_RANGE, what + ": a UIO device has one (index 0)", Describe());
  }
  if (!physical_dma_.device_may_reach_all_memory) {
    return Fail(Status::ACCESS_DENIED,
                what +
                    ": uio_pci_generic has no IOMMU, so the device's DMA reaches all memory; "
                    "open the device with UioOptions{.physical_dma = "
                    "{.device_may_reach_all_memory = true}} to accept that and get a physical "
                    "Bti, or bind vfio-pci where there is an IOMMU",
                Describe());
  }
  if (auto untranslated = CheckUntranslated(what); !untranslated) {
    return std::unexpected(std::move(untranslated.error()));
  }
  auto bti = dma::Bti::CreatePhysical(physical_dma_, dma_limit, address().ToString() + " bti 0");
  if (!bti) return Wrap(std::move(bti.error()), what);
  return bti;
}

Result<Bar> UioDevice::GetBarForPolicy(uint32_t index, CachePolicy policy) {
  if (policy == CachePolicy::WRITE_COMBINING) return GetBarWriteCombining(index);
  return GetBar(index);
}

}  // namespace udrv::pci
