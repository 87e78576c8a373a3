// DMA through the IOMMU with QEMU's edu device: Bti::Pin over the VFIO
// container, then edu's DMA engine copies host memory -> edu's buffer
// (0x40000) -> other host memory, verified byte for byte. Runs only in
// testbed guests with an IOMMU (it binds edu to vfio-pci).
//
// edu's DMA registers: 0x80 source, 0x88 destination, 0x90 count, 0x98
// command (bit 0 start/busy, bit 1 direction: 1 = edu -> RAM). QEMU 7.2
// quirks (DESIGN.md): a DMA completes ~100 ms later; addresses are masked to
// 28 bits; a transfer reaching 0x40fff aborts the VM, so stay in
// 0x40000-0x40ffe.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <fstream>
#include <functional>
#include <optional>
#include <vector>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/core/time.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/vfio.h"

using udrv::CachePolicy;
using udrv::Vmar;
using udrv::Vmo;
using udrv::testing::StatusOf;
using namespace udrv::pci;
using namespace udrv::dma;
using namespace std::chrono_literals;

namespace {

constexpr size_t kTransfer = 1024;

using udrv::guest::FindEdu;
using udrv::guest::VfioEdu;
using udrv::guest::kEduBuffer;
using udrv::guest::kEduDmaLimit;
using udrv::guest::kEduDmaToRam;
using udrv::guest::RunEduDma;

Vmo MakeVmo(const char* name) {
  auto vmo = Vmo::Create(udrv::PageSize(), name);
  REQUIRE_OK(vmo);
  return std::move(*vmo);
}

std::vector<std::byte> Pattern(uint8_t seed) {
  std::vector<std::byte> bytes(kTransfer);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(static_cast<uint8_t>(i * 7 + seed));
  return bytes;
}

struct Setup {
  VfioEdu edu;
  Vmar vmar = Vmar::Create(4 << 20, "edu-dma").value();
  udrv::mmio::MmioBuffer regs = edu.device().MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar).value();
  Bti bti = edu.device().GetBti(0, kEduDmaLimit).value();
  Setup() { REQUIRE_OK(edu.device().SetBusMastering(true)); }
};

}  // namespace

TEST_CASE("edu dma: host -> edu -> host through pinned VMOs", "[dma-edu]") {
  Setup s;
  CHECK(StatusOf(s.edu.device().GetBti(1)) == "OUT_OF_RANGE");
  auto info = s.bti.GetInfo();
  REQUIRE_OK(info);
  CHECK(info->aspace_size <= kEduDmaLimit);

  Vmo source = MakeVmo("dma-source");
  Vmo destination = MakeVmo("dma-destination");
  const auto pattern = Pattern(3);
  REQUIRE_OK(source.Write(pattern, 0));

  auto in = s.bti.Pin(kBtiPermRead, source, 0, udrv::PageSize());
  REQUIRE_OK(in);
  auto out = s.bti.Pin(kBtiPermWrite, destination, 0, udrv::PageSize());
  REQUIRE_OK(out);
  CHECK(s.bti.GetInfo()->pmo_count == 2);
  for (const auto* pmt : {&*in, &*out}) {
    INFO("iova 0x" << std::hex << pmt->addresses()[0]);
    CHECK(pmt->addresses()[0] + udrv::PageSize() <= kEduDmaLimit);
  }

  RunEduDma(s.regs, in->addresses()[0], kEduBuffer, kTransfer, 0);
  RunEduDma(s.regs, kEduBuffer, out->addresses()[0], kTransfer, kEduDmaToRam);

  std::vector<std::byte> received(kTransfer);
  REQUIRE_OK(destination.Read(received, 0));
  CHECK(received == pattern);
  // Bytes past the transfer are untouched.
  std::vector<std::byte> rest(udrv::PageSize() - kTransfer);
  REQUIRE_OK(destination.Read(rest, kTransfer));
  CHECK(rest == std::vector<std::byte>(rest.size()));

  REQUIRE_OK(in->Unpin());
  REQUIRE_OK(out->Unpin());
  CHECK(s.bti.GetInfo()->pmo_count == 0);
}

TEST_CASE("edu dma: a read from an unpinned IOVA is blocked by the IOMMU", "[dma-edu]") {
  Setup s;
  Vmo source = MakeVmo("dma-source");
  Vmo destination = MakeVmo("dma-destination");
  const auto pattern = Pattern(11);
  REQUIRE_OK(source.Write(pattern, 0));
  auto in = s.bti.Pin(kBtiPermRead, source, 0, udrv::PageSize());
  REQUIRE_OK(in);
  auto out = s.bti.Pin(kBtiPermWrite, destination, 0, udrv::PageSize());
  REQUIRE_OK(out);
  // edu's buffer holds the pattern first, so a blocked read shows.
  RunEduDma(s.regs, in->addresses()[0], kEduBuffer, kTransfer, 0);
  const uint64_t stale = in->addresses()[0];
  REQUIRE_OK(in->Unpin());

  RunEduDma(s.regs, stale, kEduBuffer, kTransfer, 0);
  RunEduDma(s.regs, kEduBuffer, out->addresses()[0], kTransfer, kEduDmaToRam);
  std::vector<std::byte> received(kTransfer);
  REQUIRE_OK(destination.Read(received, 0));
  // The IOMMU faulted the read (the guest kernel logs it): edu got zeros.
  CHECK(received == std::vector<std::byte>(kTransfer));
  REQUIRE_OK(out->Unpin());
}

TEST_CASE("edu dma: DMA_AVAIL counts the pins, and a spent budget is a clear error", "[dma-edu]") {
  // type1 gives each container dma_entry_limit mappings, read when the
  // container gets its IOMMU: lower it for this container only.
  const std::string limit_path = "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit";
  std::string previous;
  REQUIRE(static_cast<bool>(std::ifstream(limit_path) >> previous));
  auto write_limit = [&](const std::string& value) {
    std::ofstream out(limit_path);
    out << value;
    out.close();
    return !out.fail();
  };
  REQUIRE(write_limit("3"));
  struct RestoreLimit {
    std::function<bool(const std::string&)> write;
    std::string value;
    ~RestoreLimit() { write(value); }
  } restore{write_limit, previous};

  const Address address = FindEdu();
  auto record = BindDriver(address, "vfio-pci");
  REQUIRE_OK(record);
  {
    auto iommu = udrv::vfio::Iommu::Create(udrv::vfio::IommuBackend::TYPE1V2);
    REQUIRE_OK(iommu);
    auto device = OpenVfioDevice(address, *iommu);
    REQUIRE_OK(device);
    auto bti = (*device)->GetBti(0, kEduDmaLimit);
    REQUIRE_OK(bti);
    auto avail = [&] { return (*iommu)->Info().value().dma_avail; };
    CHECK(avail() == 3);

    std::vector<Vmo> vmos;
    std::vector<Pmt> pmts;
    for (int i = 0; i < 3; ++i) {
      vmos.push_back(MakeVmo("avail"));
      auto pmt = bti->Pin(kBtiPermRead, vmos.back(), 0, udrv::PageSize());
      REQUIRE_OK(pmt);
      pmts.push_back(std::move(*pmt));
      CHECK(avail() == static_cast<uint32_t>(2 - i));
    }
    Vmo one_more = MakeVmo("avail");
    auto refused = bti->Pin(kBtiPermRead, one_more, 0, udrv::PageSize());
    CHECK(StatusOf(refused) == "NO_RESOURCES");
    if (!refused) {
      CHECK_THAT(refused.error().what, Catch::Contains("DMA_AVAIL") &&
                                           Catch::Contains("3 (vfio_iommu_type1 dma_entry_limit)"));
    }
    CHECK(bti->GetInfo()->pmo_count == 3);  // the refused pin left nothing behind

    REQUIRE_OK(pmts.back().Unpin());
    CHECK(avail() == 1);
    auto again = bti->Pin(kBtiPermRead, one_more, 0, udrv::PageSize());
    REQUIRE_OK(again);
    CHECK(avail() == 0);
    REQUIRE_OK(again->Unpin());
    for (Pmt& pmt : pmts) {
      if (pmt.is_valid()) REQUIRE_OK(pmt.Unpin());
    }
  }
  REQUIRE_OK(RestoreDriver(*record));
}
