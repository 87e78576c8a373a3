#include "udrv/pci/sysfs_file.h"

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

// Refuses what cannot be an attribute file: anything but a regular file.
Result<void> CheckRegular(const struct stat& st, const std::string& path) {
  if (S_ISREG(st.st_mode)) return {};
  if (S_ISDIR(st.st_mode)) return FailErrno(EISDIR, "read " + path);
  const char* kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file";
  return Fail(Status::NOT_FILE,
              "read " + path + ": " + kind + " where an attribute file belongs");
}

}  // namespace

Result<SysfsFileContents> ReadSysfsFile(const std::string& path, size_t max) {
  // stat first: a device node must not even be opened. The open is
  // non-blocking and checked again, for a file swapped in between.
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return FailErrno(errno, "open " + path);
  if (auto regular = CheckRegular(st, path); !regular) return std::unexpected(regular.error());
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "open " + path);
  if (::fstat(fd.get(), &st) != 0) return FailErrno(errno, "fstat " + path);
  if (auto regular = CheckRegular(st, path); !regular) return std::unexpected(regular.error());

  SysfsFileContents contents;
  contents.size = static_cast<uint64_t>(std::max<off_t>(st.st_size, 0));
  char chunk[4096];
  while (contents.bytes.size() < max) {
    const ssize_t n = ::read(fd.get(), chunk, std::min(sizeof(chunk), max - contents.bytes.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(errno, "read " + path);
    if (n == 0) break;
    contents.bytes.append(chunk, static_cast<size_t>(n));
  }
  return contents;
}

Result<std::string> ReadSysfsAttribute(const std::string& path) {
  auto contents = ReadSysfsFile(path, 4096);
  if (!contents) return std::unexpected(contents.error());
  std::string text = std::move(contents->bytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::optional<std::string> ReadLinkName(const std::string& path) {
  char target[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
  if (n <= 0) return std::nullopt;
  const std::string_view text(target, static_cast<size_t>(n));
  const size_t slash = text.rfind('/');
  return std::string(slash == std::string_view::npos ? text : text.substr(slash + 1));
}

Result<std::optional<uint32_t>> ReadIommuGroupLink(const std::string& device_path) {
  const std::string path = device_path + "/iommu_group";
  const std::optional<std::string> name = ReadLinkName(path);
  if (!name) return std::optional<uint32_t>();
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 && errno != ENOENT) {
    return Fail(Status::IO_INVALID, "read IOMMU group: the iommu_group link cannot be followed",
                path, errno);
  }
  uint32_t group = 0;
  const auto [end, ec] = std::from_chars(name->data(), name->data() + name->size(), group);
  if (name->empty() || ec != std::errc() || end != name->data() + name->size()) {
    return Fail(Status::IO_INVALID,
                "read IOMMU group: the iommu_group link leads to '" + *name +
                    "', not an IOMMU group",
                path);
  }
  return std::optional<uint32_t>(group);
}

}  // namespace udrv::pci
