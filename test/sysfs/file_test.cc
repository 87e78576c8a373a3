// The one reader and lister: bounded reads, refusal of what is no regular
// file (a FIFO is not waited on), sorted listings.
#include "udrv/sysfs/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "result_helpers.h"
#include "temp_tree.h"
#include "udrv/core/unique_fd.h"

using udrv::Status;
using udrv::UniqueFd;
using udrv::sysfs::testing::TempTree;
using udrv::testing::StatusOf;

TEST_CASE("sysfs file: ReadFile reads to EOF but never past max", "[sysfs]") {
  TempTree tree;
  const std::string path = (tree.root / "config").string();
  TempTree::Write(path, std::string(100, 'x'));
  auto whole = udrv::sysfs::ReadFile(path, 4096);
  REQUIRE_OK(whole);
  CHECK(whole->bytes == std::string(100, 'x'));
  CHECK(whole->size == 100);
  auto part = udrv::sysfs::ReadFile(path, 9);
  REQUIRE_OK(part);
  CHECK(part->bytes.size() == 9);
  CHECK(part->size == 100);

  auto missing = udrv::sysfs::ReadFile((tree.root / "absent").string(), 10);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().err_no == ENOENT);
  auto directory = udrv::sysfs::ReadFile(tree.root.string(), 10);
  REQUIRE_FALSE(directory);
  CHECK(directory.error().err_no == EISDIR);
}

TEST_CASE("sysfs file: a FIFO or device node is refused before it is opened", "[sysfs]") {
  TempTree tree;
  const std::string fifo = (tree.root / "vendor").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  // Opened for reading, a FIFO without a writer would block this test forever.
  auto read = udrv::sysfs::ReadAttribute(fifo);
  REQUIRE_FALSE(read);
  CHECK(read.error().status == Status::NOT_FILE);
  CHECK_THAT(read.error().what, Catch::Contains(fifo + ": a FIFO"));

  const std::string node = (tree.root / "config").string();
  if (::mknod(node.c_str(), S_IFCHR | 0644, ::makedev(1, 3)) == 0) {  // /dev/null's numbers
    auto config = udrv::sysfs::ReadFile(node, 64);
    REQUIRE_FALSE(config);
    CHECK(config.error().status == Status::NOT_FILE);
    CHECK_THAT(config.error().what, Catch::Contains("config: a character device"));
  }
}

TEST_CASE("sysfs file: ReadWholeFile refuses a file past its limit unread", "[sysfs]") {
  TempTree tree;
  const std::string path = (tree.root / "state.json").string();
  TempTree::Write(path, std::string(16, 'a'));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd);
  auto exact = udrv::sysfs::ReadWholeFile(fd.get(), path, 16, "a state file");
  REQUIRE_OK(exact);
  CHECK(*exact == std::string(16, 'a'));

  UniqueFd again(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto big = udrv::sysfs::ReadWholeFile(again.get(), path, 15, "a state file");
  REQUIRE(StatusOf(big) == "FILE_BIG");
  CHECK(big.error().what == "16 bytes, more than a state file may hold (15 bytes)");
  CHECK(big.error().object == path);
}

TEST_CASE("sysfs file: attributes lose their newline; absent optional ones are nullopt",
          "[sysfs]") {
  TempTree tree;
  TempTree::Write(tree.root / "vendor", "0x8086\n");
  auto vendor = udrv::sysfs::ReadAttribute((tree.root / "vendor").string());
  REQUIRE_OK(vendor);
  CHECK(*vendor == "0x8086");
  auto absent = udrv::sysfs::ReadOptionalAttribute((tree.root / "numa_node").string());
  REQUIRE_OK(absent);
  CHECK_FALSE(*absent);
  auto present = udrv::sysfs::ReadOptionalAttribute((tree.root / "vendor").string());
  REQUIRE_OK(present);
  CHECK(*present == "0x8086");
}

TEST_CASE("sysfs file: WriteAttribute writes the text once and names the file on failure",
          "[sysfs]") {
  TempTree tree;
  const std::string path = (tree.root / "driver_override").string();
  TempTree::Write(path, "(null)\n");
  REQUIRE_OK(udrv::sysfs::WriteAttribute(path, "vfio-pci", "dev"));
  CHECK(TempTree::Read(path) == "vfio-pci");
  auto missing = udrv::sysfs::WriteAttribute((tree.root / "nothing/here").string(), "\n", "dev");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().err_no == ENOENT);
  CHECK_THAT(missing.error().what, Catch::Contains("to write '\\n'"));
  CHECK(missing.error().object == "dev");
}

TEST_CASE("sysfs file: ListDirectory lists sorted names; ReadLinkName the target's last part",
          "[sysfs]") {
  TempTree tree;
  for (const char* name : {"0000:00:1f.3", "0000:00:02.0", "0000:00:1f.0"}) {
    TempTree::Write(tree.root / "devices" / name / "vendor", "0x8086\n");
  }
  auto names = udrv::sysfs::ListDirectory((tree.root / "devices").string());
  REQUIRE_OK(names);
  CHECK(*names == std::vector<std::string>{"0000:00:02.0", "0000:00:1f.0", "0000:00:1f.3"});

  UniqueFd dir(::open(tree.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir);
  auto at = udrv::sysfs::ListDirectoryAt(dir.get(), "devices", "shown/devices");
  REQUIRE_OK(at);
  CHECK(*at == *names);

  auto missing = udrv::sysfs::ListDirectory((tree.root / "absent").string());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().err_no == ENOENT);
  auto file = udrv::sysfs::ListDirectoryAt(dir.get(), "devices/0000:00:02.0/vendor", "vendor");
  REQUIRE_FALSE(file);
  CHECK(file.error().err_no == ENOTDIR);

  std::filesystem::create_directory_symlink("../../bus/pci/drivers/vfio-pci",
                                            tree.root / "devices/0000:00:02.0/driver");
  CHECK(udrv::sysfs::ReadLinkName((tree.root / "devices/0000:00:02.0/driver").string()) ==
        "vfio-pci");
  CHECK_FALSE(udrv::sysfs::ReadLinkName((tree.root / "devices/0000:00:02.0/vendor").string()));
}
