#include "udrv/pci/sysfs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "udrv/sysfs/file.h"
#include "udrv/sysfs/iommu_group.h"
#include "udrv/sysfs/parse.h"

namespace udrv::pci {
namespace {

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
  auto contents = sysfs::ReadFile(path, 16384);
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
    const size_t first = line.find(' ');
    const size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    std::optional<uint64_t> start, end, flags;
    if (second != std::string_view::npos) {
      start = sysfs::ParsePrefixedHex(line.substr(0, first));
      end = sysfs::ParsePrefixedHex(line.substr(first + 1, second - first - 1));
      flags = sysfs::ParsePrefixedHex(line.substr(second + 1));
    }
    const ResourceLine parsed{start.value_or(0), end.value_or(0), flags.value_or(0)};
    if (!start || !end || !flags || (parsed.size() != 0 && parsed.end < parsed.start)) {
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
  UDRV_TRY_ASSIGN(const std::string text, sysfs::ReadAttribute(path));
  const std::optional<uint64_t> value = sysfs::ParseHex(text, max);
  if (!value) return Fail(Status::IO_INVALID, "unexpected content '" + text + "'", path);
  return static_cast<uint32_t>(*value);
}

}  // namespace

SysfsPci::SysfsPci(sysfs::LinuxPaths paths) : paths_(std::move(paths)) {}

std::string SysfsPci::DevicePath(const Address& address) const {
  return paths_.BusDevice("pci", address.ToString());
}

Result<std::vector<Address>> SysfsPci::List() const {
  const std::string dir = paths_.BusDevices("pci");
  auto names = sysfs::ListDirectory(dir);
  if (!names) return Wrap(names.error(), "list PCI devices");
  std::vector<Address> addresses;
  for (const std::string& name : *names) {
    auto address = Address::Parse(name);
    if (!address) {
      return Fail(Status::IO_INVALID, "entry '" + name + "' is not a PCI address", dir);
    }
    addresses.push_back(*address);
  }
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
    auto config = sysfs::ReadFile(path + "/config", 9);
    if (!config || config->bytes.size() != 9) {
      return Fail(Status::IO_INVALID, "neither revision nor config is readable", path,
                  config ? 0 : config.error().err_no);
    }
    info.revision = static_cast<uint8_t>(config->bytes[8]);
  }
  info.driver = sysfs::ReadLinkName(path + "/driver");
  if (auto group = sysfs::ReadIommuGroup(path)) {
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

  UDRV_TRY_ASSIGN(const std::optional<std::string> irq,
                  sysfs::ReadOptionalAttribute(path + "/irq"));
  if (irq) {
    const std::optional<int64_t> value = sysfs::ParseDecimal(*irq, 0, UINT32_MAX);
    if (!value) return Fail(Status::IO_INVALID, "unexpected content '" + *irq + "'", path + "/irq");
    info.irq = static_cast<uint32_t>(*value);
  }
  UDRV_TRY_ASSIGN(const std::optional<std::string> numa_node,
                  sysfs::ReadOptionalAttribute(path + "/numa_node"));
  if (numa_node) {
    const std::optional<int64_t> value = sysfs::ParseDecimal(*numa_node, -1, INT32_MAX);
    if (!value) {
      return Fail(Status::IO_INVALID, "unexpected content '" + *numa_node + "'",
                  path + "/numa_node");
    }
    info.numa_node = static_cast<int32_t>(*value);
  }
  auto driver_override = sysfs::ReadOptionalAttribute(path + "/driver_override");
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
  auto names = sysfs::ListIommuGroupDevices(paths_, group);
  if (!names) return Wrap(names.error(), "list IOMMU group members");
  std::vector<Address> members;
  for (const std::string& name : *names) {
    // Groups can hold platform devices too (arm64); only PCI functions count here.
    if (auto address = Address::Parse(name)) members.push_back(*address);
  }
  std::sort(members.begin(), members.end());
  return members;
}

Result<ConfigSpace> SysfsPci::ReadConfig(const Address& address) const {
  const std::string path = DevicePath(address) + "/config";
  auto bytes = sysfs::ReadFile(path, kExtendedConfigSize);
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
