// Reading and listing files another party made: sysfs attributes of the
// kernel's /sys or of a tree that is not (--sysfs-root, a replayed snapshot,
// a tree a bug report brought), and files a user hands a tool (a state file,
// a snapshot). The one reader and the one directory lister of udrv.
//
// Only regular files are read. Anything else is refused before it is opened
// for reading: a FIFO would block the reader forever, and opening a device
// node runs its driver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::sysfs {

struct FileContents {
  std::string bytes;
  // st_size: what the file says it holds. sysfs says 4096 for a one-line
  // attribute, and the whole size of config space whatever a user may read.
  uint64_t size = 0;
};

// The regular file open at `fd` (`path` names it in errors), read to EOF
// (sysfs gives short reads) but no more than `max` bytes. NOT_FILE naming
// the kind for a FIFO, device node or socket; EISDIR for a directory.
Result<FileContents> ReadOpenFile(int fd, const std::string& path, size_t max);

// The same for the file at `path`, stat'ed before it is opened (a device
// node is never opened) and opened non-blocking. The open's errno when it
// cannot be opened (ENOENT: no such attribute).
Result<FileContents> ReadFile(const std::string& path, size_t max);

// The whole regular file open at `fd`: FILE_BIG, before anything is read,
// for one larger than `limit` (and for one that grows past it while read).
// `what` names what the file should be in the message ("a busctl snapshot").
Result<std::string> ReadWholeFile(int fd, const std::string& path, uint64_t limit,
                                  std::string_view what);

// A one-line attribute ("0x8086\n", at most a page): its text without the
// trailing newline and spaces.
Result<std::string> ReadAttribute(const std::string& path);

// An attribute some kernels lack: nullopt when there is no such file
// (ENOENT), its text otherwise; other errors pass through.
Result<std::optional<std::string>> ReadOptionalAttribute(const std::string& path);

// The last component of a link's target ("vfio-pci" for .../driver);
// nullopt when `path` is no link.
std::optional<std::string> ReadLinkName(const std::string& path);
// A link's whole target as stored ("../../firmware/devicetree/base/soc");
// the readlink errno otherwise (ENOENT: no such file, EINVAL: no link).
Result<std::string> ReadLink(const std::string& path);

// One write(2) of `text`, as sysfs wants it; the error names the file, the
// text and the errno (the kernel's answer: EINVAL, ENODEV, EBUSY, ...).
Result<void> WriteAttribute(const std::string& path, const std::string& text,
                            const std::string& object);

// The names in the directory `path`, sorted, without "." and "..". The
// opendir errno otherwise (ENOENT: no such directory).
Result<std::vector<std::string>> ListDirectory(const std::string& path);
// The same for `name` relative to the directory fd `dir_fd` (openat), so a
// device directory opened once is the one listed.
Result<std::vector<std::string>> ListDirectoryAt(int dir_fd, const std::string& name,
                                                 const std::string& shown_path);

}  // namespace udrv::sysfs
