#include "udrv/dma/iova_allocator.h"

#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "result_helpers.h"

namespace udrv::dma {
namespace {

using testing::StatusOf;

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t k1M = 0x100000;
constexpr uint64_t k2M = 0x200000;
constexpr uint64_t k1G = 0x40000000;
constexpr uint64_t kPageSizes = 0x40201000;  // 4K | 2M | 1G, as type1v2 reports on x86_64
constexpr uint64_t kEduLimit = uint64_t{1} << 28;

// What the guests' VFIO CAP_IOVA_RANGE reported (DESIGN.md): the MSI window
// is cut out.
const std::vector<IovaRange> kX86Ranges{{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}};
const std::vector<IovaRange> kArm64Ranges{{0, 0x7ffffff}, {0x8100000, 0xffffffffffff}};

uint64_t TotalBytes(const std::vector<IovaRange>& ranges) {
  uint64_t total = 0;
  for (const IovaRange& range : ranges) total += range.end - range.start + 1;
  return total;
}

// True when [iova, iova+size) lies inside one of `ranges`.
bool InsideOneRange(const std::vector<IovaRange>& ranges, uint64_t iova, uint64_t size) {
  for (const IovaRange& range : ranges) {
    if (iova >= range.start && iova + size - 1 <= range.end) return true;
  }
  return false;
}

IovaAllocator MakeAllocator(const std::vector<IovaRange>& ranges, uint64_t page_sizes = kPageSizes) {
  auto allocator = IovaAllocator::Create(ranges, page_sizes);
  INFO((allocator ? std::string("OK") : allocator.error().ToString()));
  REQUIRE(allocator.has_value());
  return std::move(*allocator);
}

TEST_CASE("Create takes VFIO's ranges and page sizes", "[iova]") {
  SECTION("the x86_64 guest's ranges") {
    IovaAllocator allocator = MakeAllocator(kX86Ranges);
    CHECK(allocator.granule() == k4K);
    CHECK(allocator.FreeRanges() == kX86Ranges);
    CHECK(allocator.free_bytes() == TotalBytes(kX86Ranges));
    CHECK(allocator.allocation_count() == 0);
  }
  SECTION("unsorted ranges are sorted, touching ones merge") {
    IovaAllocator allocator =
        MakeAllocator({{0x300000, 0x3fffff}, {0x100000, 0x1fffff}, {0x200000, 0x2fffff}, {0x0, 0xfff}});
    CHECK(allocator.FreeRanges() == std::vector<IovaRange>{{0x0, 0xfff}, {0x100000, 0x3fffff}});
    CHECK(allocator.free_bytes() == k4K + 3 * k1M);
  }
  SECTION("the granule is the smallest page size") {
    IovaAllocator allocator = MakeAllocator({{0, 0x3fffffff}}, 0x40210000);  // 64K | 2M | 1G
    CHECK(allocator.granule() == 0x10000);
  }
  SECTION("a range reaching UINT64_MAX loses its top granule") {
    IovaAllocator allocator = MakeAllocator({{0, UINT64_MAX}});
    CHECK(allocator.FreeRanges() == std::vector<IovaRange>{{0, UINT64_MAX - k4K}});
    CHECK(allocator.free_bytes() == UINT64_MAX - k4K + 1);
    auto low = allocator.Allocate(uint64_t{1} << 63);
    REQUIRE_OK(low);
    CHECK(*low == 0);
    // The upper half is one granule short of 2^63.
    auto high = allocator.Allocate(uint64_t{1} << 63);
    CHECK(StatusOf(high) == "NO_RESOURCES");
    CHECK(StatusOf(allocator.Allocate(UINT64_MAX)) == "NO_RESOURCES");
    // Aligned to 2^63, the one place left is 2^63 itself; after it, aligning
    // the next free address up would pass 2^64.
    auto top = allocator.Allocate(k4K, uint64_t{1} << 63);
    REQUIRE_OK(top);
    CHECK(*top == uint64_t{1} << 63);
    CHECK(StatusOf(allocator.Allocate(k4K, uint64_t{1} << 63)) == "NO_RESOURCES");
  }
}

TEST_CASE("Create refuses bad ranges and page sizes", "[iova]") {
  auto expect_invalid = [](const std::vector<IovaRange>& ranges, uint64_t page_sizes, const char* words) {
    auto allocator = IovaAllocator::Create(ranges, page_sizes);
    REQUIRE_FALSE(allocator.has_value());
    CHECK(allocator.error().status == Status::INVALID_ARGS);
    CHECK_THAT(allocator.error().what, Catch::Contains(words));
  };
  expect_invalid(kX86Ranges, 0, "page size bitmap is 0");
  expect_invalid({}, kPageSizes, "no usable IOVA range");
  expect_invalid({{0x2000, 0xfff}}, kPageSizes, "ends before it starts");
  expect_invalid({{0x800, 0xffff}}, kPageSizes, "not aligned to the smallest IOMMU page size 0x1000");
  expect_invalid({{0x0, 0xfffe}}, kPageSizes, "[0x0, 0xfffe] is not aligned");
  expect_invalid({{0x0, 0xffff}, {0x8000, 0x1ffff}}, kPageSizes, "[0x0, 0xffff] and [0x8000, 0x1ffff] overlap");
  expect_invalid({{0x0, UINT64_MAX}, {0x10000, 0x1ffff}}, kPageSizes, "overlap");
}

TEST_CASE("Allocations never fall into the x86_64 MSI window", "[iova]") {
  IovaAllocator allocator = MakeAllocator(kX86Ranges);
  const uint64_t limit = uint64_t{1} << 32;
  std::vector<uint64_t> blocks;
  while (true) {
    auto iova = allocator.Allocate(k2M, k2M, limit);
    if (!iova) {
      CHECK(iova.error().status == Status::NO_RESOURCES);
      // Only [0xfef00000, 0xff000000) is left below 4 GiB, too small for 2 MiB.
      CHECK_THAT(iova.error().what,
                 Catch::Contains("allocate 0x200000 bytes aligned to 0x200000 below the DMA limit 0x100000000") &&
                     Catch::Contains("the largest free block below the limit is 0x100000 bytes at 0xfef00000"));
      break;
    }
    CHECK(*iova % k2M == 0);
    CHECK(*iova + k2M <= limit);
    CHECK(InsideOneRange(kX86Ranges, *iova, k2M));
    blocks.push_back(*iova);
  }
  // 0xfee00000 / 2M below the window, (4G - 0xff000000) / 2M above it.
  CHECK(blocks.size() == 0x7f7 + 8);
  CHECK(blocks[0x7f6] == 0xfec00000);
  CHECK(blocks[0x7f7] == 0xff000000);
  CHECK(allocator.allocation_count() == blocks.size());

  // A 4 KiB block still fits in the leftovers, right above the window.
  auto small = allocator.Allocate(k4K, 0, limit);
  REQUIRE_OK(small);
  CHECK(*small == 0xfef00000);
  // Without the limit, the next 2 MiB block comes from above 4 GiB.
  auto high = allocator.Allocate(k2M, k2M);
  REQUIRE_OK(high);
  CHECK(*high == limit);
}

TEST_CASE("A block larger than the space below a hole goes above it", "[iova]") {
  IovaAllocator allocator = MakeAllocator(kX86Ranges);
  auto iova = allocator.Allocate(0xfee00000 + k4K);
  REQUIRE_OK(iova);
  CHECK(*iova == 0xfef00000);
  auto below = allocator.Allocate(0xfee00000);
  REQUIRE_OK(below);
  CHECK(*below == 0);
}

TEST_CASE("The edu device's 28-bit limit on the aarch64 guest", "[iova]") {
  IovaAllocator allocator = MakeAllocator(kArm64Ranges);
  std::vector<uint64_t> blocks;
  while (true) {
    auto iova = allocator.Allocate(k1M, 0, kEduLimit);
    if (!iova) {
      CHECK(iova.error().status == Status::NO_RESOURCES);
      CHECK_THAT(iova.error().what, Catch::Contains("nothing is free below the limit"));
      break;
    }
    CHECK(*iova + k1M <= kEduLimit);
    CHECK(InsideOneRange(kArm64Ranges, *iova, k1M));
    blocks.push_back(*iova);
  }
  // 128 blocks below the MSI hole at 128 MiB, 127 between it and 256 MiB.
  CHECK(blocks.size() == 128 + 127);
  CHECK(blocks[127] == 0x7f00000);
  CHECK(blocks[128] == 0x8100000);
  CHECK(blocks.back() == kEduLimit - k1M);
}

TEST_CASE("A block that fits only across the edu limit is refused", "[iova]") {
  IovaAllocator allocator = MakeAllocator(kArm64Ranges);
  // Below the hole 128 MiB; between the hole and the limit 127 MiB.
  auto iova = allocator.Allocate(0x8000000 + k4K, 0, kEduLimit);
  REQUIRE_FALSE(iova.has_value());
  CHECK(iova.error().status == Status::NO_RESOURCES);
  CHECK_THAT(iova.error().what,
             Catch::Contains("allocate 0x8001000 bytes aligned to 0x1000 below the DMA limit 0x10000000") &&
                 Catch::Contains("the largest free block below the limit is 0x8000000 bytes at 0x0"));
  CHECK(allocator.free_bytes() == TotalBytes(kArm64Ranges));
  CHECK(allocator.allocation_count() == 0);

  auto whole = allocator.Allocate(0x8000000, 0, kEduLimit);
  REQUIRE_OK(whole);
  CHECK(*whole == 0);
  auto above = allocator.Allocate(0x7f00000, 0, kEduLimit);
  REQUIRE_OK(above);
  CHECK(*above == 0x8100000);
  CHECK(StatusOf(allocator.Allocate(k4K, 0, kEduLimit)) == "NO_RESOURCES");
  // A limit below every free block.
  CHECK(StatusOf(allocator.Allocate(k4K, 0, 0x1000)) == "NO_RESOURCES");
}

TEST_CASE("Alignment cannot carry a block past the limit", "[iova]") {
  // The free block starts below the limit, but its first 2 MiB-aligned
  // address lies above it.
  IovaAllocator allocator = MakeAllocator({{0x1000, 0x3fffff}});
  auto iova = allocator.Allocate(k4K, k2M, 0x2000);
  REQUIRE_FALSE(iova.has_value());
  CHECK(iova.error().status == Status::NO_RESOURCES);
  CHECK_THAT(iova.error().what, Catch::Contains("the largest free block below the limit is 0x1000 bytes at 0x1000"));
  auto low = allocator.Allocate(k4K, 0, 0x2000);
  REQUIRE_OK(low);
  CHECK(*low == 0x1000);
}

TEST_CASE("Alignment and size rounding", "[iova]") {
  IovaAllocator allocator = MakeAllocator(kX86Ranges);
  auto page = allocator.Allocate(1);  // rounds up to one granule
  REQUIRE_OK(page);
  CHECK(*page == 0);
  CHECK(allocator.free_bytes() == TotalBytes(kX86Ranges) - k4K);

  auto huge = allocator.Allocate(k2M, k2M);
  REQUIRE_OK(huge);
  CHECK(*huge == k2M);
  auto giant = allocator.Allocate(k1G, k1G);
  REQUIRE_OK(giant);
  CHECK(*giant == k1G);
  auto next = allocator.Allocate(0x1800);  // first fit: right after the first page
  REQUIRE_OK(next);
  CHECK(*next == k4K);
  CHECK(allocator.FreeRanges() ==
        std::vector<IovaRange>{{0x3000, k2M - 1}, {2 * k2M, k1G - 1}, {2 * k1G, 0xfedfffff}, {0xfef00000, 0x7fffffffff}});

  // Free takes the size asked for or the rounded size.
  REQUIRE_OK(allocator.Free(*page, 1));
  REQUIRE_OK(allocator.Free(*next, 0x2000));

  auto expect_invalid = [&](uint64_t size, uint64_t alignment, const char* words) {
    auto iova = allocator.Allocate(size, alignment);
    REQUIRE_FALSE(iova.has_value());
    CHECK(iova.error().status == Status::INVALID_ARGS);
    CHECK_THAT(iova.error().what, Catch::Contains(words));
  };
  expect_invalid(0, 0, "size 0");
  expect_invalid(k4K, 0x3000, "alignment 0x3000 is not a power of two at least the IOMMU page size 0x1000");
  expect_invalid(k4K, 0x800, "alignment 0x800");
  expect_invalid(k4K, 1, "alignment 0x1");
}

TEST_CASE("Free coalesces back to the original ranges", "[iova]") {
  IovaAllocator allocator = MakeAllocator(kArm64Ranges);
  std::vector<std::pair<uint64_t, uint64_t>> blocks;
  for (uint64_t size : std::initializer_list<uint64_t>{k4K, 3 * k4K, k2M, k4K, 0x7000000, k1M, k4K, k2M}) {
    auto iova = allocator.Allocate(size, size == k2M ? k2M : 0, kEduLimit);
    REQUIRE_OK(iova);
    blocks.emplace_back(*iova, size);
  }
  CHECK(allocator.allocation_count() == blocks.size());
  // Free in an order that exercises merging with the previous block, the next
  // block, both, and neither.
  for (size_t index : {1u, 3u, 0u, 6u, 2u, 7u, 5u, 4u}) {
    REQUIRE_OK(allocator.Free(blocks[index].first, blocks[index].second));
  }
  CHECK(allocator.allocation_count() == 0);
  CHECK(allocator.FreeRanges() == kArm64Ranges);
  CHECK(allocator.free_bytes() == TotalBytes(kArm64Ranges));
}

TEST_CASE("Free takes only whole allocated blocks", "[iova]") {
  IovaAllocator allocator = MakeAllocator(kX86Ranges);
  auto first = allocator.Allocate(4 * k4K);
  auto second = allocator.Allocate(k4K);
  REQUIRE_OK(first);
  REQUIRE_OK(second);
  auto ranges = allocator.FreeRanges();
  uint64_t free_bytes = allocator.free_bytes();

  auto expect_not_found = [&](uint64_t iova, uint64_t size, const char* words) {
    auto freed = allocator.Free(iova, size);
    REQUIRE_FALSE(freed.has_value());
    CHECK(freed.error().status == Status::NOT_FOUND);
    CHECK_THAT(freed.error().what, Catch::Contains(words));
    CHECK(allocator.FreeRanges() == ranges);
    CHECK(allocator.free_bytes() == free_bytes);
  };
  expect_not_found(*first, k4K, "the allocation there is 0x4000 bytes, not 0x1000");
  expect_not_found(*first, 8 * k4K, "not 0x8000");
  expect_not_found(*first, 0, "not 0x0");
  expect_not_found(*first + k4K, k4K, "inside the allocation of 0x4000 bytes at 0x0");
  expect_not_found(0x10000000, k4K, "free 0x10000000: no allocation starts there");

  REQUIRE_OK(allocator.Free(*second, k4K));
  ranges = allocator.FreeRanges();
  free_bytes = allocator.free_bytes();
  expect_not_found(*second, k4K, "no allocation starts there");  // double free
  CHECK(allocator.allocation_count() == 1);
}

TEST_CASE("A moved-from allocator has no space", "[iova]") {
  IovaAllocator allocator = MakeAllocator(kX86Ranges);
  auto iova = allocator.Allocate(k4K);
  REQUIRE_OK(iova);
  IovaAllocator moved = std::move(allocator);
  CHECK(moved.allocation_count() == 1);
  REQUIRE_OK(moved.Free(*iova, k4K));
  CHECK(moved.FreeRanges() == kX86Ranges);

  CHECK(allocator.free_bytes() == 0);  // moved from: empty, as documented
  CHECK(allocator.FreeRanges().empty());
  CHECK(StatusOf(allocator.Allocate(k4K)) == "NO_RESOURCES");
  CHECK(StatusOf(allocator.Free(*iova, k4K)) == "NOT_FOUND");

  IovaAllocator assigned;
  assigned = std::move(moved);
  CHECK(assigned.free_bytes() == TotalBytes(kX86Ranges));
  CHECK(moved.free_bytes() == 0);
}

// First fit computed from FreeRanges, independently of the allocator: the
// lowest aligned address whose block fits in a free range and below the limit.
std::optional<uint64_t> ExpectedFirstFit(const std::vector<IovaRange>& free_ranges, uint64_t size,
                                         uint64_t alignment, uint64_t limit) {
  for (const IovaRange& range : free_ranges) {
    const uint64_t iova = (range.start + alignment - 1) / alignment * alignment;
    if (iova < range.start || iova > range.end) continue;
    if (range.end - iova + 1 < size) continue;
    if (iova >= limit || limit - iova < size) continue;
    return iova;
  }
  return std::nullopt;
}

TEST_CASE("Random allocations and frees keep every invariant", "[iova]") {
  const auto& usable = GENERATE(as<std::vector<IovaRange>>{}, kX86Ranges, kArm64Ranges);
  IovaAllocator allocator = MakeAllocator(usable);
  const uint64_t total = TotalBytes(usable);
  std::mt19937_64 random(0x10ca1105);
  const std::vector<uint64_t> alignments{0, k4K, 0x10000, k2M};
  const std::vector<uint64_t> limits{kEduLimit, uint64_t{1} << 32, kNoDmaLimit};
  std::map<uint64_t, uint64_t> live;  // iova -> rounded size
  uint64_t live_bytes = 0;
  size_t failures = 0;

  for (int step = 0; step < 20000; ++step) {
    if (!live.empty() && random() % 5 < 2) {
      auto victim = live.begin();
      std::advance(victim, static_cast<long>(random() % live.size()));
      REQUIRE_OK(allocator.Free(victim->first, victim->second));
      live_bytes -= victim->second;
      live.erase(victim);
    } else {
      // Mostly small blocks, some up to 32 MiB, so the 28-bit space fills up.
      const uint64_t size = random() % 4 == 0 ? 1 + random() % (32 * k1M) : 1 + random() % (64 * k4K);
      const uint64_t alignment = alignments[random() % alignments.size()];
      const uint64_t limit = limits[random() % limits.size()];
      const uint64_t rounded = (size + k4K - 1) / k4K * k4K;
      const auto expected = ExpectedFirstFit(allocator.FreeRanges(), rounded, alignment == 0 ? k4K : alignment, limit);
      auto iova = allocator.Allocate(size, alignment, limit);
      if (!expected) {
        REQUIRE(StatusOf(iova) == "NO_RESOURCES");
        ++failures;
        continue;
      }
      REQUIRE_OK(iova);
      REQUIRE(*iova == *expected);
      REQUIRE(*iova % (alignment == 0 ? k4K : alignment) == 0);
      REQUIRE(InsideOneRange(usable, *iova, rounded));
      REQUIRE(*iova < limit);
      REQUIRE(limit - *iova >= rounded);
      // No overlap with the live neighbours.
      auto after = live.lower_bound(*iova);
      if (after != live.end()) REQUIRE(*iova + rounded <= after->first);
      if (after != live.begin()) {
        auto before = std::prev(after);
        REQUIRE(before->first + before->second <= *iova);
      }
      live.emplace(*iova, rounded);
      live_bytes += rounded;
    }
    REQUIRE(allocator.allocation_count() == live.size());
    REQUIRE(allocator.free_bytes() == total - live_bytes);
    if (step % 100 == 0) {
      // Free ranges: sorted, never touching, inside the usable ranges, and
      // adding up to free_bytes.
      uint64_t free_sum = 0;
      const auto free_ranges = allocator.FreeRanges();
      for (size_t i = 0; i < free_ranges.size(); ++i) {
        REQUIRE(InsideOneRange(usable, free_ranges[i].start, free_ranges[i].end - free_ranges[i].start + 1));
        if (i > 0) REQUIRE(free_ranges[i - 1].end + 1 < free_ranges[i].start);
        free_sum += free_ranges[i].end - free_ranges[i].start + 1;
      }
      REQUIRE(free_sum == allocator.free_bytes());
    }
  }
  // The run must have hit both outcomes to mean anything.
  CHECK(failures > 0);
  CHECK(live.size() > 10);

  for (const auto& [iova, size] : live) REQUIRE_OK(allocator.Free(iova, size));
  CHECK(allocator.FreeRanges() == usable);
  CHECK(allocator.free_bytes() == total);
}

}  // namespace
}  // namespace udrv::dma
