// The physical Bti (no IOMMU): pins of huge pages checked against what the
// guest kernel says about its memory, then real DMA by QEMU's edu device
// over the UIO route. Runs only in testbed guests, as root:
//   [dma-physical]        the x86_64 guest without an IOMMU
//   [dma-physical-iommu]  the x86_64 guest with VT-d: the UIO route refuses a
//                         physical Bti there
//
// The oracles are the kernel's: /proc/iomem's "System RAM" ranges must hold
// every pinned address, and pagemap read through a second mapping of the
// same VMO (by this test, not by the Bti) must give the same frames. Then
// edu copies host memory -> edu's buffer (0x40000) -> other host memory at
// the pinned physical addresses, byte for byte.
//
// edu's DMA registers: 0x80 source, 0x88 destination, 0x90 count, 0x98
// command (bit 0 start/busy, bit 1 direction: 1 = edu -> RAM). QEMU masks
// edu's DMA addresses to 28 bits, so its DMA limit is 1 << 28; a transfer
// reaching 0x40fff aborts the VM.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/uio.h"

using udrv::CachePolicy;
using udrv::Vmar;
using udrv::Vmo;
using udrv::testing::StatusOf;
using namespace udrv::pci;
using namespace udrv::dma;
using namespace std::chrono_literals;

namespace {

using udrv::guest::kEduBuffer;
using udrv::guest::kEduDmaLimit;
using udrv::guest::kEduDmaToRam;
using udrv::guest::RunEduDma;
using udrv::guest::UioEdu;
constexpr size_t kTransfer = 1024;
constexpr uint64_t kHugePage = 2 << 20;  // the guests reserve 2 MiB pages
constexpr UnsafePhysicalDma kConsent{.device_may_reach_all_memory = true};

const uint64_t kPage = udrv::PageSize();

struct Range {
  uint64_t first;
  uint64_t last;  // inclusive, as /proc/iomem writes it
};

// The top-level "System RAM" ranges of /proc/iomem (root sees the addresses).
std::vector<Range> SystemRam() {
  std::ifstream iomem("/proc/iomem");
  std::vector<Range> ranges;
  std::string line;
  while (std::getline(iomem, line)) {
    if (line.empty() || line[0] == ' ' || !line.ends_with(" : System RAM")) continue;
    Range range{};
    char dash = 0;
    std::istringstream in(line);
    in >> std::hex >> range.first >> dash >> range.last;
    REQUIRE(dash == '-');
    ranges.push_back(range);
  }
  REQUIRE_FALSE(ranges.empty());
  REQUIRE(ranges.back().last != 0);  // not hidden: the guest runs as root
  return ranges;
}

bool InSystemRam(const std::vector<Range>& ram, uint64_t address, uint64_t size) {
  for (const Range& range : ram) {
    if (range.first <= address && address + size - 1 <= range.last) return true;
  }
  return false;
}

// The physical address of each page of [vaddr, vaddr + count pages), read
// here from pagemap independently of the Bti.
std::vector<uint64_t> PagemapAddresses(uintptr_t vaddr, size_t count) {
  udrv::UniqueFd pagemap(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  REQUIRE(pagemap);
  std::vector<uint64_t> entries(count);
  const auto bytes = static_cast<ssize_t>(count * sizeof(uint64_t));
  REQUIRE(::pread(pagemap.get(), entries.data(), static_cast<size_t>(bytes),
                  static_cast<off_t>(vaddr / kPage * 8)) == bytes);
  for (uint64_t& entry : entries) {
    REQUIRE((entry >> 63) == 1);
    entry = (entry & ((uint64_t{1} << 55) - 1)) * kPage;
  }
  return entries;
}

// How many mappings of the VMO named `name` this process has.
int MappingsOf(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("memfd:" + name) != std::string::npos) ++count;
  }
  return count;
}

Vmo MakeHugePage(const std::string& name) {
  auto vmo = Vmo::CreateContiguous(kHugePage, name);
  REQUIRE_OK(vmo);
  REQUIRE(vmo->GetSize().value() == kHugePage);
  return std::move(*vmo);
}

Bti MakePhysicalBti(uint64_t limit = kNoDmaLimit) {
  auto bti = Bti::CreatePhysical(kConsent, limit, "test-physical");
  REQUIRE_OK(bti);
  return std::move(*bti);
}

// A huge page the device reaches (below `bti`'s limit), pinned with
// `options` over its first `size` bytes. The pool's pages lie anywhere in
// the guest's memory: pages out of reach are held aside while the next is
// tried, and given back at the end.
struct ReachablePage {
  Vmo vmo;
  Pmt pmt;
};
ReachablePage PinReachable(const Bti& bti, uint32_t options, uint64_t size,
                           const std::string& name) {
  std::vector<Vmo> out_of_reach;
  for (;;) {
    auto vmo = Vmo::CreateContiguous(kHugePage, name);
    INFO(out_of_reach.size() << " huge pages lay at or above the DMA limit");
    REQUIRE_OK(vmo);
    auto pmt = bti.Pin(options, *vmo, 0, size);
    if (pmt) return ReachablePage{std::move(*vmo), std::move(*pmt)};
    REQUIRE(StatusOf(pmt) == "OUT_OF_RANGE");
    out_of_reach.push_back(std::move(*vmo));
  }
}

// Child-process checks report through the exit status: Catch cannot run in
// a forked child.
int ExitStatusOf(pid_t child) {
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

std::vector<std::byte> Pattern(uint8_t seed) {
  std::vector<std::byte> bytes(kTransfer);
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = std::byte(static_cast<uint8_t>(i * 13 + seed));
  return bytes;
}

}  // namespace

TEST_CASE("physical bti: pins of a huge page lie in System RAM, as pagemap says",
          "[dma-physical]") {
  const std::vector<Range> ram = SystemRam();
  Bti bti = MakePhysicalBti();
  REQUIRE(bti.is_physical());
  Vmo vmo = MakeHugePage("physical-pins");

  auto whole = bti.Pin(kBtiPermRead | kBtiPermWrite | kBtiContiguous, vmo, 0, kHugePage);
  REQUIRE_OK(whole);
  REQUIRE(whole->addresses().size() == 1);
  const uint64_t base = whole->addresses()[0];
  INFO("huge page at " << udrv::Hex(base));
  CHECK(base % kHugePage == 0);
  CHECK(InSystemRam(ram, base, kHugePage));

  // Without CONTIGUOUS (and with COMPRESS, whose unit is the page): one
  // address per page, each where the huge page says.
  auto pages = bti.Pin(kBtiPermRead, vmo, 4 * kPage, 8 * kPage);
  REQUIRE_OK(pages);
  REQUIRE(pages->addresses().size() == 8);
  for (size_t i = 0; i < 8; ++i) CHECK(pages->addresses()[i] == base + (4 + i) * kPage);
  auto compressed = bti.Pin(kBtiPermWrite | kBtiCompress, vmo, kHugePage - 2 * kPage, 2 * kPage);
  REQUIRE_OK(compressed);
  REQUIRE(compressed->addresses().size() == 2);
  CHECK(compressed->addresses()[1] == base + kHugePage - kPage);
  for (uint64_t address : compressed->addresses()) CHECK(InSystemRam(ram, address, kPage));
  CHECK(bti.GetInfo()->pmo_count == 3);

  // A second mapping, made here, reaches the same frames.
  auto vmar = Vmar::Create(2 * kHugePage, "second-mapping");
  REQUIRE_OK(vmar);
  auto mapped =
      vmar->Map(udrv::kVmPermRead | udrv::kVmPermWrite | udrv::kVmMapRange, 0, vmo, 0, kHugePage);
  REQUIRE_OK(mapped);
  const std::vector<uint64_t> frames = PagemapAddresses(*mapped, kHugePage / kPage);
  for (size_t i = 0; i < frames.size(); ++i) {
    INFO("page " << i);
    REQUIRE(frames[i] == base + i * kPage);
  }

  REQUIRE_OK(whole->Unpin());
  REQUIRE_OK(pages->Unpin());
  REQUIRE_OK(compressed->Unpin());
  CHECK(bti.GetInfo()->pmo_count == 0);

  // Ordinary pages are refused: nothing keeps them where they are.
  auto paged = Vmo::Create(kPage, "paged");
  REQUIRE_OK(paged);
  CHECK(StatusOf(bti.Pin(kBtiPermRead, *paged, 0, kPage)) == "NOT_SUPPORTED");
}

TEST_CASE("physical bti: the DMA limit, unpin and quarantine", "[dma-physical]") {
  Bti wide = MakePhysicalBti();
  Vmo vmo = MakeHugePage("physical-limit");
  // The VMO maps itself once, for Read and Write; each pin adds one.
  const int unpinned = MappingsOf("physical-limit");
  REQUIRE(unpinned >= 1);
  uint64_t base = 0;
  {
    auto pmt = wide.Pin(kBtiPermRead | kBtiContiguous, vmo, 0, kHugePage);
    REQUIRE_OK(pmt);
    base = pmt->addresses()[0];
    CHECK(MappingsOf("physical-limit") == unpinned + 1);
    REQUIRE_OK(pmt->Unpin());
    // Unpin unmaps (and so unlocks) the pin's pages.
    CHECK(MappingsOf("physical-limit") == unpinned);
  }

  // A device that reaches only the huge page's first page.
  Bti narrow = MakePhysicalBti(base + kPage);
  CHECK(narrow.GetInfo()->aspace_size == base + kPage);
  auto beyond = narrow.Pin(kBtiPermRead | kBtiContiguous, vmo, 0, kHugePage);
  REQUIRE(StatusOf(beyond) == "OUT_OF_RANGE");
  CHECK_THAT(beyond.error().what, Catch::Contains(udrv::Hex(base + kPage)) &&
                                      Catch::Contains("DMA limit " + udrv::Hex(base + kPage)));
  CHECK(MappingsOf("physical-limit") == unpinned);  // the failed pin left nothing mapped
  CHECK(narrow.GetInfo()->pmo_count == 0);
  auto first = narrow.Pin(kBtiPermRead, vmo, 0, kPage);
  REQUIRE_OK(first);
  CHECK(first->addresses()[0] == base);
  CHECK(StatusOf(narrow.Pin(kBtiPermRead, vmo, kPage, kPage)) == "OUT_OF_RANGE");

  // Dropped without Unpin: quarantined, still mapped and locked.
  { Pmt dropped = std::move(*first); }
  auto info = narrow.GetInfo();
  REQUIRE_OK(info);
  CHECK(info->pmo_count == 1);
  CHECK(info->quarantine_count == 1);
  CHECK(MappingsOf("physical-limit") == unpinned + 1);
  REQUIRE_OK(narrow.ReleaseQuarantine());
  CHECK(narrow.GetInfo()->quarantine_count == 0);
  CHECK(MappingsOf("physical-limit") == unpinned);
}

TEST_CASE("physical bti: a bus that sees memory elsewhere (dma-ranges) gets bus addresses",
          "[dma-physical]") {
  Vmo vmo = MakeHugePage("physical-offset");
  uint64_t base = 0;
  {
    Bti plain = MakePhysicalBti();
    auto pmt = plain.Pin(kBtiPermRead | kBtiContiguous, vmo, 0, kHugePage);
    REQUIRE_OK(pmt);
    base = pmt->addresses()[0];
    REQUIRE_OK(pmt->Unpin());
  }
  INFO("huge page at " << udrv::Hex(base));
  // A Raspberry Pi 3's peripherals reach RAM at 0xc0000000 + physical.
  auto above = Bti::CreatePhysical(kConsent, kNoDmaLimit, "rpi3-like", -int64_t{0xc0000000});
  REQUIRE_OK(above);
  auto high = above->Pin(kBtiPermRead | kBtiContiguous, vmo, 0, kHugePage);
  REQUIRE_OK(high);
  CHECK(high->addresses()[0] == base + 0xc0000000);
  REQUIRE_OK(high->Unpin());

  // A bus whose address 0x10000 is the huge page's start, reaching one page.
  const auto offset = static_cast<int64_t>(base) - 0x10000;
  auto window = Bti::CreatePhysical(kConsent, 0x10000 + kPage, "window", offset);
  REQUIRE_OK(window);
  auto first = window->Pin(kBtiPermRead, vmo, 0, kPage);
  REQUIRE_OK(first);
  CHECK(first->addresses()[0] == 0x10000);
  REQUIRE_OK(first->Unpin());
  auto beyond = window->Pin(kBtiPermRead, vmo, kPage, kPage);
  REQUIRE(StatusOf(beyond) == "OUT_OF_RANGE");
  CHECK_THAT(beyond.error().what, Catch::Contains("bus address " + udrv::Hex(0x10000 + kPage)));
  // Memory below the window's start wraps past any limit: out of reach too.
  auto below = Bti::CreatePhysical(kConsent, kNoDmaLimit, "below", static_cast<int64_t>(base) + 0x1000);
  REQUIRE_OK(below);
  CHECK(StatusOf(below->Pin(kBtiPermRead, vmo, 0, kPage)) == "OUT_OF_RANGE");
}

TEST_CASE("physical bti: without CAP_SYS_ADMIN pagemap hides the addresses", "[dma-physical]") {
  Vmo vmo = MakeHugePage("physical-no-admin");
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto bti = Bti::CreatePhysical(kConsent);
    if (!bti) ::_exit(10);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) ::_exit(11);
    data[0].effective &= ~(1u << CAP_SYS_ADMIN);
    if (::syscall(SYS_capset, &header, data) != 0) ::_exit(12);
    // The Bti made before: pagemap now shows frame number 0 for every page.
    auto pmt = bti->Pin(kBtiPermRead, vmo, 0, kPage);
    if (pmt || pmt.error().status != udrv::Status::ACCESS_DENIED) ::_exit(13);
    if (pmt.error().what.find("CAP_SYS_ADMIN") == std::string::npos) ::_exit(14);
    if (bti->GetInfo()->pmo_count != 0) ::_exit(15);
    auto again = Bti::CreatePhysical(kConsent);
    if (again || again.error().status != udrv::Status::ACCESS_DENIED) ::_exit(16);
    ::_exit(0);
  }
  CHECK(ExitStatusOf(child) == 0);
}

TEST_CASE("physical bti: edu DMAs host -> edu -> host over UIO", "[dma-physical]") {
  UioEdu edu(UioOptions{.paths = {}, .physical_dma = kConsent});
  CHECK(StatusOf(edu.device().GetBti(1, kEduDmaLimit)) == "OUT_OF_RANGE");
  auto bti = edu.device().GetBti(0, kEduDmaLimit);
  REQUIRE_OK(bti);
  CHECK(bti->is_physical());
  CHECK(bti->GetInfo()->aspace_size == kEduDmaLimit);
  auto vmar = Vmar::Create(4 << 20, "edu-dma");
  REQUIRE_OK(vmar);
  auto regs = edu.device().MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
  REQUIRE_OK(regs);
  REQUIRE_OK(edu.device().SetBusMastering(true));

  ReachablePage source = PinReachable(*bti, kBtiPermRead | kBtiContiguous, kHugePage, "edu-source");
  ReachablePage destination = PinReachable(*bti, kBtiPermWrite, kHugePage, "edu-destination");
  const std::vector<Range> ram = SystemRam();
  for (const ReachablePage* page : {&source, &destination}) {
    INFO("pinned at " << udrv::Hex(page->pmt.addresses()[0]));
    CHECK(page->pmt.addresses()[0] + kHugePage <= kEduDmaLimit);
    CHECK(InSystemRam(ram, page->pmt.addresses()[0], kHugePage));
  }

  // From the middle of one huge page to the middle of the other (page 300):
  // the addresses of the pins, not only their starts, are right.
  constexpr uint64_t kAt = 300;
  const auto pattern = Pattern(5);
  REQUIRE_OK(source.vmo.Write(pattern, kAt * kPage + 64));
  RunEduDma(*regs, source.pmt.addresses()[0] + kAt * kPage + 64, kEduBuffer, kTransfer, 0);
  RunEduDma(*regs, kEduBuffer, destination.pmt.addresses()[kAt] + 128, kTransfer, kEduDmaToRam);

  std::vector<std::byte> received(kTransfer);
  REQUIRE_OK(destination.vmo.Read(received, kAt * kPage + 128));
  CHECK(received == pattern);
  // Nothing else of the destination changed.
  std::vector<std::byte> whole(kHugePage);
  REQUIRE_OK(destination.vmo.Read(whole, 0));
  std::fill_n(whole.begin() + static_cast<std::ptrdiff_t>(kAt * kPage + 128), kTransfer,
              std::byte{0});
  // Counted, not compared: Catch would print 2 MiB of bytes.
  CHECK(std::count(whole.begin(), whole.end(), std::byte{0}) ==
        static_cast<std::ptrdiff_t>(kHugePage));

  REQUIRE_OK(edu.device().SetBusMastering(false));
  REQUIRE_OK(source.pmt.Unpin());
  REQUIRE_OK(destination.pmt.Unpin());
  CHECK(bti->GetInfo()->pmo_count == 0);
}

TEST_CASE("physical bti: the UIO route hands one out only with the opt-in", "[dma-physical]") {
  UioEdu edu(UioOptions{});
  auto refused = edu.device().GetBti(0, kEduDmaLimit);
  REQUIRE(StatusOf(refused) == "ACCESS_DENIED");
  CHECK_THAT(refused.error().what, Catch::Contains("device_may_reach_all_memory = true") &&
                                       Catch::Contains("all memory"));
}

TEST_CASE("physical bti: the UIO route refuses one behind a translating IOMMU",
          "[dma-physical-iommu]") {
  UioEdu edu(UioOptions{.paths = {}, .physical_dma = kConsent});
  auto refused = edu.device().GetBti(0, kEduDmaLimit);
  REQUIRE(StatusOf(refused) == "BAD_STATE");
  // VT-d gives edu a DMA domain ("DMA" or "DMA-FQ").
  CHECK_THAT(refused.error().what, Catch::Contains("IOMMU group") &&
                                       Catch::Contains("of type 'DMA") &&
                                       Catch::Contains("vfio-pci"));
}
