// A sysfs tree written by a test, shaped as the kernel's: functions under
// devices/pci0000:00 (or a bridge's directory), bus/pci/devices links with
// relative targets, drivers and IOMMU groups. Resource files are ordinary
// files here, so BAR mappings in tests never touch a device.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "udrv/sysfs/paths.h"

namespace udrv::pci::testing {

namespace fs = std::filesystem;

struct SysfsTree {
  fs::path root;

  SysfsTree() {
    char name[] = "/tmp/udrv-sysfs-XXXXXX";
    root = ::mkdtemp(name);
    // Readable by anyone: tests read it from unprivileged child processes.
    ::chmod(root.c_str(), 0755);
    fs::create_directories(root / "bus/pci/devices");
    fs::create_directories(root / "bus/pci/drivers");
  }
  ~SysfsTree() { fs::remove_all(root); }
  sysfs::LinuxPaths paths() const { return sysfs::LinuxPaths{.sys = root.string()}; }
  SysfsTree(const SysfsTree&) = delete;
  SysfsTree& operator=(const SysfsTree&) = delete;

  // A function with the attributes every kernel has; `parent` is its
  // directory relative to the root (a bridge's directory nests it).
  fs::path AddDevice(const std::string& address, const std::string& vendor,
                     const std::string& device, const std::string& cls,
                     const std::string& revision, const std::string& parent = "devices/pci0000:00") {
    const fs::path relative = fs::path(parent) / address;
    const fs::path dir = root / relative;
    fs::create_directories(dir);
    Write(dir / "vendor", vendor);
    Write(dir / "device", device);
    Write(dir / "subsystem_vendor", "0x8086");
    Write(dir / "subsystem_device", "0x0000");
    Write(dir / "class", cls);
    if (!revision.empty()) Write(dir / "revision", revision);
    fs::create_directory_symlink(fs::path("../../..") / relative,
                                 root / "bus/pci/devices" / address);
    return dir;
  }

  void BindDriver(const fs::path& dir, const std::string& driver) {
    fs::create_directories(root / "bus/pci/drivers" / driver);
    fs::create_directory_symlink(root / "bus/pci/drivers" / driver, dir / "driver");
  }

  void JoinGroup(const fs::path& dir, const std::string& address, uint32_t group) {
    const fs::path group_dir = root / "kernel/iommu_groups" / std::to_string(group);
    fs::create_directories(group_dir / "devices");
    if (!fs::exists(dir / "iommu_group")) fs::create_directory_symlink(group_dir, dir / "iommu_group");
    fs::create_directory_symlink(dir, group_dir / "devices" / address);
  }

  static void Write(const fs::path& path, const std::string& text) {
    std::ofstream(path) << text << "\n";
  }
  static void WriteBytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
};

}  // namespace udrv::pci::testing
