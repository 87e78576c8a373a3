// busctl's snapshot file (tools/busctl/snapshot_file.h): recording sysfs
// trees, the tar encoding, decoding with every defect named by byte offset,
// and unpacking for --from. The fuzz cases feed truncated and corrupted
// snapshots and require an error or a clean unpack, never a crash.
#include "snapshot_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "result_helpers.h"
#include "sysfs_tree.h"

namespace udrv::busctl {
namespace {

namespace fs = std::filesystem;
using udrv::pci::testing::SysfsTree;

const std::string kData = UDRV_PCI_TEST_DATA;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Every file and link below `root`, as "path" -> "f:<bytes>" or
// "l:<target>". Directories count through what they hold: git keeps no
// empty one (a fresh clone lacks them), and the "uevent" placeholders that
// keep recorded driver directories in git are left out too.
std::map<std::string, std::string> Tree(const fs::path& root) {
  std::map<std::string, std::string> tree;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const std::string relative = it->path().lexically_relative(root).string();
    if (it->is_symlink()) {
      tree[relative] = "l:" + fs::read_symlink(it->path()).string();
    } else if (!it->is_directory() && (relative.find("/drivers/") == std::string::npos ||
                                       !relative.ends_with("/uevent"))) {
      tree[relative] = "f:" + ReadFile(it->path());
    }
  }
  return tree;
}

// The first difference between two trees, or empty.
std::string TreeDifference(const std::map<std::string, std::string>& got,
                           const std::map<std::string, std::string>& want) {
  for (const auto& [path, what] : want) {
    auto it = got.find(path);
    if (it == got.end()) return "missing " + path;
    if (it->second != what) return "differs: " + path + " (" + it->second.substr(0, 80) + ")";
  }
  for (const auto& [path, what] : got) {
    if (!want.contains(path)) return "extra " + path;
  }
  return {};
}

struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/udrv-snapshot-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Where replays unpack: tmpfs when there is one (thousands of fuzz unpacks
// on a busy disk take minutes), else /tmp.
std::string TmpParent() {
  std::error_code error;
  return fs::is_directory("/dev/shm", error) && ::access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                                               : "/tmp";
}

// The archive of `entries`, written by libarchive.
std::string Tar(const std::vector<ArchiveEntry>& entries, int64_t mtime) {
  auto archive = WriteTarArchive(entries, mtime);
  REQUIRE_OK(archive);
  return *archive;
}

// Decoding and (if that works) unpacking `bytes` must end in a value or an
// error, leaving no directory behind.
void DecodeAndUnpack(std::string_view bytes) {
  auto snapshot = DecodeSnapshot(bytes, "fuzz");
  if (!snapshot) {
    CHECK(snapshot.error().status != Status::OK);
    CHECK(snapshot.error().object == "fuzz");
    return;
  }
  std::string directory;
  {
    auto replay = SnapshotReplay::Unpack(*snapshot, TmpParent(), "fuzz");
    if (replay) directory = replay->directory();
  }
  if (!directory.empty()) CHECK_FALSE(fs::exists(directory));
}

TEST_CASE("tar archives keep files, directories and links, long names through pax", "[snapshot]") {
  const std::string deep = "sys/" + std::string(120, 'd') + "/" + std::string(140, 'e') + "/f";
  const std::string long_target = "../" + std::string(150, 't');
  const std::vector<ArchiveEntry> entries = {
      ArchiveEntry::File("udrv-snapshot", "format x\n"),
      ArchiveEntry::Directory("sys"),
      ArchiveEntry::File("sys/empty", ""),
      ArchiveEntry::File("sys/config", std::string("\x86\x80\x00\x01", 4) + std::string(600, '\xff')),
      ArchiveEntry::Symlink("sys/short", "../sys/config"),
      ArchiveEntry::Symlink("sys/long", long_target),
      ArchiveEntry::File(deep, "deep\n"),
      ArchiveEntry::Directory(std::string(99, 'p')),
  };
  const std::string archive = Tar(entries, 1'700'000'000);
  REQUIRE(archive.size() % 512 == 0);
  TarReader reader(archive, "test");
  for (const ArchiveEntry& expected : entries) {
    auto entry = reader.Next();
    REQUIRE_OK(entry);
    REQUIRE(entry->has_value());
    CHECK((*entry)->kind == expected.kind);
    CHECK((*entry)->path == expected.path);
    CHECK((*entry)->data == expected.data);
    CHECK((*entry)->target == expected.target);
  }
  auto end = reader.Next();
  REQUIRE_OK(end);
  CHECK_FALSE(end->has_value());

  // GNU tar reads the same members, pax records included.
  TempDir dir;
  std::ofstream(dir.path / "a.tar", std::ios::binary) << archive;
  fs::create_directory(dir.path / "x");
  const std::string command = "tar -xf " + (dir.path / "a.tar").string() + " -C " +
                              (dir.path / "x").string() + " 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  CHECK(ReadFile(dir.path / "x" / deep) == "deep\n");
  CHECK(ReadFile(dir.path / "x/sys/config") == entries[3].data);
  CHECK(fs::read_symlink(dir.path / "x/sys/long") == long_target);
  CHECK(fs::is_directory(dir.path / "x" / std::string(99, 'p')));
}

TEST_CASE("snapshots of the recorded trees unpack to the same trees", "[snapshot]") {
  for (const std::string name : {"host-x86_64", "guest-x86_64", "guest-aarch64"}) {
    INFO(name);
    const fs::path source = kData + "/" + name;
    auto snapshot = RecordSnapshot(source);
    REQUIRE_OK(snapshot);
    CHECK(snapshot->manifest.source == source.string());
    CHECK(snapshot->manifest.uid == ::geteuid());
    CHECK(snapshot->manifest.limited_configs.empty());  // recorded trees hold what they hold
    CHECK(snapshot->manifest.skipped.empty());
    const size_t functions = static_cast<size_t>(
        std::distance(fs::directory_iterator(source / "bus/pci/devices"), fs::directory_iterator()));
    CHECK(snapshot->manifest.functions == functions);

    auto encoded = EncodeSnapshot(*snapshot);
    REQUIRE_OK(encoded);
    const std::string& bytes = *encoded;
    auto decoded = DecodeSnapshot(bytes, name);
    REQUIRE_OK(decoded);
    auto replay = SnapshotReplay::Unpack(*decoded, TmpParent(), name);
    REQUIRE_OK(replay);
    CHECK(TreeDifference(Tree(replay->sysfs_root()), Tree(source)) == "");
    CHECK(ReadFile(replay->directory() + "/udrv-snapshot") == snapshot->manifest.Encode());

    // Recording the replay gives the same file, byte for byte.
    auto again = RecordSnapshot(replay->sysfs_root(), &replay->manifest());
    REQUIRE_OK(again);
    CHECK(EncodeSnapshot(*again) == bytes);
  }
}

TEST_CASE("recording keeps links as links and makes absolute targets relative", "[snapshot]") {
  SysfsTree tree;
  // A function behind a bridge, deep enough for names longer than ustar's 100 bytes.
  const fs::path bridge = tree.AddDevice("0000:00:1c.0", "0x8086", "0xa110", "0x060400", "0x01");
  const fs::path nic = tree.AddDevice("0000:03:00.0", "0x8086", "0x10d3", "0x020000", "0x00",
                                      "devices/pci0000:00/0000:00:1c.0");
  const fs::path vf = tree.AddDevice("0000:03:10.0", "0x8086", "0x10ca", "0x020000", "0x01",
                                     "devices/pci0000:00/0000:00:1c.0");
  SysfsTree::WriteBytes(nic / "config", std::vector<uint8_t>(4096, 0xab));
  fs::create_directories(nic / "msi_irqs");
  SysfsTree::Write(nic / "msi_irqs/41", "msix");
  SysfsTree::Write(nic / "msi_irqs/42", "msix");
  tree.BindDriver(nic, "e1000e");  // absolute link target
  fs::create_directory_symlink("../0000:03:10.0", nic / "virtfn0");
  fs::create_directory_symlink("../0000:03:00.0", vf / "physfn");
  tree.JoinGroup(nic, "0000:03:00.0", 7);
  tree.JoinGroup(vf, "0000:03:10.0", 7);
  SysfsTree::Write(tree.root / "kernel/iommu_groups/7/type", "DMA");
  SysfsTree::Write(tree.root / "kernel/iommu_groups/7/reserved_regions",
                   "0x00000000fee00000 0x00000000feefffff msi");
  // A platform device in the group, with its driver (arm64 SMMU groups have them).
  fs::create_directories(tree.root / "devices/platform/9000000.pl011");
  fs::create_directories(tree.root / "bus/platform/drivers/uart-pl011");
  fs::create_directory_symlink("../../../bus/platform/drivers/uart-pl011",
                               tree.root / "devices/platform/9000000.pl011/driver");
  fs::create_directory_symlink("../../../../devices/platform/9000000.pl011",
                               tree.root / "kernel/iommu_groups/7/devices/9000000.pl011");
  fs::create_directories(tree.root / "module/vfio/parameters");
  SysfsTree::Write(tree.root / "module/vfio/parameters/enable_unsafe_noiommu_mode", "N");
  fs::create_directories(tree.root / "devices/virtual/iommu/dmar0");
  fs::create_directories(tree.root / "class/iommu");
  fs::create_directory_symlink("../../devices/virtual/iommu/dmar0", tree.root / "class/iommu/dmar0");
  // Not recorded: not a PCI attribute busctl reads, and one with side effects.
  SysfsTree::Write(nic / "vpd", "secret");
  SysfsTree::Write(tree.root / "module/vfio/notes", "x");
  fs::create_directories(tree.root / "module/iommufd");  // loaded, no parameters

  auto snapshot = RecordSnapshot(tree.root.string());
  REQUIRE_OK(snapshot);
  CHECK(snapshot->manifest.functions == 3);
  CHECK(snapshot->manifest.iommu_groups == 1);
  std::map<std::string, const ArchiveEntry*> members;
  for (const ArchiveEntry& entry : snapshot->tree) members[entry.path] = &entry;
  const std::string nic_path = "sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0";
  REQUIRE(members.contains(nic_path + "/driver"));
  CHECK(members[nic_path + "/driver"]->kind == ArchiveEntry::Kind::kSymlink);
  CHECK(members[nic_path + "/driver"]->target == "../../../../bus/pci/drivers/e1000e");
  CHECK(members[nic_path + "/iommu_group"]->target == "../../../../kernel/iommu_groups/7");
  CHECK(members[nic_path + "/virtfn0"]->target == "../0000:03:10.0");
  CHECK(members[nic_path + "/msi_irqs/41"]->data == "msix\n");
  CHECK(members[nic_path + "/config"]->data.size() == 4096);
  CHECK_FALSE(members.contains(nic_path + "/vpd"));
  CHECK(members.contains("sys/bus/pci/drivers/e1000e"));
  CHECK(members.contains("sys/bus/platform/drivers/uart-pl011"));
  CHECK(members.contains("sys/devices/platform/9000000.pl011/driver"));
  CHECK(members.contains("sys/module/vfio/parameters/enable_unsafe_noiommu_mode"));
  CHECK_FALSE(members.contains("sys/module/vfio/notes"));
  CHECK(members["sys/module/iommufd"]->kind == ArchiveEntry::Kind::kDirectory);
  CHECK(members["sys/class/iommu/dmar0"]->kind == ArchiveEntry::Kind::kSymlink);
  CHECK(members.contains("sys/devices/virtual/iommu/dmar0"));

  auto encoded = EncodeSnapshot(*snapshot);
  REQUIRE_OK(encoded);
  auto decoded = DecodeSnapshot(*encoded, "test");
  REQUIRE_OK(decoded);
  auto replay = SnapshotReplay::Unpack(*decoded, TmpParent(), "test");
  REQUIRE_OK(replay);
  const fs::path root = replay->sysfs_root();
  // Links resolve inside the replay as they did in the tree.
  CHECK(fs::canonical(root / "bus/pci/devices/0000:03:00.0/driver") ==
        fs::canonical(root / "bus/pci/drivers/e1000e"));
  CHECK(fs::is_directory(root / "kernel/iommu_groups/7/devices/0000:03:10.0/physfn"));
  CHECK(fs::read_symlink(root / "kernel/iommu_groups/7/devices/9000000.pl011/driver").filename() ==
        "uart-pl011");
  CHECK(ReadFile(root / "kernel/iommu_groups/7/reserved_regions") ==
        "0x00000000fee00000 0x00000000feefffff msi\n");
}

TEST_CASE("the manifest keeps what a recording left out", "[snapshot]") {
  // sysfs reports 256 bytes and gives 64 to users without CAP_SYS_ADMIN;
  // a regular file reports what it holds, so the manifest is what tells.
  SnapshotManifest manifest;
  manifest.created = 1'700'000'000;
  manifest.source = "/sys";
  manifest.host = "host\twith\ncontrol";
  manifest.uid = 65534;
  manifest.functions = 2;
  manifest.limited_configs = {{"0000:00:01.0", 64, 256}, {"0000:00:02.0", 64, 4096}};
  manifest.skipped = {{"0000:00:01.0/label", "Permission denied"}};
  auto decoded = SnapshotManifest::Decode(manifest.Encode(), "test");
  REQUIRE_OK(decoded);
  CHECK(decoded->created == manifest.created);
  CHECK(decoded->host == "host\twith\ncontrol");
  CHECK(decoded->uid == 65534);
  REQUIRE(decoded->limited_configs.size() == 2);
  CHECK(decoded->limited_configs[1].device == "0000:00:02.0");
  CHECK(decoded->limited_configs[1].recorded == 64);
  CHECK(decoded->limited_configs[1].size == 4096);
  REQUIRE(decoded->skipped.size() == 1);
  CHECK(decoded->skipped[0].why == "Permission denied");
  // Keys a later version adds are skipped.
  CHECK(SnapshotManifest::Decode(manifest.Encode() + "future-key some value\n", "test"));
}

TEST_CASE("manifest values read back as they were, whatever bytes they hold", "[snapshot]") {
  SnapshotManifest manifest;
  manifest.source = "/tmp/tree \x1b]0;title\x07 \\ \xff";
  manifest.kernel = "6.1\r\n";
  // A device named with spaces and controls must not break the numbers after it.
  manifest.limited_configs = {{"odd name\n64 256", 64, 256}};
  manifest.skipped = {{"devices/x/msi_irqs/24\n\t\x1b", "read /t/x: a FIFO\twhere\\"}};
  const std::string text = manifest.Encode();
  for (size_t at = 0; at < text.size(); ++at) {
    const auto byte = static_cast<unsigned char>(text[at]);
    INFO("byte " << at);
    CHECK((byte >= 0x20 || byte == '\n' || byte == '\t'));
  }
  auto decoded = SnapshotManifest::Decode(text, "test");
  REQUIRE_OK(decoded);
  CHECK(decoded->source == manifest.source);
  CHECK(decoded->kernel == manifest.kernel);
  REQUIRE(decoded->limited_configs.size() == 1);
  CHECK(decoded->limited_configs[0].device == "odd name\n64 256");
  CHECK(decoded->limited_configs[0].recorded == 64);
  CHECK(decoded->limited_configs[0].size == 256);
  REQUIRE(decoded->skipped.size() == 1);
  CHECK(decoded->skipped[0].what == manifest.skipped[0].what);
  CHECK(decoded->skipped[0].why == manifest.skipped[0].why);
}

std::string SmallSnapshot() {
  auto snapshot = RecordSnapshot(kData + "/guest-aarch64");
  REQUIRE(snapshot);
  auto encoded = EncodeSnapshot(*snapshot);
  REQUIRE_OK(encoded);
  return *encoded;
}

// An archive of `entries` after a proper manifest.
std::string SnapshotOf(std::vector<ArchiveEntry> entries) {
  SnapshotManifest manifest;
  entries.insert(entries.begin(), ArchiveEntry::File("udrv-snapshot", manifest.Encode()));
  return Tar(entries, 0);
}

void CheckFails(std::string_view bytes, Status status, const std::string& words) {
  auto snapshot = DecodeSnapshot(bytes, "snap");
  REQUIRE_FALSE(snapshot);
  INFO(snapshot.error().ToString());
  CHECK(snapshot.error().status == status);
  CHECK(snapshot.error().object == "snap");
  CHECK_THAT(snapshot.error().what, Catch::Contains(words));
}

TEST_CASE("malformed snapshots fail saying what and where", "[snapshot]") {
  const std::string good = SmallSnapshot();
  REQUIRE_OK(DecodeSnapshot(good, "snap"));

  CheckFails("", Status::IO_INVALID, "byte 0: not a tar archive");
  CheckFails("this is a text file\n", Status::IO_INVALID, "not a busctl snapshot");
  CheckFails(std::string(4096, 'x'), Status::IO_INVALID, "byte 0: not a tar archive");
  CheckFails(std::string("\x1f\x8b\x08\x00", 4), Status::IO_INVALID, "gzip");
  CheckFails(std::string(1024, '\0'), Status::IO_INVALID, "first member is missing");
  CheckFails(Tar({ArchiveEntry::File("README", "x")}, 0), Status::IO_INVALID,
             "first member is 'README'");
  // Version 1 (busctl's own tar writer) is refused, saying which it is.
  CheckFails(Tar({ArchiveEntry::File("udrv-snapshot", "format udrv.busctl.snapshot/1\n")}, 0),
             Status::NOT_SUPPORTED,
             "snapshot format version '1'; this busctl reads version 2 (udrv.busctl.snapshot/2): "
             "record it again");
  CheckFails(Tar({ArchiveEntry::File("udrv-snapshot", "hello\n")}, 0), Status::IO_INVALID,
             "line 1: not a busctl snapshot manifest");
  CheckFails(Tar({ArchiveEntry::File("udrv-snapshot", "")}, 0), Status::IO_INVALID,
             "is empty");
  CheckFails(Tar({ArchiveEntry::File("udrv-snapshot",
                                                 "format udrv.busctl.snapshot/2\nuid many\n")},
                             0),
             Status::IO_INVALID, "line 2: uid 'many' does not parse");

  // Truncated: the offset of the member cut short, or of the missing end.
  CheckFails(good.substr(0, good.size() - 1024), Status::IO_INVALID,
             "byte " + std::to_string(good.size() - 1024) + ": the archive ends without");
  CheckFails(good.substr(0, good.size() - 512), Status::IO_INVALID, "the archive ends without");
  CheckFails(good.substr(0, 1024 + 100), Status::IO_INVALID, "the file is truncated");
  CheckFails(good + "trailing", Status::IO_INVALID, "end-of-archive marker");

  // A flipped byte in a header: libarchive checks the checksum.
  std::string corrupted = good;
  corrupted[1024 + 10] ^= 0x20;
  CheckFails(corrupted, Status::IO_INVALID, "Damaged tar archive");

  // Members a replay must not create.
  CheckFails(SnapshotOf({ArchiveEntry::File("etc/passwd", "x")}), Status::IO_INVALID,
             "member 'etc/passwd' lies outside sys/");
  CheckFails(SnapshotOf({ArchiveEntry::File("sys/../../x", "x")}), Status::IO_INVALID,
             "has a '..' path component");
  CheckFails(SnapshotOf({ArchiveEntry::File("sys//x", "x")}), Status::IO_INVALID,
             "has an empty path component");
  CheckFails(SnapshotOf({ArchiveEntry::File("sys", "x")}), Status::IO_INVALID, "is not a directory");
  CheckFails(SnapshotOf({ArchiveEntry::Symlink("sys/a", "/etc/shadow")}), Status::IO_INVALID,
             "member 'sys/a' has an absolute target");
  CheckFails(SnapshotOf({ArchiveEntry::Symlink("sys/bus/pci/x", "../../../../etc")}),
             Status::IO_INVALID, "climbs out of sys/");
  CheckFails(SnapshotOf({ArchiveEntry::Symlink("sys/a/b", "c/../../..")}), Status::IO_INVALID,
             "inner '..'");
  CheckFails(SnapshotOf({ArchiveEntry::File("sys/a", "1"), ArchiveEntry::File("sys/a", "2")}),
             Status::IO_INVALID, "member 'sys/a' comes twice (first at byte 1024)");

  // Member types a snapshot never holds, and tar dialects it does not use.
  std::string hard_link = SnapshotOf({ArchiveEntry::File("sys/a", "")});
  hard_link[1024 + 156] = '1';
  // Fix the checksum so the type is what fails.
  std::string header = hard_link.substr(1024, 512);
  uint64_t sum = 0;
  for (size_t n = 0; n < 512; ++n) {
    sum += (n >= 148 && n < 156) ? ' ' : static_cast<unsigned char>(header[n]);
  }
  char checksum[8];
  std::snprintf(checksum, sizeof(checksum), "%06llo", static_cast<unsigned long long>(sum));
  hard_link.replace(1024 + 148, 6, checksum, 6);
  CheckFails(hard_link, Status::IO_INVALID,
             "byte 1024: member 'sys/a': a hard link or a type tar has and a snapshot has not: a "
             "snapshot holds only regular files, directories and symbolic links");
}

TEST_CASE("a snapshot cannot write through its own links", "[snapshot]") {
  // Each member is valid alone; together the second would land outside.
  CheckFails(SnapshotOf({ArchiveEntry::Symlink("sys/a", "b"), ArchiveEntry::File("sys/a/x", "x")}),
             Status::IO_INVALID,
             "byte 1536: member 'sys/a/x' lies below 'sys/a' (byte 1024), a file or link of the "
             "snapshot, not a directory");
  CheckFails(SnapshotOf({ArchiveEntry::File("sys/a/x", "x"), ArchiveEntry::File("sys/a", "y")}),
             Status::IO_INVALID, "member 'sys/a' is a file or link where earlier members made a "
                                 "directory");

  // Should a tree get past those checks, libarchive's secure extraction
  // still writes nothing through a link.
  Snapshot snapshot;
  snapshot.tree = {ArchiveEntry::Directory("sys"), ArchiveEntry::Symlink("sys/a", "."),
                   ArchiveEntry::File("sys/a/x", "x")};
  auto replay = SnapshotReplay::Unpack(snapshot, TmpParent(), "snap");
  REQUIRE_FALSE(replay);
  CHECK_THAT(replay.error().what, Catch::Contains("member 'sys/a/x'"));
}

// A small snapshot with every kind of member, pax records included: small
// enough to cut at every byte.
std::string FuzzSnapshot() {
  const std::string device = "sys/devices/pci0000:00/" + std::string(90, 'b') + "/0000:01:00.0";
  return SnapshotOf({
      ArchiveEntry::Directory("sys"),
      ArchiveEntry::Directory("sys/bus/pci/devices"),
      ArchiveEntry::Symlink("sys/bus/pci/devices/0000:01:00.0",
                            "../../../devices/pci0000:00/" + std::string(90, 'b') + "/0000:01:00.0"),
      ArchiveEntry::Directory(device),
      ArchiveEntry::File(device + "/vendor", "0x8086\n"),
      ArchiveEntry::File(device + "/config", std::string(300, '\x5a')),
      ArchiveEntry::Symlink(device + "/driver", "../../../../bus/pci/drivers/e1000e"),
      ArchiveEntry::Directory("sys/bus/pci/drivers/e1000e"),
  });
}

TEST_CASE("fuzz: every truncation of a snapshot fails cleanly", "[snapshot][fuzz]") {
  const std::string good = FuzzSnapshot();
  REQUIRE_OK(DecodeSnapshot(good, "fuzz"));
  for (size_t length = 0; length < good.size(); ++length) {
    auto snapshot = DecodeSnapshot(std::string_view(good).substr(0, length), "fuzz");
    if (snapshot) FAIL("a snapshot cut at byte " << length << " decoded");
    CHECK_THAT(snapshot.error().what, Catch::Contains("byte "));
  }
}

TEST_CASE("fuzz: corrupted snapshots fail cleanly or unpack cleanly", "[snapshot][fuzz]") {
  const std::string good = FuzzSnapshot();
  std::mt19937 random(20261122);
  std::uniform_int_distribution<size_t> position(0, good.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> count(1, 8);
  for (int round = 0; round < 1500; ++round) {
    std::string bytes = good;
    const int changes = count(random);
    for (int n = 0; n < changes; ++n) bytes[position(random)] = static_cast<char>(byte(random));
    DecodeAndUnpack(bytes);
  }
  // Headers with valid checksums and nonsense fields: the parser past the checksum.
  for (int round = 0; round < 1500; ++round) {
    std::string bytes = good;
    const size_t header = 512 * (position(random) % (good.size() / 512));
    for (int n = count(random); n > 0; --n) {
      bytes[header + position(random) % 500] = static_cast<char>(byte(random));
    }
    uint64_t sum = 0;
    for (size_t n = 0; n < 512; ++n) {
      sum += (n >= 148 && n < 156) ? ' ' : static_cast<unsigned char>(bytes[header + n]);
    }
    char checksum[8];
    std::snprintf(checksum, sizeof(checksum), "%06llo", static_cast<unsigned long long>(sum & 0777777));
    bytes.replace(header + 148, 6, checksum, 6);
    DecodeAndUnpack(bytes);
  }
}

TEST_CASE("snapshot files are written atomically and not overwritten without force", "[snapshot]") {
  TempDir dir;
  auto snapshot = RecordSnapshot(kData + "/guest-aarch64");
  REQUIRE_OK(snapshot);
  const std::string path = (dir.path / "s.snap").string();
  auto written = WriteSnapshotFile(*snapshot, path, false);
  REQUIRE_OK(written);
  CHECK(*written == fs::file_size(path));
  std::ofstream(path, std::ios::app) << "x";
  auto refused = WriteSnapshotFile(*snapshot, path, false);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().status == Status::ALREADY_EXISTS);
  CHECK_THAT(refused.error().what, Catch::Contains("--force"));
  CHECK(fs::file_size(path) == *written + 1);  // untouched
  REQUIRE_OK(WriteSnapshotFile(*snapshot, path, true));
  CHECK(fs::file_size(path) == *written);
  // Nothing else is left in the directory.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  auto read = ReadSnapshotFile(path);
  REQUIRE_OK(read);
  CHECK(read->tree.size() == snapshot->tree.size());

  auto missing = WriteSnapshotFile(*snapshot, (dir.path / "no/such/dir/s.snap").string(), false);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().status == Status::NOT_FOUND);
  auto unreadable = ReadSnapshotFile((dir.path / "absent.snap").string());
  REQUIRE_FALSE(unreadable);
  CHECK(unreadable.error().status == Status::NOT_FOUND);
}

TEST_CASE("a replay removes its directory, also when unpacking fails", "[snapshot]") {
  auto snapshot = DecodeSnapshot(SmallSnapshot(), "snap");
  REQUIRE_OK(snapshot);
  std::string directory;
  {
    auto replay = SnapshotReplay::Unpack(*snapshot, TmpParent(), "snap");
    REQUIRE_OK(replay);
    directory = replay->directory();
    CHECK(fs::is_directory(replay->sysfs_root() + "/bus/pci/devices"));
    SnapshotReplay moved = std::move(*replay);
    CHECK(fs::exists(directory));
  }
  CHECK_FALSE(fs::exists(directory));

  auto no_parent = SnapshotReplay::Unpack(*snapshot, "/nonexistent-udrv-dir", "snap");
  REQUIRE_FALSE(no_parent);
  CHECK(no_parent.error().status == Status::NOT_FOUND);
}

TEST_CASE("snapshot files and members past their limits are refused before they are read",
          "[snapshot]") {
  TempDir dir;
  // The file: 256 MiB and one byte (sparse), refused by its size alone.
  const std::string huge = (dir.path / "huge.snap").string();
  std::ofstream(huge).close();
  fs::resize_file(huge, (uint64_t{256} << 20) + 1);
  auto read = ReadSnapshotFile(huge);
  REQUIRE_FALSE(read);
  CHECK(read.error().status == Status::FILE_BIG);
  CHECK(read.error().object == huge);
  CHECK_THAT(read.error().what, Catch::Contains("read snapshot: 268435457 bytes, more than a "
                                                "busctl snapshot may hold (268435456 bytes)"));
  // A FIFO is no snapshot, and is not waited on.
  const std::string fifo = (dir.path / "fifo.snap").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  read = ReadSnapshotFile(fifo);
  REQUIRE_FALSE(read);
  CHECK_THAT(read.error().what, Catch::Contains("not a regular file"));

  // A member: the limit is read from its header; past it, its data is not.
  const std::string largest(kMaxMemberBytes, 'x');
  REQUIRE_OK(DecodeSnapshot(
      SnapshotOf({ArchiveEntry::Directory("sys"), ArchiveEntry::File("sys/big", largest)}),
      "snap"));
  CheckFails(SnapshotOf({ArchiveEntry::Directory("sys"),
                         ArchiveEntry::File("sys/big", std::string(kMaxMemberBytes + 1, 'x'))}),
             Status::IO_INVALID,
             "member 'sys/big': declares 4194305 bytes of data, more than a snapshot member may "
             "hold (4194304)");
  // A header that declares 300 MB with none of it there: the limit speaks
  // first, not the truncation only a look at the data would find.
  std::string forged =
      SnapshotOf({ArchiveEntry::Directory("sys"), ArchiveEntry::File("sys/big", "x")});
  const size_t header = forged.size() - 4 * 512;  // then its data, then the end marker
  forged.resize(header + 512);
  forged.replace(header + 124, 12, std::string("02170321400") + '\0');  // 300000000, octal
  uint64_t sum = 0;
  for (size_t n = 0; n < 512; ++n) {
    sum += n >= 148 && n < 156 ? ' ' : static_cast<unsigned char>(forged[header + n]);
  }
  char checksum[8];
  std::snprintf(checksum, sizeof(checksum), "%06o", static_cast<unsigned>(sum));
  forged.replace(header + 148, 8, std::string(checksum, 6) + std::string("\0 ", 2));
  CheckFails(forged, Status::IO_INVALID,
             "member 'sys/big': declares 300000000 bytes of data, more than a snapshot member may "
             "hold");
}

TEST_CASE("member paths deeper than a snapshot holds are refused; deep ones unpack in any order, "
          "up to a number of directories",
          "[snapshot]") {
  auto deep_path = [](char branch, size_t components) {
    std::string path = "sys";
    for (size_t n = 1; n + 1 < components; ++n) path += std::string("/") + branch;
    return path + "/f";
  };
  CheckFails(SnapshotOf({ArchiveEntry::Directory("sys"),
                         ArchiveEntry::File(deep_path('a', kMaxPathComponents + 1), "x")}),
             Status::IO_INVALID, "has 33 path components, more than a snapshot holds (32");

  // Thousands of members at the deepest depth allowed, alternating between
  // two branches so that no two in a row share more than sys/: each unpacks
  // where it belongs (the walk keeps at most one path of directories open).
  std::vector<ArchiveEntry> entries = {ArchiveEntry::Directory("sys")};
  for (int n = 0; n < 3000; ++n) {
    const char branch = n % 2 == 0 ? 'a' : 'b';
    std::string path = deep_path(branch, kMaxPathComponents);
    path.back() = 'f';
    path += std::to_string(n);
    entries.push_back(ArchiveEntry::File(path, std::to_string(n)));
  }
  auto snapshot = DecodeSnapshot(SnapshotOf(entries), "snap");
  REQUIRE_OK(snapshot);
  auto replay = SnapshotReplay::Unpack(*snapshot, TmpParent(), "snap");
  REQUIRE_OK(replay);
  const fs::path root = replay->directory();
  CHECK(ReadFile(root / entries[1].path) == "0");
  CHECK(ReadFile(root / entries[2].path) == "1");
  CHECK(ReadFile(root / entries.back().path) == "2999");
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root / "sys")) {
    files += entry.is_regular_file() ? 1 : 0;
  }
  CHECK(files == 3000);

  // Each member 30 new directories deep (2 MB of archive): refused, before
  // anything is unpacked, once it would make more directories than a
  // snapshot may.
  std::vector<ArchiveEntry> chains = {ArchiveEntry::Directory("sys")};
  for (size_t n = 0; n * (kMaxPathComponents - 2) <= kMaxDirectories; ++n) {
    std::string path = "sys/" + std::to_string(n);  // then 29 more, then the file: 32
    for (size_t depth = 3; depth < kMaxPathComponents; ++depth) path += "/d";
    chains.push_back(ArchiveEntry::File(path + "/f", "x"));
  }
  CheckFails(SnapshotOf(chains), Status::IO_INVALID,
             "makes the snapshot's directories more than 65536");
}

}  // namespace
}  // namespace udrv::busctl
