#include "udrv/pci/sysfs.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

#include "udrv/pci/sysfs_file.h"

namespace udrv::pci {
namespace {

// An optional attribute: nullopt when the kernel does not have it (ENOENT),
// its text otherwise; other errors pass through.
Result<std::optional<std::string>> ReadOptionalAttribute(const std::string& path) {
  auto text = ReadSysfsAttribute(path);
  if (text) return std::optional<std::string>(std::move(*text));
  if (text.error().err_no == ENOENT) return std::optional<std::string>();
  return std::unexpected(text.error());
}

bool ParseHex64(std::string_view text, uint64_t& out) {
  if (!text.starts_with("0x")) return false;
  text.remove_prefix(2);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

template <typename T>
bool ParseDecimal(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 10);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// struct resource flags the kernel prints in `resource` (include/linux/ioport.h).
constexpr uint64_t kResourceIo = 0x100;
constexpr uint64_t kResourceMem = 0x200;
constexpr uint64_t kResourcePrefetch = 0x2000;
constexpr uint64_t kResourceMem64 = 0x100000;
constexpr size_t kBarCount = 6;
constexpr size_t kRomLine = 6;

struct ResourceLine {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t flags = 0;
  uint64_t size() const { return (start == 0 && end == 0) ? 0 : end - start + 1; }
};

// The `resource` file: "0x<start> 0x<end> 0x<flags>" per line, BARs 0..5,
// the ROM, then (SR-IOV, bridges) more.
Result<std::vector<ResourceLine>> ReadResourceFile(const std::string& path) {
  // It grows with a bridge's windows and SR-IOV's BARs.
  auto contents = ReadSysfsFile(path, 16384);
  if (!contents) return std::unexpected(contents.error());
  const std::string& text = contents->bytes;
  std::vector<ResourceLine> lines;
  size_t position = 0;
  while (position < text.size()) {
    size_t newline = text.find('\n', position);
    if (newline == std::string::npos) newline = text.size();
    const std::string_view line = std::string_view(text).substr(position, newline - position);
    position = newline + 1;
    if (line.empty()) continue;
    ResourceLine parsed;
    const size_t first = line.find(' ');
    const size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos ||
        !ParseHex64(line.substr(0, first), parsed.start) ||
        !ParseHex64(line.substr(first + 1, second - first - 1), parsed.end) ||
        !ParseHex64(line.substr(second + 1), parsed.flags) ||
        (parsed.size() != 0 && parsed.end < parsed.start)) {
      return Fail(Status::IO_INVALID,
                  "line " + std::to_string(lines.size()) + " '" + std::string(line) +
                      "' is not 'start end flags'",
                  path);
    }
    lines.push_back(parsed);
  }
  return lines;
}

// Fills bars and expansion_rom from `resource`; a tree without one has none.
Result<void> ReadResources(const std::string& device_path, DeviceInfo& info) {
  const std::string path = device_path + "/resource";
  auto lines = ReadResourceFile(path);
  if (!lines) {
    if (lines.error().err_no == ENOENT) return {};
    return std::unexpected(lines.error());
  }
  for (size_t index = 0; index < std::min(lines->size(), kBarCount); ++index) {
    const ResourceLine& line = (*lines)[index];
    if (line.size() == 0 || (line.flags & (kResourceIo | kResourceMem)) == 0) continue;
    info.bars.push_back(BarInfo{
        .index = static_cast<uint32_t>(index),
        .address = line.start,
        .size = line.size(),
        .is_io = (line.flags & kResourceIo) != 0,
        .is_64bit = (line.flags & kResourceMem64) != 0,
        .is_prefetchable = (line.flags & kResourcePrefetch) != 0,
    });
  }
  if (lines->size() > kRomLine) {
    const ResourceLine& rom = (*lines)[kRomLine];
    if (rom.size() != 0 && (rom.flags & kResourceMem) != 0) {
      info.expansion_rom = RomInfo{.address = rom.start, .size = rom.size()};
    }
  }
  return {};
}

// "0x8086" -> 0x8086, checked against `max`.
Result<uint32_t> ReadHexAttribute(const std::string& path, uint32_t max) {
  auto text = ReadSysfsAttribute(path);
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
  } else if (revision.error().err_no != ENOENT) {
    return std::unexpected(revision.error());
  } else {
    auto config = ReadSysfsFile(path + "/config", 9);
    if (!config || config->bytes.size() != 9) {
      return Fail(Status::IO_INVALID, "neither revision nor config is readable", path,
                  config ? 0 : config.error().err_no);
    }
    info.revision = static_cast<uint8_t>(config->bytes[8]);
  }
  info.driver = ReadLinkName(path + "/driver");
  if (auto group = ReadIommuGroupLink(path)) {
    info.iommu_group = *group;
  } else {
    info.iommu_group_error = std::move(group.error());
  }
  if (info.iommu_group) {
    auto members = ListGroupMembers(*info.iommu_group);
    if (!members) return std::unexpected(members.error());
    info.iommu_group_members = std::move(*members);
  }
  if (auto resources = ReadResources(path, info); !resources) {
    return std::unexpected(resources.error());
  }

  auto irq = ReadOptionalAttribute(path + "/irq");
  if (!irq) return std::unexpected(irq.error());
  if (*irq && !ParseDecimal(**irq, info.irq)) {
    return Fail(Status::IO_INVALID, "unexpected content '" + **irq + "'", path + "/irq");
  }
  auto numa_node = ReadOptionalAttribute(path + "/numa_node");
  if (!numa_node) return std::unexpected(numa_node.error());
  if (*numa_node && (!ParseDecimal(**numa_node, info.numa_node) || info.numa_node < -1)) {
    return Fail(Status::IO_INVALID, "unexpected content '" + **numa_node + "'",
                path + "/numa_node");
  }
  auto driver_override = ReadOptionalAttribute(path + "/driver_override");
  if (!driver_override) return std::unexpected(driver_override.error());
  if (*driver_override && **driver_override != "(null)" && !(*driver_override)->empty()) {
    info.driver_override = std::move(**driver_override);
  }

  // The real directory nests each function under the bridge it sits behind:
  // .../pci0000:00/0000:00:1c.0/0000:03:00.0. The kernel's bus/pci/devices
  // link names that directory directly; realpath() (one readlink per path
  // component) is for trees whose entries are no links.
  char real[PATH_MAX];
  ssize_t length = ::readlink(path.c_str(), real, sizeof(real) - 1);
  if (length <= 0 && ::realpath(path.c_str(), real) != nullptr) {
    length = static_cast<ssize_t>(std::strlen(real));
  }
  if (length > 0) {
    std::string_view parent(real, static_cast<size_t>(length));
    parent = parent.substr(0, parent.rfind('/'));
    parent = parent.substr(parent.rfind('/') + 1);
    if (auto bridge = Address::Parse(parent)) info.parent_bridge = *bridge;
  }
  return info;
}

Result<std::vector<Address>> SysfsPci::ListGroupMembers(uint32_t group) const {
  const std::string dir = root_ + "/kernel/iommu_groups/" + std::to_string(group) + "/devices";
  std::vector<Address> members;
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) {
    if (errno == ENOENT) return members;  // a tree recorded without the group directory
    return FailErrno(errno, "list IOMMU group members: opendir " + dir);
  }
  while (const dirent* entry = ::readdir(stream)) {
    // Groups can hold platform devices too (arm64); only PCI functions count here.
    if (auto address = Address::Parse(entry->d_name)) members.push_back(*address);
  }
  ::closedir(stream);
  std::sort(members.begin(), members.end());
  return members;
}

Result<ConfigSpace> SysfsPci::ReadConfig(const Address& address) const {
  const std::string path = DevicePath(address) + "/config";
  auto bytes = ReadSysfsFile(path, kExtendedConfigSize);
  if (!bytes) {
    // ENODEV: the device was removed while its attributes were open.
    struct stat st{};
    if (bytes.error().err_no == ENODEV || ::stat(DevicePath(address).c_str(), &st) != 0) {
      return Fail(Status::IO_NOT_PRESENT, "read config space: no such PCI device in sysfs", path,
                  bytes.error().err_no);
    }
    return Wrap(bytes.error(), "read config space");
  }
  if (bytes->bytes.empty()) {
    return Fail(Status::IO_INVALID, "read config space: the file is empty", path);
  }
  if (bytes->size > kExtendedConfigSize) {
    return Fail(Status::FILE_BIG,
                "read config space: the file holds " + std::to_string(bytes->size) +
                    " bytes, more than any config space (" + std::to_string(kExtendedConfigSize) +
                    "): not a config space",
                path);
  }
  // From bytes as bytes: one memmove, not a char-to-uint8_t loop (4 KiB a
  // function adds up over a server's thousand).
  const auto* data = reinterpret_cast<const uint8_t*>(bytes->bytes.data());
  return ConfigSpace(std::vector<uint8_t>(data, data + bytes->bytes.size()),
                     address.ToString() + " config");
}

const BarInfo* DeviceInfo::FindBar(uint32_t index) const {
  for (const BarInfo& bar : bars) {
    if (bar.index == index) return &bar;
  }
  return nullptr;
}

}  // namespace udrv::pci
