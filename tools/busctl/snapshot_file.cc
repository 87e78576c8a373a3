#include "snapshot_file.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <limits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <archive.h>
#include <archive_entry.h>

#include "udrv/core/text.h"
#include "udrv/core/unique_fd.h"
#include "udrv/pci/address.h"
#include "udrv/pci/config.h"
#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"

namespace udrv::busctl {
namespace {

// A manifest number: sysfs's decimal parser, within T's range.
template <typename T>
bool ParseDecimal(std::string_view text, T& out) {
  constexpr auto max = static_cast<int64_t>(std::min<uint64_t>(std::numeric_limits<T>::max(), INT64_MAX));
  const std::optional<int64_t> value = sysfs::ParseDecimal(text, 0, max);
  if (!value) return false;
  out = static_cast<T>(*value);
  return true;
}

// A name or value in a message, quoted. Raw: output escapes it (Printable
// for text, JSON's own rules).
std::string Quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// ---- paths inside the snapshot ----

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = std::min(path.find('/', start), path.size());
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// Why `path` cannot be a member of the tree, or empty when it can.
std::string TreePathDefect(std::string_view path) {
  if (path != kTreeName && !path.starts_with(std::string(kTreeName) + "/")) {
    return "lies outside " + std::string(kTreeName) + "/";
  }
  if (path.size() > PATH_MAX - 64) return "is longer than a path may be";
  const std::vector<std::string_view> parts = SplitPath(path);
  if (parts.size() > kMaxPathComponents) {
    return "has " + std::to_string(parts.size()) + " path components, more than a snapshot " +
           "holds (" + std::to_string(kMaxPathComponents) + "; no sysfs is that deep)";
  }
  for (std::string_view part : parts) {
    if (part.empty()) return "has an empty path component";
    if (part == "." || part == "..") return "has a '" + std::string(part) + "' path component";
    if (part.size() > NAME_MAX) return "has a component longer than NAME_MAX";
    if (part.find('\0') != std::string_view::npos) return "has a NUL byte in its name";
  }
  return {};
}

// Why the link at `link_path` (a tree path) may not point at `target`, or
// empty when it may: relative, "../" steps first and then plain names, never
// climbing above sys/. Every directory a member's path passes through is a
// real directory (Unpack refuses to create a path through a link), so the
// steps up cannot leave the tree; the names after them may follow other
// links, each of which passed this same check.
std::string LinkTargetDefect(std::string_view link_path, std::string_view target) {
  if (target.empty()) return "has an empty target";
  if (target.front() == '/') return "has an absolute target";
  if (target.find('\0') != std::string_view::npos) return "has a NUL byte in its target";
  if (target.size() > PATH_MAX - 64) return "has a target longer than a path may be";
  size_t ups = 0;
  bool named = false;
  for (std::string_view part : SplitPath(target)) {
    if (part == ".." && !named) {
      ++ups;
    } else if (part.empty() || part == "." || part == "..") {
      return "has a target with an empty, '.' or inner '..' component";
    } else {
      named = true;
    }
  }
  // The link's directory: its path minus the last component; sys itself is depth 0.
  const size_t depth = SplitPath(link_path).size() - 2;
  if (ups > depth) return "has a target that climbs out of " + std::string(kTreeName) + "/";
  return {};
}

// The target of a link at `link_dir` (relative to the tree) to `to` (also
// relative): "../" up to the common ancestor, then down.
std::string RelativeTarget(std::string_view link_dir, std::string_view to) {
  std::vector<std::string_view> from_parts =
      link_dir.empty() ? std::vector<std::string_view>{} : SplitPath(link_dir);
  std::vector<std::string_view> to_parts =
      to.empty() ? std::vector<std::string_view>{} : SplitPath(to);
  size_t common = 0;
  while (common < from_parts.size() && common < to_parts.size() &&
         from_parts[common] == to_parts[common]) {
    ++common;
  }
  std::string target;
  for (size_t n = common; n < from_parts.size(); ++n) target += "../";
  for (size_t n = common; n < to_parts.size(); ++n) {
    target += std::string(to_parts[n]) + (n + 1 < to_parts.size() ? "/" : "");
  }
  if (target.empty()) return ".";
  if (target.back() == '/') target.pop_back();
  return target;
}

std::string Dirname(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

std::string Basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// ---- reading the source tree ----

constexpr size_t kMaxAttributeBytes = 1 << 20;

std::string FormatTime(int64_t seconds) {
  const time_t time = static_cast<time_t>(seconds);
  struct tm utc{};
  char text[32] = "";
  if (::gmtime_r(&time, &utc) != nullptr) std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

bool ParseTime(std::string_view text, int64_t& seconds) {
  struct tm utc{};
  const std::string copy(text);
  const char* end = ::strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  if (end == nullptr || *end != '\0') return false;
  seconds = static_cast<int64_t>(::timegm(&utc));
  return true;
}

// The attributes recorded for each PCI function: what SysfsPci and busctl's
// commands read, and what a bug report about a function wants. Files with
// side effects on read (rom, vpd, resourceN) are left out.
constexpr std::string_view kFunctionAttributes[] = {
    "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision",
    "irq", "numa_node", "resource", "driver_override", "enable", "msi_bus",
    "local_cpulist", "local_cpus", "modalias", "power_state", "d3cold_allowed", "reset_method",
    "current_link_speed", "current_link_width", "max_link_speed", "max_link_width",
    "secondary_bus_number", "subordinate_bus_number", "ari_enabled", "label", "index",
    "acpi_index", "boot_vga", "dma_mask_bits", "consistent_dma_mask_bits", "sriov_totalvfs",
    "sriov_numvfs", "sriov_offset", "sriov_stride", "sriov_vf_device", "sriov_drivers_autoprobe",
};

// The links of a function that say what it is bound to and belongs with.
constexpr std::string_view kFunctionLinks[] = {"driver", "iommu_group", "physfn"};

// What the kernel says of an ACPI device (sys/bus/acpi/devices/NAME): busctl
// attaches it to the PCI function it describes (its physical_node).
constexpr std::string_view kAcpiAttributes[] = {"path", "hid", "uid", "adr", "status", "modalias"};

// What the kernel says of a USB device and of an interface
// (sys/bus/usb/devices/NAME): what busctl's USB module and lsusb -t read.
constexpr std::string_view kUsbDeviceAttributes[] = {
    "busnum", "devnum", "devpath", "speed", "version", "maxchild", "bConfigurationValue",
    "bNumConfigurations", "bNumInterfaces", "bDeviceClass", "bDeviceSubClass", "bDeviceProtocol",
    "bMaxPacketSize0", "bMaxPower", "bmAttributes", "bcdDevice", "idVendor", "idProduct",
    "manufacturer", "product", "serial", "configuration", "authorized", "removable",
    "rx_lanes", "tx_lanes", "descriptors"};
constexpr std::string_view kUsbInterfaceAttributes[] = {
    "bInterfaceNumber", "bAlternateSetting", "bInterfaceClass", "bInterfaceSubClass",
    "bInterfaceProtocol", "bNumEndpoints", "interface", "modalias", "authorized"};

// Modules whose parameters say how VFIO behaves (no-IOMMU mode, DMA limits).
constexpr std::string_view kModules[] = {"vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core",
                                         "iommufd"};

class TreeRecorder {
 public:
  TreeRecorder(std::string root, std::string root_real)
      : root_(std::move(root)), root_real_(std::move(root_real)) {
    AddDirectories("");
  }

  Result<void> Record(SnapshotManifest& manifest) {
    auto names = sysfs::ListDirectory(root_ + "/bus/pci/devices");
    if (!names) {
      return Fail(Status::NOT_FOUND, "no PCI bus to record: " + names.error().what,
                  root_ + "/bus/pci/devices", names.error().err_no);
    }
    AddDirectories("bus/pci/devices");
    AddDirectories("bus/pci/drivers");
    for (const std::string& name : *names) {
      if (pci::Address::Parse(name)) ++manifest.functions;
      const std::string link = "bus/pci/devices/" + name;
      auto function = RecordLinkOrDirectory(link);
      if (function) RecordFunction(*function, name);
    }
    RecordIommuGroups(manifest);
    RecordAcpiDevices();
    RecordUsbDevices();
    if (auto iommus = sysfs::ListDirectory(root_ + "/class/iommu")) {
      AddDirectories("class/iommu");
      for (const std::string& name : *iommus) {
        if (auto target = RecordLinkOrDirectory("class/iommu/" + name)) AddDirectories(*target);
      }
    }
    for (std::string_view module : kModules) {
      // The module's directory says it is loaded, even without parameters
      // (vfio built without no-IOMMU support has none).
      const std::string directory = "module/" + std::string(module);
      struct stat st{};
      if (::stat((root_ + "/" + directory).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      AddDirectories(directory);
      auto parameters = sysfs::ListDirectory(root_ + "/" + directory + "/parameters");
      if (!parameters) continue;
      AddDirectories(directory + "/parameters");
      for (const std::string& name : *parameters) {
        RecordFile(directory + "/parameters/" + name);
      }
    }
    return {};
  }

  std::vector<ArchiveEntry> TakeEntries() {
    std::vector<ArchiveEntry> entries;
    entries.reserve(entries_.size());
    for (auto& [path, entry] : entries_) entries.push_back(std::move(entry));
    return entries;
  }

  std::vector<SnapshotManifest::Skipped> skipped;
  std::vector<SnapshotManifest::LimitedConfig> limited_configs;

 private:
  static std::string TreePath(std::string_view relative) {
    return relative.empty() ? std::string(kTreeName)
                            : std::string(kTreeName) + "/" + std::string(relative);
  }

  void AddDirectories(std::string_view relative) {
    std::string path(kTreeName);
    entries_.try_emplace(path, ArchiveEntry::Directory(path));
    if (relative.empty()) return;
    for (std::string_view part : SplitPath(relative)) {
      path += "/" + std::string(part);
      entries_.try_emplace(path, ArchiveEntry::Directory(path));
    }
  }

  void Skip(std::string what, const Error& error) {
    skipped.push_back({std::move(what), error.err_no != 0 ? std::strerror(error.err_no) : error.what});
  }

  // The path of `absolute` (resolved) relative to the root, or nullopt when it lies outside.
  std::optional<std::string> InsideRoot(std::string_view absolute) const {
    if (absolute == root_real_) return std::string();
    const std::string prefix = root_real_ == "/" ? "/" : root_real_ + "/";
    if (!absolute.starts_with(prefix)) return std::nullopt;
    return std::string(absolute.substr(prefix.size()));
  }

  // Records the link at `relative` as a link (or, in a tree without links
  // there, the directory itself); returns the directory it resolves to,
  // relative to the root, when that lies inside the root.
  std::optional<std::string> RecordLinkOrDirectory(const std::string& relative) {
    const std::string path = root_ + "/" + relative;
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
    if (S_ISDIR(st.st_mode)) {
      AddDirectories(relative);
      return relative;
    }
    if (!S_ISLNK(st.st_mode)) return std::nullopt;
    char target[PATH_MAX];
    const ssize_t length = ::readlink(path.c_str(), target, sizeof(target) - 1);
    if (length <= 0) return std::nullopt;
    std::string link_target(target, static_cast<size_t>(length));
    std::optional<std::string> resolved;
    char real[PATH_MAX];
    if (::realpath(path.c_str(), real) != nullptr) resolved = InsideRoot(real);
    if (!LinkTargetDefect(TreePath(relative), link_target).empty()) {
      // Absolute or unusual: rewrite to the kernel's form when it resolves inside.
      if (!resolved) {
        skipped.push_back({relative + " -> " + link_target,
                           "the link leads outside " + root_ + " or nowhere"});
        return std::nullopt;
      }
      link_target = RelativeTarget(Dirname(relative), *resolved);
    }
    AddDirectories(Dirname(relative));
    const std::string tree_path = TreePath(relative);
    entries_[tree_path] = ArchiveEntry::Symlink(tree_path, link_target);
    return resolved;
  }

  // A file attribute; absent ones (ENOENT) are not there to record.
  std::optional<sysfs::FileContents> RecordFile(const std::string& relative,
                                                   size_t max = kMaxAttributeBytes) {
    // One byte past `max` tells a file too big to record from one cut short.
    auto read = sysfs::ReadFile(root_ + "/" + relative, max + 1);
    if (read && read->bytes.size() > max) {
      const uint64_t held = std::max<uint64_t>(read->size, read->bytes.size());
      read = Fail(Status::FILE_BIG,
                  "the file holds " + std::to_string(held) + " bytes or more, more than " +
                      std::to_string(max) + " a snapshot records of it",
                  root_ + "/" + relative);
    }
    if (!read) {
      // Absent, or a directory (msi_irqs entries of old kernels): not there to record.
      if (read.error().err_no != ENOENT && read.error().err_no != EISDIR) {
        Skip(relative, read.error());
      }
      return std::nullopt;
    }
    AddDirectories(Dirname(relative));
    const std::string tree_path = TreePath(relative);
    entries_[tree_path] = ArchiveEntry::File(tree_path, read->bytes);
    return std::move(*read);
  }

  void RecordFunction(const std::string& function, const std::string& name) {
    AddDirectories(function);
    for (std::string_view attribute : kFunctionAttributes) {
      RecordFile(function + "/" + std::string(attribute));
    }
    const std::string config_path = function + "/config";
    if (auto config = RecordFile(config_path, pci::kExtendedConfigSize)) {
      // sysfs reports the whole size (256 or 4096) and gives users without
      // CAP_SYS_ADMIN the first 64 bytes of it. A larger file is no config
      // space, and its first bytes would replay as a whole one.
      if (config->size > pci::kExtendedConfigSize) {
        entries_.erase(TreePath(config_path));
        skipped.push_back({config_path, "the file holds " + std::to_string(config->size) +
                                            " bytes, more than any config space (" +
                                            std::to_string(pci::kExtendedConfigSize) +
                                            "): not a config space"});
      } else if (config->bytes.size() < config->size) {
        limited_configs.push_back({name, config->bytes.size(), config->size});
      }
    }
    // The BARs' resource files hold device registers, not data to record;
    // empty files stand for them so that a replay says which exist.
    for (int bar = 0; bar < 6; ++bar) {
      for (std::string_view suffix : {"", "_wc"}) {
        const std::string resource = function + "/resource" + std::to_string(bar) + std::string(suffix);
        struct stat st{};
        if (::stat((root_ + "/" + resource).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
          entries_[TreePath(resource)] = ArchiveEntry::File(TreePath(resource), "");
        }
      }
    }
    if (auto msi = sysfs::ListDirectory(root_ + "/" + function + "/msi_irqs")) {
      AddDirectories(function + "/msi_irqs");
      for (const std::string& irq : *msi) RecordFile(function + "/msi_irqs/" + irq);
    }
    std::vector<std::string> links(std::begin(kFunctionLinks), std::end(kFunctionLinks));
    if (auto entries = sysfs::ListDirectory(root_ + "/" + function)) {
      for (const std::string& entry : *entries) {
        if (entry.starts_with("virtfn")) links.push_back(entry);
      }
    }
    for (const std::string& link : links) {
      struct stat st{};
      if (::lstat((root_ + "/" + function + "/" + link).c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
        continue;
      }
      auto target = RecordLinkOrDirectory(function + "/" + link);
      // The driver's directory, so the link resolves as it does in sysfs.
      if (target && link == "driver") AddDirectories(*target);
    }
    functions_.insert(function);
  }

  void RecordIommuGroups(SnapshotManifest& manifest) {
    auto groups = sysfs::ListDirectory(root_ + "/kernel/iommu_groups");
    if (!groups) return;  // no IOMMU, or a tree recorded without one
    AddDirectories("kernel/iommu_groups");
    for (const std::string& group : *groups) {
      const std::string dir = "kernel/iommu_groups/" + group;
      ++manifest.iommu_groups;
      AddDirectories(dir);
      RecordFile(dir + "/type");
      RecordFile(dir + "/reserved_regions");
      auto members = sysfs::ListDirectory(root_ + "/" + dir + "/devices");
      if (!members) continue;
      AddDirectories(dir + "/devices");
      for (const std::string& member : *members) {
        auto target = RecordLinkOrDirectory(dir + "/devices/" + member);
        if (!target || functions_.contains(*target)) continue;
        // A member that is no PCI function (arm64 platform devices): its
        // directory and driver, which decide whether the group is viable.
        AddDirectories(*target);
        struct stat st{};
        const std::string driver = *target + "/driver";
        if (::lstat((root_ + "/" + driver).c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
          if (auto driver_dir = RecordLinkOrDirectory(driver)) AddDirectories(*driver_dir);
        }
      }
    }
  }

  // The kernel's ACPI devices: their attributes and physical_node links
  // (a replay finds a link's bus by the bus that lists its target).
  void RecordAcpiDevices() {
    auto names = sysfs::ListDirectory(root_ + "/bus/acpi/devices");
    if (!names) return;  // no ACPI, or a tree recorded without it
    AddDirectories("bus/acpi/devices");
    for (const std::string& name : *names) {
      auto device = RecordLinkOrDirectory("bus/acpi/devices/" + name);
      if (!device) continue;
      for (std::string_view attribute : kAcpiAttributes) {
        RecordFile(*device + "/" + std::string(attribute));
      }
      for (int n = 0;; ++n) {
        const std::string link = *device + "/physical_node" + (n == 0 ? "" : std::to_string(n));
        struct stat st{};
        if (::lstat((root_ + "/" + link).c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) break;
        if (auto target = RecordLinkOrDirectory(link)) AddDirectories(*target);
      }
    }
  }

  // The kernel's USB devices and interfaces: their attributes (the
  // `descriptors` file among them) and driver links; a root hub's
  // controller's driver link too (lsusb -t names it).
  void RecordUsbDevices() {
    auto names = sysfs::ListDirectory(root_ + "/bus/usb/devices");
    if (!names) return;  // no USB, or a tree recorded without it
    AddDirectories("bus/usb/devices");
    AddDirectories("bus/usb/drivers");
    for (const std::string& name : *names) {
      auto device = RecordLinkOrDirectory("bus/usb/devices/" + name);
      if (!device) continue;
      const bool interface = name.find(':') != std::string::npos;
      if (interface) {
        for (std::string_view attribute : kUsbInterfaceAttributes) RecordFile(*device + "/" + std::string(attribute));
      } else {
        for (std::string_view attribute : kUsbDeviceAttributes) RecordFile(*device + "/" + std::string(attribute));
      }
      std::vector<std::string> links{*device + "/driver"};
      if (name.starts_with("usb")) links.push_back(Dirname(*device) + "/driver");
      for (const std::string& link : links) {
        struct stat st{};
        if (::lstat((root_ + "/" + link).c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
        if (auto driver = RecordLinkOrDirectory(link)) AddDirectories(*driver);
      }
    }
  }

  std::string root_;
  std::string root_real_;
  std::map<std::string, ArchiveEntry> entries_;  // by path: parents sort before children
  std::set<std::string> functions_;
};

Result<void> WriteAll(int fd, std::string_view data, const std::string& what, const std::string& object) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(errno, what, object);
    written += static_cast<size_t>(n);
  }
  return {};
}

int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
  ::remove(path);
  return 0;  // go on: remove as much as possible
}

}  // namespace

// ---- tar, through libarchive ----

namespace {

using ArchiveWriter = std::unique_ptr<archive, decltype(&archive_write_free)>;
using ArchiveHeader = std::unique_ptr<archive_entry, decltype(&archive_entry_free)>;

la_ssize_t AppendToString(archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

// What libarchive said went wrong, for a message.
std::string ArchiveError(archive* handle) {
  const char* text = archive_error_string(handle);
  return text != nullptr ? text : "libarchive gave no reason";
}

// Fills `header` for one member: the fields a tar header holds, each fixed
// (owner 0, the given mtime), so the same tree is the same bytes.
void DescribeEntry(archive_entry* header, const ArchiveEntry& entry, int64_t mtime) {
  archive_entry_clear(header);
  archive_entry_set_pathname(header, entry.path.c_str());
  archive_entry_set_mtime(header, static_cast<time_t>(mtime), 0);
  switch (entry.kind) {
    case ArchiveEntry::Kind::kFile:
      archive_entry_set_filetype(header, AE_IFREG);
      archive_entry_set_perm(header, 0644);
      archive_entry_set_size(header, static_cast<la_int64_t>(entry.data.size()));
      break;
    case ArchiveEntry::Kind::kDirectory:
      archive_entry_set_filetype(header, AE_IFDIR);
      archive_entry_set_perm(header, 0755);
      archive_entry_set_size(header, 0);
      break;
    case ArchiveEntry::Kind::kSymlink:
      archive_entry_set_filetype(header, AE_IFLNK);
      archive_entry_set_perm(header, 0777);
      archive_entry_set_symlink(header, entry.target.c_str());
      archive_entry_set_size(header, 0);
      break;
  }
}

// Writes `entry` through `writer` (to memory or, unpacking, to disk).
Result<void> WriteEntry(archive* writer, archive_entry* header, const ArchiveEntry& entry,
                        int64_t mtime, const std::string& what, const std::string& origin) {
  DescribeEntry(header, entry, mtime);
  if (archive_write_header(writer, header) < ARCHIVE_WARN) {
    return Fail(Status::IO, what + ": " + ArchiveError(writer), origin);
  }
  if (entry.kind == ArchiveEntry::Kind::kFile && !entry.data.empty() &&
      archive_write_data(writer, entry.data.data(), entry.data.size()) !=
          static_cast<la_ssize_t>(entry.data.size())) {
    return Fail(Status::IO, what + ": " + ArchiveError(writer), origin);
  }
  if (archive_write_finish_entry(writer) < ARCHIVE_WARN) {
    return Fail(Status::IO, what + ": " + ArchiveError(writer), origin);
  }
  return {};
}

std::string_view FileTypeName(mode_t type) {
  switch (type) {
    case AE_IFCHR: return "character device";
    case AE_IFBLK: return "block device";
    case AE_IFIFO: return "FIFO";
    case AE_IFSOCK: return "socket";
    default: return "hard link or a type tar has and a snapshot has not";
  }
}

}  // namespace

Result<std::string> WriteTarArchive(const std::vector<ArchiveEntry>& entries, int64_t mtime) {
  std::string out;
  ArchiveWriter writer(archive_write_new(), archive_write_free);
  ArchiveHeader header(archive_entry_new(), archive_entry_free);
  if (!writer || !header) return Fail(Status::NO_MEMORY, "write snapshot: libarchive");
  // POSIX ustar, with pax records only for what ustar cannot hold (long
  // paths and targets); the last block is not padded to 10 KiB.
  if (archive_write_set_format_pax_restricted(writer.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(writer.get(), 1) != ARCHIVE_OK ||
      archive_write_open(writer.get(), &out, nullptr, AppendToString, nullptr) != ARCHIVE_OK) {
    return Fail(Status::IO, "write snapshot: " + ArchiveError(writer.get()));
  }
  for (const ArchiveEntry& entry : entries) {
    if (auto written = WriteEntry(writer.get(), header.get(), entry, mtime,
                                  "write snapshot member " + Quoted(entry.path), entry.path);
        !written) {
      return std::unexpected(written.error());
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return Fail(Status::IO, "write snapshot: " + ArchiveError(writer.get()));
  }
  return out;
}

void TarReader::Free::operator()(archive* handle) const { archive_read_free(handle); }

TarReader::TarReader(std::string_view archive, std::string origin)
    : archive_(archive), origin_(std::move(origin)) {}

std::unexpected<Error> TarReader::Malformed(uint64_t offset, std::string what) const {
  return Fail(Status::IO_INVALID, "byte " + std::to_string(offset) + ": " + what, origin_);
}

Result<std::optional<ArchiveEntry>> TarReader::Next() {
  if (!reader_) {
    reader_.reset(archive_read_new());
    if (!reader_) return Fail(Status::NO_MEMORY, "read snapshot: libarchive", origin_);
    // tar only: no compression filter, no other format.
    if (archive_read_support_format_tar(reader_.get()) != ARCHIVE_OK ||
        archive_read_open_memory(reader_.get(), archive_.data(), archive_.size()) != ARCHIVE_OK) {
      return Malformed(0, "not a tar archive: " + ArchiveError(reader_.get()));
    }
  }
  archive_entry* header = nullptr;
  const int status = archive_read_next_header(reader_.get(), &header);
  if (status == ARCHIVE_EOF) {
    // libarchive takes the end of the bytes for the end of the archive; a
    // file cut between two members would read as a smaller tree. The two
    // zero blocks that end a tar archive must be there, after the data of
    // the last member.
    constexpr uint64_t kEndMarker = 1024;
    const bool marked = archive_.size() >= end_of_members_ + kEndMarker &&
                        archive_.substr(archive_.size() - kEndMarker).find_first_not_of('\0') ==
                            std::string_view::npos;
    if (!marked) {
      return Malformed(archive_.size(), "the archive ends without its end-of-archive marker "
                                        "(two zero blocks): the file is truncated");
    }
    return std::optional<ArchiveEntry>();
  }
  if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {  // RETRY too: a damaged header
    return Malformed(static_cast<uint64_t>(archive_filter_bytes(reader_.get(), -1)),
                     ArchiveError(reader_.get()) + " (the file is truncated or corrupted)");
  }
  const auto offset = static_cast<uint64_t>(archive_read_header_position(reader_.get()));
  const char* pathname = archive_entry_pathname(header);
  std::string name = pathname != nullptr ? pathname : "";
  const std::string member = "member " + Quoted(name) + ": ";
  ArchiveEntry entry;
  entry.offset = offset;
  const mode_t type = archive_entry_filetype(header);
  if (archive_entry_hardlink(header) != nullptr) {
    return Malformed(offset, member + "a hard link: a snapshot holds only regular files, "
                                      "directories and symbolic links");
  }
  if (type == AE_IFREG) {
    entry.kind = ArchiveEntry::Kind::kFile;
  } else if (type == AE_IFDIR) {
    entry.kind = ArchiveEntry::Kind::kDirectory;
  } else if (type == AE_IFLNK) {
    entry.kind = ArchiveEntry::Kind::kSymlink;
    const char* target = archive_entry_symlink(header);
    entry.target = target != nullptr ? target : "";
  } else {
    return Malformed(offset, member + "a " + std::string(FileTypeName(type)) +
                                 ": a snapshot holds only regular files, directories and "
                                 "symbolic links");
  }
  const la_int64_t size = archive_entry_size_is_set(header) ? archive_entry_size(header) : 0;
  if (size < 0 || static_cast<uint64_t>(size) > kMaxMemberBytes) {
    return Malformed(offset, member + "declares " + std::to_string(size) +
                                 " bytes of data, more than a snapshot member may hold (" +
                                 std::to_string(kMaxMemberBytes) + "); refused unread");
  }
  // A sparse member stores less than it declares: its holes would be
  // unpacked as zeros the archive never paid for.
  if (archive_entry_sparse_count(header) > 0) {
    return Malformed(offset, member + "a sparse file: a snapshot holds only whole files");
  }
  if (entry.kind != ArchiveEntry::Kind::kFile && size != 0) {
    return Malformed(offset, member + "a directory or link with " + std::to_string(size) +
                                 " bytes of data");
  }
  if (static_cast<uint64_t>(size) > archive_.size()) {
    return Malformed(offset, member + "declares " + std::to_string(size) + " bytes of data, more "
                                 "than the whole file: the file is truncated");
  }
  entry.data.resize(static_cast<size_t>(size));
  size_t done = 0;
  while (done < entry.data.size()) {
    const la_ssize_t n =
        archive_read_data(reader_.get(), entry.data.data() + done, entry.data.size() - done);
    if (n < 0) return Malformed(offset, member + ArchiveError(reader_.get()));
    if (n == 0) {
      return Malformed(offset, member + "declares " + std::to_string(size) + " bytes of data, " +
                                   std::to_string(done) + " follow: the file is truncated");
    }
    done += static_cast<size_t>(n);
  }
  end_of_members_ = std::max(end_of_members_, (offset + 512 + done + 511) / 512 * 512);
  while (name.ends_with('/')) name.pop_back();
  if (name.empty()) return Malformed(offset, "a member with an empty name");
  entry.path = std::move(name);
  return std::optional<ArchiveEntry>(std::move(entry));
}

// ---- manifest ----

std::string SnapshotManifest::Encode() const {
  std::string text = "format " + std::string(kSnapshotFormat) + "\n";
  text += "created " + FormatTime(created) + "\n";
  // Values in EscapeText's escapes: one line each, whatever they hold, and
  // read back as they were (UnescapeText).
  text += "source " + EscapeText(source) + "\n";
  text += "host " + EscapeText(host) + "\n";
  text += "kernel " + EscapeText(kernel) + "\n";
  text += "machine " + EscapeText(machine) + "\n";
  text += "uid " + std::to_string(uid) + "\n";
  text += "functions " + std::to_string(functions) + "\n";
  text += "iommu-groups " + std::to_string(iommu_groups) + "\n";
  for (const LimitedConfig& config : limited_configs) {
    text += "config-limited " + EscapeText(config.device) + " " + std::to_string(config.recorded) +
            " " + std::to_string(config.size) + "\n";
  }
  for (const Skipped& item : skipped) {
    // what and why, split at the tab (EscapeText escapes theirs).
    text += "skipped " + EscapeText(item.what) + "\t" + EscapeText(item.why) + "\n";
  }
  return text;
}

Result<SnapshotManifest> SnapshotManifest::Decode(std::string_view text, const std::string& origin) {
  SnapshotManifest manifest;
  size_t position = 0;
  for (size_t line_number = 1; position < text.size(); ++line_number) {
    const size_t newline = std::min(text.find('\n', position), text.size());
    const std::string_view line = text.substr(position, newline - position);
    position = newline + 1;
    const size_t space = line.find(' ');
    const std::string_view key = line.substr(0, space);
    const std::string_view value = space == std::string_view::npos ? "" : line.substr(space + 1);
    const std::string where =
        "manifest " + std::string(kManifestName) + " line " + std::to_string(line_number) + ": ";
    auto bad_value = [&]() {
      return Fail(Status::IO_INVALID, where + std::string(key) + " " + Quoted(value) + " does not parse",
                  origin);
    };
    if (line_number == 1) {
      if (key != "format") {
        return Fail(Status::IO_INVALID,
                    where + "not a busctl snapshot manifest (it starts with " + Quoted(line) +
                        ", not 'format " + std::string(kSnapshotFormat) + "')",
                    origin);
      }
      if (value != kSnapshotFormat) {
        const std::string_view family = kSnapshotFormat.substr(0, kSnapshotFormat.find('/') + 1);
        if (value.starts_with(family)) {
          return Fail(Status::NOT_SUPPORTED,
                      where + "snapshot format version " + Quoted(value.substr(family.size())) +
                          "; this busctl reads version " +
                          std::string(kSnapshotFormat.substr(family.size())) + " (" +
                          std::string(kSnapshotFormat) + "): record it again",
                      origin);
        }
        return Fail(Status::IO_INVALID, where + "unknown format " + Quoted(value), origin);
      }
      continue;
    }
    if (key == "created") {
      if (!ParseTime(value, manifest.created)) return bad_value();
    } else if (key == "source") {
      manifest.source = UnescapeText(value);
    } else if (key == "host") {
      manifest.host = UnescapeText(value);
    } else if (key == "kernel") {
      manifest.kernel = UnescapeText(value);
    } else if (key == "machine") {
      manifest.machine = UnescapeText(value);
    } else if (key == "uid") {
      if (!ParseDecimal(value, manifest.uid)) return bad_value();
    } else if (key == "functions") {
      if (!ParseDecimal(value, manifest.functions)) return bad_value();
    } else if (key == "iommu-groups") {
      if (!ParseDecimal(value, manifest.iommu_groups)) return bad_value();
    } else if (key == "config-limited") {
      // DEVICE RECORDED SIZE: the numbers are the last two fields, so a
      // device name with spaces reads back whole.
      LimitedConfig config;
      const size_t second = value.rfind(' ');
      const size_t first = second == std::string_view::npos || second == 0
                               ? std::string_view::npos
                               : value.rfind(' ', second - 1);
      if (first == std::string_view::npos ||
          !ParseDecimal(value.substr(first + 1, second - first - 1), config.recorded) ||
          !ParseDecimal(value.substr(second + 1), config.size)) {
        return bad_value();
      }
      config.device = UnescapeText(value.substr(0, first));
      manifest.limited_configs.push_back(std::move(config));
    } else if (key == "skipped") {
      const size_t tab = value.find('\t');
      if (tab == std::string_view::npos) return bad_value();
      manifest.skipped.push_back(
          {UnescapeText(value.substr(0, tab)), UnescapeText(value.substr(tab + 1))});
    }  // unknown keys: written by a later busctl, nothing this one needs
  }
  if (position == 0) {
    return Fail(Status::IO_INVALID, "manifest " + std::string(kManifestName) + " is empty", origin);
  }
  return manifest;
}

// ---- snapshots ----

Result<Snapshot> RecordSnapshot(const std::string& sysfs_root, const SnapshotManifest* replayed) {
  char real[PATH_MAX];
  if (::realpath(sysfs_root.c_str(), real) == nullptr) {
    return FailErrno(errno, "record snapshot: resolve the sysfs root", sysfs_root);
  }
  Snapshot snapshot;
  SnapshotManifest& manifest = snapshot.manifest;
  TreeRecorder recorder(sysfs_root, real);
  if (auto recorded = recorder.Record(manifest); !recorded) {
    return Wrap(recorded.error(), "record snapshot");
  }
  snapshot.tree = recorder.TakeEntries();
  if (replayed != nullptr) {
    // A snapshot of a replay: the recording is the original's.
    manifest.created = replayed->created;
    manifest.source = replayed->source;
    manifest.host = replayed->host;
    manifest.kernel = replayed->kernel;
    manifest.machine = replayed->machine;
    manifest.uid = replayed->uid;
    manifest.limited_configs = replayed->limited_configs;
    manifest.skipped = replayed->skipped;
    return snapshot;
  }
  manifest.created = static_cast<int64_t>(::time(nullptr));
  manifest.source = sysfs_root;
  struct utsname names{};
  if (::uname(&names) == 0) {
    manifest.host = names.nodename;
    manifest.kernel = names.release;
    manifest.machine = names.machine;
  }
  manifest.uid = ::geteuid();
  manifest.limited_configs = std::move(recorder.limited_configs);
  manifest.skipped = std::move(recorder.skipped);
  return snapshot;
}

Result<std::string> EncodeSnapshot(const Snapshot& snapshot) {
  std::vector<ArchiveEntry> entries;
  entries.reserve(snapshot.tree.size() + 1);
  entries.push_back(ArchiveEntry::File(std::string(kManifestName), snapshot.manifest.Encode()));
  entries.insert(entries.end(), snapshot.tree.begin(), snapshot.tree.end());
  return WriteTarArchive(entries, snapshot.manifest.created);
}

Result<Snapshot> DecodeSnapshot(std::string_view bytes, const std::string& origin) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
      static_cast<unsigned char>(bytes[1]) == 0x8b) {
    return Fail(Status::IO_INVALID, "the file is gzip-compressed: gunzip it first", origin);
  }
  TarReader reader(bytes, origin);
  auto first = reader.Next();
  if (!first) {
    return Wrap(first.error(), "not a busctl snapshot (a tar archive whose first member is " +
                                   std::string(kManifestName) + ")");
  }
  if (!*first || (*first)->kind != ArchiveEntry::Kind::kFile || (*first)->path != kManifestName) {
    return Fail(Status::IO_INVALID,
                "not a busctl snapshot: its first member is " +
                    (*first ? Quoted((*first)->path) : std::string("missing")) +
                    ", not the manifest " + std::string(kManifestName),
                origin);
  }
  auto manifest = SnapshotManifest::Decode((*first)->data, origin);
  if (!manifest) return std::unexpected(manifest.error());
  Snapshot snapshot;
  snapshot.manifest = std::move(*manifest);
  // Each member's path: its offset and kind.
  std::unordered_map<std::string, std::pair<uint64_t, ArchiveEntry::Kind>> seen;
  std::unordered_set<std::string> directories;
  while (true) {
    auto entry = reader.Next();
    if (!entry) return std::unexpected(entry.error());
    if (!*entry) break;
    ArchiveEntry& member = **entry;
    const std::string where =
        "byte " + std::to_string(member.offset) + ": member " + Quoted(member.path) + " ";
    if (const std::string defect = TreePathDefect(member.path); !defect.empty()) {
      return Fail(Status::IO_INVALID, where + defect, origin);
    }
    if (member.path == kTreeName && member.kind != ArchiveEntry::Kind::kDirectory) {
      return Fail(Status::IO_INVALID, where + "is not a directory", origin);
    }
    if (member.kind == ArchiveEntry::Kind::kSymlink) {
      if (const std::string defect = LinkTargetDefect(member.path, member.target); !defect.empty()) {
        return Fail(Status::IO_INVALID, where + defect + " (" + Quoted(member.target) + ")", origin);
      }
    }
    auto [previous, inserted] = seen.try_emplace(member.path, member.offset, member.kind);
    if (!inserted) {
      return Fail(Status::IO_INVALID,
                  where + "comes twice (first at byte " + std::to_string(previous->second.first) +
                      ")",
                  origin);
    }
    // Every directory on the way is a directory: never written through a
    // file or link of the snapshot. They are counted.
    for (size_t slash = member.path.find('/'); slash != std::string::npos;
         slash = member.path.find('/', slash + 1)) {
      const std::string directory = member.path.substr(0, slash);
      const auto earlier = seen.find(directory);
      if (earlier != seen.end() && earlier->second.second != ArchiveEntry::Kind::kDirectory) {
        return Fail(Status::IO_INVALID,
                    where + "lies below " + Quoted(directory) + " (byte " +
                        std::to_string(earlier->second.first) +
                        "), a file or link of the snapshot, not a directory",
                    origin);
      }
      directories.insert(directory);
    }
    if (member.kind == ArchiveEntry::Kind::kDirectory) {
      directories.insert(member.path);
    } else if (directories.contains(member.path)) {
      return Fail(Status::IO_INVALID,
                  where + "is a file or link where earlier members made a directory", origin);
    }
    if (directories.size() > kMaxDirectories) {
      return Fail(Status::IO_INVALID,
                  where + "makes the snapshot's directories more than " +
                      std::to_string(kMaxDirectories) + "; no sysfs view has that many",
                  origin);
    }
    snapshot.tree.push_back(std::move(member));
  }
  return snapshot;
}

Result<uint64_t> WriteSnapshotFile(const Snapshot& snapshot, const std::string& path,
                                   bool overwrite) {
  struct stat st{};
  if (!overwrite && ::lstat(path.c_str(), &st) == 0) {
    return Fail(Status::ALREADY_EXISTS, "the file exists; pass --force to replace it", path);
  }
  auto encoded = EncodeSnapshot(snapshot);
  if (!encoded) return std::unexpected(encoded.error());
  const std::string& bytes = *encoded;
  const std::string directory = path.find('/') == std::string::npos ? "." : Dirname(path);
  const std::string temporary = (directory.empty() ? std::string() : directory) + "/." +
                                Basename(path) + ".busctl-" + std::to_string(::getpid());
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (!fd) return FailErrno(errno, "create " + temporary, path);
  auto written = WriteAll(fd.get(), bytes, "write " + temporary, path);
  if (written && ::fsync(fd.get()) != 0) written = FailErrno(errno, "fsync " + temporary, path);
  fd.reset();
  if (written) {
    // Without --force, link() fails with EEXIST rather than replace a file
    // that appeared meanwhile; rename() replaces atomically.
    if (overwrite ? ::rename(temporary.c_str(), path.c_str()) != 0
                  : ::link(temporary.c_str(), path.c_str()) != 0) {
      written = errno == EEXIST ? Fail(Status::ALREADY_EXISTS,
                                       "the file exists; pass --force to replace it", path)
                                : FailErrno(errno, "rename " + temporary + " to " + path, path);
    }
  }
  ::unlink(temporary.c_str());  // after rename: already gone
  if (!written) return std::unexpected(written.error());
  return bytes.size();
}

Result<Snapshot> ReadSnapshotFile(const std::string& path) {
  // Far more than any machine's PCI view; refuses to load something else whole.
  constexpr uint64_t kMaxSnapshotBytes = uint64_t{256} << 20;
  // Someone else's file: a device node is not even opened, a FIFO not waited on.
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return FailErrno(errno, "read snapshot: open " + path, path);
  if (!S_ISREG(st.st_mode)) {
    return Fail(Status::IO_INVALID, "read snapshot: not a regular file, so not a busctl snapshot",
                path);
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "read snapshot: open " + path, path);
  auto bytes = sysfs::ReadWholeFile(fd.get(), path, kMaxSnapshotBytes, "a busctl snapshot");
  if (!bytes) return Wrap(bytes.error(), "read snapshot");
  return DecodeSnapshot(*bytes, path);
}

SnapshotReplay::SnapshotReplay(std::string directory, SnapshotManifest manifest)
    : directory_(std::move(directory)), manifest_(std::move(manifest)) {}

SnapshotReplay::SnapshotReplay(SnapshotReplay&& other) noexcept
    : directory_(std::exchange(other.directory_, {})), manifest_(std::move(other.manifest_)) {}

SnapshotReplay& SnapshotReplay::operator=(SnapshotReplay&& other) noexcept {
  if (this != &other) {
    Remove();
    directory_ = std::exchange(other.directory_, {});
    manifest_ = std::move(other.manifest_);
  }
  return *this;
}

SnapshotReplay::~SnapshotReplay() { Remove(); }

void SnapshotReplay::Remove() {
  if (directory_.empty()) return;
  ::nftw(directory_.c_str(), RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
  directory_.clear();
}

namespace {

// Writes the manifest and the tree into the working directory with
// libarchive's secure extraction: no absolute paths, no "..", nothing
// written through a link, nothing overwritten. DecodeSnapshot checked the
// same already; this is the second lock on the door.
Result<void> ExtractMembers(const Snapshot& snapshot, const std::string& origin) {
  ArchiveWriter writer(archive_write_disk_new(), archive_write_free);
  ArchiveHeader header(archive_entry_new(), archive_entry_free);
  if (!writer || !header) return Fail(Status::NO_MEMORY, "unpack snapshot: libarchive", origin);
  archive_write_disk_set_options(writer.get(), ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                   ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                                                   ARCHIVE_EXTRACT_NO_OVERWRITE);
  const int64_t mtime = snapshot.manifest.created;
  if (auto written = WriteEntry(writer.get(), header.get(),
                                ArchiveEntry::File(std::string(kManifestName),
                                                   snapshot.manifest.Encode()),
                                mtime, "unpack snapshot: the manifest", origin);
      !written) {
    return written;
  }
  for (const ArchiveEntry& entry : snapshot.tree) {
    const std::string what = "unpack snapshot: member " + Quoted(entry.path) + " at byte " +
                             std::to_string(entry.offset);
    if (auto written = WriteEntry(writer.get(), header.get(), entry, mtime, what, origin);
        !written) {
      return written;
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return Fail(Status::IO, "unpack snapshot: " + ArchiveError(writer.get()), origin);
  }
  return {};
}

}  // namespace

Result<SnapshotReplay> SnapshotReplay::Unpack(const Snapshot& snapshot, const std::string& parent,
                                              const std::string& origin) {
  std::string directory = parent + "/busctl-snapshot.XXXXXX";
  if (::mkdtemp(directory.data()) == nullptr) {
    return FailErrno(errno, "unpack snapshot: mkdtemp " + directory, origin);
  }
  SnapshotReplay replay(directory, snapshot.manifest);  // removes the directory on failure
  // libarchive extracts relative to the working directory: busctl's for
  // the time of the unpacking, then the caller's again.
  UniqueFd previous(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!previous) return FailErrno(errno, "unpack snapshot: open the working directory", origin);
  if (::chdir(directory.c_str()) != 0) {
    return FailErrno(errno, "unpack snapshot: chdir " + directory, origin);
  }
  auto unpacked = ExtractMembers(snapshot, origin);
  if (::fchdir(previous.get()) != 0) {
    return FailErrno(errno, "unpack snapshot: back to the working directory", origin);
  }
  if (!unpacked) return std::unexpected(unpacked.error());
  return replay;
}

}  // namespace udrv::busctl
