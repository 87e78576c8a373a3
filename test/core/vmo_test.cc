#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "result_helpers.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"

namespace udrv {
namespace {

const uint64_t kPage = PageSize();

std::vector<std::byte> Bytes(std::string_view text) {
  std::vector<std::byte> bytes(text.size());
  std::transform(text.begin(), text.end(), bytes.begin(), [](char c) { return std::byte(c); });
  return bytes;
}

std::string Text(std::span<const std::byte> bytes) {
  std::string text(bytes.size(), '\0');
  std::transform(bytes.begin(), bytes.end(), text.begin(), [](std::byte b) { return char(b); });
  return text;
}

// A real file of `pages` pages standing in for device memory; page i is
// filled with the letter 'a' + i. Unlinked at once, so only the fd holds it.
UniqueFd TempDeviceFile(uint64_t pages, int flags = O_RDWR) {
  char path[] = "/tmp/udrv_vmo_test_XXXXXX";
  UniqueFd fd(::mkstemp(path));
  REQUIRE(fd.is_valid());
  for (uint64_t i = 0; i < pages; ++i) {
    const std::string page(kPage, static_cast<char>('a' + i));
    REQUIRE(::pwrite(fd.get(), page.data(), page.size(), static_cast<off_t>(i * kPage)) ==
            static_cast<ssize_t>(kPage));
  }
  UniqueFd reopened(::open(path, flags | O_CLOEXEC));
  ::unlink(path);
  REQUIRE(reopened.is_valid());
  return reopened;
}

// A second fd for the same open file, as a transfer would deliver it.
UniqueFd DupFd(int fd) { return UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

// The same file opened again read-only through /proc.
UniqueFd ReopenReadOnly(int fd) {
  return UniqueFd(::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC));
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- names and tables ---

TEST_CASE("vmo: policy and route names") {
  CHECK(CachePolicyName(CachePolicy::CACHED) == "CACHED");
  CHECK(CachePolicyName(CachePolicy::UNCACHED) == "UNCACHED");
  CHECK(CachePolicyName(CachePolicy::UNCACHED_DEVICE) == "UNCACHED_DEVICE");
  CHECK(CachePolicyName(CachePolicy::WRITE_COMBINING) == "WRITE_COMBINING");
  CHECK(static_cast<uint32_t>(CachePolicy::WRITE_COMBINING) ==
        3);  // ZX_CACHE_POLICY_WRITE_COMBINING
  CHECK(PhysicalRouteName(PhysicalRoute::VFIO_REGION) == "VFIO_REGION");
  CHECK(PhysicalRouteName(PhysicalRoute::SYSFS_RESOURCE_WC) == "SYSFS_RESOURCE_WC");
  CHECK(PhysicalRouteName(PhysicalRoute::TEST_FILE) == "TEST_FILE");
}

TEST_CASE("vmo: each route honours one policy") {
  const CachePolicySet device = CachePolicyBit(CachePolicy::UNCACHED_DEVICE);
  CHECK(PhysicalRoutePolicies(PhysicalRoute::VFIO_REGION) == device);
  CHECK(PhysicalRoutePolicies(PhysicalRoute::SYSFS_RESOURCE) == device);
  CHECK(PhysicalRoutePolicies(PhysicalRoute::UIO_MAP) == device);
  CHECK(PhysicalRoutePolicies(PhysicalRoute::DEV_MEM) == device);
  CHECK(PhysicalRoutePolicies(PhysicalRoute::SYSFS_RESOURCE_WC) ==
        CachePolicyBit(CachePolicy::WRITE_COMBINING));
  CHECK(PhysicalRoutePolicies(PhysicalRoute::TEST_FILE) == CachePolicyBit(CachePolicy::CACHED));
}

TEST_CASE("vmo: PageSize is the kernel's") {
  CHECK(PageSize() == static_cast<size_t>(::sysconf(_SC_PAGESIZE)));
}

// --- paged ---

TEST_CASE("vmo: paged size rounds up to a page") {
  auto one = Vmo::Create(1, "one");
  REQUIRE(one);
  CHECK(one->GetSize().value() == kPage);
  CHECK(one->GetKind().value() == VmoKind::PAGED);
  CHECK(one->rights() == kDefaultVmoRights);
  CHECK(one->GetCachePolicy().value() == CachePolicy::CACHED);
  CHECK(Vmo::Create(3 * kPage)->GetSize().value() == 3 * kPage);
  CHECK(Vmo::Create(kPage + 1)->GetSize().value() == 2 * kPage);
  auto empty = Vmo::Create(0);
  REQUIRE(empty);
  CHECK(empty->GetSize().value() == 0);
}

TEST_CASE("vmo: paged size that cannot be a file is OUT_OF_RANGE") {
  auto huge = Vmo::Create(UINT64_MAX, "huge");
  REQUIRE_FALSE(huge);
  CHECK(huge.error().status == Status::OUT_OF_RANGE);
  CHECK(huge.error().object == "vmo 'huge'");
}

TEST_CASE("vmo: paged is a memfd with the VMO's name") {
  auto vmo = Vmo::Create(kPage, "ring");
  REQUIRE(vmo);
  auto backing = vmo->GetBacking();
  REQUIRE(backing);
  CHECK(backing->fd_offset == 0);
  char target[256] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(backing->fd);
  REQUIRE(::readlink(link.c_str(), target, sizeof(target) - 1) > 0);
  CHECK(Contains(target, "memfd:ring"));
}

TEST_CASE("vmo: paged write then read round trip") {
  auto vmo = Vmo::Create(2 * kPage);
  REQUIRE(vmo);
  const auto data = Bytes("descriptor ring");
  REQUIRE(vmo->Write(data, kPage - 4));  // across a page boundary
  std::vector<std::byte> back(data.size());
  REQUIRE(vmo->Read(back, kPage - 4));
  CHECK(Text(back) == "descriptor ring");
  // The bytes are really in the memfd.
  std::string raw(data.size(), '\0');
  REQUIRE(::pread(vmo->GetBacking()->fd, raw.data(), raw.size(), static_cast<off_t>(kPage - 4)) ==
          static_cast<ssize_t>(raw.size()));
  CHECK(raw == "descriptor ring");
  // Fresh memory reads as zeros.
  std::array<std::byte, 8> zeros{};
  std::fill(zeros.begin(), zeros.end(), std::byte{0xff});
  REQUIRE(vmo->Read(zeros, 0));
  CHECK(std::all_of(zeros.begin(), zeros.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_CASE("vmo: read or write past the end is OUT_OF_RANGE") {
  auto vmo = Vmo::Create(kPage, "small");
  REQUIRE(vmo);
  std::array<std::byte, 2> two{};
  auto write = vmo->Write(two, kPage - 1);
  REQUIRE_FALSE(write);
  CHECK(write.error().status == Status::OUT_OF_RANGE);
  CHECK(write.error().object == "vmo 'small'");
  CHECK(vmo->Read(two, kPage - 1).error().status == Status::OUT_OF_RANGE);
  CHECK(vmo->Read(std::span<std::byte>(), kPage + 1).error().status == Status::OUT_OF_RANGE);
  CHECK(vmo->Read(two, UINT64_MAX).error().status == Status::OUT_OF_RANGE);
  // Up to the last byte, and an empty copy at the end, are fine.
  CHECK(vmo->Write(two, kPage - 2));
  CHECK(vmo->Read(std::span<std::byte>(), kPage));
}

TEST_CASE("vmo: every operation needs its right") {
  auto vmo = Vmo::Create(kPage, "guarded");
  REQUIRE(vmo);
  auto without = [&](Rights right) { return vmo->Duplicate(kDefaultVmoRights & ~right).value(); };
  std::array<std::byte, 1> byte{};

  auto read = without(kRightRead).Read(byte, 0);
  REQUIRE_FALSE(read);
  CHECK(read.error().status == Status::ACCESS_DENIED);
  CHECK(read.error().what == "read: handle lacks READ");
  CHECK(read.error().object == "vmo 'guarded'");
  CHECK(without(kRightWrite).Write(byte, 0).error().status == Status::ACCESS_DENIED);
  CHECK(without(kRightGetProperty).GetSize().error().status == Status::ACCESS_DENIED);
  CHECK(without(kRightGetProperty).GetKind().error().status == Status::ACCESS_DENIED);
  CHECK(without(kRightGetProperty).GetCachePolicy().error().status == Status::ACCESS_DENIED);
  CHECK(without(kRightSetProperty).SetCachePolicy(CachePolicy::CACHED).error().status ==
        Status::ACCESS_DENIED);
  CHECK(without(kRightMap).SetCachePolicy(CachePolicy::CACHED).error().status ==
        Status::ACCESS_DENIED);
  CHECK(without(kRightMap).GetBacking().error().status == Status::ACCESS_DENIED);
  CHECK(without(kRightInspect).Describe().error().status == Status::ACCESS_DENIED);
  CHECK(without(kRightDuplicate).Duplicate(kRightRead).error().status == Status::ACCESS_DENIED);
}

TEST_CASE("vmo: an invalid handle is BAD_HANDLE") {
  Vmo vmo;
  std::array<std::byte, 1> byte{};
  CHECK(vmo.Read(byte, 0).error().status == Status::BAD_HANDLE);
  CHECK(vmo.Write(byte, 0).error().status == Status::BAD_HANDLE);
  CHECK(vmo.GetSize().error().status == Status::BAD_HANDLE);
  CHECK(vmo.SetCachePolicy(CachePolicy::CACHED).error().status == Status::BAD_HANDLE);
  CHECK(vmo.GetBacking().error().status == Status::BAD_HANDLE);
  CHECK(vmo.Describe().error().status == Status::BAD_HANDLE);
}

TEST_CASE("vmo: paged memory is only CACHED") {
  auto vmo = Vmo::Create(kPage, "paged");
  REQUIRE(vmo);
  CHECK(vmo->SetCachePolicy(CachePolicy::CACHED));
  for (auto policy :
       {CachePolicy::UNCACHED, CachePolicy::UNCACHED_DEVICE, CachePolicy::WRITE_COMBINING}) {
    auto set = vmo->SetCachePolicy(policy);
    REQUIRE_FALSE(set);
    CHECK(set.error().status == Status::NOT_SUPPORTED);
    CHECK(Contains(set.error().what, "paged"));
    CHECK(Contains(set.error().what, std::string(CachePolicyName(policy))));
  }
  CHECK(vmo->SetCachePolicy(static_cast<CachePolicy>(7)).error().status == Status::INVALID_ARGS);
  CHECK(vmo->GetCachePolicy().value() == CachePolicy::CACHED);
}

// --- physical ---

TEST_CASE("vmo: physical over a test file") {
  auto vmo =
      Vmo::CreatePhysical(TempDeviceFile(4), kPage, 2 * kPage, PhysicalRoute::TEST_FILE, "bar0");
  REQUIRE(vmo);
  CHECK(vmo->GetKind().value() == VmoKind::PHYSICAL);
  CHECK(vmo->GetSize().value() == 2 * kPage);
  CHECK(vmo->GetCachePolicy().value() == CachePolicy::CACHED);
  CHECK(vmo->GetBacking()->fd_offset == kPage);
  auto description = vmo->Describe();
  REQUIRE(description);
  CHECK(description->kind == VmoKind::PHYSICAL);
  CHECK(description->offset == kPage);
  CHECK(description->size == 2 * kPage);
  CHECK(description->route == PhysicalRoute::TEST_FILE);
  CHECK(description->name == "bar0");
  // The data is the file's: page 1 ('b') is VMO byte 0.
  char first = 0;
  REQUIRE(::pread(vmo->GetBacking()->fd, &first, 1, static_cast<off_t>(kPage)) == 1);
  CHECK(first == 'b');
}

TEST_CASE("vmo: physical refuses Read and Write (drivers must map)") {
  auto vmo =
      Vmo::CreatePhysical(TempDeviceFile(1), 0, kPage, PhysicalRoute::SYSFS_RESOURCE, "bar2");
  REQUIRE(vmo);
  std::array<std::byte, 4> word{};
  auto read = vmo->Read(word, 0);
  REQUIRE_FALSE(read);
  CHECK(read.error().status == Status::NOT_SUPPORTED);
  CHECK(Contains(read.error().what, "map it"));
  CHECK(read.error().object == "vmo 'bar2'");
  CHECK(vmo->Write(word, 0).error().status == Status::NOT_SUPPORTED);
}

TEST_CASE("vmo: physical starts at its route's policy and refuses others") {
  auto uc = Vmo::CreatePhysical(TempDeviceFile(1), 0, kPage, PhysicalRoute::SYSFS_RESOURCE, "bar0");
  REQUIRE(uc);
  CHECK(uc->GetCachePolicy().value() == CachePolicy::UNCACHED_DEVICE);
  auto cached = uc->SetCachePolicy(CachePolicy::CACHED);
  REQUIRE_FALSE(cached);
  CHECK(cached.error().status == Status::NOT_SUPPORTED);
  CHECK(Contains(cached.error().what, "SYSFS_RESOURCE"));
  CHECK(Contains(cached.error().what, "UNCACHED_DEVICE"));
  CHECK(uc->SetCachePolicy(CachePolicy::UNCACHED_DEVICE));
  CHECK(uc->GetCachePolicy().value() == CachePolicy::UNCACHED_DEVICE);

  auto wc =
      Vmo::CreatePhysical(TempDeviceFile(1), 0, kPage, PhysicalRoute::SYSFS_RESOURCE_WC, "bar4");
  REQUIRE(wc);
  CHECK(wc->GetCachePolicy().value() == CachePolicy::WRITE_COMBINING);
  auto uncached = wc->SetCachePolicy(CachePolicy::UNCACHED);
  REQUIRE_FALSE(uncached);
  CHECK(uncached.error().status == Status::NOT_SUPPORTED);
  CHECK(Contains(uncached.error().what, "SYSFS_RESOURCE_WC"));

  for (auto route : {PhysicalRoute::VFIO_REGION, PhysicalRoute::UIO_MAP, PhysicalRoute::DEV_MEM}) {
    auto device = Vmo::CreatePhysical(TempDeviceFile(1), 0, kPage, route, "dev");
    REQUIRE(device);
    CHECK(device->GetCachePolicy().value() == CachePolicy::UNCACHED_DEVICE);
  }
}

TEST_CASE("vmo: physical alignment and range errors") {
  auto create = [](uint64_t offset, uint64_t size) {
    return Vmo::CreatePhysical(TempDeviceFile(4), offset, size, PhysicalRoute::TEST_FILE, "bar0");
  };
  CHECK(create(1, kPage).error().status == Status::INVALID_ARGS);
  CHECK(create(0, kPage + 1).error().status == Status::INVALID_ARGS);
  CHECK(create(0, 0).error().status == Status::INVALID_ARGS);
  auto unaligned = create(kPage / 2, kPage);
  CHECK(Contains(unaligned.error().what, "page aligned"));
  CHECK(unaligned.error().object == "vmo 'bar0'");
  // The file has 4 pages: 3..5 runs past its end.
  auto past_end = create(3 * kPage, 2 * kPage);
  REQUIRE_FALSE(past_end);
  CHECK(past_end.error().status == Status::OUT_OF_RANGE);
  CHECK(create(UINT64_MAX - kPage + 1, 2 * kPage).error().status == Status::OUT_OF_RANGE);
  CHECK(create(0, 4 * kPage));
}

TEST_CASE("vmo: physical argument errors") {
  CHECK(Vmo::CreatePhysical(UniqueFd(), 0, kPage, PhysicalRoute::TEST_FILE, "x").error().status ==
        Status::BAD_HANDLE);
  CHECK(Vmo::CreatePhysical(TempDeviceFile(1), 0, kPage, static_cast<PhysicalRoute>(42), "x")
            .error()
            .status == Status::INVALID_ARGS);
}

TEST_CASE("vmo: physical over a read-only fd has no WRITE right") {
  auto vmo =
      Vmo::CreatePhysical(TempDeviceFile(1, O_RDONLY), 0, kPage, PhysicalRoute::TEST_FILE, "rom");
  REQUIRE(vmo);
  CHECK((vmo->rights() & kRightWrite) == 0);
  CHECK((vmo->rights() & (kRightRead | kRightMap)) == (kRightRead | kRightMap));
}

// --- contiguous ---

struct HugePool {
  uint64_t page_size;
  std::string dir;
  long free_pages;
};

std::vector<HugePool> HugePools() {
  std::vector<HugePool> pools;
  DIR* dir = ::opendir("/sys/kernel/mm/hugepages");
  if (dir == nullptr) return pools;
  while (const dirent* entry = ::readdir(dir)) {
    unsigned long long kib = 0;
    if (std::sscanf(entry->d_name, "hugepages-%llukB", &kib) != 1) continue;
    const std::string path = std::string("/sys/kernel/mm/hugepages/") + entry->d_name;
    long free_pages = 0;
    std::ifstream(path + "/free_hugepages") >> free_pages;
    pools.push_back({kib * 1024, path, free_pages});
  }
  ::closedir(dir);
  std::sort(pools.begin(), pools.end(),
            [](const HugePool& a, const HugePool& b) { return a.page_size < b.page_size; });
  return pools;
}

// The pool CreateContiguous(size) should take: the smallest page that fits
// and has a free page; nullptr when none has.
const HugePool* ExpectedPool(const std::vector<HugePool>& pools, uint64_t size) {
  for (const HugePool& pool : pools) {
    if (pool.page_size >= size && pool.free_pages > 0) return &pool;
  }
  return nullptr;
}

TEST_CASE("vmo: contiguous takes a huge page, or names the empty pools") {
  const auto pools = HugePools();
  auto vmo = Vmo::CreateContiguous(kPage, "dma");
  if (pools.empty()) {
    REQUIRE_FALSE(vmo);
    CHECK(vmo.error().status == Status::NOT_SUPPORTED);
    return;
  }
  const HugePool* expected = ExpectedPool(pools, kPage);
  if (expected == nullptr) {
    REQUIRE_FALSE(vmo);
    CHECK(vmo.error().status == Status::NO_RESOURCES);
    for (const HugePool& pool : pools) CHECK(Contains(vmo.error().what, pool.dir + "/nr_hugepages"));
    CHECK(Contains(vmo.error().what, "free_hugepages 0"));
    CHECK(vmo.error().object == "vmo 'dma'");
    return;
  }
  REQUIRE(vmo);
  CHECK(vmo->GetKind().value() == VmoKind::CONTIGUOUS);
  CHECK(vmo->GetSize().value() == expected->page_size);
  CHECK(vmo->GetCachePolicy().value() == CachePolicy::CACHED);
  CHECK(vmo->SetCachePolicy(CachePolicy::UNCACHED).error().status == Status::NOT_SUPPORTED);
  const auto data = Bytes("dma buffer");
  REQUIRE(vmo->Write(data, expected->page_size - data.size()));
  std::vector<std::byte> back(data.size());
  REQUIRE(vmo->Read(back, expected->page_size - data.size()));
  CHECK(Text(back) == "dma buffer");
  CHECK(vmo->Read(back, expected->page_size).error().status == Status::OUT_OF_RANGE);
}

TEST_CASE("vmo: contiguous larger than the smallest huge page skips that pool") {
  const auto pools = HugePools();
  if (pools.size() < 2) {
    WARN("needs two hugetlb pools; this kernel has " << pools.size());
    return;
  }
  const uint64_t size = pools[0].page_size + 1;
  auto vmo = Vmo::CreateContiguous(size, "big");
  const HugePool* expected = ExpectedPool(pools, size);
  if (expected == nullptr) {
    REQUIRE_FALSE(vmo);
    CHECK(vmo.error().status == Status::NO_RESOURCES);
    CHECK_FALSE(Contains(vmo.error().what, pools[0].dir + "/"));
    CHECK(Contains(vmo.error().what, pools[1].dir + "/nr_hugepages"));
    return;
  }
  REQUIRE(vmo);
  CHECK(vmo->GetSize().value() == expected->page_size);
}

TEST_CASE("vmo: contiguous beyond the largest huge page is OUT_OF_RANGE") {
  const auto pools = HugePools();
  if (pools.empty()) return;
  auto vmo = Vmo::CreateContiguous(pools.back().page_size + 1, "too big");
  REQUIRE_FALSE(vmo);
  CHECK(vmo.error().status == Status::OUT_OF_RANGE);
  CHECK(Contains(vmo.error().what, "largest huge page"));
  CHECK(Vmo::CreateContiguous(0).error().status == Status::INVALID_ARGS);
}

// --- cache policy and mappings ---

TEST_CASE("vmo: cache policy is BAD_STATE while mapped, settable after unmap") {
  auto vmo =
      Vmo::CreatePhysical(TempDeviceFile(2), 0, 2 * kPage, PhysicalRoute::SYSFS_RESOURCE, "bar0");
  REQUIRE(vmo);
  auto vmar = Vmar::Create(4 * kPage, "drv");
  REQUIRE(vmar);
  auto addr = vmar->Map(kVmPermRead | kVmPermWrite, 0, *vmo, 0, 2 * kPage);
  REQUIRE(addr);
  auto busy = vmo->SetCachePolicy(CachePolicy::UNCACHED_DEVICE);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().status == Status::BAD_STATE);
  CHECK(Contains(busy.error().what, "mapping"));
  // A policy the route cannot honour is NOT_SUPPORTED whatever the state.
  CHECK(vmo->SetCachePolicy(CachePolicy::CACHED).error().status == Status::NOT_SUPPORTED);
  // Splitting the mapping leaves two; both must go.
  REQUIRE(vmar->Unmap(*addr, kPage));
  CHECK(vmo->SetCachePolicy(CachePolicy::UNCACHED_DEVICE).error().status == Status::BAD_STATE);
  REQUIRE(vmar->Unmap(*addr + kPage, kPage));
  CHECK(vmo->SetCachePolicy(CachePolicy::UNCACHED_DEVICE));
}

TEST_CASE("vmo: destroying the VMAR releases the VMO's mappings") {
  auto vmo = Vmo::Create(kPage);
  REQUIRE(vmo);
  {
    auto vmar = Vmar::Create(kPage);
    REQUIRE(vmar);
    REQUIRE(vmar->Map(kVmPermRead, 0, *vmo, 0, kPage));
    CHECK(vmo->SetCachePolicy(CachePolicy::CACHED).error().status == Status::BAD_STATE);
  }
  CHECK(vmo->SetCachePolicy(CachePolicy::CACHED));
}

// --- descriptions (the receiving side of a transfer) ---

TEST_CASE("vmo: a paged VMO rebuilt from its description shares the memory") {
  auto vmo = Vmo::Create(2 * kPage, "shared");
  REQUIRE(vmo);
  REQUIRE(vmo->Write(Bytes("hello"), 0));
  auto description = vmo->Describe();
  REQUIRE(description);
  CHECK(description->kind == VmoKind::PAGED);
  CHECK(description->size == 2 * kPage);
  CHECK(description->name == "shared");
  auto copy = Vmo::FromDescription(DupFd(vmo->GetBacking()->fd), *description,
                                   kRightRead | kRightMap | kRightGetProperty);
  REQUIRE(copy);
  CHECK(copy->rights() == (kRightRead | kRightMap | kRightGetProperty));
  CHECK_FALSE(copy->SameObject(*vmo));
  std::vector<std::byte> back(5);
  REQUIRE(copy->Read(back, 0));
  CHECK(Text(back) == "hello");
  CHECK(copy->Write(back, 0).error().status == Status::ACCESS_DENIED);
  CHECK(copy->GetSize().value() == 2 * kPage);
}

TEST_CASE("vmo: a physical VMO rebuilt from its description") {
  auto vmo = Vmo::CreatePhysical(TempDeviceFile(4), kPage, kPage, PhysicalRoute::SYSFS_RESOURCE_WC,
                                 "bar1");
  REQUIRE(vmo);
  auto description = vmo->Describe().value();
  auto copy = Vmo::FromDescription(DupFd(vmo->GetBacking()->fd), description, kDefaultVmoRights);
  REQUIRE(copy);
  CHECK(copy->GetKind().value() == VmoKind::PHYSICAL);
  CHECK(copy->GetCachePolicy().value() == CachePolicy::WRITE_COMBINING);
  CHECK(copy->GetBacking()->fd_offset == kPage);
}

TEST_CASE("vmo: invalid descriptions are INVALID_ARGS") {
  auto vmo = Vmo::Create(2 * kPage, "src");
  REQUIRE(vmo);
  const int fd = vmo->GetBacking()->fd;
  const Vmo::Description good = vmo->Describe().value();
  auto rebuild = [&](Vmo::Description d, Rights rights = kDefaultVmoRights) {
    return Vmo::FromDescription(DupFd(fd), d, rights);
  };
  REQUIRE(rebuild(good));

  auto wrong_size = good;
  wrong_size.size = kPage;
  auto mismatch = rebuild(wrong_size);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().status == Status::INVALID_ARGS);
  CHECK(mismatch.error().object == "vmo 'src'");

  auto unaligned = good;
  unaligned.size = 2 * kPage + 1;
  CHECK(rebuild(unaligned).error().status == Status::INVALID_ARGS);
  auto offset = good;
  offset.offset = kPage;
  CHECK(rebuild(offset).error().status == Status::INVALID_ARGS);
  auto uncached = good;
  uncached.cache_policy = CachePolicy::UNCACHED;
  CHECK(rebuild(uncached).error().status == Status::INVALID_ARGS);
  auto bad_kind = good;
  bad_kind.kind = static_cast<VmoKind>(9);
  CHECK(rebuild(bad_kind).error().status == Status::INVALID_ARGS);
  // A memfd of ordinary pages is not one huge page.
  auto not_huge = good;
  not_huge.kind = VmoKind::CONTIGUOUS;
  CHECK(rebuild(not_huge).error().status == Status::INVALID_ARGS);
  CHECK(rebuild(good, kRightRead | kRightSameRights).error().status == Status::INVALID_ARGS);
  CHECK(Vmo::FromDescription(UniqueFd(), good, kRightRead).error().status == Status::BAD_HANDLE);
}

TEST_CASE("vmo: description rights must fit the fd") {
  auto vmo = Vmo::Create(kPage, "src");
  REQUIRE(vmo);
  const auto description = vmo->Describe().value();
  auto read_only_fd = ReopenReadOnly(vmo->GetBacking()->fd);
  REQUIRE(read_only_fd.is_valid());
  auto writable = Vmo::FromDescription(DupFd(read_only_fd.get()), description,
                                       kRightRead | kRightWrite | kRightMap);
  REQUIRE_FALSE(writable);
  CHECK(writable.error().status == Status::INVALID_ARGS);
  CHECK(Contains(writable.error().what, "WRITE"));
  CHECK(Vmo::FromDescription(std::move(read_only_fd), description, kRightRead | kRightMap));
}

TEST_CASE("vmo: invalid physical descriptions are INVALID_ARGS") {
  auto vmo =
      Vmo::CreatePhysical(TempDeviceFile(2), 0, 2 * kPage, PhysicalRoute::SYSFS_RESOURCE, "bar0");
  REQUIRE(vmo);
  const int fd = vmo->GetBacking()->fd;
  const auto good = vmo->Describe().value();
  auto rebuild = [&](Vmo::Description d) {
    return Vmo::FromDescription(DupFd(fd), d, kDefaultVmoRights);
  };
  REQUIRE(rebuild(good));
  auto cached = good;
  cached.cache_policy = CachePolicy::CACHED;  // SYSFS_RESOURCE is UNCACHED_DEVICE only
  auto refused = rebuild(cached);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().status == Status::INVALID_ARGS);
  CHECK(Contains(refused.error().what, "SYSFS_RESOURCE"));
  auto unaligned = good;
  unaligned.offset = 1;
  CHECK(rebuild(unaligned).error().status == Status::INVALID_ARGS);
  auto empty = good;
  empty.size = 0;
  CHECK(rebuild(empty).error().status == Status::INVALID_ARGS);
  auto bad_route = good;
  bad_route.route = static_cast<PhysicalRoute>(17);
  CHECK(rebuild(bad_route).error().status == Status::INVALID_ARGS);
  auto past_end = good;
  past_end.size = 3 * kPage;
  CHECK(rebuild(past_end).error().status == Status::OUT_OF_RANGE);
}

}  // namespace
}  // namespace udrv
