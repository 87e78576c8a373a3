#include "udrv/sysfs/iommu_group.h"

#include <catch2/catch.hpp>

#include "result_helpers.h"
#include "temp_tree.h"

namespace fs = std::filesystem;
using udrv::Status;
using udrv::sysfs::testing::TempTree;

TEST_CASE("sysfs IOMMU group: the iommu_group link names the group, or there is none",
          "[sysfs]") {
  TempTree tree;
  const fs::path device = tree.root / "devices/platform/9000000.pl011";
  fs::create_directories(device);
  auto none = udrv::sysfs::ReadIommuGroup(device.string());
  REQUIRE_OK(none);
  CHECK_FALSE(*none);

  fs::create_directories(tree.root / "kernel/iommu_groups/7/devices");
  fs::create_directory_symlink("../../../kernel/iommu_groups/7", device / "iommu_group");
  auto group = udrv::sysfs::ReadIommuGroup(device.string());
  REQUIRE_OK(group);
  CHECK(*group == 7u);

  // A link that leads to no group number.
  fs::remove(device / "iommu_group");
  fs::create_directory_symlink("../../../kernel/iommu_groups/-0", device / "iommu_group");
  auto bad = udrv::sysfs::ReadIommuGroup(device.string());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().status == Status::IO_INVALID);
  CHECK_THAT(bad.error().what, Catch::Contains("leads to '-0', not an IOMMU group"));

  // A loop cannot be followed.
  fs::remove(device / "iommu_group");
  fs::create_directory_symlink("iommu_group", device / "iommu_group");
  auto loop = udrv::sysfs::ReadIommuGroup(device.string());
  REQUIRE_FALSE(loop);
  CHECK(loop.error().err_no == ELOOP);
}

TEST_CASE("sysfs IOMMU group: members of every bus, and whether an IOMMU exists", "[sysfs]") {
  TempTree tree;
  CHECK_FALSE(udrv::sysfs::HasIommu(tree.paths()));
  auto absent = udrv::sysfs::ListIommuGroupDevices(tree.paths(), 3);
  REQUIRE_OK(absent);
  CHECK(absent->empty());

  fs::create_directories(tree.root / "class/iommu/smmu3.0x0000000009050000");
  CHECK(udrv::sysfs::HasIommu(tree.paths()));
  for (const char* member : {"0000:00:01.0", "9000000.pl011"}) {
    fs::create_directories(tree.root / "kernel/iommu_groups/3/devices" / member);
  }
  auto members = udrv::sysfs::ListIommuGroupDevices(tree.paths(), 3);
  REQUIRE_OK(members);
  CHECK(*members == std::vector<std::string>{"0000:00:01.0", "9000000.pl011"});
}
