// The testbed's recorded guest views (test/acpi/firmware/MACHINE/: the
// tables, and kernel/ mirroring the guest's sys and proc with each link
// recorded as NAME.link holding its target) made into a tree the live
// readers read: a temporary copy whose .link files are symlinks again, and
// whose tables sit where Linux shows them (sys/firmware/acpi/tables).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "udrv/sysfs/paths.h"

namespace udrv::acpi::testing {

namespace fs = std::filesystem;

class KernelMirror {
 public:
  // `machine`: "x86_64-q35", "aarch64-virt".
  explicit KernelMirror(const std::string& machine) {
    const fs::path source = fs::path(UDRV_ACPI_FIRMWARE) / machine;
    REQUIRE(fs::is_directory(source / "kernel"));
    char name[] = "/tmp/udrv-acpi-mirror-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    root_ = name;
    fs::copy(source / "kernel", root_, fs::copy_options::recursive);
    for (auto it = fs::recursive_directory_iterator(root_); it != fs::recursive_directory_iterator(); ++it) {
      const fs::path path = it->path();
      if (!it->is_regular_file() || path.extension() != ".link") continue;
      std::ifstream file(path);
      std::string target;
      std::getline(file, target);
      file.close();
      fs::remove(path);
      fs::create_symlink(target, fs::path(path).replace_extension());
    }
    const fs::path tables = root_ / "sys/firmware/acpi/tables";
    fs::create_directories(tables);
    for (const auto& entry : fs::directory_iterator(source)) {
      if (entry.is_regular_file() && entry.path().filename() != "README") {
        fs::copy_file(entry.path(), tables / entry.path().filename());
      }
    }
    fs::create_directories(root_ / "dev");
  }
  ~KernelMirror() { fs::remove_all(root_); }
  KernelMirror(const KernelMirror&) = delete;
  KernelMirror& operator=(const KernelMirror&) = delete;

  const fs::path& root() const { return root_; }
  sysfs::LinuxPaths paths() const {
    return sysfs::LinuxPaths{
        .sys = (root_ / "sys").string(), .dev = (root_ / "dev").string(), .proc = (root_ / "proc").string()};
  }
  // The recorded tables' directory, for an offline bus.
  static std::string Tables(const std::string& machine) { return std::string(UDRV_ACPI_FIRMWARE) + "/" + machine; }

 private:
  fs::path root_;
};

}  // namespace udrv::acpi::testing
