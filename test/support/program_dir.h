// Where the running test program lies: the tree's bin directory, which also
// holds the programs tests launch (driver hosts, the driver manager).
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

namespace udrv::testing {

// "/path/to/bin/" (with the slash).
inline std::string ProgramDir() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  REQUIRE(n > 0);
  const std::string self(path, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/') + 1);
}

}  // namespace udrv::testing
