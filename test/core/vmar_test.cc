#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "result_helpers.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"

namespace udrv {
namespace {

const uint64_t kPage = PageSize();
constexpr VmOptions kRW = kVmPermRead | kVmPermWrite;

// The permissions column of /proc/self/maps ("rw-s", "---p") for the
// mapping that holds `addr`, or "" where nothing is mapped.
std::string MapsPerms(uintptr_t addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    uintptr_t start = 0;
    uintptr_t end = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " %4s", &start, &end, perms) != 3)
      continue;
    if (addr >= start && addr < end) return perms;
  }
  return "";
}

// Runs `fn` in a forked child; the signal that killed it, or 0 if it exited.
int SignalInChild(const std::function<void()>& fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Catch2's fatal-signal handler would report the fault as a failure of
    // the child's copy of the test run; let the signal kill the child.
    ::signal(SIGSEGV, SIG_DFL);
    ::signal(SIGBUS, SIG_DFL);
    fn();
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

volatile uint8_t* Ptr(uintptr_t addr) { return reinterpret_cast<volatile uint8_t*>(addr); }

// A paged VMO whose page i holds 'A' + i in every byte.
Vmo PatternVmo(uint64_t pages, std::string name = "pattern") {
  auto vmo = Vmo::Create(pages * kPage, std::move(name));
  REQUIRE(vmo);
  for (uint64_t i = 0; i < pages; ++i) {
    std::vector<std::byte> page(kPage, std::byte(static_cast<uint8_t>('A' + i)));
    REQUIRE(vmo->Write(page, i * kPage));
  }
  return std::move(*vmo);
}

Vmar NewVmar(uint64_t pages, std::string name = "root") {
  auto vmar = Vmar::Create(pages * kPage, std::move(name));
  REQUIRE(vmar);
  return std::move(*vmar);
}

uintptr_t Base(const Vmar& vmar) { return vmar.GetBase().value(); }

// --- reservation ---

TEST_CASE("vmar: create reserves an inaccessible range") {
  auto vmar = NewVmar(8);
  const uintptr_t base = Base(vmar);
  CHECK(base % kPage == 0);
  CHECK(vmar.GetSize().value() == 8 * kPage);
  CHECK(vmar.rights() == kDefaultVmarRights);
  CHECK(MapsPerms(base) == "---p");
  CHECK(MapsPerms(base + 8 * kPage - 1) == "---p");
  CHECK(SignalInChild([&] { (void)*Ptr(base); }) == SIGSEGV);
}

TEST_CASE("vmar: create rounds up to pages; zero is INVALID_ARGS") {
  auto vmar = Vmar::Create(1, "tiny");
  REQUIRE(vmar);
  CHECK(vmar->GetSize().value() == kPage);
  auto empty = Vmar::Create(0, "empty");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().status == Status::INVALID_ARGS);
  CHECK(empty.error().object == "vmar 'empty'");
}

TEST_CASE("vmar: releasing the root unmaps the whole reservation") {
  auto vmo = PatternVmo(1);
  auto vmar = NewVmar(16);
  const uintptr_t base = Base(vmar);
  REQUIRE(vmar.Map(kRW, 0, vmo, 0, kPage));
  vmar.reset();
  CHECK(MapsPerms(base) == "");
  CHECK(MapsPerms(base + 15 * kPage) == "");
}

TEST_CASE("vmar: a sub-VMAR handle keeps the reservation") {
  auto vmo = PatternVmo(1);
  auto root = NewVmar(16);
  const uintptr_t base = Base(root);
  auto child = root.Allocate(kVmCanMapRead | kVmCanMapWrite, 0, 4 * kPage);
  REQUIRE(child);
  auto addr = child->first.Map(kRW, 0, vmo, 0, kPage);
  REQUIRE(addr);
  root.reset();
  CHECK(*Ptr(*addr) == 'A');
  CHECK(MapsPerms(base) != "");
  child->first.reset();
  CHECK(MapsPerms(base) == "");
  CHECK(MapsPerms(*addr) == "");
}

TEST_CASE("vmar: Describe names the region and its base") {
  auto vmar = NewVmar(1, "drv");
  auto denied = vmar.Duplicate(kRightInspect).value().Destroy();
  REQUIRE_FALSE(denied);
  char expected[64];
  std::snprintf(expected, sizeof(expected), "vmar 'drv' @0x%" PRIxPTR, Base(vmar));
  CHECK(denied.error().object == expected);
}

// --- map ---

TEST_CASE("vmar: mapped memory is the VMO's") {
  auto vmo = PatternVmo(2);
  auto vmar = NewVmar(4);
  auto addr = vmar.Map(kRW, 0, vmo, 0, 2 * kPage);
  REQUIRE(addr);
  CHECK(*addr == Base(vmar));
  CHECK(MapsPerms(*addr) == "rw-s");
  CHECK(*Ptr(*addr) == 'A');
  CHECK(*Ptr(*addr + kPage) == 'B');
  // Stores through the mapping show in Vmo::Read, and Vmo::Write in the mapping.
  std::memcpy(reinterpret_cast<void*>(*addr + 10), "mmio", 4);
  std::vector<std::byte> back(4);
  REQUIRE(vmo.Read(back, 10));
  CHECK(std::memcmp(back.data(), "mmio", 4) == 0);
  const std::byte z{'z'};
  REQUIRE(vmo.Write(std::span(&z, 1), kPage + 5));
  CHECK(*Ptr(*addr + kPage + 5) == 'z');
}

TEST_CASE("vmar: map with a VMO offset") {
  auto vmo = PatternVmo(3);
  auto vmar = NewVmar(4);
  auto addr = vmar.Map(kVmPermRead, 0, vmo, 2 * kPage, kPage);
  REQUIRE(addr);
  CHECK(*Ptr(*addr) == 'C');
  CHECK(MapsPerms(*addr) == "r--s");
}

TEST_CASE("vmar: map read+execute needs an EXECUTE handle") {
  auto vmo = PatternVmo(1);
  auto vmar = NewVmar(1);
  // Default VMO rights lack EXECUTE, as Fuchsia's do.
  auto denied = vmar.Map(kVmPermRead | kVmPermExecute, 0, vmo, 0, kPage);
  REQUIRE_FALSE(denied);
  CHECK(denied.error().what == "map: handle lacks EXECUTE");
  auto executable =
      Vmo::FromDescription(UniqueFd(::fcntl(vmo.GetBacking()->fd, F_DUPFD_CLOEXEC, 0)),
                           vmo.Describe().value(), kDefaultVmoRights | kRightExecute);
  REQUIRE(executable);
  auto addr = vmar.Map(kVmPermRead | kVmPermExecute, 0, *executable, 0, kPage);
  REQUIRE(addr);
  CHECK(MapsPerms(*addr) == "r-xs");
}

TEST_CASE("vmar: physical VMO maps its file's window") {
  char path[] = "/tmp/udrv_vmar_test_XXXXXX";
  UniqueFd fd(::mkstemp(path));
  REQUIRE(fd.is_valid());
  ::unlink(path);
  for (uint64_t i = 0; i < 3; ++i) {
    const std::string page(kPage, static_cast<char>('a' + i));
    REQUIRE(::pwrite(fd.get(), page.data(), page.size(), static_cast<off_t>(i * kPage)) ==
            static_cast<ssize_t>(kPage));
  }
  auto bar = Vmo::CreatePhysical(std::move(fd), kPage, 2 * kPage, PhysicalRoute::TEST_FILE, "bar0");
  REQUIRE(bar);
  auto vmar = NewVmar(4);
  auto addr = vmar.Map(kRW, 0, *bar, kPage, kPage);
  REQUIRE(addr);
  CHECK(*Ptr(*addr) == 'c');  // file page 2 = VMO page 1
  *Ptr(*addr) = 'X';
  char back = 0;
  REQUIRE(::pread(bar->GetBacking()->fd, &back, 1, static_cast<off_t>(2 * kPage)) == 1);
  CHECK(back == 'X');
}

TEST_CASE("vmar: map option errors") {
  auto vmo = PatternVmo(2);
  auto vmar = NewVmar(4);
  auto status = [&](VmOptions options, uint64_t vmar_offset, uint64_t vmo_offset, uint64_t len) {
    auto result = vmar.Map(options, vmar_offset, vmo, vmo_offset, len);
    return result ? Status::OK : result.error().status;
  };
  auto write_only = vmar.Map(kVmPermWrite, 0, vmo, 0, kPage);
  REQUIRE_FALSE(write_only);
  CHECK(write_only.error().status == Status::INVALID_ARGS);
  CHECK(write_only.error().what == "map: WRITE without READ");
  CHECK(status(kVmPermRead | (1u << 20), 0, 0, kPage) == Status::INVALID_ARGS);
  CHECK(status(kVmPermRead | kVmCanMapRead, 0, 0, kPage) == Status::INVALID_ARGS);
  CHECK(status(kVmPermRead, 0, 0, 0) == Status::INVALID_ARGS);
  CHECK(status(kVmPermRead, 0, 1, kPage) == Status::INVALID_ARGS);
  CHECK(status(kVmPermRead | kVmSpecific, kPage / 2, 0, kPage) == Status::INVALID_ARGS);
  CHECK(status(kVmPermRead, kPage, 0, kPage) == Status::INVALID_ARGS);  // offset without SPECIFIC
  CHECK(status(kVmPermRead | kVmSpecific, 3 * kPage, 0, 2 * kPage) == Status::INVALID_ARGS);
  CHECK(status(kVmPermRead, 0, kPage, 2 * kPage) == Status::OUT_OF_RANGE);
  CHECK(status(kVmPermRead, 0, 0, 2 * kPage + 1) == Status::OUT_OF_RANGE);
  CHECK(status(kVmPermRead, 0, 4 * kPage, kPage) == Status::OUT_OF_RANGE);
  CHECK(status(kVmPermRead, 0, 0, UINT64_MAX) == Status::INVALID_ARGS);
}

TEST_CASE("vmar: map rounds the length up to a page") {
  auto vmo = PatternVmo(2);
  auto vmar = NewVmar(4);
  auto first = vmar.Map(kVmPermRead, 0, vmo, 0, 1);
  REQUIRE(first);
  CHECK(*Ptr(*first + kPage - 1) == 'A');
  auto second = vmar.Map(kVmPermRead, 0, vmo, 0, 1);
  REQUIRE(second);
  CHECK(*second == *first + kPage);
}

TEST_CASE("vmar: map needs MAP and matching rights on the VMO") {
  auto vmo = PatternVmo(1, "regs");
  auto vmar = NewVmar(2);
  auto no_map = vmo.Duplicate(kDefaultVmoRights & ~kRightMap).value();
  auto denied = vmar.Map(kVmPermRead, 0, no_map, 0, kPage);
  REQUIRE_FALSE(denied);
  CHECK(denied.error().status == Status::ACCESS_DENIED);
  CHECK(denied.error().what == "map: handle lacks MAP");
  CHECK(denied.error().object == "vmo 'regs'");
  auto read_only = vmo.Duplicate(kRightRead | kRightMap).value();
  CHECK(vmar.Map(kRW, 0, read_only, 0, kPage).error().status == Status::ACCESS_DENIED);
  CHECK(vmar.Map(kVmPermRead | kVmPermExecute, 0, read_only, 0, kPage).error().status ==
        Status::ACCESS_DENIED);
  CHECK(vmar.Map(kVmPermRead, 0, read_only, 0, kPage));
}

TEST_CASE("vmar: map needs matching rights on the VMAR") {
  auto vmo = PatternVmo(1);
  auto vmar = NewVmar(2);
  auto read_only = vmar.Duplicate(kDefaultVmarRights & ~kRightWrite).value();
  auto denied = read_only.Map(kRW, 0, vmo, 0, kPage);
  REQUIRE_FALSE(denied);
  CHECK(denied.error().status == Status::ACCESS_DENIED);
  CHECK(denied.error().what == "map: handle lacks WRITE");
  CHECK(read_only.Map(kVmPermRead, 0, vmo, 0, kPage));
}

TEST_CASE("vmar: SPECIFIC overlap is ALREADY_EXISTS") {
  auto vmo = PatternVmo(2);
  auto vmar = NewVmar(4);
  REQUIRE(vmar.Map(kVmPermRead | kVmSpecific, kPage, vmo, 0, 2 * kPage));
  for (uint64_t offset = 0; offset < 3; ++offset) {
    auto clash = vmar.Map(kVmPermRead | kVmSpecific, offset * kPage, vmo, 0, 2 * kPage);
    REQUIRE_FALSE(clash);
    CHECK(clash.error().status == Status::ALREADY_EXISTS);
  }
  CHECK(vmar.Map(kVmPermRead | kVmSpecific, 3 * kPage, vmo, 0, kPage));
  CHECK(vmar.Map(kVmPermRead | kVmSpecific, 0, vmo, 0, kPage));
}

TEST_CASE("vmar: SPECIFIC_OVERWRITE replaces what was there") {
  auto a = PatternVmo(3, "a");
  auto b = PatternVmo(2, "b");
  auto vmar = NewVmar(4);
  const uintptr_t base = Base(vmar);
  REQUIRE(vmar.Map(kRW | kVmSpecific, 0, a, 0, 3 * kPage));
  auto addr = vmar.Map(kVmPermRead | kVmSpecificOverwrite, kPage, b, kPage, kPage);
  REQUIRE(addr);
  CHECK(*addr == base + kPage);
  CHECK(*Ptr(base) == 'A');
  CHECK(*Ptr(base + kPage) == 'B');  // b's second page
  CHECK(*Ptr(base + 2 * kPage) == 'C');
  CHECK(MapsPerms(base + kPage) == "r--s");
  CHECK(MapsPerms(base + 2 * kPage) == "rw-s");
  // a is still mapped twice (pages 0 and 2), b once.
  REQUIRE(vmar.Unmap(base, kPage));
  CHECK(a.SetCachePolicy(CachePolicy::CACHED).error().status == Status::BAD_STATE);
  REQUIRE(vmar.Unmap(base + 2 * kPage, kPage));
  CHECK(a.SetCachePolicy(CachePolicy::CACHED));
  CHECK(b.SetCachePolicy(CachePolicy::CACHED).error().status == Status::BAD_STATE);
}

TEST_CASE("vmar: first fit packs mappings and reuses holes") {
  auto vmo = PatternVmo(2);
  auto vmar = NewVmar(4);
  const uintptr_t base = Base(vmar);
  CHECK(vmar.Map(kVmPermRead, 0, vmo, 0, kPage).value() == base);
  CHECK(vmar.Map(kVmPermRead, 0, vmo, 0, kPage).value() == base + kPage);
  CHECK(vmar.Map(kVmPermRead, 0, vmo, 0, kPage).value() == base + 2 * kPage);
  REQUIRE(vmar.Unmap(base + kPage, kPage));
  // Free now: page 1 and page 3, one page each.
  auto too_big = vmar.Map(kVmPermRead, 0, vmo, 0, 2 * kPage);
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error().status == Status::NO_RESOURCES);
  CHECK(vmar.Map(kVmPermRead, 0, vmo, 0, kPage).value() == base + kPage);
  CHECK(vmar.Map(kVmPermRead, 0, vmo, 0, kPage).value() == base + 3 * kPage);
  CHECK(vmar.Map(kVmPermRead, 0, vmo, 0, kPage).error().status == Status::NO_RESOURCES);
}

// Pages of [addr, addr+len) that are resident.
long Resident(uintptr_t addr, uint64_t len) {
  std::vector<unsigned char> resident(len / kPage);
  REQUIRE(::mincore(reinterpret_cast<void*>(addr), len, resident.data()) == 0);
  return std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; });
}

// Whether plain mmap(MAP_POPULATE) populates here: qemu-user drops the flag.
bool MapPopulateWorks() {
  UniqueFd fd(::memfd_create("populate-probe", MFD_CLOEXEC));
  REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(kPage)) == 0);
  void* p = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  REQUIRE(p != MAP_FAILED);
  const bool populated = Resident(reinterpret_cast<uintptr_t>(p), kPage) == 1;
  ::munmap(p, kPage);
  return populated;
}

TEST_CASE("vmar: MAP_RANGE populates the mapping now") {
  auto vmar = NewVmar(8);
  auto lazy_vmo = Vmo::Create(4 * kPage).value();
  auto lazy = vmar.Map(kRW, 0, lazy_vmo, 0, 4 * kPage);
  REQUIRE(lazy);
  CHECK(Resident(*lazy, 4 * kPage) == 0);

  auto eager_vmo = Vmo::Create(4 * kPage).value();
  auto eager = vmar.Map(kRW | kVmMapRange, 0, eager_vmo, 0, 4 * kPage);
  REQUIRE(eager);
  if (!MapPopulateWorks()) {
    WARN("mmap(MAP_POPULATE) does not populate on this system (qemu-user?)");
    return;
  }
  CHECK(Resident(*eager, 4 * kPage) == 4);
}

TEST_CASE("vmar: a mapping keeps its VMO alive") {
  auto vmo = PatternVmo(1);
  auto vmar = NewVmar(1);
  auto addr = vmar.Map(kRW, 0, vmo, 0, kPage);
  REQUIRE(addr);
  const int fd = vmo.GetBacking()->fd;
  vmo.reset();
  CHECK(::fcntl(fd, F_GETFD) != -1);  // the VMO object, and its memfd, live on
  *Ptr(*addr) = 'q';
  CHECK(*Ptr(*addr) == 'q');
  REQUIRE(vmar.Unmap(*addr, kPage));
  CHECK(::fcntl(fd, F_GETFD) == -1);  // the last mapping took it with it
  CHECK(errno == EBADF);
}

// --- unmap ---

TEST_CASE("vmar: unmap splits a mapping and keeps the hole reserved") {
  auto vmo = PatternVmo(4);
  auto vmar = NewVmar(4);
  const uintptr_t base = vmar.Map(kRW, 0, vmo, 0, 4 * kPage).value();
  REQUIRE(vmar.Unmap(base + kPage, 2 * kPage));
  CHECK(*Ptr(base) == 'A');
  CHECK(*Ptr(base + 3 * kPage) == 'D');
  *Ptr(base + 3 * kPage) = 'd';
  CHECK(MapsPerms(base + kPage) == "---p");
  CHECK(MapsPerms(base + 2 * kPage) == "---p");
  CHECK(SignalInChild([&] { (void)*Ptr(base + kPage); }) == SIGSEGV);
  // The hole is free again for SPECIFIC mappings; the halves are not.
  CHECK(vmar.Map(kVmPermRead | kVmSpecific, 0, vmo, 0, kPage).error().status ==
        Status::ALREADY_EXISTS);
  auto refill = vmar.Map(kVmPermRead | kVmSpecific, kPage, vmo, 3 * kPage, kPage);
  REQUIRE(refill);
  CHECK(*Ptr(*refill) == 'd');
  // Both halves unmap on their own.
  REQUIRE(vmar.Unmap(base, kPage));
  REQUIRE(vmar.Unmap(base + 3 * kPage, kPage));
  CHECK(MapsPerms(base) == "---p");
}

TEST_CASE("vmar: unmap rounds the length up and ignores empty ranges") {
  auto vmo = PatternVmo(2);
  auto vmar = NewVmar(4);
  const uintptr_t base = vmar.Map(kRW, 0, vmo, 0, 2 * kPage).value();
  REQUIRE(vmar.Unmap(base, 1));
  CHECK(MapsPerms(base) == "---p");
  CHECK(*Ptr(base + kPage) == 'B');
  CHECK(vmar.Unmap(base + 2 * kPage, 2 * kPage));
}

TEST_CASE("vmar: unmap errors") {
  auto vmar = NewVmar(8);
  const uintptr_t base = Base(vmar);
  CHECK(vmar.Unmap(base + 1, kPage).error().status == Status::INVALID_ARGS);
  CHECK(vmar.Unmap(base, 0).error().status == Status::INVALID_ARGS);
  CHECK(vmar.Unmap(base + 7 * kPage, 2 * kPage).error().status == Status::INVALID_ARGS);
  CHECK(vmar.Unmap(base - kPage, kPage).error().status == Status::INVALID_ARGS);
  auto child = vmar.Allocate(kVmCanMapRead, 2 * kPage, 2 * kPage);
  REQUIRE_FALSE(child);  // no SPECIFIC: offset must be 0
  child = vmar.Allocate(kVmCanMapRead | kVmSpecific, 2 * kPage, 2 * kPage);
  REQUIRE(child);
  auto partial = vmar.Unmap(base + kPage, 2 * kPage);
  REQUIRE_FALSE(partial);
  CHECK(partial.error().status == Status::INVALID_ARGS);
  CHECK(partial.error().what.find("part of sub-vmar") != std::string::npos);
  CHECK(child->first.GetBase().value() == base + 2 * kPage);
}

TEST_CASE("vmar: unmap over a whole sub-VMAR destroys it") {
  auto vmo = PatternVmo(1);
  auto vmar = NewVmar(8);
  const uintptr_t base = Base(vmar);
  auto child = vmar.Allocate(kVmCanMapRead | kVmSpecific, 2 * kPage, 2 * kPage).value();
  auto addr = child.first.Map(kVmPermRead, 0, vmo, 0, kPage);
  REQUIRE(addr);
  REQUIRE(vmar.Unmap(base + kPage, 4 * kPage));
  CHECK(MapsPerms(*addr) == "---p");
  CHECK(child.first.Map(kVmPermRead, 0, vmo, 0, kPage).error().status == Status::BAD_STATE);
  CHECK(vmar.Allocate(kVmSpecific, 2 * kPage, 2 * kPage));
}

// --- protect ---

TEST_CASE("vmar: protect to read-only makes writes fault") {
  auto vmo = PatternVmo(2);
  auto vmar = NewVmar(2);
  const uintptr_t base = vmar.Map(kRW, 0, vmo, 0, 2 * kPage).value();
  CHECK(SignalInChild([&] { *Ptr(base) = 'w'; }) == 0);
  REQUIRE(vmar.Protect(kVmPermRead, base, kPage));
  CHECK(MapsPerms(base) == "r--s");
  CHECK(MapsPerms(base + kPage) == "rw-s");
  CHECK(SignalInChild([&] { *Ptr(base) = 'w'; }) == SIGSEGV);
  CHECK(SignalInChild([&] { *Ptr(base + kPage) = 'w'; }) == 0);
  CHECK(*Ptr(base) == 'w');  // the child before protect wrote the shared page
  // And back: within what the VMO handle allowed.
  REQUIRE(vmar.Protect(kRW, base, kPage));
  CHECK(SignalInChild([&] { *Ptr(base) = 'v'; }) == 0);
}

TEST_CASE("vmar: protect beyond the VMO handle's rights is ACCESS_DENIED") {
  auto vmo = PatternVmo(1, "rom");
  auto read_only = vmo.Duplicate(kRightRead | kRightMap).value();
  auto vmar = NewVmar(1);
  const uintptr_t addr = vmar.Map(kVmPermRead, 0, read_only, 0, kPage).value();
  read_only.reset();  // the limit was fixed at map time
  auto denied = vmar.Protect(kRW, addr, kPage);
  REQUIRE_FALSE(denied);
  CHECK(denied.error().status == Status::ACCESS_DENIED);
  CHECK(denied.error().what.find("vmo 'rom'") != std::string::npos);
  CHECK(vmar.Protect(kVmPermRead | kVmPermExecute, addr, kPage).error().status ==
        Status::ACCESS_DENIED);
  CHECK(vmar.Protect(0, addr, kPage));
  CHECK(MapsPerms(addr) == "---s");
}

TEST_CASE("vmar: protect errors") {
  auto vmo = PatternVmo(1);
  auto vmar = NewVmar(4);
  const uintptr_t base = vmar.Map(kRW, 0, vmo, 0, kPage).value();
  CHECK(vmar.Protect(kVmPermWrite, base, kPage).error().status == Status::INVALID_ARGS);
  CHECK(vmar.Protect(kVmPermRead | kVmSpecific, base, kPage).error().status ==
        Status::INVALID_ARGS);
  CHECK(vmar.Protect(kVmPermRead, base + 1, kPage).error().status == Status::INVALID_ARGS);
  CHECK(vmar.Protect(kVmPermRead, base, 0).error().status == Status::INVALID_ARGS);
  CHECK(vmar.Protect(kVmPermRead, base + 3 * kPage, 2 * kPage).error().status ==
        Status::INVALID_ARGS);
  auto gap = vmar.Protect(kVmPermRead, base, 2 * kPage);
  REQUIRE_FALSE(gap);
  CHECK(gap.error().status == Status::NOT_FOUND);
  CHECK(MapsPerms(base) == "rw-s");  // nothing changed
  auto no_write = vmar.Duplicate(kDefaultVmarRights & ~kRightWrite).value();
  CHECK(no_write.Protect(kRW, base, kPage).error().status == Status::ACCESS_DENIED);
}

TEST_CASE("vmar: protect spans adjacent mappings") {
  auto vmo = PatternVmo(2);
  auto vmar = NewVmar(2);
  const uintptr_t base = vmar.Map(kRW, 0, vmo, 0, kPage).value();
  REQUIRE(vmar.Map(kRW, 0, vmo, kPage, kPage));
  REQUIRE(vmar.Protect(kVmPermRead, base, 2 * kPage));
  CHECK(MapsPerms(base) == "r--s");
  CHECK(MapsPerms(base + kPage) == "r--s");
}

// --- sub-VMARs ---

TEST_CASE("vmar: allocate places sub-VMARs first fit or SPECIFIC") {
  auto vmo = PatternVmo(1);
  auto root = NewVmar(8);
  const uintptr_t base = Base(root);
  auto first = root.Allocate(kVmCanMapRead | kVmCanMapWrite, 0, 2 * kPage);
  REQUIRE(first);
  CHECK(first->second == base);
  CHECK(first->first.GetBase().value() == base);
  CHECK(first->first.GetSize().value() == 2 * kPage);
  auto specific = root.Allocate(kVmCanMapRead | kVmSpecific, 4 * kPage, 2 * kPage);
  REQUIRE(specific);
  CHECK(specific->second == base + 4 * kPage);
  // Root mappings go around the children.
  CHECK(root.Map(kVmPermRead, 0, vmo, 0, kPage).value() == base + 2 * kPage);
  CHECK(root.Map(kVmPermRead | kVmSpecific, 4 * kPage, vmo, 0, kPage).error().status ==
        Status::ALREADY_EXISTS);
  // A child's mappings land inside it.
  auto inside = first->first.Map(kRW, 0, vmo, 0, kPage);
  REQUIRE(inside);
  CHECK(*inside == base);
  CHECK(*Ptr(*inside) == 'A');
}

TEST_CASE("vmar: allocate errors") {
  auto vmo = PatternVmo(1);
  auto root = NewVmar(8);
  REQUIRE(root.Map(kVmPermRead | kVmSpecific, 0, vmo, 0, kPage));
  auto status = [&](VmOptions options, uint64_t offset, uint64_t size) {
    auto result = root.Allocate(options, offset, size);
    return result ? Status::OK : result.error().status;
  };
  CHECK(status(kVmSpecific, 0, kPage) == Status::ALREADY_EXISTS);  // over the mapping
  CHECK(status(kVmPermRead, 0, kPage) == Status::INVALID_ARGS);
  CHECK(status(0, 0, 0) == Status::INVALID_ARGS);
  CHECK(status(0, 0, kPage + 1) == Status::INVALID_ARGS);
  CHECK(status(kVmSpecific, kPage + 1, kPage) == Status::INVALID_ARGS);
  CHECK(status(kVmSpecific, 7 * kPage, 2 * kPage) == Status::INVALID_ARGS);
  CHECK(status(0, 0, 8 * kPage) == Status::NO_RESOURCES);
  CHECK(status(0, 0, UINT64_MAX - kPage + 1) == Status::NO_RESOURCES);
  CHECK(status(kVmSpecific, kPage, 7 * kPage) == Status::OK);
  CHECK(status(0, 0, kPage) == Status::NO_RESOURCES);
}

TEST_CASE("vmar: a sub-VMAR maps only what its CAN_MAP options allow") {
  auto vmo = PatternVmo(1);
  auto root = NewVmar(8);
  auto reader = root.Allocate(kVmCanMapRead, 0, 4 * kPage).value().first;
  CHECK((reader.rights() & kRightRead) != 0);
  CHECK((reader.rights() & (kRightWrite | kRightExecute)) == 0);
  CHECK((reader.rights() & kRightDestroy) != 0);
  CHECK(reader.Map(kVmPermRead, 0, vmo, 0, kPage));
  // The handle lacks WRITE; a handle with it would still hit CAN_MAP.
  CHECK(reader.Map(kRW, 0, vmo, 0, kPage).error().status == Status::ACCESS_DENIED);
  CHECK(reader.Map(kVmPermRead | kVmSpecific, kPage, vmo, 0, kPage).error().status ==
        Status::ACCESS_DENIED);
  auto grandchild = reader.Allocate(kVmCanMapRead | kVmCanMapWrite, 0, kPage);
  REQUIRE_FALSE(grandchild);
  CHECK(grandchild.error().status == Status::ACCESS_DENIED);
  CHECK(reader.Allocate(kVmCanMapRead | kVmSpecific, kPage, kPage).error().status ==
        Status::ACCESS_DENIED);
  CHECK(reader.Allocate(kVmCanMapRead, 0, kPage));
}

TEST_CASE("vmar: CAN_MAP_SPECIFIC is not inherited beyond the parent") {
  auto root = NewVmar(8);
  auto child = root.Allocate(kVmCanMapRead, 0, 4 * kPage).value().first;
  auto specific = child.Allocate(kVmCanMapRead | kVmCanMapSpecific, 0, kPage);
  REQUIRE_FALSE(specific);
  CHECK(specific.error().status == Status::ACCESS_DENIED);
  CHECK(specific.error().what.find("CAN_MAP_SPECIFIC") != std::string::npos);
  auto able = root.Allocate(kVmCanMapRead | kVmCanMapSpecific, 0, 2 * kPage).value().first;
  CHECK(able.Allocate(kVmCanMapRead | kVmCanMapSpecific | kVmSpecific, kPage, kPage));
}

TEST_CASE("vmar: protect over a sub-VMAR's range is INVALID_ARGS") {
  auto vmo = PatternVmo(1);
  auto root = NewVmar(8);
  auto child = root.Allocate(kVmCanMapRead | kVmCanMapWrite, 0, 4 * kPage).value().first;
  const uintptr_t addr = child.Map(kVmPermRead, 0, vmo, 0, kPage).value();
  auto through_root = root.Protect(kRW, addr, kPage);
  REQUIRE_FALSE(through_root);
  CHECK(through_root.error().status == Status::INVALID_ARGS);
  REQUIRE(child.Protect(kRW, addr, kPage));
  CHECK(MapsPerms(addr) == "rw-s");
}

// --- destroy ---

TEST_CASE("vmar: destroy unmaps everything and later calls are BAD_STATE") {
  auto vmo = PatternVmo(1);
  auto root = NewVmar(8);
  const uintptr_t base = Base(root);
  auto child = root.Allocate(kVmCanMapRead | kVmSpecific, 4 * kPage, 4 * kPage).value();
  auto grandchild = child.first.Allocate(kVmCanMapRead, 0, kPage).value();
  const uintptr_t in_child = grandchild.first.Map(kVmPermRead, 0, vmo, 0, kPage).value();
  const uintptr_t in_root = root.Map(kVmPermRead, 0, vmo, 0, kPage).value();

  REQUIRE(child.first.Destroy());
  CHECK(MapsPerms(in_child) == "---p");
  CHECK(*Ptr(in_root) == 'A');
  for (const Vmar* gone : {&child.first, &grandchild.first}) {
    CHECK(gone->Map(kVmPermRead, 0, vmo, 0, kPage).error().status == Status::BAD_STATE);
    CHECK(gone->Allocate(0, 0, kPage).error().status == Status::BAD_STATE);
    CHECK(gone->Unmap(in_child, kPage).error().status == Status::BAD_STATE);
    CHECK(gone->Protect(kVmPermRead, in_child, kPage).error().status == Status::BAD_STATE);
    CHECK(gone->GetBase().error().status == Status::BAD_STATE);
    CHECK(gone->Destroy().error().status == Status::BAD_STATE);
  }
  // Its range is free in the parent again.
  CHECK(root.Allocate(kVmSpecific, 4 * kPage, 4 * kPage));

  REQUIRE(root.Destroy());
  CHECK(MapsPerms(in_root) == "---p");
  CHECK(MapsPerms(base) == "---p");
  CHECK(root.Map(kVmPermRead, 0, vmo, 0, kPage).error().status == Status::BAD_STATE);
  CHECK(vmo.SetCachePolicy(CachePolicy::CACHED));  // no mappings left
}

TEST_CASE("vmar: destroy needs DESTROY; base and size need INSPECT") {
  auto root = NewVmar(1);
  auto limited = root.Duplicate(kDefaultVmarRights & ~(kRightDestroy | kRightInspect)).value();
  auto denied = limited.Destroy();
  REQUIRE_FALSE(denied);
  CHECK(denied.error().status == Status::ACCESS_DENIED);
  CHECK(denied.error().what == "destroy: handle lacks DESTROY");
  CHECK(limited.GetBase().error().status == Status::ACCESS_DENIED);
  CHECK(limited.GetSize().error().status == Status::ACCESS_DENIED);
}

TEST_CASE("vmar: an invalid handle is BAD_HANDLE") {
  Vmar vmar;
  auto vmo = PatternVmo(1);
  CHECK(vmar.Map(kVmPermRead, 0, vmo, 0, kPage).error().status == Status::BAD_HANDLE);
  CHECK(vmar.Allocate(0, 0, kPage).error().status == Status::BAD_HANDLE);
  CHECK(vmar.Unmap(0, kPage).error().status == Status::BAD_HANDLE);
  CHECK(vmar.Protect(kVmPermRead, 0, kPage).error().status == Status::BAD_HANDLE);
  CHECK(vmar.Destroy().error().status == Status::BAD_HANDLE);
  CHECK(vmar.GetBase().error().status == Status::BAD_HANDLE);
  auto root = NewVmar(1);
  CHECK(root.Map(kVmPermRead, 0, Vmo(), 0, kPage).error().status == Status::BAD_HANDLE);
}

// --- contiguous ---

TEST_CASE("vmar: a contiguous VMO maps on its huge page boundary") {
  auto vmo = Vmo::CreateContiguous(kPage, "huge");
  if (!vmo) {
    WARN("no free huge page: " << vmo.error().ToString());
    return;
  }
  const uint64_t huge = vmo->GetSize().value();
  auto vmar = Vmar::Create(3 * huge, "huge").value();
  auto addr = vmar.Map(kRW, 0, *vmo, 0, kPage);  // rounds up to the whole huge page
  REQUIRE(addr);
  CHECK(*addr % huge == 0);
  const std::byte x{'x'};
  REQUIRE(vmo->Write(std::span(&x, 1), huge - 1));
  CHECK(*Ptr(*addr + huge - 1) == 'x');
  CHECK(vmar.Unmap(*addr, kPage).error().status == Status::INVALID_ARGS);
  CHECK(vmar.Protect(kVmPermRead, *addr, kPage).error().status == Status::INVALID_ARGS);
  REQUIRE(vmar.Unmap(*addr, huge));
}

// --- threads ---

TEST_CASE("vmar: concurrent map and unmap in one tree") {
  auto vmo = PatternVmo(1);
  auto root = NewVmar(64);
  auto child = root.Allocate(kVmCanMapRead | kVmCanMapWrite, 0, 32 * kPage).value().first;
  std::atomic<int> failures{0};
  // Catch2 assertions are not thread-safe: count failures, check after join.
  auto worker = [&](const Vmar& vmar) {
    for (int i = 0; i < 500; ++i) {
      auto addr = vmar.Map(kRW, 0, vmo, 0, kPage);
      if (!addr || *Ptr(*addr) != 'A' || !vmar.Unmap(*addr, kPage)) ++failures;
    }
  };
  std::thread a(worker, std::cref(root));
  std::thread b(worker, std::cref(child));
  a.join();
  b.join();
  CHECK(failures == 0);
  CHECK(vmo.SetCachePolicy(CachePolicy::CACHED));
}

}  // namespace
}  // namespace udrv
