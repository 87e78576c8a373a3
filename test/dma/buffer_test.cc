#include "udrv/dma/buffer.h"

#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "fake_iommu_domain.h"
#include "result_helpers.h"

namespace udrv::dma {
namespace {

using udrv::testing::FakeDomain;
using udrv::testing::StatusOf;

struct Fixture {
  std::shared_ptr<FakeDomain> domain = std::make_shared<FakeDomain>();
  Bti bti = Bti::Create(domain, kNoDmaLimit, "buffer-test").value();
};

// The bytes the fake IOMMU would let the device see at `iova`: the pin's
// own mapping of the buffer's memory.
std::byte DeviceView(FakeDomain& domain, uint64_t iova) {
  std::lock_guard lock(domain.mutex_);
  for (auto& [start, mapping] : domain.mappings) {
    if (iova >= start && iova < start + mapping.size) {
      return *reinterpret_cast<const std::byte*>(mapping.vaddr + (iova - start));
    }
  }
  FAIL("iova 0x" << std::hex << iova << " is not mapped");
  return {};
}

TEST_CASE("ContiguousBuffer: one device address over the memory the CPU writes", "[buffer]") {
  Fixture f;
  const uint64_t page = PageSize();
  auto buffer = ContiguousBuffer::Create(f.bti, 3 * page + 1, kBtiPermRead | kBtiPermWrite, "ring");
  REQUIRE_OK(buffer);
  CHECK(buffer->size() == 4 * page);
  CHECK(f.domain->map_calls == 1);
  REQUIRE(f.domain->mappings.size() == 1);
  CHECK(f.domain->mappings.begin()->first == buffer->phys());
  CHECK(f.domain->mappings.begin()->second.size == 4 * page);

  auto* bytes = static_cast<std::byte*>(buffer->virt());
  bytes[0] = std::byte{0x5a};
  bytes[4 * page - 1] = std::byte{0xa5};
  REQUIRE_OK(buffer->CacheClean(0, buffer->size()));
  CHECK(DeviceView(*f.domain, buffer->phys()) == std::byte{0x5a});
  CHECK(DeviceView(*f.domain, buffer->phys() + 4 * page - 1) == std::byte{0xa5});
  std::byte through_vmo{};
  REQUIRE_OK(buffer->vmo().Read(std::span(&through_vmo, 1), 4 * page - 1));
  CHECK(through_vmo == std::byte{0xa5});
}

TEST_CASE("PagedBuffer: one device address per page", "[buffer]") {
  Fixture f;
  const uint64_t page = PageSize();
  auto buffer = PagedBuffer::Create(f.bti, 5 * page, kBtiPermWrite, "sg");
  REQUIRE_OK(buffer);
  REQUIRE(buffer->addresses().size() == 5);
  for (size_t i = 1; i < 5; ++i) CHECK(buffer->addresses()[i] == buffer->addresses()[0] + i * page);
  CHECK(f.domain->mappings.begin()->second.write);
  CHECK_FALSE(f.domain->mappings.begin()->second.read);
}

TEST_CASE("dma buffers unpin when destroyed or replaced", "[buffer]") {
  Fixture f;
  {
    auto first = ContiguousBuffer::Create(f.bti, PageSize(), kBtiPermRead);
    REQUIRE_OK(first);
    auto second = PagedBuffer::Create(f.bti, 2 * PageSize(), kBtiPermRead);
    REQUIRE_OK(second);
    CHECK(f.bti.GetInfo()->pmo_count == 2);
    ContiguousBuffer moved = std::move(*first);
    CHECK_FALSE(first->is_valid());
    CHECK(moved.is_valid());
    *first = std::move(moved);  // back again: nothing unpinned on the way
    CHECK(f.bti.GetInfo()->pmo_count == 2);
    auto third = ContiguousBuffer::Create(f.bti, PageSize(), kBtiPermRead);
    REQUIRE_OK(third);
    *first = std::move(*third);  // the old pin goes
    CHECK(f.bti.GetInfo()->pmo_count == 2);
    CHECK(f.domain->unmap_calls == 1);
  }
  CHECK(f.bti.GetInfo()->pmo_count == 0);
  CHECK(f.domain->mappings.empty());
}

TEST_CASE("a dma buffer whose unpin fails is quarantined, not freed", "[buffer]") {
  Fixture f;
  {
    auto buffer = ContiguousBuffer::Create(f.bti, PageSize(), kBtiPermWrite);
    REQUIRE_OK(buffer);
    f.domain->fail_next_unmap = true;
  }
  auto info = f.bti.GetInfo();
  REQUIRE_OK(info);
  CHECK(info->quarantine_count == 1);
  CHECK(f.domain->mappings.size() == 1);  // the device may still write there
  REQUIRE_OK(f.bti.ReleaseQuarantine());
  CHECK(f.domain->mappings.empty());
}

TEST_CASE("dma buffers refuse bad arguments", "[buffer]") {
  Fixture f;
  CHECK(StatusOf(ContiguousBuffer::Create(f.bti, 0, kBtiPermRead)) == "INVALID_ARGS");
  CHECK(StatusOf(ContiguousBuffer::Create(f.bti, PageSize(), kBtiPermRead | kBtiCompress)) ==
        "INVALID_ARGS");
  CHECK(StatusOf(PagedBuffer::Create(f.bti, PageSize(), kBtiPermRead | kBtiContiguous)) ==
        "INVALID_ARGS");
  CHECK(StatusOf(PagedBuffer::Create(f.bti, PageSize(), 0)) == "INVALID_ARGS");
  CHECK(StatusOf(PagedBuffer::Create(f.bti, UINT64_MAX, kBtiPermRead)) == "OUT_OF_RANGE");
  CHECK(StatusOf(PagedBuffer::Create(Bti(), PageSize(), kBtiPermRead)) == "BAD_HANDLE");
  f.domain->fail_next_map = true;
  CHECK(StatusOf(PagedBuffer::Create(f.bti, PageSize(), kBtiPermRead)) == "NO_RESOURCES");
  CHECK(f.bti.GetInfo()->pmo_count == 0);

  auto buffer = PagedBuffer::Create(f.bti, PageSize(), kBtiPermRead);
  REQUIRE_OK(buffer);
  CHECK(StatusOf(buffer->CacheClean(PageSize() - 8, 16)) == "OUT_OF_RANGE");
  CHECK(StatusOf(buffer->CacheCleanInvalidate(PageSize() + 1, 0)) == "OUT_OF_RANGE");
  REQUIRE_OK(buffer->CacheCleanInvalidate(8, PageSize() - 8));
  CHECK(StatusOf(PagedBuffer().CacheClean(0, 1)) == "BAD_STATE");
}

TEST_CASE("a physical bti gets no paged buffer", "[buffer]") {
  auto bti = Bti::CreatePhysical(UnsafePhysicalDma{.device_may_reach_all_memory = true});
  if (!bti) {
    // Only root with CAP_SYS_ADMIN gets one; that refusal is bti_test's.
    CHECK(StatusOf(bti) == "ACCESS_DENIED");
    return;
  }
  auto buffer = PagedBuffer::Create(*bti, PageSize(), kBtiPermRead);
  CHECK(StatusOf(buffer) == "NOT_SUPPORTED");
  CHECK_THAT(buffer.error().what, Catch::Contains("ContiguousBuffer"));
}

}  // namespace
}  // namespace udrv::dma
