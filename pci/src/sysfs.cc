#include "udrv/pci/sysfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>

#include "udrv/core/unique_fd.h"

namespace udrv::pci {
namespace {

// Reads a small sysfs attribute; trailing newline removed.
Result<std::string> ReadAttribute(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "open " + path);
  char buffer[256];
  ssize_t n;
  do {
    n = ::read(fd.get(), buffer, sizeof(buffer) - 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno(errno, "read " + path);
  std::string text(buffer, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// "0x8086" -> 0x8086, checked against `max`.
Result<uint32_t> ReadHexAttribute(const std::string& path, uint32_t max) {
  auto text = ReadAttribute(path);
  if (!text) return std::unexpected(text.error());
  std::string_view digits = *text;
  if (digits.starts_with("0x")) digits.remove_prefix(2);
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value > max) {
    return Fail(Status::IO_INVALID, "unexpected content '" + *text + "'", path);
  }
  return value;
}

// The last path component a symlink points to ("vfio-pci" for .../driver).
std::optional<std::string> LinkBasename(const std::string& path) {
  char target[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
  if (n <= 0) return std::nullopt;
  std::string_view text(target, static_cast<size_t>(n));
  const size_t slash = text.rfind('/');
  return std::string(slash == std::string_view::npos ? text : text.substr(slash + 1));
}

}  // namespace

SysfsPci::SysfsPci(std::string sysfs_root) : root_(std::move(sysfs_root)) {}

std::string SysfsPci::DevicePath(const Address& address) const {
  return root_ + "/bus/pci/devices/" + address.ToString();
}

Result<std::vector<Address>> SysfsPci::List() const {
  const std::string dir = root_ + "/bus/pci/devices";
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) return FailErrno(errno, "list PCI devices: opendir " + dir);
  std::vector<Address> addresses;
  while (const dirent* entry = ::readdir(stream)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    auto address = Address::Parse(name);
    if (!address) {
      ::closedir(stream);
      return Fail(Status::IO_INVALID, "entry '" + std::string(name) + "' is not a PCI address", dir);
    }
    addresses.push_back(*address);
  }
  ::closedir(stream);
  std::sort(addresses.begin(), addresses.end());
  return addresses;
}

Result<DeviceInfo> SysfsPci::Read(const Address& address) const {
  const std::string path = DevicePath(address);
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    return Fail(Status::IO_NOT_PRESENT, "no such PCI device in sysfs", path, errno);
  }
  DeviceInfo info;
  info.address = address;
  auto read16 = [&](const char* attribute, uint16_t& out) -> Result<void> {
    auto value = ReadHexAttribute(path + "/" + attribute, 0xffff);
    if (!value) return std::unexpected(value.error());
    out = static_cast<uint16_t>(*value);
    return {};
  };
  if (auto r = read16("vendor", info.vendor_id); !r) return std::unexpected(r.error());
  if (auto r = read16("device", info.device_id); !r) return std::unexpected(r.error());
  if (auto r = read16("subsystem_vendor", info.subsystem_vendor_id); !r) return std::unexpected(r.error());
  if (auto r = read16("subsystem_device", info.subsystem_id); !r) return std::unexpected(r.error());
  auto class_code = ReadHexAttribute(path + "/class", 0xffffff);
  if (!class_code) return std::unexpected(class_code.error());
  info.class_code = *class_code;
  // `revision` appeared in Linux 4.19; older kernels: byte 8 of config space.
  if (auto revision = ReadHexAttribute(path + "/revision", 0xff)) {
    info.revision = static_cast<uint8_t>(*revision);
  } else {
    UniqueFd config(::open((path + "/config").c_str(), O_RDONLY | O_CLOEXEC));
    uint8_t byte = 0;
    if (!config || ::pread(config.get(), &byte, 1, 8) != 1) {
      return Fail(Status::IO_INVALID, "neither revision nor config is readable", path, errno);
    }
    info.revision = byte;
  }
  info.driver = LinkBasename(path + "/driver");
  if (auto group = LinkBasename(path + "/iommu_group")) {
    uint32_t number = 0;
    auto [end, ec] = std::from_chars(group->data(), group->data() + group->size(), number);
    if (ec == std::errc() && end == group->data() + group->size()) info.iommu_group = number;
  }
  return info;
}

}  // namespace udrv::pci
