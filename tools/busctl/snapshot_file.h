// The file `busctl snapshot` writes and `busctl --from` replays: the part of
// a sysfs tree that busctl's read commands look at, in one file, so a bug
// report can carry a machine's PCI view and tests can replay it.
//
// Format, version 2 (docs/busctl.md, "The snapshot file"): a POSIX tar
// archive (ustar headers, pax records for paths and link targets longer than
// ustar holds), so `tar tvf` lists it and `tar xf` unpacks it. Its first
// member is the regular file `udrv-snapshot`, the manifest: "KEY VALUE" text
// lines, the first "format udrv.busctl.snapshot/2". Every other member lies
// under `sys/` and is a regular file, a directory or a symbolic link with the
// relative target the kernel gave it; unpacked, `sys` is a sysfs root that
// SysfsPci reads as it reads /sys.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "udrv/core/result.h"

struct archive;  // libarchive's handle

namespace udrv::busctl {

inline constexpr std::string_view kSnapshotFormat = "udrv.busctl.snapshot/2";
inline constexpr std::string_view kManifestName = "udrv-snapshot";
inline constexpr std::string_view kTreeName = "sys";
// Bounds on what a snapshot may hold, checked before anything is read or
// unpacked: the data of one member (the recorder keeps at most 1 MiB of an
// attribute; the manifest grows with the functions), and the components of
// a member's path (sys/ and the deepest bridge chains are far shallower).
inline constexpr uint64_t kMaxMemberBytes = uint64_t{4} << 20;
inline constexpr size_t kMaxPathComponents = 32;
// Directories an unpacked snapshot may make: a machine with thousands of
// functions (SR-IOV) records a few per function.
inline constexpr size_t kMaxDirectories = 1 << 16;

// One member of the archive.
struct ArchiveEntry {
  enum class Kind { kFile, kDirectory, kSymlink };
  Kind kind = Kind::kFile;
  std::string path;     // relative, '/'-separated, no trailing slash
  std::string data;     // a file's bytes
  std::string target;   // a link's target
  uint64_t offset = 0;  // where its (first) header starts; set by TarReader

  static ArchiveEntry File(std::string path, std::string data) {
    ArchiveEntry entry;
    entry.path = std::move(path);
    entry.data = std::move(data);
    return entry;
  }
  static ArchiveEntry Directory(std::string path) {
    ArchiveEntry entry;
    entry.kind = Kind::kDirectory;
    entry.path = std::move(path);
    return entry;
  }
  static ArchiveEntry Symlink(std::string path, std::string target) {
    ArchiveEntry entry;
    entry.kind = Kind::kSymlink;
    entry.path = std::move(path);
    entry.target = std::move(target);
    return entry;
  }
};

// Writes `entries` in order as a tar archive (libarchive's pax_restricted:
// ustar headers, pax records where ustar cannot hold a path or target), each
// with modification time `mtime`.
Result<std::string> WriteTarArchive(const std::vector<ArchiveEntry>& entries, int64_t mtime);

// Reads a tar archive member by member through libarchive, the data of a
// member only after its header passed the bounds. Every defect is
// IO_INVALID with the byte offset (and the member's name once known),
// `origin` as the object.
class TarReader {
 public:
  TarReader(std::string_view archive, std::string origin);

  // The next member; nullopt at the end of the archive.
  Result<std::optional<ArchiveEntry>> Next();

 private:
  struct Free {
    void operator()(archive* handle) const;
  };
  std::unexpected<Error> Malformed(uint64_t offset, std::string what) const;

  std::string_view archive_;
  std::string origin_;
  std::unique_ptr<archive, Free> reader_;  // opened by the first Next()
  uint64_t end_of_members_ = 0;  // at least: where the last member's data ends
};

// What the manifest says about a recording.
struct SnapshotManifest {
  // Config space recorded only in part: sysfs gives users without
  // CAP_SYS_ADMIN the first 64 bytes of a 256- or 4096-byte file.
  struct LimitedConfig {
    std::string device;
    uint64_t recorded = 0;
    uint64_t size = 0;
  };
  // Something the recorder could not read, and why.
  struct Skipped {
    std::string what;
    std::string why;
  };

  int64_t created = 0;  // seconds since the epoch; also every member's mtime
  std::string source;   // the sysfs root recorded
  std::string host;     // uname: nodename, release, machine
  std::string kernel;
  std::string machine;
  uint32_t uid = 0;     // effective uid of the recorder
  uint32_t functions = 0;
  uint32_t iommu_groups = 0;
  std::vector<LimitedConfig> limited_configs;
  std::vector<Skipped> skipped;

  std::string Encode() const;
  // Unknown keys are ignored (readers of a version skip what later writers
  // of it add); another format version is NOT_SUPPORTED, naming it.
  static Result<SnapshotManifest> Decode(std::string_view text, const std::string& origin);
};

struct Snapshot {
  SnapshotManifest manifest;
  std::vector<ArchiveEntry> tree;  // members under sys/, in archive order
};

// Records the PCI view of `sysfs_root` ("/sys" on a live system), reading
// only: for every PCI function the attributes, config space (as much as the
// caller may read), the msi_irqs directory and the driver, iommu_group,
// physfn and virtfn links; kernel/iommu_groups (type, reserved_regions,
// members); class/iommu; the VFIO modules' parameters; the kernel's ACPI
// devices (bus/acpi/devices: IDs, path, status, physical_node links: which
// PCI function each describes); the kernel's USB devices and interfaces
// (bus/usb/devices: attributes, descriptors, driver links, a root hub's
// controller's driver). `replayed`: the
// manifest of the snapshot `sysfs_root` was unpacked from, whose origin
// (time, host, recorder, what it skipped) the new recording keeps.
Result<Snapshot> RecordSnapshot(const std::string& sysfs_root,
                                const SnapshotManifest* replayed = nullptr);

Result<std::string> EncodeSnapshot(const Snapshot& snapshot);

// Checks everything a replay relies on: the manifest comes first with a
// known version; members are files, directories and links under sys/ with
// no "." or ".." in their paths, each path once, no more than
// kMaxPathComponents deep and kMaxMemberBytes large (checked from the
// header); link targets are relative and stay inside sys/ ("../" steps
// first, then names).
Result<Snapshot> DecodeSnapshot(std::string_view bytes, const std::string& origin);

// Writes the file atomically (a temporary file in the same directory, then
// a rename); ALREADY_EXISTS if `path` exists and !overwrite.
Result<uint64_t> WriteSnapshotFile(const Snapshot& snapshot, const std::string& path,
                                   bool overwrite);
// FILE_BIG, unread, for a file larger than 256 MiB.
Result<Snapshot> ReadSnapshotFile(const std::string& path);

// A snapshot unpacked into a private temporary directory, removed with this
// object.
class SnapshotReplay {
 public:
  // Unpacks into a new directory under `parent` ($TMPDIR or /tmp for busctl).
  static Result<SnapshotReplay> Unpack(const Snapshot& snapshot, const std::string& parent,
                                       const std::string& origin);
  SnapshotReplay(SnapshotReplay&& other) noexcept;
  SnapshotReplay& operator=(SnapshotReplay&& other) noexcept;
  SnapshotReplay(const SnapshotReplay&) = delete;
  SnapshotReplay& operator=(const SnapshotReplay&) = delete;
  ~SnapshotReplay();

  const std::string& directory() const { return directory_; }
  std::string sysfs_root() const { return directory_ + "/" + std::string(kTreeName); }
  const SnapshotManifest& manifest() const { return manifest_; }

 private:
  SnapshotReplay(std::string directory, SnapshotManifest manifest);
  void Remove();

  std::string directory_;  // empty once moved from
  SnapshotManifest manifest_;
};

}  // namespace udrv::busctl
