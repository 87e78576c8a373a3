// A temporary directory a test writes a small sysfs tree into: plain files
// stand for attributes, so every write a helper makes can be read back.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "udrv/sysfs/paths.h"

namespace udrv::sysfs::testing {

namespace fs = std::filesystem;

struct TempTree {
  fs::path root;

  TempTree() {
    char name[] = "/tmp/udrv-sysfs-test-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    root = name;
  }
  ~TempTree() { fs::remove_all(root); }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  LinuxPaths paths() const { return LinuxPaths{.sys = root.string(), .dev = (root / "dev").string()}; }

  static void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  static std::string Read(const fs::path& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
};

}  // namespace udrv::sysfs::testing
