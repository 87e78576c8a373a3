#include "udrv/dma/bti.h"

#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <catch2/catch.hpp>

#include "fake_iommu_domain.h"
#include "result_helpers.h"
#include "udrv/core/vmo.h"

namespace udrv::dma {
namespace {

using testing::StatusOf;

using testing::FakeDomain;

const uint64_t kPage = PageSize();

Vmo MakeVmo(uint64_t size) {
  auto vmo = Vmo::Create(size, "dma-test");
  REQUIRE_OK(vmo);
  return std::move(*vmo);
}

Bti MakeBti(const std::shared_ptr<FakeDomain>& domain, uint64_t limit = kNoDmaLimit) {
  auto bti = Bti::Create(domain, limit, "test");
  REQUIRE_OK(bti);
  return std::move(*bti);
}

TEST_CASE("bti: a pin is one map of one IOVA run; unpin unmaps it", "[bti]") {
  auto domain = std::make_shared<FakeDomain>();
  Bti bti = MakeBti(domain);
  Vmo vmo = MakeVmo(16 * kPage);
  const std::byte pattern[4] = {std::byte{0xde}, std::byte{0xad}, std::byte{0xbe}, std::byte{0xef}};
  REQUIRE_OK(vmo.Write(pattern, 2 * kPage));

  auto pmt = bti.Pin(kBtiPermRead | kBtiPermWrite, vmo, 2 * kPage, 4 * kPage);
  REQUIRE_OK(pmt);
  CHECK(domain->map_calls == 1);
  REQUIRE(domain->mappings.size() == 1);
  const auto& [iova, mapping] = *domain->mappings.begin();
  CHECK(mapping.size == 4 * kPage);
  CHECK(mapping.read);
  CHECK(mapping.write);
  // The mapping is of the VMO's pages at the offset asked for.
  CHECK(std::memcmp(reinterpret_cast<const void*>(mapping.vaddr), pattern, sizeof(pattern)) == 0);
  // One address per page, IOVA-contiguous.
  REQUIRE(pmt->addresses().size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(pmt->addresses()[i] == iova + i * kPage);
  CHECK(pmt->size() == 4 * kPage);

  REQUIRE_OK(pmt->Unpin());
  CHECK(domain->unmap_calls == 1);
  CHECK(domain->mappings.empty());
  CHECK_FALSE(pmt->is_valid());
  CHECK(StatusOf(pmt->Unpin()) == "BAD_HANDLE");
  CHECK(bti.GetInfo()->pmo_count == 0);
}

TEST_CASE("bti: CONTIGUOUS gives one address, COMPRESS one per page", "[bti]") {
  auto domain = std::make_shared<FakeDomain>();
  Bti bti = MakeBti(domain);
  Vmo vmo = MakeVmo(8 * kPage);
  auto contiguous = bti.Pin(kBtiPermRead | kBtiContiguous, vmo, 0, 8 * kPage);
  REQUIRE_OK(contiguous);
  REQUIRE(contiguous->addresses().size() == 1);
  CHECK(domain->mappings.count(contiguous->addresses()[0]) == 1);
  CHECK_FALSE(domain->mappings.at(contiguous->addresses()[0]).write);

  auto compressed = bti.Pin(kBtiPermWrite | kBtiCompress, vmo, 0, 8 * kPage);
  REQUIRE_OK(compressed);
  CHECK(compressed->addresses().size() == 8);
  CHECK(domain->map_calls == 2);
  // Two pins of the same pages get disjoint IOVAs.
  CHECK(compressed->addresses()[0] != contiguous->addresses()[0]);
  REQUIRE_OK(contiguous->Unpin());
  REQUIRE_OK(compressed->Unpin());
}

TEST_CASE("bti: option, alignment, range and rights errors", "[bti]") {
  auto domain = std::make_shared<FakeDomain>();
  Bti bti = MakeBti(domain);
  Vmo vmo = MakeVmo(4 * kPage);
  CHECK(StatusOf(bti.Pin(0, vmo, 0, kPage)) == "INVALID_ARGS");
  CHECK(StatusOf(bti.Pin(kBtiCompress, vmo, 0, kPage)) == "INVALID_ARGS");
  CHECK(StatusOf(bti.Pin(kBtiPermRead | kBtiPermExecute, vmo, 0, kPage)) == "INVALID_ARGS");
  CHECK(StatusOf(bti.Pin(kBtiPermRead | kBtiCompress | kBtiContiguous, vmo, 0, kPage)) ==
        "INVALID_ARGS");
  CHECK(StatusOf(bti.Pin(kBtiPermRead | 0x100, vmo, 0, kPage)) == "INVALID_ARGS");
  CHECK(StatusOf(bti.Pin(kBtiPermRead, vmo, 1, kPage)) == "INVALID_ARGS");
  CHECK(StatusOf(bti.Pin(kBtiPermRead, vmo, 0, kPage + 1)) == "INVALID_ARGS");
  CHECK(StatusOf(bti.Pin(kBtiPermRead, vmo, 0, 0)) == "INVALID_ARGS");
  CHECK(StatusOf(bti.Pin(kBtiPermRead, vmo, 0, 5 * kPage)) == "OUT_OF_RANGE");
  CHECK(StatusOf(bti.Pin(kBtiPermRead, vmo, 4 * kPage, kPage)) == "OUT_OF_RANGE");
  CHECK(StatusOf(bti.Pin(kBtiPermRead, Vmo(), 0, kPage)) == "BAD_HANDLE");
  CHECK(StatusOf(Bti().Pin(kBtiPermRead, vmo, 0, kPage)) == "BAD_HANDLE");

  // The device's view needs the matching rights on the VMO handle.
  auto read_only = vmo.Duplicate(kRightRead | kRightMap | kRightGetProperty);
  REQUIRE_OK(read_only);
  CHECK(StatusOf(bti.Pin(kBtiPermWrite, *read_only, 0, kPage)) == "ACCESS_DENIED");
  auto pmt = bti.Pin(kBtiPermRead, *read_only, 0, kPage);
  REQUIRE_OK(pmt);
  REQUIRE_OK(pmt->Unpin());
  auto unmappable = vmo.Duplicate(kRightRead | kRightWrite | kRightGetProperty);
  REQUIRE_OK(unmappable);
  CHECK(StatusOf(bti.Pin(kBtiPermRead, *unmappable, 0, kPage)) == "ACCESS_DENIED");

  // Physical VMOs are device memory.
  int fd = ::memfd_create("fake-bar", 0);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(kPage)) == 0);
  auto physical = Vmo::CreatePhysical(UniqueFd(fd), 0, kPage, PhysicalRoute::TEST_FILE, "bar");
  REQUIRE_OK(physical);
  CHECK(StatusOf(bti.Pin(kBtiPermRead, *physical, 0, kPage)) == "NOT_SUPPORTED");

  CHECK(domain->map_calls == 1);
  CHECK(StatusOf(Bti::Create(nullptr)) == "INVALID_ARGS");
  CHECK(StatusOf(Bti::Create(domain, 1)) == "INVALID_ARGS");
}

TEST_CASE("bti: a failed map frees the IOVAs and leaves nothing pinned", "[bti]") {
  auto domain = std::make_shared<FakeDomain>();
  Bti bti = MakeBti(domain);
  Vmo vmo = MakeVmo(kPage);
  domain->fail_next_map = true;
  CHECK(StatusOf(bti.Pin(kBtiPermRead, vmo, 0, kPage)) == "NO_RESOURCES");
  CHECK(bti.GetInfo()->pmo_count == 0);
  auto pmt = bti.Pin(kBtiPermRead, vmo, 0, kPage);
  REQUIRE_OK(pmt);
  // The first fit again (the failed pin freed its block), which is the
  // second page: device address 0 is never handed out.
  CHECK(pmt->addresses()[0] == kPage);
  REQUIRE_OK(pmt->Unpin());
}

TEST_CASE("bti: a pmt dropped without unpin stays mapped until ReleaseQuarantine", "[bti]") {
  auto domain = std::make_shared<FakeDomain>();
  Bti bti = MakeBti(domain);
  uint64_t iova = 0;
  {
    Vmo vmo = MakeVmo(2 * kPage);
    const std::byte value{0x5a};
    REQUIRE_OK(vmo.Write({&value, 1}, 0));
    auto pmt = bti.Pin(kBtiPermRead | kBtiPermWrite, vmo, 0, 2 * kPage);
    REQUIRE_OK(pmt);
    iova = pmt->addresses()[0];
    auto info = bti.GetInfo();
    REQUIRE_OK(info);
    CHECK(info->pmo_count == 1);
    CHECK(info->quarantine_count == 0);
  }  // the Vmo and the Pmt are gone
  auto info = bti.GetInfo();
  REQUIRE_OK(info);
  CHECK(info->pmo_count == 1);
  CHECK(info->quarantine_count == 1);
  REQUIRE(domain->mappings.count(iova) == 1);
  CHECK(domain->unmap_calls == 0);
  // The memory is still alive behind the mapping.
  CHECK(*reinterpret_cast<const volatile uint8_t*>(domain->mappings.at(iova).vaddr) == 0x5a);

  REQUIRE_OK(bti.ReleaseQuarantine());
  CHECK(domain->mappings.empty());
  CHECK(domain->unmap_calls == 1);
  info = bti.GetInfo();
  REQUIRE_OK(info);
  CHECK(info->pmo_count == 0);
  CHECK(info->quarantine_count == 0);
}

TEST_CASE("bti: moving a pmt moves the pin; assigning over one quarantines it", "[bti]") {
  auto domain = std::make_shared<FakeDomain>();
  Bti bti = MakeBti(domain);
  Vmo vmo = MakeVmo(kPage);
  auto first = bti.Pin(kBtiPermRead, vmo, 0, kPage);
  REQUIRE_OK(first);
  Pmt moved = std::move(*first);
  CHECK_FALSE(first->is_valid());
  CHECK(bti.GetInfo()->quarantine_count == 0);
  auto second = bti.Pin(kBtiPermRead, vmo, 0, kPage);
  REQUIRE_OK(second);
  moved = std::move(*second);
  CHECK(bti.GetInfo()->quarantine_count == 1);
  CHECK(bti.GetInfo()->pmo_count == 2);
  REQUIRE_OK(moved.Unpin());
  REQUIRE_OK(bti.ReleaseQuarantine());
  CHECK(domain->mappings.empty());
}

TEST_CASE("bti: handles with rights: Duplicate narrows, each call needs its right", "[bti]") {
  auto domain = std::make_shared<FakeDomain>();
  Bti bti = MakeBti(domain);
  CHECK(bti.rights() == kDefaultBtiRights);
  Vmo vmo = MakeVmo(4 * kPage);

  // Without MAP a Bti cannot pin; without INSPECT it tells nothing; without
  // WRITE it cannot release quarantined pins.
  auto no_map = bti.Duplicate(kDefaultBtiRights & ~kRightMap);
  REQUIRE_OK(no_map);
  CHECK(no_map->SameObject(bti));
  auto refused = no_map->Pin(kBtiPermRead, vmo, 0, kPage);
  CHECK(StatusOf(refused) == "ACCESS_DENIED");
  CHECK(refused.error().what.find("MAP") != std::string::npos);
  CHECK(domain->map_calls == 0);
  auto no_inspect = bti.Duplicate(kDefaultBtiRights & ~kRightInspect);
  REQUIRE_OK(no_inspect);
  CHECK(StatusOf(no_inspect->GetInfo()) == "ACCESS_DENIED");
  auto read_only = bti.Duplicate(kRightRead | kRightMap | kRightInspect);
  REQUIRE_OK(read_only);
  CHECK(StatusOf(read_only->ReleaseQuarantine()) == "ACCESS_DENIED");
  // A narrowed handle cannot widen again, and a handle without DUPLICATE
  // cannot be duplicated at all.
  CHECK(StatusOf(read_only->Duplicate(kDefaultBtiRights)) == "ACCESS_DENIED");
  CHECK(StatusOf(no_map->Duplicate(kDefaultBtiRights)) == "INVALID_ARGS");

  // A pin through a duplicate is a pin of the one object; the Pmt has
  // INSPECT only: one handle owns the pin.
  auto pmt = read_only->Pin(kBtiPermRead, vmo, 0, kPage);
  REQUIRE_OK(pmt);
  CHECK(pmt->rights() == kDefaultPmtRights);
  CHECK(StatusOf(pmt->Duplicate(kRightSameRights)) == "ACCESS_DENIED");
  CHECK(bti.GetInfo()->pmo_count == 1);
  // The pin outlives every Bti handle: the last handle gone, it stays
  // mapped until unpinned.
  bti.reset();
  no_map->reset();
  no_inspect->reset();
  read_only->reset();
  CHECK(domain->mappings.size() == 1);
  REQUIRE_OK(pmt->Unpin());
  CHECK(domain->mappings.empty());
}

TEST_CASE("bti: GetInfo and the DMA address limit", "[bti]") {
  auto domain = std::make_shared<FakeDomain>(
      std::vector<IovaRange>{{0, 0x7ffffff}, {0x8100000, 0xffffffffffff}}, 0x1000 | 0x200000);
  Bti edu = MakeBti(domain, uint64_t{1} << 28);
  auto info = edu.GetInfo();
  REQUIRE_OK(info);
  CHECK(info->minimum_contiguity == kPage);
  CHECK(info->aspace_size == uint64_t{1} << 28);
  Bti wide = MakeBti(domain);
  CHECK(wide.GetInfo()->aspace_size == 0x1000000000000);

  // 127 MiB below the hole, then the pin must go above it, then nothing fits.
  Vmo vmo = MakeVmo(120 << 20);
  auto low = edu.Pin(kBtiPermRead, vmo, 0, 120 << 20);
  REQUIRE_OK(low);
  auto high = edu.Pin(kBtiPermRead, vmo, 0, 120 << 20);
  REQUIRE_OK(high);
  CHECK(high->addresses()[0] >= 0x8100000);
  CHECK(high->addresses().back() + kPage <= uint64_t{1} << 28);
  CHECK(StatusOf(edu.Pin(kBtiPermRead, vmo, 0, 120 << 20)) == "NO_RESOURCES");
  // A Bti of the same domain without the limit shares the IOVA space: its
  // pin lands above both, past the limit the other one has.
  auto above = wide.Pin(kBtiPermRead, vmo, 0, 120 << 20);
  REQUIRE_OK(above);
  CHECK(above->addresses()[0] >= high->addresses()[0] + (120 << 20));
  CHECK(above->addresses().back() + kPage > uint64_t{1} << 28);
  REQUIRE_OK(low->Unpin());
  REQUIRE_OK(high->Unpin());
  REQUIRE_OK(above->Unpin());
}

TEST_CASE("bti: a pin past RLIMIT_MEMLOCK without CAP_IPC_LOCK is NO_RESOURCES", "[bti]") {
  // In a child: it drops CAP_IPC_LOCK and lowers its own limit.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) ::_exit(10);
    data[0].effective &= ~(1u << CAP_IPC_LOCK);
    if (::syscall(SYS_capset, &header, data) != 0) ::_exit(11);
    rlimit limit{};
    ::getrlimit(RLIMIT_MEMLOCK, &limit);
    limit.rlim_cur = 64 * 1024;
    if (::setrlimit(RLIMIT_MEMLOCK, &limit) != 0) ::_exit(12);
    auto domain = std::make_shared<FakeDomain>();
    auto bti = Bti::Create(domain);
    auto vmo = Vmo::Create(1 << 20);
    if (!bti || !vmo) ::_exit(13);
    auto pmt = bti->Pin(kBtiPermRead, *vmo, 0, 1 << 20);
    if (pmt || pmt.error().status != Status::NO_RESOURCES) ::_exit(14);
    // The message names the limit and the amount.
    if (pmt.error().what.find("RLIMIT_MEMLOCK is 65536") == std::string::npos) ::_exit(15);
    if (pmt.error().what.find("1048576") == std::string::npos) ::_exit(16);
    if (domain->map_calls != 0) ::_exit(17);
    auto small = bti->Pin(kBtiPermRead, *vmo, 0, 4096);
    if (!small) ::_exit(18);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}


// Whether this process holds `capability` in its effective set.
bool HasEffectiveCapability(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  REQUIRE(::syscall(SYS_capget, &header, data) == 0);
  return (data[capability / 32].effective >> (capability % 32)) & 1;
}

TEST_CASE("physical bti: refused without the unsafe opt-in, saying what it means",
          "[bti][physical]") {
  auto refused = Bti::CreatePhysical(UnsafePhysicalDma{});
  REQUIRE(StatusOf(refused) == "ACCESS_DENIED");
  CHECK_THAT(refused.error().what, Catch::Contains("all memory") &&
                                       Catch::Contains("device_may_reach_all_memory = true"));
  // The consent is checked before anything else.
  CHECK(StatusOf(Bti::CreatePhysical(UnsafePhysicalDma{}, 1)) == "ACCESS_DENIED");
  CHECK(StatusOf(Bti::CreatePhysical({.device_may_reach_all_memory = true}, 1)) == "INVALID_ARGS");
}

TEST_CASE("physical bti: needs CAP_SYS_ADMIN to read physical addresses", "[bti][physical]") {
  const bool has_sys_admin = HasEffectiveCapability(CAP_SYS_ADMIN);
  auto bti = Bti::CreatePhysical({.device_may_reach_all_memory = true});
  CHECK(StatusOf(bti) == (has_sys_admin ? "OK" : "ACCESS_DENIED"));
  // In a child that drops CAP_SYS_ADMIN: refused, naming the capability.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) ::_exit(10);
    data[0].effective &= ~(1u << CAP_SYS_ADMIN);
    if (::syscall(SYS_capset, &header, data) != 0) ::_exit(11);
    auto refused = Bti::CreatePhysical({.device_may_reach_all_memory = true});
    if (refused || refused.error().status != Status::ACCESS_DENIED) ::_exit(12);
    if (refused.error().what.find("CAP_SYS_ADMIN") == std::string::npos) ::_exit(13);
    if (refused.error().what.find("/proc/self/pagemap") == std::string::npos) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

// Pins of huge pages need reserved hugetlb pages, which the machines that
// run the unit tests do not have: test/guest/dma_physical_test.cc pins them
// in the testbed guests. What needs no huge page is checked here.
TEST_CASE("physical bti: pins only contiguous VMOs; GetInfo", "[bti][physical]") {
  if (!HasEffectiveCapability(CAP_SYS_ADMIN)) FAIL("the unit tests run as root (CAP_SYS_ADMIN)");
  const uint64_t limit = uint64_t{1} << 32;
  auto bti = Bti::CreatePhysical({.device_may_reach_all_memory = true}, limit, "physical");
  REQUIRE_OK(bti);
  CHECK(bti->is_physical());
  CHECK_FALSE(MakeBti(std::make_shared<FakeDomain>()).is_physical());
  CHECK_FALSE(Bti().is_physical());

  auto info = bti->GetInfo();
  REQUIRE_OK(info);
  CHECK(info->minimum_contiguity == kPage);
  CHECK(info->aspace_size == limit);
  CHECK(info->pmo_count == 0);
  CHECK(info->quarantine_count == 0);
  auto wide = Bti::CreatePhysical({.device_may_reach_all_memory = true});
  REQUIRE_OK(wide);
  CHECK(wide->GetInfo()->aspace_size == kNoDmaLimit);

  // Ordinary pages: the kernel may move them under the device.
  Vmo paged = MakeVmo(4 * kPage);
  auto refused = bti->Pin(kBtiPermRead | kBtiContiguous, paged, 0, kPage);
  REQUIRE(StatusOf(refused) == "NOT_SUPPORTED");
  CHECK_THAT(refused.error().what, Catch::Contains("move") && Catch::Contains("CreateContiguous"));
  CHECK(StatusOf(bti->Pin(kBtiPermWrite, paged, 0, 4 * kPage)) == "NOT_SUPPORTED");

  // The checks both kinds share come first.
  CHECK(StatusOf(bti->Pin(0, paged, 0, kPage)) == "INVALID_ARGS");
  CHECK(StatusOf(bti->Pin(kBtiPermRead | kBtiCompress | kBtiContiguous, paged, 0, kPage)) ==
        "INVALID_ARGS");
  CHECK(StatusOf(bti->Pin(kBtiPermRead, paged, 0, kPage + 1)) == "INVALID_ARGS");
  CHECK(StatusOf(bti->Pin(kBtiPermRead, Vmo(), 0, kPage)) == "BAD_HANDLE");
  auto unmappable = paged.Duplicate(kRightRead | kRightWrite | kRightGetProperty);
  REQUIRE_OK(unmappable);
  CHECK(StatusOf(bti->Pin(kBtiPermRead, *unmappable, 0, kPage)) == "ACCESS_DENIED");
  int fd = ::memfd_create("fake-bar", 0);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(kPage)) == 0);
  auto device_memory = Vmo::CreatePhysical(UniqueFd(fd), 0, kPage, PhysicalRoute::TEST_FILE, "bar");
  REQUIRE_OK(device_memory);
  CHECK(StatusOf(bti->Pin(kBtiPermRead, *device_memory, 0, kPage)) == "NOT_SUPPORTED");

  CHECK(bti->GetInfo()->pmo_count == 0);
  REQUIRE_OK(bti->ReleaseQuarantine());
}

}  // namespace
}  // namespace udrv::dma
