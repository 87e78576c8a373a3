#include "udrv/mmio/devmem.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "../sysfs/temp_tree.h"

namespace {

using udrv::Status;
using udrv::mmio::OpenDevmemRegion;
using udrv::sysfs::testing::TempTree;

// dev/mem as an ordinary file of `pages` pages stands for physical memory.
void MakeMem(const TempTree& tree, uint64_t pages) {
  std::filesystem::create_directories(tree.root / "dev");
  std::ofstream(tree.root / "dev/mem").close();
  std::filesystem::resize_file(tree.root / "dev/mem", pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)));
}

TEST_CASE("a region that is not page aligned lies inside a VMO of whole pages", "[devmem]") {
  TempTree tree;
  MakeMem(tree, 4);
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  auto mmio = OpenDevmemRegion(tree.paths(), page + 0x100, 0x200, "/serial@1100", nullptr);
  REQUIRE(mmio);
  CHECK(mmio->offset == 0x100);
  CHECK(mmio->size == 0x200);
  CHECK(mmio->phys == page + 0x100);
  auto size = mmio->vmo.GetSize();
  REQUIRE(size);
  CHECK(*size == page);

  // Across a page boundary: both pages.
  auto across = OpenDevmemRegion(tree.paths(), 2 * page - 0x10, 0x20, "/x", nullptr);
  REQUIRE(across);
  CHECK(across->offset == page - 0x10);
  CHECK(*across->vmo.GetSize() == 2 * page);
}

TEST_CASE("empty, wrapping and absent regions are refused", "[devmem]") {
  TempTree tree;
  MakeMem(tree, 1);
  auto empty = OpenDevmemRegion(tree.paths(), 0x1000, 0, "/x", nullptr);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().status == Status::INVALID_ARGS);
  auto wrapping = OpenDevmemRegion(tree.paths(), UINT64_MAX - 0xf, 0x20, "/x", nullptr);
  REQUIRE_FALSE(wrapping);
  CHECK(wrapping.error().status == Status::INVALID_ARGS);

  TempTree no_mem;
  auto absent = OpenDevmemRegion(no_mem.paths(), 0, 0x100, "/x", nullptr);
  REQUIRE_FALSE(absent);
  CHECK(absent.error().what.find("/dev/mem") != std::string::npos);
  CHECK(absent.error().what.find("open") != std::string::npos);
}

}  // namespace
