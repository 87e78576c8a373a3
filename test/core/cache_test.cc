#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "result_helpers.h"
#include "udrv/core/cache.h"
#include "udrv/core/vmo.h"

namespace udrv {
namespace {

using testing::StatusOf;

const uint64_t kPage = PageSize();

std::vector<std::byte> Pattern(size_t len, uint8_t seed) {
  std::vector<std::byte> bytes(len);
  for (size_t i = 0; i < len; ++i) bytes[i] = std::byte(static_cast<uint8_t>(seed + i * 7));
  return bytes;
}

// A function returning `value`, as machine code for this architecture.
std::vector<uint8_t> ReturnConstantCode(uint8_t value) {
#if defined(__x86_64__)
  return {0xb8, value, 0x00, 0x00, 0x00, 0xc3};  // mov eax, value; ret
#elif defined(__aarch64__)
  const uint32_t mov = 0x52800000u | (uint32_t{value} << 5);  // movz w0, #value
  const uint32_t ret = 0xd65f03c0u;                            // ret
  std::vector<uint8_t> code(8);
  std::memcpy(code.data(), &mov, 4);
  std::memcpy(code.data() + 4, &ret, 4);
  return code;
#else
#error "cache_test knows machine code for x86_64 and aarch64 only"
#endif
}

// One RWX page: the memory a JIT or a loaded firmware helper writes code into.
class CodePage {
 public:
  CodePage()
      : page_(::mmap(nullptr, kPage, PROT_READ | PROT_WRITE | PROT_EXEC,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) {}
  ~CodePage() {
    if (page_ != MAP_FAILED) ::munmap(page_, kPage);
  }
  CodePage(const CodePage&) = delete;
  CodePage& operator=(const CodePage&) = delete;

  bool ok() const { return page_ != MAP_FAILED; }
  // Writes `code` at `offset`, syncs the instruction cache, and calls it.
  int WriteSyncAndCall(const std::vector<uint8_t>& code, size_t offset) {
    auto* at = static_cast<uint8_t*>(page_) + offset;
    std::memcpy(at, code.data(), code.size());
    REQUIRE_OK(CacheFlush(at, code.size(), kCacheFlushInstruction));
    auto* function = reinterpret_cast<int (*)()>(reinterpret_cast<uintptr_t>(at));
    return function();
  }

 private:
  void* page_;
};

// --- CacheFlush ---

TEST_CASE("cache: data cache line size is a power of two", "[cache]") {
  const size_t line = DataCacheLineSize();
  CHECK(line >= 16);
  CHECK(line <= 512);
  CHECK((line & (line - 1)) == 0);
}

TEST_CASE("cache: every valid option flushes a buffer and keeps its data", "[cache]") {
  // as<> makes Catch store values: given the constants themselves it would
  // hold references to them.
  const uint32_t options =
      GENERATE(as<uint32_t>{}, kCacheFlushData, kCacheFlushData | kCacheFlushInvalidate,
               kCacheFlushInstruction, kCacheFlushData | kCacheFlushInstruction);
  INFO("options " << options);
  // Starts and ends mid-line and spans several pages.
  const size_t len = 3 * kPage + 100;
  const std::vector<std::byte> expected = Pattern(len + 64, 3);
  std::vector<std::byte> buffer = expected;
  REQUIRE_OK(CacheFlush(buffer.data() + 13, len, options));
  CHECK(buffer == expected);
  // The buffer stays usable: write after the flush and read back.
  buffer[20] = std::byte{0x5a};
  REQUIRE_OK(CacheFlush(buffer.data() + 20, 1, options));
  CHECK(buffer[20] == std::byte{0x5a});
}

TEST_CASE("cache: zero length is OK and touches nothing", "[cache]") {
  CHECK(CacheFlush(nullptr, 0, kCacheFlushData).has_value());
  CHECK(CacheFlush(nullptr, 0, kCacheFlushData | kCacheFlushInvalidate).has_value());
  CHECK(CacheFlush(nullptr, 0, kCacheFlushInstruction).has_value());
}

TEST_CASE("cache: invalid options are INVALID_ARGS", "[cache]") {
  std::array<std::byte, 64> buffer{};
  const uint32_t options = GENERATE(
      as<uint32_t>{}, 0u, kCacheFlushInvalidate, kCacheFlushInstruction | kCacheFlushInvalidate,
      kCacheFlushData | kCacheFlushInstruction | kCacheFlushInvalidate, 1u << 3,
      kCacheFlushData | (1u << 3), 0xffffffffu);
  INFO("options " << options);
  auto result = CacheFlush(buffer.data(), buffer.size(), options);
  REQUIRE_FALSE(result);
  CHECK(result.error().status == Status::INVALID_ARGS);
  CHECK(result.error().what.find("options") != std::string::npos);
}

TEST_CASE("cache: a range that wraps the address space is INVALID_ARGS", "[cache]") {
  std::array<std::byte, 64> buffer{};
  auto result = CacheFlush(buffer.data(), SIZE_MAX, kCacheFlushData);
  REQUIRE_FALSE(result);
  CHECK(result.error().status == Status::INVALID_ARGS);
  CHECK(result.error().what.find("wraps") != std::string::npos);
}

TEST_CASE("cache: code written at run time runs after an instruction flush", "[cache]") {
  CodePage page;
  REQUIRE(page.ok());
  CHECK(page.WriteSyncAndCall(ReturnConstantCode(42), 0) == 42);
  // Rewriting code that has already run: stale instructions would return 42.
  CHECK(page.WriteSyncAndCall(ReturnConstantCode(7), 0) == 7);
  // Code straddling a cache line boundary.
  const size_t line = DataCacheLineSize();
  CHECK(page.WriteSyncAndCall(ReturnConstantCode(99), line - 4) == 99);
}

// --- Vmo::OpRange ---

TEST_CASE("vmo op range: every cache op succeeds and keeps the data", "[cache]") {
  const VmoOp op = GENERATE(VmoOp::CACHE_SYNC, VmoOp::CACHE_INVALIDATE, VmoOp::CACHE_CLEAN,
                            VmoOp::CACHE_CLEAN_INVALIDATE);
  INFO("op " << static_cast<uint32_t>(op));
  auto vmo = Vmo::Create(4 * kPage, "dma buffer");
  REQUIRE_OK(vmo);
  const std::vector<std::byte> expected = Pattern(4 * kPage, 11);
  REQUIRE_OK(vmo->Write(expected, 0));
  REQUIRE_OK(vmo->OpRange(op, 0, 4 * kPage));      // whole VMO
  REQUIRE_OK(vmo->OpRange(op, kPage + 5, kPage));  // unaligned, across a page boundary
  REQUIRE_OK(vmo->OpRange(op, 4 * kPage - 1, 1));  // the last byte
  std::vector<std::byte> actual(4 * kPage);
  REQUIRE_OK(vmo->Read(actual, 0));
  CHECK(actual == expected);
}

TEST_CASE("vmo op range: CLEAN reaches a mapping the caller already has", "[cache]") {
  auto vmo = Vmo::Create(kPage, "shared");
  REQUIRE_OK(vmo);
  auto backing = vmo->GetBacking();
  REQUIRE_OK(backing);
  void* mapped = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, backing->fd, 0);
  REQUIRE(mapped != MAP_FAILED);
  std::memset(mapped, 0xa5, kPage);
  REQUIRE_OK(vmo->OpRange(VmoOp::CACHE_CLEAN, 0, kPage));
  REQUIRE_OK(vmo->OpRange(VmoOp::CACHE_CLEAN_INVALIDATE, 0, kPage));
  std::vector<std::byte> actual(kPage);
  REQUIRE_OK(vmo->Read(actual, 0));
  CHECK(actual == std::vector<std::byte>(kPage, std::byte{0xa5}));
  ::munmap(mapped, kPage);
}

TEST_CASE("vmo op range: rights follow Zircon", "[cache]") {
  auto vmo = Vmo::Create(kPage, "rights");
  REQUIRE_OK(vmo);
  SECTION("without READ only CACHE_INVALIDATE is allowed") {
    auto write_only = vmo->Duplicate(kRightWrite | kRightMap);
    REQUIRE_OK(write_only);
    for (VmoOp op : {VmoOp::CACHE_SYNC, VmoOp::CACHE_CLEAN, VmoOp::CACHE_CLEAN_INVALIDATE}) {
      auto result = write_only->OpRange(op, 0, kPage);
      REQUIRE_FALSE(result);
      CHECK(result.error().status == Status::ACCESS_DENIED);
      CHECK(result.error().what.find("READ") != std::string::npos);
    }
    CHECK(write_only->OpRange(VmoOp::CACHE_INVALIDATE, 0, kPage).has_value());
  }
  SECTION("without WRITE CACHE_INVALIDATE is ACCESS_DENIED, the others work") {
    auto read_only = vmo->Duplicate(kRightRead);
    REQUIRE_OK(read_only);
    auto result = read_only->OpRange(VmoOp::CACHE_INVALIDATE, 0, kPage);
    REQUIRE_FALSE(result);
    CHECK(result.error().status == Status::ACCESS_DENIED);
    CHECK(result.error().what.find("WRITE") != std::string::npos);
    for (VmoOp op : {VmoOp::CACHE_SYNC, VmoOp::CACHE_CLEAN, VmoOp::CACHE_CLEAN_INVALIDATE}) {
      CHECK(read_only->OpRange(op, 0, kPage).has_value());
    }
  }
  SECTION("an invalid handle is BAD_HANDLE") {
    Vmo invalid;
    CHECK(StatusOf(invalid.OpRange(VmoOp::CACHE_CLEAN, 0, kPage)) == "BAD_HANDLE");
  }
}

TEST_CASE("vmo op range: a write-only fd cannot be mapped to maintain it", "[cache]") {
  auto vmo = Vmo::Create(kPage, "write only");
  REQUIRE_OK(vmo);
  auto backing = vmo->GetBacking();
  REQUIRE_OK(backing);
  UniqueFd write_only_fd(::open(("/proc/self/fd/" + std::to_string(backing->fd)).c_str(),
                                O_WRONLY | O_CLOEXEC));
  REQUIRE(write_only_fd.is_valid());
  auto description = vmo->Describe();
  REQUIRE_OK(description);
  auto received = Vmo::FromDescription(std::move(write_only_fd), *description, kRightWrite);
  REQUIRE_OK(received);
  auto result = received->OpRange(VmoOp::CACHE_INVALIDATE, 0, kPage);
  REQUIRE_FALSE(result);
  CHECK(result.error().status == Status::ACCESS_DENIED);
  CHECK(result.error().what.find("mmap") != std::string::npos);
}

TEST_CASE("vmo op range: ranges, sizes and ops are checked", "[cache]") {
  auto vmo = Vmo::Create(2 * kPage, "range");
  REQUIRE_OK(vmo);
  CHECK(StatusOf(vmo->OpRange(VmoOp::CACHE_CLEAN, 2 * kPage, 1)) == "OUT_OF_RANGE");
  CHECK(StatusOf(vmo->OpRange(VmoOp::CACHE_CLEAN, kPage, kPage + 1)) == "OUT_OF_RANGE");
  CHECK(StatusOf(vmo->OpRange(VmoOp::CACHE_CLEAN, 3 * kPage, kPage)) == "OUT_OF_RANGE");
  CHECK(StatusOf(vmo->OpRange(VmoOp::CACHE_CLEAN, UINT64_MAX, 2)) == "OUT_OF_RANGE");
  CHECK(StatusOf(vmo->OpRange(VmoOp::CACHE_CLEAN, kPage, UINT64_MAX)) == "OUT_OF_RANGE");
  CHECK(StatusOf(vmo->OpRange(VmoOp::CACHE_CLEAN, 0, 0)) == "INVALID_ARGS");
  // ZX_VMO_OP_COMMIT and a value Zircon does not define.
  CHECK(StatusOf(vmo->OpRange(static_cast<VmoOp>(1), 0, kPage)) == "INVALID_ARGS");
  auto unknown = vmo->OpRange(static_cast<VmoOp>(42), 0, kPage);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().what.find("unknown op 42") != std::string::npos);
}

TEST_CASE("vmo op range: physical VMOs are NOT_SUPPORTED", "[cache]") {
  char path[] = "/tmp/udrv_cache_test_XXXXXX";
  UniqueFd fd(::mkstemp(path));
  REQUIRE(fd.is_valid());
  ::unlink(path);
  REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(kPage)) == 0);
  auto vmo = Vmo::CreatePhysical(std::move(fd), 0, kPage, PhysicalRoute::TEST_FILE, "bar0");
  REQUIRE_OK(vmo);
  auto result = vmo->OpRange(VmoOp::CACHE_CLEAN, 0, kPage);
  REQUIRE_FALSE(result);
  CHECK(result.error().status == Status::NOT_SUPPORTED);
  CHECK(result.error().what.find("device memory") != std::string::npos);
  CHECK(result.error().object == "vmo 'bar0'");
}

TEST_CASE("vmo op range: a contiguous VMO is maintained through its huge page", "[cache]") {
  auto vmo = Vmo::CreateContiguous(kPage, "contiguous dma");
  if (!vmo) {
    // No hugetlb pool with a free page on this machine; vmo_test covers that error.
    CHECK((vmo.error().status == Status::NO_RESOURCES ||
           vmo.error().status == Status::NOT_SUPPORTED));
    return;
  }
  auto size = vmo->GetSize();
  REQUIRE_OK(size);
  const std::vector<std::byte> expected = Pattern(kPage, 29);
  REQUIRE_OK(vmo->Write(expected, *size - kPage));
  REQUIRE_OK(vmo->OpRange(VmoOp::CACHE_CLEAN, *size - kPage, kPage));
  REQUIRE_OK(vmo->OpRange(VmoOp::CACHE_CLEAN_INVALIDATE, 0, *size));
  std::vector<std::byte> actual(kPage);
  REQUIRE_OK(vmo->Read(actual, *size - kPage));
  CHECK(actual == expected);
}

}  // namespace
}  // namespace udrv
