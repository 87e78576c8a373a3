#include "snapshot_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <unordered_map>

#include "bounded_file.h"
#include "udrv/core/text.h"
#include "udrv/core/unique_fd.h"
#include "udrv/pci/address.h"
#include "udrv/pci/config.h"
#include "udrv/pci/sysfs_file.h"

namespace udrv::busctl {
namespace {

// ---- tar (POSIX ustar with pax extended headers) ----

constexpr size_t kBlock = 512;

// ustar header fields: offset and width.
struct Field {
  size_t offset;
  size_t width;
};
constexpr Field kName{0, 100};
constexpr Field kMode{100, 8};
constexpr Field kUid{108, 8};
constexpr Field kGid{116, 8};
constexpr Field kSize{124, 12};
constexpr Field kMtime{136, 12};
constexpr Field kChecksum{148, 8};
constexpr size_t kTypeflag = 156;
constexpr Field kLinkname{157, 100};
constexpr Field kMagic{257, 6};
constexpr Field kVersion{263, 2};
constexpr Field kPrefix{345, 155};

constexpr char kTypeFile = '0';
constexpr char kTypeFileOld = '\0';
constexpr char kTypeSymlink = '2';
constexpr char kTypeDirectory = '5';
constexpr char kTypePax = 'x';
constexpr char kTypePaxGlobal = 'g';

uint64_t RoundUpToBlock(uint64_t size) { return (size + kBlock - 1) / kBlock * kBlock; }

void PutText(std::string& header, Field field, std::string_view text) {
  if (text.empty()) return;  // memcpy from an empty view's nullptr is undefined
  std::memcpy(header.data() + field.offset, text.data(), std::min(text.size(), field.width));
}

// width - 1 octal digits, zero padded, then NUL: how ustar writes numbers.
void PutOctal(std::string& header, Field field, uint64_t value) {
  std::string digits(field.width - 1, '0');
  for (size_t n = digits.size(); n > 0 && value != 0; --n, value >>= 3) {
    digits[n - 1] = static_cast<char>('0' + (value & 7));
  }
  PutText(header, field, digits);
}

uint64_t HeaderChecksum(std::string_view header) {
  uint64_t sum = 0;
  for (size_t n = 0; n < kBlock; ++n) {
    const bool in_checksum = n >= kChecksum.offset && n < kChecksum.offset + kChecksum.width;
    sum += in_checksum ? uint64_t{' '} : static_cast<unsigned char>(header[n]);
  }
  return sum;
}

void AppendHeader(std::string& out, std::string_view name, std::string_view prefix, char type,
                  uint64_t size, std::string_view link, int64_t mtime) {
  std::string header(kBlock, '\0');
  PutText(header, kName, name);
  PutOctal(header, kMode,
           type == kTypeDirectory ? 0755 : type == kTypeSymlink ? 0777 : 0644);
  PutOctal(header, kUid, 0);
  PutOctal(header, kGid, 0);
  PutOctal(header, kSize, size);
  PutOctal(header, kMtime, static_cast<uint64_t>(std::max<int64_t>(mtime, 0)));
  header[kTypeflag] = type;
  PutText(header, kLinkname, link);
  PutText(header, kMagic, std::string_view("ustar\0", 6));
  PutText(header, kVersion, "00");
  PutText(header, kPrefix, prefix);
  // Six octal digits, NUL, space: the traditional checksum layout.
  std::string checksum(6, '0');
  uint64_t sum = HeaderChecksum(header);
  for (size_t n = 6; n > 0; --n, sum >>= 3) checksum[n - 1] = static_cast<char>('0' + (sum & 7));
  checksum += std::string_view("\0 ", 2);
  PutText(header, kChecksum, checksum);
  out += header;
}

void AppendData(std::string& out, std::string_view data) {
  out += data;
  out.append(RoundUpToBlock(data.size()) - data.size(), '\0');
}

// "LEN key=value\n", LEN counting the whole record including its own digits.
std::string PaxRecord(std::string_view key, std::string_view value) {
  const size_t base = key.size() + value.size() + 3;
  size_t length = base + std::to_string(base).size();
  if (std::to_string(length).size() + base != length) ++length;
  return std::to_string(length) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

// Splits `path` into ustar's prefix and name fields; false when it does not fit.
bool SplitUstarPath(std::string_view path, std::string_view& prefix, std::string_view& name) {
  if (path.size() <= kName.width) {
    prefix = {};
    name = path;
    return true;
  }
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    if (slash > kPrefix.width) break;
    const size_t rest = path.size() - slash - 1;
    if (rest > 0 && rest <= kName.width) {
      prefix = path.substr(0, slash);
      name = path.substr(slash + 1);
      return true;
    }
  }
  return false;
}

std::string_view KindName(char type) {
  switch (type) {
    case '1': return "hard link";
    case '3': return "character device";
    case '4': return "block device";
    case '6': return "FIFO";
    case '7': return "contiguous file";
    case 'L': return "GNU long name";
    case 'K': return "GNU long link";
    default: return "unknown";
  }
}

// A ustar number: optional leading spaces, octal digits, then NULs or spaces.
bool ParseOctalField(std::string_view field, uint64_t& value) {
  size_t n = 0;
  while (n < field.size() && field[n] == ' ') ++n;
  const size_t first_digit = n;
  value = 0;
  for (; n < field.size() && field[n] >= '0' && field[n] <= '7'; ++n) {
    if (value > (UINT64_MAX >> 3)) return false;
    value = value << 3 | static_cast<uint64_t>(field[n] - '0');
  }
  if (n == first_digit) return false;
  for (; n < field.size(); ++n) {
    if (field[n] != '\0' && field[n] != ' ') return false;
  }
  return true;
}

std::string_view CString(std::string_view field) {
  return field.substr(0, std::min(field.find('\0'), field.size()));
}

bool AllZero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

template <typename T>
bool ParseDecimal(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 10);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
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

Result<std::vector<std::string>> ListDirectory(const std::string& path) {
  DIR* stream = ::opendir(path.c_str());
  if (stream == nullptr) return FailErrno(errno, "opendir " + path, path);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(stream)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

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
    auto names = ListDirectory(root_ + "/bus/pci/devices");
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
    if (auto iommus = ListDirectory(root_ + "/class/iommu")) {
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
      auto parameters = ListDirectory(root_ + "/" + directory + "/parameters");
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
  std::optional<pci::SysfsFileContents> RecordFile(const std::string& relative,
                                                   size_t max = kMaxAttributeBytes) {
    auto read = pci::ReadSysfsFile(root_ + "/" + relative, max);
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
    if (auto msi = ListDirectory(root_ + "/" + function + "/msi_irqs")) {
      AddDirectories(function + "/msi_irqs");
      for (const std::string& irq : *msi) RecordFile(function + "/msi_irqs/" + irq);
    }
    std::vector<std::string> links(std::begin(kFunctionLinks), std::end(kFunctionLinks));
    if (auto entries = ListDirectory(root_ + "/" + function)) {
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
    auto groups = ListDirectory(root_ + "/kernel/iommu_groups");
    if (!groups) return;  // no IOMMU, or a tree recorded without one
    AddDirectories("kernel/iommu_groups");
    for (const std::string& group : *groups) {
      const std::string dir = "kernel/iommu_groups/" + group;
      ++manifest.iommu_groups;
      AddDirectories(dir);
      RecordFile(dir + "/type");
      RecordFile(dir + "/reserved_regions");
      auto members = ListDirectory(root_ + "/" + dir + "/devices");
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

  std::string root_;
  std::string root_real_;
  std::map<std::string, ArchiveEntry> entries_;  // by path: parents sort before children
  std::set<std::string> functions_;
};

// ---- unpacking ----

// Opens (creating as needed) the directory each member goes into, never
// through a link: a member cannot be written through a link another member
// made. Every directory is reached once component by component (O_NOFOLLOW)
// and remembered, in a tree of names; a later member's directory whose
// components are all remembered directories is one openat from the root.
// So unpacking costs a few calls per member and per directory, in whatever
// order the members come, and the directories it makes are counted.
class DirectoryWalker {
 public:
  DirectoryWalker(int root_fd, const std::string& origin) : root_fd_(root_fd), origin_(origin) {
    nodes_.emplace_back();  // the root
  }

  Result<int> ParentOf(const ArchiveEntry& entry) {
    const std::string parent = Dirname(entry.path);
    if (parent == cached_path_ && cached_fd_) return cached_fd_.get();
    const std::vector<std::string_view> parts =
        parent.empty() ? std::vector<std::string_view>() : SplitPath(parent);
    // The remembered directories on the way; the rest are new.
    size_t node = 0;
    size_t known = 0;
    size_t known_length = 0;  // of the path of the first `known` parts
    for (; known < parts.size(); ++known) {
      auto child = nodes_[node].children.find(parts[known]);
      if (child == nodes_[node].children.end()) break;
      node = child->second;
      known_length += (known == 0 ? 0 : 1) + parts[known].size();
    }
    UniqueFd current(known == 0 ? ::dup(root_fd_)
                                : ::openat(root_fd_, parent.substr(0, known_length).c_str(),
                                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!current) return FailErrno(errno, MemberText(entry) + ": open " + parent, origin_);
    size_t length = known_length;
    for (size_t depth = known; depth < parts.size(); ++depth) {
      const std::string name(parts[depth]);
      length += (depth == 0 ? 0 : 1) + name.size();
      const std::string walked = parent.substr(0, length);
      int fd = ::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) {
        if (::mkdirat(current.get(), name.c_str(), 0755) != 0) {
          return FailErrno(errno, MemberText(entry) + ": mkdir " + walked, origin_);
        }
        if (auto counted = CountDirectory(entry); !counted) return std::unexpected(counted.error());
        fd = ::openat(current.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        if (errno == ELOOP || errno == ENOTDIR) {
          return Fail(Status::IO_INVALID,
                      MemberText(entry) + ": '" + walked +
                          "' is a file or link of the snapshot, not a directory",
                      origin_);
        }
        return FailErrno(errno, MemberText(entry) + ": open " + walked, origin_);
      }
      current.reset(fd);
      nodes_.emplace_back();
      nodes_[node].children.emplace(name, nodes_.size() - 1);
      node = nodes_.size() - 1;
    }
    cached_path_ = parent;
    cached_fd_ = std::move(current);
    return cached_fd_.get();
  }

  // Counts a directory made for `entry`: IO_INVALID past kMaxDirectories.
  Result<void> CountDirectory(const ArchiveEntry& entry) {
    if (++directories_ <= kMaxDirectories) return {};
    return Fail(Status::IO_INVALID,
                MemberText(entry) + ": the snapshot makes more than " +
                    std::to_string(kMaxDirectories) + " directories; no sysfs view has that many",
                origin_);
  }

  static std::string MemberText(const ArchiveEntry& entry) {
    return "member " + Quoted(entry.path) + " at byte " + std::to_string(entry.offset);
  }

 private:
  struct Node {
    std::map<std::string, size_t, std::less<>> children;  // by name: index in nodes_
  };

  int root_fd_;
  const std::string& origin_;
  std::vector<Node> nodes_;  // the directories made or opened, from the root
  size_t directories_ = 0;
  std::string cached_path_ = "\x01";  // no real parent path
  UniqueFd cached_fd_;
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

Result<void> CreateMember(DirectoryWalker& walker, const ArchiveEntry& entry,
                          const std::string& origin) {
  auto parent = walker.ParentOf(entry);
  if (!parent) return std::unexpected(parent.error());
  const std::string name = Basename(entry.path);
  const std::string what = DirectoryWalker::MemberText(entry);
  switch (entry.kind) {
    case ArchiveEntry::Kind::kDirectory: {
      if (::mkdirat(*parent, name.c_str(), 0755) == 0) return walker.CountDirectory(entry);
      struct stat st{};
      if (errno == EEXIST && ::fstatat(*parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISDIR(st.st_mode)) {
        return {};  // made already on the way to an earlier member
      }
      if (errno == EEXIST) {
        return Fail(Status::IO_INVALID, what + ": a file or link of that name came earlier", origin);
      }
      return FailErrno(errno, what + ": mkdir", origin);
    }
    case ArchiveEntry::Kind::kFile: {
      UniqueFd fd(::openat(*parent, name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (!fd) {
        if (errno == EEXIST) {
          return Fail(Status::IO_INVALID, what + ": a directory of that name came earlier", origin);
        }
        return FailErrno(errno, what + ": create", origin);
      }
      return WriteAll(fd.get(), entry.data, what + ": write", origin);
    }
    case ArchiveEntry::Kind::kSymlink:
      if (::symlinkat(entry.target.c_str(), *parent, name.c_str()) == 0) return {};
      if (errno == EEXIST) {
        return Fail(Status::IO_INVALID, what + ": a directory of that name came earlier", origin);
      }
      return FailErrno(errno, what + ": symlink", origin);
  }
  return {};
}

int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
  ::remove(path);
  return 0;  // go on: remove as much as possible
}

}  // namespace

// ---- tar ----

std::string WriteTarArchive(const std::vector<ArchiveEntry>& entries, int64_t mtime) {
  std::string out;
  for (const ArchiveEntry& entry : entries) {
    const bool is_directory = entry.kind == ArchiveEntry::Kind::kDirectory;
    const bool is_link = entry.kind == ArchiveEntry::Kind::kSymlink;
    const std::string path = entry.path + (is_directory ? "/" : "");
    std::string_view prefix;
    std::string_view name;
    const bool fits = SplitUstarPath(path, prefix, name);
    const bool link_fits = !is_link || entry.target.size() <= kLinkname.width;
    if (!fits || !link_fits) {
      std::string records;
      if (!fits) records += PaxRecord("path", path);
      if (!link_fits) records += PaxRecord("linkpath", entry.target);
      const std::string pax_name = ("PaxHeaders/" + Basename(entry.path)).substr(0, kName.width);
      AppendHeader(out, pax_name, {}, kTypePax, records.size(), {}, mtime);
      AppendData(out, records);
      if (!fits) {
        prefix = {};
        name = std::string_view(path).substr(0, kName.width);
      }
    }
    const char type = is_directory ? kTypeDirectory : is_link ? kTypeSymlink : kTypeFile;
    const std::string_view link =
        is_link ? std::string_view(entry.target).substr(0, kLinkname.width) : std::string_view();
    const uint64_t size = entry.kind == ArchiveEntry::Kind::kFile ? entry.data.size() : 0;
    AppendHeader(out, name, prefix, type, size, link, mtime);
    if (size != 0) AppendData(out, entry.data);
  }
  out.append(2 * kBlock, '\0');  // end-of-archive marker
  return out;
}

TarReader::TarReader(std::string_view archive, std::string origin)
    : archive_(archive), origin_(std::move(origin)) {}

std::unexpected<Error> TarReader::Malformed(uint64_t offset, std::string what) const {
  return Fail(Status::IO_INVALID, "byte " + std::to_string(offset) + ": " + what, origin_);
}

Result<std::optional<ArchiveEntry>> TarReader::Next() {
  if (ended_) return std::optional<ArchiveEntry>();
  std::optional<std::string> pax_path;
  std::optional<std::string> pax_link;
  std::optional<uint64_t> pax_size;
  std::optional<uint64_t> first_offset;
  while (true) {
    const uint64_t offset = offset_;
    const uint64_t remaining = archive_.size() - offset;
    if (remaining < kBlock) {
      return Malformed(offset, remaining == 0
                                   ? "the archive ends without its end-of-archive marker "
                                     "(two zero blocks): the file is truncated"
                                   : std::to_string(remaining) +
                                         " bytes left, less than one 512-byte header: the file "
                                         "is truncated");
    }
    const std::string_view header = archive_.substr(offset, kBlock);
    if (AllZero(header)) {
      if (first_offset) return Malformed(offset, "a pax header without the member it describes");
      if (remaining < 2 * kBlock) {
        return Malformed(offset + kBlock,
                         "only one of the two end-of-archive zero blocks: the file is truncated");
      }
      const std::string_view rest = archive_.substr(offset + kBlock);
      const size_t nonzero = rest.find_first_not_of('\0');
      if (nonzero != std::string_view::npos) {
        return Malformed(offset + kBlock + nonzero,
                         nonzero < kBlock ? "a zero block where a header or the end-of-archive "
                                            "marker's second block belongs"
                                          : "data after the end-of-archive marker");
      }
      offset_ = archive_.size();
      ended_ = true;
      return std::optional<ArchiveEntry>();
    }
    uint64_t stored_checksum = 0;
    if (!ParseOctalField(header.substr(kChecksum.offset, kChecksum.width), stored_checksum)) {
      return Malformed(offset, "no tar header here (the checksum field is not a number)");
    }
    if (stored_checksum != HeaderChecksum(header)) {
      return Malformed(offset, "tar header checksum mismatch (stored " +
                                   std::to_string(stored_checksum) + ", computed " +
                                   std::to_string(HeaderChecksum(header)) +
                                   "): the file is corrupted");
    }
    const std::string_view magic = header.substr(kMagic.offset, kMagic.width + kVersion.width);
    if (magic != std::string_view("ustar\0" "00", 8) && magic != std::string_view("ustar  \0", 8)) {
      return Malformed(offset, "a tar header without the ustar magic (a pre-POSIX archive)");
    }
    std::string name(CString(header.substr(kName.offset, kName.width)));
    const std::string_view prefix = CString(header.substr(kPrefix.offset, kPrefix.width));
    if (!prefix.empty()) name = std::string(prefix) + "/" + name;
    if (pax_path) name = *pax_path;
    const std::string member = "member " + Quoted(name) + ": ";
    uint64_t size = 0;
    if (!ParseOctalField(header.substr(kSize.offset, kSize.width), size)) {
      return Malformed(offset, member + "the size field is not an octal number");
    }
    if (pax_size) size = *pax_size;
    if (size > kMaxMemberBytes) {
      return Malformed(offset, member + "declares " + std::to_string(size) +
                                   " bytes of data, more than a snapshot member may hold (" +
                                   std::to_string(kMaxMemberBytes) + "); refused unread");
    }
    const uint64_t data_offset = offset + kBlock;
    if (size > archive_.size() - data_offset ||
        RoundUpToBlock(size) > archive_.size() - data_offset) {
      return Malformed(offset, member + "declares " + std::to_string(size) +
                                   " bytes of data (padded to 512-byte blocks), only " +
                                   std::to_string(archive_.size() - data_offset) +
                                   " follow: the file is truncated");
    }
    const std::string_view data = archive_.substr(data_offset, size);
    offset_ = data_offset + RoundUpToBlock(size);
    if (!first_offset) first_offset = offset;
    const char type = header[kTypeflag];
    if (type == kTypePax) {
      if (pax_path || pax_link || pax_size) {
        return Malformed(offset, "two pax headers for one member");
      }
      size_t position = 0;
      for (size_t record = 0; position < data.size(); ++record) {
        const std::string where = "pax record " + std::to_string(record) + " at byte " +
                                  std::to_string(data_offset + position) + ": ";
        const size_t space = data.find(' ', position);
        uint64_t length = 0;
        if (space == std::string_view::npos ||
            !ParseDecimal(data.substr(position, space - position), length) ||
            length <= space - position || length > data.size() - position ||
            data[position + length - 1] != '\n') {
          return Malformed(offset, where + "not 'LENGTH KEY=VALUE\\n'");
        }
        const std::string_view record_text = data.substr(space + 1, position + length - space - 2);
        const size_t equals = record_text.find('=');
        if (equals == std::string_view::npos) return Malformed(offset, where + "no '='");
        const std::string_view key = record_text.substr(0, equals);
        const std::string_view value = record_text.substr(equals + 1);
        if (key == "path") {
          pax_path = std::string(value);
        } else if (key == "linkpath") {
          pax_link = std::string(value);
        } else if (key == "size") {
          uint64_t pax_size_value = 0;
          if (!ParseDecimal(value, pax_size_value)) {
            return Malformed(offset, where + "size " + Quoted(value) + " is not a number");
          }
          pax_size = pax_size_value;
        }  // others (times, owners) say nothing a snapshot needs
        position += length;
      }
      continue;
    }
    if (type == kTypePaxGlobal) {
      return Malformed(offset, member + "a global pax header (type 'g'), which snapshots do not use");
    }
    ArchiveEntry entry;
    entry.offset = *first_offset;
    if (type == kTypeFile || type == kTypeFileOld) {
      entry.kind = ArchiveEntry::Kind::kFile;
      entry.data = std::string(data);
    } else if (type == kTypeDirectory) {
      entry.kind = ArchiveEntry::Kind::kDirectory;
    } else if (type == kTypeSymlink) {
      entry.kind = ArchiveEntry::Kind::kSymlink;
      entry.target = pax_link ? *pax_link
                              : std::string(CString(header.substr(kLinkname.offset, kLinkname.width)));
    } else {
      return Malformed(offset, member + "type " + Quoted(std::string(1, type)) + " (" +
                                   std::string(KindName(type)) +
                                   "): a snapshot holds only regular files, directories and "
                                   "symbolic links (repack with tar --format=pax)");
    }
    if (entry.kind != ArchiveEntry::Kind::kFile && size != 0) {
      return Malformed(offset, member + "a directory or link with " + std::to_string(size) +
                                   " bytes of data");
    }
    if (name.ends_with('/')) {
      if (entry.kind != ArchiveEntry::Kind::kDirectory) {
        return Malformed(offset, member + "a name ending in '/' for a file or link");
      }
      while (name.ends_with('/')) name.pop_back();
    }
    if (name.empty()) return Malformed(offset, "a member with an empty name");
    entry.path = std::move(name);
    return std::optional<ArchiveEntry>(std::move(entry));
  }
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
                          "; this busctl reads version 1 (" + std::string(kSnapshotFormat) + ")",
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

std::string EncodeSnapshot(const Snapshot& snapshot) {
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
  std::unordered_map<std::string, uint64_t> seen;
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
    auto [previous, inserted] = seen.try_emplace(member.path, member.offset);
    if (!inserted) {
      return Fail(Status::IO_INVALID,
                  where + "comes twice (first at byte " + std::to_string(previous->second) + ")",
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
  const std::string bytes = EncodeSnapshot(snapshot);
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
  auto bytes = ReadBoundedFile(fd.get(), path, kMaxSnapshotBytes, "a busctl snapshot");
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

Result<SnapshotReplay> SnapshotReplay::Unpack(const Snapshot& snapshot, const std::string& parent,
                                              const std::string& origin) {
  std::string directory = parent + "/busctl-snapshot.XXXXXX";
  if (::mkdtemp(directory.data()) == nullptr) {
    return FailErrno(errno, "unpack snapshot: mkdtemp " + directory, origin);
  }
  SnapshotReplay replay(directory, snapshot.manifest);  // removes the directory on failure
  UniqueFd root(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return FailErrno(errno, "unpack snapshot: open " + directory, origin);
  UniqueFd manifest(::openat(root.get(), std::string(kManifestName).c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!manifest) return FailErrno(errno, "unpack snapshot: create the manifest", origin);
  if (auto written = WriteAll(manifest.get(), snapshot.manifest.Encode(),
                              "unpack snapshot: write the manifest", origin);
      !written) {
    return std::unexpected(written.error());
  }
  if (::mkdirat(root.get(), std::string(kTreeName).c_str(), 0755) != 0) {
    return FailErrno(errno, "unpack snapshot: mkdir " + std::string(kTreeName), origin);
  }
  DirectoryWalker walker(root.get(), origin);
  for (const ArchiveEntry& entry : snapshot.tree) {
    if (entry.path == kTreeName) continue;  // made above
    if (auto created = CreateMember(walker, entry, origin); !created) {
      return Wrap(created.error(), "unpack snapshot");
    }
  }
  return replay;
}

}  // namespace udrv::busctl
