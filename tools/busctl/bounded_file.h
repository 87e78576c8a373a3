// Files busctl reads whole that another program or person may have made (the
// binding state file, a snapshot from another machine): what they are and
// how large is checked with fstat before any byte is read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "udrv/core/result.h"

namespace udrv::busctl {

// The whole regular file open at `fd`, `path` naming it. IO_INVALID for
// anything but a regular file and FILE_BIG for one larger than `limit`, both
// before anything is read (FILE_BIG too for one that grows past `limit`
// while read); `what` says in the message what the file should be ("a
// busctl state file").
Result<std::string> ReadBoundedFile(int fd, const std::string& path, uint64_t limit,
                                    std::string_view what);

}  // namespace udrv::busctl
