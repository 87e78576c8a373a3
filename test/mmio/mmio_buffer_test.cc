#include "udrv/mmio/mmio_buffer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.h"

namespace udrv::mmio {
namespace {

using testing::RunInChild;

std::string Hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// A paged VMO mapped through MmioBuffer::Create, and the VMO's own
// read/write calls (pread/pwrite on its memfd) as an independent view of
// what the accessors did.
struct MappedVmo {
  Vmar vmar;
  MmioBuffer mmio{MmioRange{}};

  explicit MappedVmo(uint64_t size, uint64_t offset = 0) {
    auto root = Vmar::Create(16 * PageSize(), "mmio-test");
    REQUIRE(root);
    vmar = std::move(*root);
    auto vmo = Vmo::Create(offset + size, "mmio-test");
    REQUIRE(vmo);
    auto buffer = MmioBuffer::Create(vmar, offset, size, std::move(*vmo), CachePolicy::CACHED);
    REQUIRE(buffer);
    mmio = std::move(*buffer);
  }

  const Vmo& vmo() const { return *mmio.get_vmo(); }

  template <typename T>
  T VmoValue(uint64_t vmo_offset) const {
    T value{};
    REQUIRE(vmo().Read(std::as_writable_bytes(std::span(&value, 1)), vmo_offset));
    return value;
  }
  template <typename T>
  void SetVmoValue(T value, uint64_t vmo_offset) const {
    REQUIRE(vmo().Write(std::as_bytes(std::span(&value, 1)), vmo_offset));
  }
};

TEST_CASE("accessors read and write exact widths at their offsets", "[mmio]") {
  MappedVmo mapped(PageSize());
  const MmioBuffer& mmio = mapped.mmio;

  mmio.Write64(0xffff'ffff'ffff'ffffu, 0x00);
  mmio.Write8(0x12, 0x01);
  CHECK(mapped.VmoValue<uint64_t>(0x00) == 0xffff'ffff'ffff'12ffu);
  mmio.Write16(0x3456, 0x02);
  CHECK(mapped.VmoValue<uint64_t>(0x00) == 0xffff'ffff'3456'12ffu);
  mmio.Write32(0x89ab'cdef, 0x04);
  CHECK(mapped.VmoValue<uint64_t>(0x00) == 0x89ab'cdef'3456'12ffu);

  CHECK(mmio.Read8(0x01) == 0x12);
  CHECK(mmio.Read16(0x02) == 0x3456);
  CHECK(mmio.Read32(0x04) == 0x89ab'cdef);
  CHECK(mmio.Read64(0x00) == 0x89ab'cdef'3456'12ffu);

  mapped.SetVmoValue<uint64_t>(0x0123'4567'89ab'cdefu, PageSize() - 8);
  CHECK(mmio.Read64(PageSize() - 8) == 0x0123'4567'89ab'cdefu);
  CHECK(mmio.Read32(PageSize() - 4) == 0x0123'4567u);
  CHECK(mmio.Read8(PageSize() - 1) == 0x01);
}

TEST_CASE("relaxed accessors reach the same memory", "[mmio]") {
  MappedVmo mapped(PageSize());
  const MmioBuffer& mmio = mapped.mmio;
  mmio.Write8Relaxed(0xa1, 0x10);
  mmio.Write16Relaxed(0xb2c3, 0x12);
  mmio.Write32Relaxed(0xd4e5f607, 0x14);
  mmio.Write64Relaxed(0x1122334455667788u, 0x18);
  CHECK(mapped.VmoValue<uint64_t>(0x10) == 0xd4e5f607'b2c3'00a1u);
  CHECK(mapped.VmoValue<uint64_t>(0x18) == 0x1122334455667788u);
  CHECK(mmio.Read8Relaxed(0x10) == 0xa1);
  CHECK(mmio.Read16Relaxed(0x12) == 0xb2c3);
  CHECK(mmio.Read32Relaxed(0x14) == 0xd4e5f607);
  CHECK(mmio.Read64Relaxed(0x18) == 0x1122334455667788u);
}

TEST_CASE("width-generic Read and Write pick the access by size", "[mmio]") {
  MappedVmo mapped(PageSize());
  const MmioBuffer& mmio = mapped.mmio;
  enum class Mode : uint16_t { A = 0x0102 };
  mmio.Write<uint64_t>(0, 0);
  mmio.Write(Mode::A, 0x2);
  mmio.Write<uint8_t>(0x7f, 0x1);
  CHECK(mapped.VmoValue<uint64_t>(0) == 0x0102'7f00u);
  CHECK(mmio.Read<Mode>(0x2) == Mode::A);
  CHECK(mmio.Read<int32_t>(0x0) == 0x01027f00);
}

TEST_CASE("bit helpers modify only the bits they name", "[mmio]") {
  MappedVmo mapped(PageSize());
  const MmioBuffer& mmio = mapped.mmio;

  mmio.Write32(0xf0f0'f0f0, 0x8);
  CHECK(mmio.ReadMasked32(0x0000'ffff, 0x8) == 0xf0f0);

  mmio.SetBits32(0x0000'000f, 0x8);
  CHECK(mapped.VmoValue<uint32_t>(0x8) == 0xf0f0'f0ff);
  mmio.ClearBits32(0xf000'0000, 0x8);
  CHECK(mapped.VmoValue<uint32_t>(0x8) == 0x00f0'f0ff);
  mmio.ModifyBits32(0x1234'5678, 0x00ff'ff00, 0x8);
  CHECK(mapped.VmoValue<uint32_t>(0x8) == 0x0034'56ff);
  mmio.ModifyBits32(0x5, 8, 4, 0x8);  // bits 11:8 = 5
  CHECK(mapped.VmoValue<uint32_t>(0x8) == 0x0034'55ff);
  mmio.ModifyBits32(0xff, 28, 4, 0x8);  // excess bits of the value dropped
  CHECK(mapped.VmoValue<uint32_t>(0x8) == 0xf034'55ff);

  CHECK(mmio.GetBits32(16, 8, 0x8) == 0x34);
  CHECK(mmio.GetBits32(0, 32, 0x8) == 0xf034'55ff);
  CHECK(mmio.GetBit32(31, 0x8) == 1);
  CHECK(mmio.GetBit32(8, 0x8) == 1);
  CHECK(mmio.GetBit32(9, 0x8) == 0);
  mmio.SetBit32(9, 0x8);
  CHECK(mapped.VmoValue<uint32_t>(0x8) == 0xf034'57ff);
  mmio.ClearBit32(31, 0x8);
  CHECK(mapped.VmoValue<uint32_t>(0x8) == 0x7034'57ff);

  // Other widths through the templates.
  mmio.Write8(0x81, 0x20);
  mmio.SetBits<uint8_t>(0x06, 0x20);
  mmio.ClearBit<uint8_t>(7, 0x20);
  CHECK(mmio.Read8(0x20) == 0x07);
  CHECK(mmio.GetBits<uint8_t>(1, 2, 0x20) == 0x3);
  mmio.Write16(0xffff, 0x22);
  mmio.ModifyBits<uint16_t>(0x0, 4, 8, 0x22);
  CHECK(mmio.Read16(0x22) == 0xf00f);
  CHECK(mmio.ReadMasked<uint16_t>(0x0ff0, 0x22) == 0x0000);
  mmio.Write64(0, 0x28);
  mmio.SetBit<uint64_t>(63, 0x28);
  mmio.ModifyBit<uint64_t>(true, 32, 0x28);
  CHECK(mapped.VmoValue<uint64_t>(0x28) == 0x8000'0001'0000'0000u);
  CHECK(mmio.GetBits<uint64_t>(0, 64, 0x28) == 0x8000'0001'0000'0000u);
  CHECK(mmio.GetBit<uint64_t>(32, 0x28) == 1);
  mmio.ClearBits<uint64_t>(0x8000'0000'0000'0000u, 0x28);
  CHECK(mmio.Read64(0x28) == 0x0000'0001'0000'0000u);
}

TEST_CASE("CopyFrom copies register by register between buffers", "[mmio]") {
  MappedVmo source(PageSize());
  MappedVmo dest(PageSize());
  for (uint32_t i = 0; i < 8; i++) source.mmio.Write32(0x1000'0000u + i, 0x40 + 4 * i);
  dest.mmio.CopyFrom32(source.mmio, 0x40, 0x100, 8);
  for (uint32_t i = 0; i < 8; i++)
    CHECK(dest.VmoValue<uint32_t>(0x100 + 4 * i) == 0x1000'0000u + i);
  CHECK(dest.VmoValue<uint32_t>(0x120) == 0);

  // From a view of the same buffer, 64 bits at a time.
  dest.mmio.CopyFrom<uint64_t>(dest.mmio.View(0x100, 0x20), 0x0, 0x200, 4);
  CHECK(dest.VmoValue<uint64_t>(0x218) == 0x1000'0007'1000'0006u);
}

TEST_CASE("ReadBuffer and WriteBuffer move bytes at any alignment", "[mmio]") {
  MappedVmo mapped(PageSize());
  std::vector<uint8_t> pattern(61);
  for (size_t i = 0; i < pattern.size(); i++) pattern[i] = static_cast<uint8_t>(0x80 + i);

  mapped.mmio.WriteBuffer(0x13, pattern.data(), pattern.size());
  std::vector<uint8_t> via_vmo(pattern.size() + 2);
  REQUIRE(mapped.vmo().Read(std::as_writable_bytes(std::span(via_vmo)), 0x12));
  CHECK(via_vmo.front() == 0);
  CHECK(via_vmo.back() == 0);
  CHECK(std::equal(pattern.begin(), pattern.end(), via_vmo.begin() + 1));

  std::vector<uint8_t> back(pattern.size());
  mapped.mmio.ReadBuffer(0x13, back.data(), back.size());
  CHECK(back == pattern);

  // Up to the last byte of the buffer.
  mapped.mmio.WriteBuffer(PageSize() - 3, pattern.data(), 3);
  CHECK(mapped.VmoValue<uint32_t>(PageSize() - 4) == 0x8281'8000u);
}

TEST_CASE("views offset into their parent and nest", "[mmio]") {
  MappedVmo mapped(2 * PageSize());
  const MmioBuffer& mmio = mapped.mmio;

  MmioView view = mmio.View(0x100, 0x80);
  CHECK(view.get_size() == 0x80);
  CHECK(view.get_offset() == 0x100);
  CHECK(static_cast<uint8_t*>(view.get()) == static_cast<uint8_t*>(mmio.get()) + 0x100);
  CHECK(view.get_vmo() == mmio.get_vmo());

  view.Write32(0xcafe'f00d, 0x10);
  CHECK(mapped.VmoValue<uint32_t>(0x110) == 0xcafe'f00d);
  CHECK(mmio.Read32(0x110) == 0xcafe'f00d);

  MmioView nested = view.View(0x10, 0x8);
  CHECK(nested.get_offset() == 0x110);
  CHECK(nested.get_size() == 0x8);
  CHECK(nested.Read32(0) == 0xcafe'f00d);
  nested.SetBits32(0xf, 0x4);
  CHECK(mapped.VmoValue<uint32_t>(0x114) == 0xf);

  MmioView to_end = mmio.View(PageSize());
  CHECK(to_end.get_size() == PageSize());
  CHECK(to_end.get_offset() == PageSize());

  MmioView copy = nested;
  CHECK(copy.Read32(0) == 0xcafe'f00d);
  copy = to_end;
  CHECK(copy.get_offset() == PageSize());
}

TEST_CASE("a view keeps working and naming the VMO after its buffer moves", "[mmio]") {
  MappedVmo mapped(PageSize());
  MmioView view = mapped.mmio.View(0x20, 0x20);
  const Vmo* vmo = mapped.mmio.get_vmo();
  MmioBuffer moved = std::move(mapped.mmio);
  CHECK(moved.get_vmo() == vmo);
  CHECK(view.get_vmo() == vmo);
  view.Write32(0x55, 0x0);
  CHECK(moved.Read32(0x20) == 0x55);
  // The moved-from buffer is empty: every access is out of range.
  CHECK(mapped.mmio.get_size() == 0);
  CHECK(mapped.mmio.get_vmo() == nullptr);
  CHECK(mapped.mmio.TryRead32(0).error().status == Status::OUT_OF_RANGE);
}

TEST_CASE("checked accessors refuse out-of-range and misaligned accesses", "[mmio]") {
  MappedVmo mapped(0x40);
  const MmioBuffer& mmio = mapped.mmio;

  REQUIRE(mmio.TryWrite32(0x1234, 0x3c));
  auto value = mmio.TryRead32(0x3c);
  REQUIRE(value);
  CHECK(*value == 0x1234);
  CHECK(mmio.TryRead8(0x3f).value() == 0);
  CHECK(mmio.TryRead16(0x3e).value() == 0);
  CHECK(mmio.TryRead64(0x38).value() == 0x1234'0000'0000u);
  REQUIRE(mmio.TryWrite8(1, 0x3f));
  REQUIRE(mmio.TryWrite16(1, 0x3e));
  REQUIRE(mmio.TryWrite64(1, 0x38));

  auto past = mmio.TryRead32(0x40);
  REQUIRE_FALSE(past);
  CHECK(past.error().status == Status::OUT_OF_RANGE);
  CHECK(past.error().what == "TryRead32 of 4 bytes at offset 0x40: outside the buffer");
  CHECK(past.error().object == "mmio buffer of 0x40 bytes at vmo offset 0x0");
  CHECK(mmio.TryRead64(0x3c).error().status == Status::OUT_OF_RANGE);  // straddles the end
  CHECK(mmio.TryRead64(~uint64_t{0} - 3).error().status == Status::OUT_OF_RANGE);  // wraps
  CHECK(mmio.TryWrite8(0, 0x40).error().status == Status::OUT_OF_RANGE);
  CHECK(mmio.TryWrite16(0, 0x40).error().status == Status::OUT_OF_RANGE);
  CHECK(mmio.TryWrite32(0, 0x40).error().status == Status::OUT_OF_RANGE);
  CHECK(mmio.TryWrite64(0, 0x40).error().status == Status::OUT_OF_RANGE);
  CHECK(mmio.TryRead8(0x40).error().status == Status::OUT_OF_RANGE);
  CHECK(mmio.TryRead16(0x40).error().status == Status::OUT_OF_RANGE);

  auto misaligned = mmio.TryWrite32(0, 0x2);
  REQUIRE_FALSE(misaligned);
  CHECK(misaligned.error().status == Status::INVALID_ARGS);
  CHECK(misaligned.error().what == "TryWrite32 at offset 0x2: not 4-byte aligned");
  CHECK(mmio.TryRead16(0x1).error().status == Status::INVALID_ARGS);
  CHECK(mmio.TryRead64(0x4).error().status == Status::INVALID_ARGS);
  CHECK(mmio.TryWrite16(0, 0x1).error().status == Status::INVALID_ARGS);
  CHECK(mmio.TryWrite64(0, 0x4).error().status == Status::INVALID_ARGS);
  CHECK(mmio.TryRead32(0x2).error().status == Status::INVALID_ARGS);

  std::array<uint8_t, 8> bytes{};
  CHECK(mmio.TryReadBuffer(0x38, bytes.data(), 8));
  CHECK(mmio.TryWriteBuffer(0x39, bytes.data(), 7));
  auto block = mmio.TryReadBuffer(0x39, bytes.data(), 8);
  REQUIRE_FALSE(block);
  CHECK(block.error().status == Status::OUT_OF_RANGE);
  CHECK(block.error().what == "TryReadBuffer of 8 bytes at offset 0x39: outside the buffer");
  CHECK(mmio.TryWriteBuffer(0x41, bytes.data(), 0).error().status == Status::OUT_OF_RANGE);
}

TEST_CASE("TryView refuses windows outside the buffer", "[mmio]") {
  MappedVmo mapped(0x100);
  const MmioBuffer& mmio = mapped.mmio;
  REQUIRE(mmio.TryView(0xff));
  REQUIRE(mmio.TryView(0x80, 0x80));
  CHECK(mmio.TryView(0x80, 0x80)->get_offset() == 0x80);
  CHECK(mmio.TryView(0xc0)->get_size() == 0x40);

  auto at_end = mmio.TryView(0x100);
  REQUIRE_FALSE(at_end);
  CHECK(at_end.error().status == Status::OUT_OF_RANGE);
  CHECK(at_end.error().what == "view at offset 0x100: not inside the buffer");
  auto too_long = mmio.TryView(0x80, 0x81);
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().status == Status::OUT_OF_RANGE);
  CHECK(too_long.error().what == "view [0x80, +0x81): not inside the buffer");
  CHECK(mmio.TryView(1, ~size_t{0}).error().status == Status::OUT_OF_RANGE);

  // A view's own bounds hold for its accessors.
  MmioView view = mmio.View(0x80, 0x10);
  CHECK(view.TryRead32(0x10).error().status == Status::OUT_OF_RANGE);
  CHECK(view.TryView(0x8, 0x10).error().status == Status::OUT_OF_RANGE);
}

TEST_CASE("plain accessors abort on an out-of-range or misaligned access", "[mmio]") {
  MappedVmo mapped(0x40);
  const MmioBuffer& mmio = mapped.mmio;

  auto write_past = RunInChild([&] { mmio.Write32(1, 0x40); });
  CHECK(write_past.signaled);
  CHECK(write_past.signal == SIGABRT);
  CHECK_THAT(write_past.stderr_text,
             Catch::Contains("udrv mmio: Write32 of 4 bytes at offset 0x40 outside buffer of 0x40 "
                             "bytes (vmo offset 0x0)"));

  auto straddle = RunInChild([&] { (void)mmio.Read64(0x3c); });
  CHECK(straddle.signal == SIGABRT);
  CHECK_THAT(straddle.stderr_text, Catch::Contains("Read64 of 8 bytes at offset 0x3c outside"));

  auto misaligned = RunInChild([&] { (void)mmio.Read16Relaxed(0x3); });
  CHECK(misaligned.signal == SIGABRT);
  CHECK_THAT(misaligned.stderr_text,
             Catch::Contains("udrv mmio: Read16Relaxed at offset 0x3 is not 2-byte aligned"));

  auto view = RunInChild([&] { (void)mmio.View(0x20, 0x21); });
  CHECK(view.signal == SIGABRT);
  CHECK_THAT(view.stderr_text,
             Catch::Contains("udrv mmio: View [0x20, +0x21) outside buffer of 0x40 bytes"));
  auto view_at_end = RunInChild([&] { (void)mmio.View(0x40); });
  CHECK(view_at_end.signal == SIGABRT);

  auto block = RunInChild([&] {
    uint8_t bytes[4] = {};
    mmio.WriteBuffer(0x3d, bytes, sizeof(bytes));
  });
  CHECK(block.signal == SIGABRT);
  CHECK_THAT(block.stderr_text, Catch::Contains("WriteBuffer of 4 bytes at offset 0x3d outside"));

  auto bits = RunInChild([&] { (void)mmio.GetBits32(30, 4, 0x0); });
  CHECK(bits.signal == SIGABRT);
  CHECK_THAT(bits.stderr_text,
             Catch::Contains("udrv mmio: GetBits of 4 bits from bit 30 outside a 32-bit register"));
  auto bit = RunInChild([&] { mmio.SetBit<uint8_t>(8, 0x0); });
  CHECK(bit.signal == SIGABRT);

  // And an access that fits exits normally.
  auto fine = RunInChild([&] { mmio.Write32(1, 0x3c); });
  CHECK_FALSE(fine.signaled);
  CHECK(fine.exit_code == 0);
}

TEST_CASE("Create maps an offset that is not page aligned", "[mmio]") {
  auto vmar = Vmar::Create(16 * PageSize(), "mmio-test");
  REQUIRE(vmar);
  auto vmo = Vmo::Create(3 * PageSize(), "unaligned");
  REQUIRE(vmo);
  const uint64_t offset = PageSize() + 0x34;
  const uint32_t marker = 0x600d'cafe;
  REQUIRE(vmo->Write(std::as_bytes(std::span(&marker, 1)), offset + 0x8));

  // The window crosses into the third page.
  const size_t size = PageSize();
  auto mmio = MmioBuffer::Create(*vmar, offset, size, std::move(*vmo), CachePolicy::CACHED);
  REQUIRE(mmio);
  CHECK(mmio->get_offset() == offset);
  CHECK(mmio->get_size() == size);
  CHECK(reinterpret_cast<uintptr_t>(mmio->get()) % PageSize() == 0x34);
  CHECK(mmio->Read32(0x8) == marker);
  mmio->Write32(0x1234'5678, size - 4);
  uint32_t last = 0;
  REQUIRE(mmio->get_vmo()->Read(std::as_writable_bytes(std::span(&last, 1)), offset + size - 4));
  CHECK(last == 0x1234'5678);
  // Offsets stay relative to the buffer, alignment to the address.
  CHECK(mmio->TryRead32(0x2).error().status == Status::INVALID_ARGS);
}

TEST_CASE("Create refuses bad sizes and unsupported cache policies", "[mmio]") {
  auto vmar = Vmar::Create(16 * PageSize(), "mmio-test");
  REQUIRE(vmar);

  SECTION("a paged VMO cannot be uncached") {
    auto vmo = Vmo::Create(PageSize(), "paged");
    REQUIRE(vmo);
    auto mmio = MmioBuffer::Create(*vmar, 0, PageSize(), std::move(*vmo), CachePolicy::UNCACHED);
    REQUIRE_FALSE(mmio);
    CHECK(mmio.error().status == Status::NOT_SUPPORTED);
    CHECK_THAT(mmio.error().what, Catch::StartsWith("create mmio buffer [0x0, +" + Hex(PageSize()) +
                                                    "): set cache policy UNCACHED: "));
  }
  SECTION("size 0") {
    auto vmo = Vmo::Create(PageSize(), "paged");
    REQUIRE(vmo);
    auto mmio = MmioBuffer::Create(*vmar, 0, 0, std::move(*vmo), CachePolicy::CACHED);
    REQUIRE_FALSE(mmio);
    CHECK(mmio.error().status == Status::INVALID_ARGS);
    CHECK(mmio.error().what == "create mmio buffer [0x0, +0x0): size is 0");
  }
  SECTION("past the end of the VMO") {
    auto vmo = Vmo::Create(PageSize(), "paged");
    REQUIRE(vmo);
    auto mmio = MmioBuffer::Create(*vmar, 0x10, PageSize(), std::move(*vmo), CachePolicy::CACHED);
    REQUIRE_FALSE(mmio);
    CHECK(mmio.error().status == Status::OUT_OF_RANGE);
    CHECK_THAT(mmio.error().what,
               Catch::EndsWith("past the end of the vmo of " + Hex(PageSize()) + " bytes"));
    auto wrap = Vmo::Create(PageSize(), "paged");
    REQUIRE(wrap);
    CHECK(MmioBuffer::Create(*vmar, ~uint64_t{0}, 2, std::move(*wrap), CachePolicy::CACHED)
              .error()
              .status == Status::OUT_OF_RANGE);
  }
  SECTION("an invalid VMO handle") {
    auto mmio = MmioBuffer::Create(*vmar, 0, 0x10, Vmo(), CachePolicy::CACHED);
    REQUIRE_FALSE(mmio);
    CHECK(mmio.error().status == Status::BAD_HANDLE);
  }
  SECTION("an invalid VMAR handle") {
    auto vmo = Vmo::Create(PageSize(), "paged");
    REQUIRE(vmo);
    auto mmio = MmioBuffer::Create(Vmar(), 0, 0x10, std::move(*vmo), CachePolicy::CACHED);
    REQUIRE_FALSE(mmio);
    CHECK(mmio.error().status == Status::BAD_HANDLE);
  }
  SECTION("a destroyed VMAR") {
    REQUIRE(vmar->Destroy());
    auto vmo = Vmo::Create(PageSize(), "paged");
    REQUIRE(vmo);
    auto mmio = MmioBuffer::Create(*vmar, 0, 0x10, std::move(*vmo), CachePolicy::CACHED);
    REQUIRE_FALSE(mmio);
    CHECK(mmio.error().status == Status::BAD_STATE);
  }
}

TEST_CASE("Create on a physical VMO reaches its backing and honours only its route", "[mmio]") {
  char path[] = "/tmp/udrv-mmio-test-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::unlink(path);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(2 * PageSize())) == 0);
  const int fd_for_check = ::dup(fd);
  auto vmar = Vmar::Create(16 * PageSize(), "mmio-test");
  REQUIRE(vmar);

  SECTION("its own policy maps, and writes land in the file") {
    auto vmo =
        Vmo::CreatePhysical(UniqueFd(fd), 0, 2 * PageSize(), PhysicalRoute::TEST_FILE, "bar0");
    REQUIRE(vmo);
    auto mmio = MmioBuffer::Create(*vmar, PageSize(), 0x100, std::move(*vmo), CachePolicy::CACHED);
    REQUIRE(mmio);
    mmio->Write32(0xfeed'beef, 0x80);
    uint32_t in_file = 0;
    REQUIRE(::pread(fd_for_check, &in_file, sizeof(in_file),
                    static_cast<off_t>(PageSize() + 0x80)) == sizeof(in_file));
    CHECK(in_file == 0xfeed'beef);
  }
  SECTION("another policy is NOT_SUPPORTED") {
    auto vmo =
        Vmo::CreatePhysical(UniqueFd(fd), 0, 2 * PageSize(), PhysicalRoute::TEST_FILE, "bar0");
    REQUIRE(vmo);
    auto mmio = MmioBuffer::Create(*vmar, 0, 0x100, std::move(*vmo), CachePolicy::UNCACHED_DEVICE);
    REQUIRE_FALSE(mmio);
    CHECK(mmio.error().status == Status::NOT_SUPPORTED);
  }
  ::close(fd_for_check);
}

TEST_CASE("a buffer unmaps and frees its range when destroyed", "[mmio]") {
  auto vmar = Vmar::Create(PageSize(), "one-page");
  REQUIRE(vmar);
  auto make = [&] {
    auto vmo = Vmo::Create(PageSize(), "page");
    REQUIRE(vmo);
    return MmioBuffer::Create(*vmar, 0, PageSize(), std::move(*vmo), CachePolicy::CACHED);
  };
  auto first = make();
  REQUIRE(first);
  auto second = make();
  REQUIRE_FALSE(second);
  CHECK(second.error().status == Status::NO_RESOURCES);

  // Move assignment releases the mapping it replaces.
  *first = MmioBuffer(MmioRange{});
  auto third = make();
  REQUIRE(third);
  third->Write32(7, 0);
  CHECK(third->Read32(0) == 7);
  { MmioBuffer gone = std::move(*third); }
  REQUIRE(make());
}

TEST_CASE("a buffer over caller memory uses the arch accessors directly", "[mmio]") {
  alignas(8) std::array<uint8_t, 32> memory{};
  MmioBuffer mmio(MmioRange{reinterpret_cast<uintptr_t>(memory.data()), 0, memory.size()});
  CHECK(mmio.get() == memory.data());
  CHECK(mmio.get_vmo() == nullptr);
  mmio.Write16(0xbeef, 0x6);
  CHECK(memory[6] == 0xef);
  CHECK(memory[7] == 0xbe);
  CHECK(memory[5] == 0);
  CHECK(memory[8] == 0);
  CHECK(mmio.Read16(0x6) == 0xbeef);
}

}  // namespace
}  // namespace udrv::mmio
