#include "udrv/sysfs/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "udrv/core/unique_fd.h"

namespace udrv::sysfs {
namespace {

// Refuses what cannot be read as a file: anything but a regular file.
Result<void> CheckRegular(const struct stat& st, const std::string& path,
                          std::string_view verb = "read") {
  if (S_ISREG(st.st_mode)) return {};
  if (S_ISDIR(st.st_mode)) return FailErrno(EISDIR, std::string(verb) + " " + path);
  const char* kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file";
  return Fail(Status::NOT_FILE,
              std::string(verb) + " " + path + ": " + kind + " where a regular file belongs",
              path);
}

Result<std::vector<std::string>> ListOpenDirectory(int fd, const std::string& path) {
  DIR* stream = ::fdopendir(fd);
  if (stream == nullptr) {
    const int err = errno;
    ::close(fd);
    return FailErrno(err, "list directory " + path, path);
  }
  std::vector<std::string> names;
  // readdir says "no more" and "failed" alike with null; errno tells them
  // apart, and a listing cut short must not pass for a whole one.
  errno = 0;
  while (const dirent* entry = ::readdir(stream)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(stream);
  if (err != 0) return FailErrno(err, "list directory " + path, path);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<FileContents> ReadOpenFile(int fd, const std::string& path, size_t max) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return FailErrno(errno, "fstat " + path, path);
  UDRV_TRY(CheckRegular(st, path));
  FileContents contents;
  contents.size = static_cast<uint64_t>(std::max<off_t>(st.st_size, 0));
  char chunk[65536];
  while (contents.bytes.size() < max) {
    const ssize_t n = ::read(fd, chunk, std::min(sizeof(chunk), max - contents.bytes.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(errno, "read " + path, path);
    if (n == 0) break;
    contents.bytes.append(chunk, static_cast<size_t>(n));
  }
  return contents;
}

Result<FileContents> ReadFile(const std::string& path, size_t max) {
  // stat first: a device node must not even be opened. ReadOpenFile checks
  // again what was opened, for a file swapped in between.
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return FailErrno(errno, "open " + path);
  UDRV_TRY(CheckRegular(st, path));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "open " + path);
  return ReadOpenFile(fd.get(), path, max);
}

Result<std::string> ReadWholeFile(int fd, const std::string& path, uint64_t limit,
                                  std::string_view what) {
  auto too_big = [&](uint64_t size) {
    return Fail(Status::FILE_BIG,
                std::to_string(size) + " bytes, more than " + std::string(what) + " may hold (" +
                    std::to_string(limit) + " bytes)",
                path);
  };
  struct stat st{};
  if (::fstat(fd, &st) != 0) return FailErrno(errno, "fstat " + path, path);
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > limit) {
    return too_big(static_cast<uint64_t>(st.st_size));
  }
  // One byte past the limit tells a file that grew since fstat.
  UDRV_TRY_ASSIGN(FileContents contents,
                  ReadOpenFile(fd, path, static_cast<size_t>(std::min<uint64_t>(limit, SIZE_MAX - 1) + 1)));
  if (contents.bytes.size() > limit) return too_big(contents.bytes.size());
  return std::move(contents.bytes);
}

Result<std::string> ReadAttribute(const std::string& path) {
  // The kernel shows an attribute in at most one page (4096 bytes); one
  // byte more tells a file that is no sysfs attribute, not one to cut.
  constexpr size_t kMaxAttribute = 4096;
  UDRV_TRY_ASSIGN(FileContents contents, ReadFile(path, kMaxAttribute + 1));
  if (contents.bytes.size() > kMaxAttribute) {
    return Fail(Status::FILE_BIG,
                "read " + path + ": more than " + std::to_string(kMaxAttribute) +
                    " bytes, which no sysfs attribute holds",
                path);
  }
  std::string text = std::move(contents.bytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Result<std::optional<std::string>> ReadOptionalAttribute(const std::string& path) {
  auto text = ReadAttribute(path);
  if (text) return std::optional<std::string>(std::move(*text));
  if (text.error().err_no == ENOENT) return std::optional<std::string>();
  return std::unexpected(std::move(text.error()));
}

std::optional<std::string> ReadLinkName(const std::string& path) {
  auto target = ReadLink(path);
  if (!target || target->empty()) return std::nullopt;
  const size_t slash = target->rfind('/');
  return slash == std::string::npos ? *target : target->substr(slash + 1);
}

Result<std::string> ReadLink(const std::string& path) {
  char target[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), target, sizeof(target));
  if (n < 0) return FailErrno(errno, "readlink " + path, path);
  // A target that fills the buffer may have been cut.
  if (static_cast<size_t>(n) == sizeof(target)) {
    return Fail(Status::OUT_OF_RANGE, "readlink " + path + ": the target is longer than PATH_MAX", path);
  }
  return std::string(target, static_cast<size_t>(n));
}

Result<void> WriteAttribute(const std::string& path, const std::string& text,
                            const std::string& object) {
  const std::string shown = text == "\n" ? "\\n" : text;
  // O_NONBLOCK: a FIFO planted where an attribute belongs must not hang the
  // open; what was opened is checked before anything is written.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "open " + path + " to write '" + shown + "'", object);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return FailErrno(errno, "fstat " + path, object);
  UDRV_TRY(CheckRegular(st, path, "write"));
  ssize_t n;
  do {
    n = ::write(fd.get(), text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno(errno, "write '" + shown + "' to " + path, object);
  if (static_cast<size_t>(n) != text.size()) {
    return Fail(Status::IO,
                "write '" + shown + "' to " + path + ": only " + std::to_string(n) + " of " +
                    std::to_string(text.size()) + " bytes taken",
                object);
  }
  return {};
}

Result<std::vector<std::string>> ListDirectory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FailErrno(errno, "list directory " + path, path);
  return ListOpenDirectory(fd, path);
}

Result<std::vector<std::string>> ListDirectoryAt(int dir_fd, const std::string& name,
                                                 const std::string& shown_path) {
  const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FailErrno(errno, "list directory " + shown_path, shown_path);
  return ListOpenDirectory(fd, shown_path);
}

}  // namespace udrv::sysfs
