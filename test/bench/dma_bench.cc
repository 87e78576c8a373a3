// DMA figures for docs/PERFORMANCE.md, measured with QEMU's edu device bound
// to vfio-pci. Runs only inside a testbed guest with an IOMMU (it binds edu);
// the ctest bench.dma.x86_64 boots one and runs it.
//
//  1. Bti::Pin + Pmt::Unpin of a VMO against a raw loop of MAP_DMA +
//     UNMAP_DMA over a mapping of the same VMO, in the same container, in
//     the same run: ns per pin+unpin, ns per map+unmap, and their ratio. The
//     raw loop goes through vfio::Iommu::Map/Unmap, which are the two
//     ioctls plus building the error context string: the public API does not
//     hand out the container fd. Where a pin's time goes: the same pins
//     through a Bti over a metering decorator of the container (the share of
//     their time spent inside MAP_DMA/UNMAP_DMA), and the mapping of its
//     pages (mmap with MAP_POPULATE, munmap) timed alone.
//  2. The MAP_DMA calls a pin of a 1 GiB hugetlb VMO makes, counted by a
//     decorator around the container (the IommuDomain the Bti pins through)
//     and cross-checked by the kernel's own count: type1's DMA_AVAIL drops by
//     one per MAP_DMA. Then the same for a 1 GiB paged VMO, for the pin time.
//
// Each timed figure is the median of --runs runs; a run repeats the
// operation for about --run-ms milliseconds (the count is calibrated once
// per operation, after a warm-up call). The operations take turns going first.
//
// Output: lines starting "dma-bench: ", the last one "dma-bench: done".
// Any failure prints "dma-bench: FAILED: ..." and exits 1.
#include <sys/mman.h>
#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/dma/iommu.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/vfio.h"

namespace {

using udrv::Fail;
using udrv::Result;
using udrv::Status;
using udrv::Vmo;

constexpr uint16_t kEduVendor = 0x1234;
constexpr uint16_t kEduDevice = 0x11e8;
constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint32_t kDeviceReadWrite = udrv::dma::kBtiPermRead | udrv::dma::kBtiPermWrite;

struct Options {
  int runs = 5;
  int run_ms = 200;
  int large_pins = 3;
};

void Say(const std::string& line) {
  std::printf("dma-bench: %s\n", line.c_str());
  std::fflush(stdout);
}

std::string Format(const char* format, auto... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), format, args...);
  return buffer;
}

std::string SizeName(uint64_t size) {
  if (size >= kGiB && size % kGiB == 0) return std::to_string(size / kGiB) + " GiB";
  if (size >= kMiB && size % kMiB == 0) return std::to_string(size / kMiB) + " MiB";
  return std::to_string(size / kKiB) + " KiB";
}

// Counts the Map and Unmap calls a Bti makes, and the time spent in them,
// passing them on to the real container. It keeps IOVA bookkeeping of its
// own (IommuDomain's), apart from the container's: use it only while nothing
// else is mapped, as here, where every operation unmaps before the next.
class MeteredDomain final : public udrv::dma::IommuDomain {
 public:
  explicit MeteredDomain(std::shared_ptr<udrv::dma::IommuDomain> inner) : inner_(std::move(inner)) {}

  Result<void> Map(uint64_t iova, uintptr_t vaddr, uint64_t size, bool device_read,
                   bool device_write) override {
    maps_.fetch_add(1);
    const udrv::Time start = udrv::Now();
    auto mapped = inner_->Map(iova, vaddr, size, device_read, device_write);
    ns_inside_.fetch_add(udrv::Now() - start);
    return mapped;
  }
  Result<void> Unmap(uint64_t iova, uint64_t size) override {
    unmaps_.fetch_add(1);
    const udrv::Time start = udrv::Now();
    auto unmapped = inner_->Unmap(iova, size);
    ns_inside_.fetch_add(udrv::Now() - start);
    return unmapped;
  }
  Result<udrv::dma::IommuInfo> Info() const override { return inner_->Info(); }

  uint64_t maps() const { return maps_.load(); }
  uint64_t unmaps() const { return unmaps_.load(); }
  int64_t ns_inside() const { return ns_inside_.load(); }

 private:
  std::shared_ptr<udrv::dma::IommuDomain> inner_;
  std::atomic<uint64_t> maps_{0};
  std::atomic<uint64_t> unmaps_{0};
  std::atomic<int64_t> ns_inside_{0};
};

// Nanoseconds `count` calls of `op` take; the first error stops the loop.
Result<int64_t> TimeLoop(uint64_t count, const std::function<Result<void>()>& op) {
  const udrv::Time start = udrv::Now();
  for (uint64_t i = 0; i < count; ++i) {
    if (auto done = op(); !done) return std::unexpected(done.error());
  }
  return udrv::Now() - start;
}

// How many calls of `op` take about `run_ms`: after one call to warm up,
// doubles from one call until a loop takes 1/8 of that, then scales.
Result<uint64_t> Calibrate(int run_ms, const std::function<Result<void>()>& op) {
  const int64_t target = int64_t{run_ms} * 1'000'000;
  if (auto warm = op(); !warm) return std::unexpected(warm.error());
  uint64_t count = 1;
  for (;;) {
    auto elapsed = TimeLoop(count, op);
    if (!elapsed) return std::unexpected(elapsed.error());
    if (*elapsed >= target / 8) {
      const double scaled = static_cast<double>(count) * static_cast<double>(target) /
                            static_cast<double>(std::max<int64_t>(*elapsed, 1));
      return std::max<uint64_t>(1, static_cast<uint64_t>(scaled));
    }
    count *= 2;
  }
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

struct Series {
  uint64_t count = 0;  // operations per run
  std::vector<double> ns_per_op;
  double median() const { return Median(ns_per_op); }
  double min() const { return *std::min_element(ns_per_op.begin(), ns_per_op.end()); }
  double max() const { return *std::max_element(ns_per_op.begin(), ns_per_op.end()); }
};

// The IOVA alignment Bti::Pin asks for: the largest IOMMU page no bigger than
// `size` that the buffer's virtual address is aligned to.
uint64_t PinAlignment(uint64_t page_sizes, uint64_t size, uintptr_t vaddr) {
  uint64_t alignment = 0;
  for (uint64_t sizes = page_sizes; sizes != 0; sizes &= sizes - 1) {
    const uint64_t candidate = uint64_t{1} << std::countr_zero(sizes);
    if (candidate <= size && vaddr % candidate == 0) alignment = candidate;
  }
  return alignment;
}

// A mapping of a VMO's pages, made as Bti::Pin makes one.
class VmoMapping {
 public:
  static Result<VmoMapping> Create(const Vmo& vmo, uint64_t size) {
    auto backing = vmo.GetBacking();
    if (!backing) return std::unexpected(backing.error());
    void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                           backing->fd, static_cast<off_t>(backing->fd_offset));
    if (address == MAP_FAILED) return udrv::FailErrno(errno, "mmap of the vmo's pages");
    return VmoMapping(address, size);
  }
  VmoMapping(VmoMapping&& other) noexcept
      : address_(std::exchange(other.address_, nullptr)), size_(other.size_) {}
  VmoMapping& operator=(VmoMapping&&) = delete;
  ~VmoMapping() {
    if (address_ != nullptr) ::munmap(address_, size_);
  }
  uintptr_t vaddr() const { return reinterpret_cast<uintptr_t>(address_); }

 private:
  VmoMapping(void* address, uint64_t size) : address_(address), size_(size) {}
  void* address_;
  uint64_t size_;
};

// Runs each operation `count` times per run, --runs runs, rotating which
// goes first so that drift in the machine's speed spreads over all of them.
Result<std::vector<Series>> MeasureSeries(const Options& options,
                                          const std::vector<std::function<Result<void>()>>& ops) {
  std::vector<Series> series(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    auto count = Calibrate(options.run_ms, ops[i]);
    if (!count) return std::unexpected(count.error());
    series[i].count = *count;
  }
  for (int run = 0; run < options.runs; ++run) {
    for (size_t turn = 0; turn < ops.size(); ++turn) {
      const size_t i = (static_cast<size_t>(run) + turn) % ops.size();
      auto elapsed = TimeLoop(series[i].count, ops[i]);
      if (!elapsed) return std::unexpected(elapsed.error());
      series[i].ns_per_op.push_back(static_cast<double>(*elapsed) /
                                    static_cast<double>(series[i].count));
    }
  }
  return series;
}

// Where a pin's time goes (see the top of this file).
struct PinParts {
  Series metered;            // Bti::Pin + Pmt::Unpin through a MeteredDomain
  double ioctl_share = 0;    // of the metered pins' time, the share inside MAP_DMA/UNMAP_DMA
  Series mapping;            // mmap(MAP_POPULATE) + munmap of the same pages
};

struct Comparison {
  std::string label;
  uint64_t size = 0;
  Series bti;  // Bti::Pin + Pmt::Unpin
  Series raw;  // udrv::vfio::Iommu::Map + Unmap (MAP_DMA + UNMAP_DMA)
  PinParts parts;
};

// Figure 1 for one VMO: Bti pin+unpin against raw MAP_DMA+UNMAP_DMA, and
// where the pin's time goes.
Result<Comparison> ComparePinWithRawMaps(const Options& options,
                                         const std::shared_ptr<udrv::vfio::Iommu>& iommu,
                                         const udrv::dma::Bti& bti, const Vmo& vmo, uint64_t size,
                                         std::string label) {
  std::vector<std::function<Result<void>()>> ops;
  ops.push_back([&]() -> Result<void> {
    auto pmt = bti.Pin(kDeviceReadWrite, vmo, 0, size);
    if (!pmt) return std::unexpected(pmt.error());
    return pmt->Unpin();
  });

  auto mapping = VmoMapping::Create(vmo, size);
  if (!mapping) return std::unexpected(mapping.error());
  auto info = iommu->IovaInfo();
  if (!info) return std::unexpected(info.error());
  auto iova = iommu->AllocateIova(size, PinAlignment(info->page_sizes, size, mapping->vaddr()),
                                  udrv::dma::kNoDmaLimit);
  if (!iova) return std::unexpected(iova.error());
  ops.push_back([&]() -> Result<void> {
    if (auto mapped = iommu->Map(*iova, mapping->vaddr(), size, true, true); !mapped) return mapped;
    return iommu->Unmap(*iova, size);
  });

  // The same pins through a Bti over a MeteredDomain: the share of a pin's
  // time its MAP_DMA and UNMAP_DMA take, measured inside the pin itself.
  auto metered = std::make_shared<MeteredDomain>(iommu);
  auto metered_bti = udrv::dma::Bti::Create(metered, udrv::dma::kNoDmaLimit, "metered-bti");
  if (!metered_bti) return std::unexpected(metered_bti.error());
  int64_t metered_ns = 0;
  ops.push_back([&]() -> Result<void> {
    const udrv::Time start = udrv::Now();
    auto pmt = metered_bti->Pin(kDeviceReadWrite, vmo, 0, size);
    if (!pmt) return std::unexpected(pmt.error());
    auto unpinned = pmt->Unpin();
    metered_ns += udrv::Now() - start;
    return unpinned;
  });
  ops.push_back([&]() -> Result<void> {
    auto fresh = VmoMapping::Create(vmo, size);
    if (!fresh) return std::unexpected(fresh.error());
    return {};
  });

  auto series = MeasureSeries(options, ops);
  auto freed = iommu->FreeIova(*iova, size);
  if (!series) return std::unexpected(series.error());
  if (!freed) return std::unexpected(freed.error());
  const double share = static_cast<double>(metered->ns_inside()) /
                       static_cast<double>(std::max<int64_t>(metered_ns, 1));
  return Comparison{std::move(label), size, (*series)[0], (*series)[1],
                    PinParts{(*series)[2], share, (*series)[3]}};
}

void Report(const Comparison& c) {
  Say(Format("pin+unpin %s %s: bti %.0f ns/op [%.0f..%.0f, %" PRIu64
             " ops/run], raw map+unmap %.0f ns/op [%.0f..%.0f, %" PRIu64
             " ops/run], ratio %.2f",
             SizeName(c.size).c_str(), c.label.c_str(), c.bti.median(), c.bti.min(), c.bti.max(),
             c.bti.count, c.raw.median(), c.raw.min(), c.raw.max(), c.raw.count,
             c.bti.median() / c.raw.median()));
  const PinParts& p = c.parts;
  Say(Format("parts %s %s: metered bti pin+unpin %.0f ns/op, %.0f%% of it inside "
             "MAP_DMA+UNMAP_DMA; alone: mmap(MAP_POPULATE)+munmap %.0f ns [%.0f..%.0f]",
             SizeName(c.size).c_str(), c.label.c_str(), p.metered.median(), 100 * p.ioctl_share,
             p.mapping.median(), p.mapping.min(), p.mapping.max()));
}

Result<uint32_t> DmaAvail(const udrv::vfio::Iommu& iommu) {
  auto info = iommu.Info();
  if (!info) return std::unexpected(info.error());
  if (info->dma_avail == UINT32_MAX) {
    return Fail(Status::NOT_SUPPORTED, "the container reports no DMA_AVAIL", iommu.Describe());
  }
  return info->dma_avail;
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Figure 2: the MAP_DMA calls of pinning a whole VMO, and how long the pins take.
Result<void> CountMapsForPin(const Options& options,
                             const std::shared_ptr<udrv::vfio::Iommu>& iommu, const Vmo& vmo,
                             uint64_t size, const std::string& label) {
  auto counting = std::make_shared<MeteredDomain>(iommu);
  auto bti = udrv::dma::Bti::Create(counting, udrv::dma::kNoDmaLimit, "counting-bti");
  if (!bti) return std::unexpected(bti.error());
  auto avail_before = DmaAvail(*iommu);
  if (!avail_before) return std::unexpected(avail_before.error());

  std::vector<double> pin_ms;
  std::vector<double> unpin_ms;
  uint64_t maps_per_pin = 0;
  uint32_t avail_pinned = 0;
  uint64_t iova = 0;
  for (int pin = 0; pin < options.large_pins; ++pin) {
    const uint64_t maps_before = counting->maps();
    const udrv::Time start = udrv::Now();
    auto pmt = bti->Pin(kDeviceReadWrite | udrv::dma::kBtiContiguous, vmo, 0, size);
    const udrv::Time pinned = udrv::Now();
    if (!pmt) return std::unexpected(pmt.error());
    pin_ms.push_back(Ms(pinned - start));
    maps_per_pin = counting->maps() - maps_before;
    iova = pmt->addresses()[0];
    auto avail = DmaAvail(*iommu);
    if (!avail) return std::unexpected(avail.error());
    avail_pinned = *avail;
    const udrv::Time unpin_start = udrv::Now();
    if (auto unpinned = pmt->Unpin(); !unpinned) return unpinned;
    unpin_ms.push_back(Ms(udrv::Now() - unpin_start));
  }
  const uint64_t kernel_maps = *avail_before - avail_pinned;
  Say(Format("pin %s %s: %" PRIu64 " MAP_DMA per pin (the kernel's DMA_AVAIL: %u -> %u while "
             "pinned), %" PRIu64 " UNMAP_DMA in %d pins; iova 0x%" PRIx64
             "; pin %.1f ms (first %.1f), unpin %.1f ms, median of %d",
             SizeName(size).c_str(), label.c_str(), maps_per_pin, *avail_before, avail_pinned,
             counting->unmaps(), options.large_pins, iova, Median(pin_ms), pin_ms.front(),
             Median(unpin_ms), options.large_pins));
  if (maps_per_pin != 1 || kernel_maps != 1) {
    return Fail(Status::INTERNAL, Format("pin of %s made %" PRIu64 " MAP_DMA (kernel: %" PRIu64
                                         "); one per pin was expected",
                                         SizeName(size).c_str(), maps_per_pin, kernel_maps));
  }
  return {};
}

Result<udrv::pci::Address> FindEdu() {
  udrv::pci::SysfsPci sysfs;
  auto addresses = sysfs.List();
  if (!addresses) return std::unexpected(addresses.error());
  for (const udrv::pci::Address& address : *addresses) {
    auto info = sysfs.Read(address);
    if (!info) return std::unexpected(info.error());
    if (info->vendor_id == kEduVendor && info->device_id == kEduDevice) return address;
  }
  return Fail(Status::NOT_FOUND, "no edu device (1234:11e8) on this machine's PCI bus");
}

Result<void> RunBenchmarks(const Options& options, const udrv::pci::Address& edu) {
  auto iommu = udrv::vfio::Iommu::Create(udrv::vfio::IommuBackend::TYPE1V2);
  if (!iommu) return std::unexpected(iommu.error());
  auto device = udrv::pci::OpenVfioDevice(edu, *iommu);
  if (!device) return std::unexpected(device.error());
  auto bti = (*device)->GetBti(0);
  if (!bti) return std::unexpected(bti.error());
  auto info = (*iommu)->Info();
  if (!info) return std::unexpected(info.error());
  Say(Format("edu %s over %s: iova_pgsizes 0x%" PRIx64 ", DMA_AVAIL %u; %d runs of ~%d ms each",
             edu.ToString().c_str(), (*iommu)->Describe().c_str(), info->page_sizes,
             info->dma_avail, options.runs, options.run_ms));

  struct Case {
    uint64_t size;
    bool huge;
    Vmo vmo;
  };
  std::vector<Case> cases;
  for (const auto& [size, huge] : {std::pair{4 * kKiB, false}, std::pair{64 * kKiB, false},
                                   std::pair{2 * kMiB, false}, std::pair{2 * kMiB, true}}) {
    auto vmo = huge ? Vmo::CreateContiguous(size, "bench-huge") : Vmo::Create(size, "bench-paged");
    if (!vmo) return std::unexpected(vmo.error());
    cases.push_back(Case{size, huge, std::move(*vmo)});
  }
  for (const Case& c : cases) {
    auto comparison = ComparePinWithRawMaps(options, *iommu, *bti, c.vmo, c.size,
                                            c.huge ? "hugetlb" : "paged");
    if (!comparison) return std::unexpected(comparison.error());
    Report(*comparison);
  }
  {
    const udrv::Time start = udrv::Now();
    auto gigantic = Vmo::CreateContiguous(kGiB, "bench-1g");
    if (!gigantic) return std::unexpected(gigantic.error());
    Say(Format("1 GiB hugetlb vmo created (one 1 GiB page, zeroed) in %.1f ms",
               Ms(udrv::Now() - start)));
    if (auto counted = CountMapsForPin(options, *iommu, *gigantic, kGiB, "hugetlb"); !counted) {
      return counted;
    }
    Say(Format("1 GiB: one mapping per 4 KiB page would be %" PRIu64 " MAP_DMA, per 2 MiB page "
               "%" PRIu64 "; the container allows %u mappings in all",
               kGiB / (4 * kKiB), kGiB / (2 * kMiB), info->dma_avail));
  }
  // The same size of ordinary memory, for what the huge page saves the kernel
  // (VFIO pins and maps it 4 KiB page by page); its pages come with the first pin.
  auto paged = Vmo::Create(kGiB, "bench-1g-paged");
  if (!paged) return std::unexpected(paged.error());
  return CountMapsForPin(options, *iommu, *paged, kGiB, "paged");
}

Result<int> ParsePositive(const char* flag, const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value <= 0 || value > 1'000'000) {
    return Fail(Status::INVALID_ARGS, Format("%s wants a positive number, not '%s'", flag, text));
  }
  return static_cast<int>(value);
}

Result<Options> ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    int* target = flag == "--runs"     ? &options.runs
                  : flag == "--run-ms" ? &options.run_ms
                  : flag == "--large-pins" ? &options.large_pins
                                              : nullptr;
    if (target == nullptr || i + 1 == argc) {
      return Fail(Status::INVALID_ARGS,
                  "usage: dma_bench [--runs N] [--run-ms MS] [--large-pins N] (unknown or "
                  "incomplete argument '" + flag + "')");
    }
    auto value = ParsePositive(argv[i], argv[i + 1]);
    if (!value) return std::unexpected(value.error());
    *target = *value;
    ++i;
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = ParseOptions(argc, argv);
  if (!options) {
    Say("FAILED: " + options.error().ToString());
    return 1;
  }
  utsname host{};
  ::uname(&host);
  Say(Format("kernel %s %s", host.release, host.machine));

  auto edu = FindEdu();
  if (!edu) {
    Say("FAILED: " + edu.error().ToString());
    return 1;
  }
  auto bound = udrv::pci::BindDriver(*edu, "vfio-pci");
  if (!bound) {
    Say("FAILED: " + bound.error().ToString());
    return 1;
  }
  auto ran = RunBenchmarks(*options, *edu);
  auto restored = udrv::pci::RestoreDriver(*bound);
  if (!ran) {
    Say("FAILED: " + ran.error().ToString());
    return 1;
  }
  if (!restored) {
    Say("FAILED: restore edu's driver: " + restored.error().ToString());
    return 1;
  }
  Say("done");
  return 0;
}
