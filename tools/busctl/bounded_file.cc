#include "bounded_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace udrv::busctl {

Result<std::string> ReadBoundedFile(int fd, const std::string& path, uint64_t limit,
                                    std::string_view what) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return FailErrno(errno, "fstat " + path, path);
  if (!S_ISREG(st.st_mode)) {
    return Fail(Status::IO_INVALID, "not a regular file, so not " + std::string(what), path);
  }
  auto too_big = [&](uint64_t size) {
    return Fail(Status::FILE_BIG,
                std::to_string(size) + " bytes, more than " + std::string(what) + " may hold (" +
                    std::to_string(limit) + " bytes)",
                path);
  };
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > limit) return too_big(size);
  // To EOF, in case the file grew since fstat, but never past the limit.
  std::string bytes;
  bytes.reserve(static_cast<size_t>(size));
  char chunk[65536];
  while (bytes.size() <= limit) {
    const uint64_t wanted = std::min<uint64_t>(sizeof(chunk), limit + 1 - bytes.size());
    const ssize_t n = ::pread(fd, chunk, static_cast<size_t>(wanted),
                              static_cast<off_t>(bytes.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(errno, "read " + path, path);
    if (n == 0) break;
    bytes.append(chunk, static_cast<size_t>(n));
  }
  if (bytes.size() > limit) return too_big(bytes.size());
  return bytes;
}

}  // namespace udrv::busctl
