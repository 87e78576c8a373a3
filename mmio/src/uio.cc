#include "udrv/mmio/uio.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "udrv/core/vmo.h"
#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"

namespace udrv::mmio {
namespace {

uint64_t PageSize() { return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)); }

// The module's irqcontrol: 1 unmasks, 0 masks.
Result<void> WriteIrqControl(int fd, int32_t value, const std::string& object) {
  const ssize_t n = ::write(fd, &value, sizeof(value));
  if (n == static_cast<ssize_t>(sizeof(value))) return {};
  return FailErrno(n < 0 ? errno : EIO,
                   std::string(value != 0 ? "unmask" : "mask") + " the interrupt (UIO irqcontrol)", object);
}

}  // namespace

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
        return Fail(Status::IO_INVALID, dir + "/" + attribute + ": '" + text + "' is no 0x number", object);
      }
      *field = *value;
    }
    maps.push_back(map);
  }
  return maps;
}

Result<UioDevice> UioDevice::Open(const sysfs::LinuxPaths& paths, const std::string& device_dir,
                                  bool has_interrupt, std::string object) {
  auto names = sysfs::ListDirectory(device_dir + "/uio");
  if (!names) {
    return Wrap(names.error(), std::string(kUioPlatformDriverName) + " registered no UIO device");
  }
  std::string uio_name;
  for (const std::string& entry : *names) {
    if (entry.starts_with("uio")) uio_name = entry;
  }
  if (uio_name.empty()) {
    return Fail(Status::BAD_STATE,
                std::string(kUioPlatformDriverName) + " registered no UIO device (uio/ is empty)", object);
  }
  UDRV_TRY_ASSIGN(std::vector<UioMap> maps, ReadUioMaps(device_dir + "/uio/" + uio_name, object));
  const std::string uio_path = paths.dev + "/" + uio_name;
  UniqueFd fd(::open(uio_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "open " + uio_path, object);
  UioDevice device(std::move(fd), uio_path, std::move(maps), std::move(object));
  if (has_interrupt) UDRV_TRY(device.MaskInterrupt());
  return device;
}

Result<PhysicalRegion> UioDevice::MapRegion(uint64_t phys, uint64_t size, const std::string& name) const {
  const uint64_t page = PageSize();
  for (const UioMap& map : maps_) {
    // The module maps whole pages: the map's first page holds the region's start.
    const uint64_t first = map.addr & ~(page - 1);
    if (phys < first || phys - first >= map.size) continue;
    const uint64_t offset = phys - first;
    if (size > map.size - offset) {
      return Fail(Status::OUT_OF_RANGE,
                  path_ + " map " + std::to_string(map.index) + " (" + Hex(map.addr) + "+" + Hex(map.size) +
                      ") is shorter than the region " + Hex(phys) + "+" + Hex(size),
                  object_);
    }
    // An open file of its own: a driver host that holds it cannot take
    // the interrupt counts this process reads from fd_.
    UniqueFd fd(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd) return FailErrno(errno, "open " + path_, object_);
    uint64_t end = 0;
    if (__builtin_add_overflow(offset + size, page - 1, &end)) {
      return Fail(Status::IO_INVALID,
                  path_ + " map " + std::to_string(map.index) + " says it is " + Hex(map.size) +
                      " bytes, past any address",
                  object_);
    }
    const uint64_t span = end & ~(page - 1);
    // UIO takes the map's number, in pages, as the mmap offset.
    UDRV_TRY_ASSIGN(Vmo vmo, Vmo::CreatePhysical(std::move(fd), uint64_t{map.index} * page, span,
                                                 PhysicalRoute::UIO_MAP, name, FdReach::DEVICE_ONLY));
    return PhysicalRegion{std::move(vmo), offset, size, phys};
  }
  return Fail(Status::NOT_FOUND, path_ + " has no map of " + Hex(phys), object_);
}

Result<Interrupt> UioDevice::GetInterrupt(std::string name) const {
  UniqueFd fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!fd) return FailErrno(errno, "get interrupt: dup(" + path_ + ")", object_);
  const int raw = fd_.get();
  const std::string object = object_;
  UDRV_TRY_ASSIGN(Interrupt interrupt,
                  Interrupt::CreateFromUio(std::move(fd), std::move(name),
                                           [raw, object]() { return WriteIrqControl(raw, 1, object); }));
  UDRV_TRY(WriteIrqControl(raw, 1, object_));
  return interrupt;
}

Result<void> UioDevice::MaskInterrupt() const { return WriteIrqControl(fd_.get(), 0, object_); }

}  // namespace udrv::mmio
