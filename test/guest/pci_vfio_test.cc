// What only the VFIO route has, in the testbed guests (these tests bind
// drivers, open VFIO and write registers; never run them on a host):
//   [vfio]         the IOMMU object (page sizes, IOVA ranges around the MSI
//                  window, the mapping budget), group and device sharing rules,
//                  edu's regions as VFIO describes them, open errors
//   [e1000e]       x86_64: the 82574L NIC: STATUS, capabilities against the
//                  kernel's own config file, the MSI-X BAR, MSI and MSI-X
//                  interrupts, a PM reset
//   [vfio-reset]   x86_64: a function-level reset of QEMU's NVMe controller
//   [vfio-remove]  edu removed from the bus while a driver holds it; run last
//                  in a plan: the tests rescan the bus to bring edu back.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/core/time.h"
#include "udrv/core/vmar.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/config.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/vfio.h"

using udrv::CachePolicy;
using udrv::DeadlineAfter;
using udrv::Interrupt;
using udrv::Vmar;
using udrv::testing::StatusOf;
using namespace udrv::pci;
using namespace std::chrono_literals;

namespace {

constexpr auto kArrives = 5s;
constexpr auto kQuiet = 100ms;

std::optional<Address> FindDevice(uint16_t vendor, uint16_t device) {
  SysfsPci sysfs;
  auto addresses = sysfs.List();
  REQUIRE_OK(addresses);
  for (const Address& address : *addresses) {
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    if (info->vendor_id == vendor && info->device_id == device) return address;
  }
  return std::nullopt;
}

Address RequireDevice(uint16_t vendor, uint16_t device) {
  auto address = FindDevice(vendor, device);
  INFO("looking for " << std::hex << vendor << ":" << device);
  REQUIRE(address);
  return *address;
}

Address FindEdu() { return RequireDevice(0x1234, 0x11e8); }

// A function bound to vfio-pci for the test's length. Declare it first: the
// previous driver comes back when it goes, after the test's devices and
// mappings (an unbind from vfio-pci waits for every mapping to go).
class VfioBinding {
 public:
  explicit VfioBinding(const Address& address) {
    auto record = BindDriver(address, "vfio-pci");
    REQUIRE_OK(record);
    record_ = *record;
  }
  ~VfioBinding() {
    if (!record_) return;
    auto restored = RestoreDriver(*record_);
    if (std::uncaught_exceptions() == 0) REQUIRE_OK(restored);
  }
  void Forget() { record_.reset(); }  // the function was removed: nothing to restore

 private:
  std::optional<BindRecord> record_;
};

std::unique_ptr<VfioDevice> OpenVfio(const Address& address,
                                     std::shared_ptr<udrv::vfio::Iommu> iommu = nullptr) {
  if (!iommu) {
    auto created = udrv::vfio::Iommu::Create();
    REQUIRE_OK(created);
    iommu = std::move(*created);
  }
  auto device = VfioDevice::Open(address, std::move(iommu));
  REQUIRE_OK(device);
  return std::move(*device);
}

Vmar MakeVmar() {
  auto vmar = Vmar::Create(64 << 20, "vfio-test");
  REQUIRE_OK(vmar);
  return std::move(*vmar);
}

bool Overlaps(const udrv::dma::IovaRange& range, uint64_t start, uint64_t last) {
  return range.start <= last && range.end >= start;
}

// The config space as the kernel's own sysfs file shows it (root reads it all).
ConfigSpace SysfsConfig(const Address& address) {
  std::ifstream file("/sys/bus/pci/devices/" + address.ToString() + "/config", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() >= 256);
  return ConfigSpace(std::move(bytes), address.ToString() + " sysfs config");
}

std::vector<std::pair<uint16_t, uint16_t>> IdsAndOffsets(const std::vector<Capability>& caps) {
  std::vector<std::pair<uint16_t, uint16_t>> out;
  for (const Capability& cap : caps) out.emplace_back(cap.id, cap.offset);
  return out;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("vfio: the IOMMU object reports page sizes, IOVA ranges and the DMA budget", "[vfio]") {
  const Address edu = FindEdu();
  VfioBinding binding(edu);
  auto iommu = udrv::vfio::Iommu::Create();
  REQUIRE_OK(iommu);
  // Debian's kernels have no IOMMUFD, so AUTO must have fallen back.
  REQUIRE_FALSE(Exists("/dev/iommu"));
  CHECK((*iommu)->backend() == udrv::vfio::IommuBackend::TYPE1V2);
  auto iommufd = udrv::vfio::Iommu::Create(udrv::vfio::IommuBackend::IOMMUFD);
  CHECK(StatusOf(iommufd) == "NOT_SUPPORTED");

  // The container gets its IOMMU with its first group.
  CHECK(StatusOf((*iommu)->Info()) == "BAD_STATE");

  auto device = OpenVfio(edu, *iommu);
  CHECK(device->iommu() == *iommu);
  auto info = (*iommu)->Info();
  REQUIRE_OK(info);
  INFO("page_sizes " << std::hex << info->page_sizes);
  CHECK((info->page_sizes & 0x1000) != 0);
  CHECK(info->dma_avail == 65535);  // type1's default dma_entry_limit, nothing mapped yet

  REQUIRE(info->ranges.size() >= 2);
  CHECK(info->ranges.front().start == 0);
  for (size_t i = 0; i < info->ranges.size(); ++i) {
    const udrv::dma::IovaRange& range = info->ranges[i];
    INFO("range " << i << ": " << std::hex << range.start << "-" << range.end);
    CHECK(range.start <= range.end);
    if (i > 0) CHECK(range.start > info->ranges[i - 1].end);
  }
#if defined(__x86_64__)
  // The interrupt remapping window of VT-d.
  constexpr uint64_t kMsiStart = 0xfee00000, kMsiLast = 0xfeefffff;
#elif defined(__aarch64__)
  // The GICv3 ITS doorbell of QEMU's virt board, reserved by the SMMU driver.
  constexpr uint64_t kMsiStart = 0x8000000, kMsiLast = 0x80fffff;
#endif
  bool below = false, above = false;
  for (const udrv::dma::IovaRange& range : info->ranges) {
    CHECK_FALSE(Overlaps(range, kMsiStart, kMsiLast));
    below |= range.end == kMsiStart - 1;
    above |= range.start == kMsiLast + 1;
  }
  CHECK(below);  // the window is cut out exactly, not more
  CHECK(above);

  SECTION("one function opens once per IOMMU object") {
    auto again = VfioDevice::Open(edu, *iommu);
    CHECK(StatusOf(again) == "ALREADY_BOUND");
  }
  SECTION("a second IOMMU object cannot take a group the first holds") {
    auto other = udrv::vfio::Iommu::Create();
    REQUIRE_OK(other);
    auto again = VfioDevice::Open(edu, *other);
    CHECK(StatusOf(again) == "UNAVAILABLE");
    CHECK(again.error().what.find("already open") != std::string::npos);
  }
  SECTION("closed, it opens again through the same IOMMU object") {
    device.reset();
    auto again = VfioDevice::Open(edu, *iommu);
    REQUIRE_OK(again);
    CHECK(StatusOf((*iommu)->Info()) == "OK");
  }
}

TEST_CASE("vfio: edu's regions and config space as VFIO describes them", "[vfio]") {
  const Address edu = FindEdu();
  {
    // Not bound to vfio-pci: refused before VFIO is touched, naming the state.
    auto unbound = OpenVfioDevice(edu);
    CHECK(StatusOf(unbound) == "BAD_STATE");
    CHECK(unbound.error().what.find("BindDriver") != std::string::npos);
  }
  VfioBinding binding(edu);
  auto device = OpenVfio(edu);
  CHECK(device->route() == "vfio");

  auto bar = device->GetBar(0);
  REQUIRE_OK(bar);
  auto description = bar->vmo.Describe();
  REQUIRE_OK(description);
  CHECK(description->kind == udrv::VmoKind::PHYSICAL);
  CHECK(description->route == udrv::PhysicalRoute::VFIO_REGION);
  CHECK(description->cache_policy == CachePolicy::UNCACHED_DEVICE);
  CHECK(description->size == (1u << 20));
  CHECK(description->name == edu.ToString() + " BAR0");

  // VFIO maps BARs uncached, nothing else.
  Vmar vmar = MakeVmar();
  CHECK(StatusOf(device->MapMmio(0, CachePolicy::WRITE_COMBINING, vmar)) == "NOT_SUPPORTED");
  CHECK(StatusOf(device->MapMmio(0, CachePolicy::CACHED, vmar)) == "NOT_SUPPORTED");
  auto mmio = device->MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar);
  REQUIRE_OK(mmio);
  CHECK(mmio->Read32(0) == 0x010000ed);

  // edu is conventional PCI: 256 bytes of config space.
  CHECK(device->ReadConfig8(0xff).has_value());
  CHECK(StatusOf(device->ReadConfig8(0x100)) == "OUT_OF_RANGE");
  auto config = device->ReadConfigSpace();
  REQUIRE_OK(config);
  CHECK(config->size() == 256);
  auto caps = ListCapabilities(*config);
  REQUIRE_OK(caps);
  auto kernel_caps = ListCapabilities(SysfsConfig(edu));
  REQUIRE_OK(kernel_caps);
  CHECK(IdsAndOffsets(*caps) == IdsAndOffsets(*kernel_caps));
  REQUIRE(caps->size() == 1);
  CHECK((*caps)[0].id == kCapMsi);

  // vfio-pci relays removal requests.
  REQUIRE_OK(device->GetRemovalRequest());
  CHECK_FALSE(device->removed());
}

TEST_CASE("vfio: e1000e's registers, capabilities, MSI-X BAR and interrupts", "[e1000e]") {
  const Address nic = RequireDevice(0x8086, 0x10d3);
  VfioBinding binding(nic);
  auto device = OpenVfio(nic);
  Vmar vmar = MakeVmar();

  // QEMU's e1000e: STATUS reports full duplex (FD, bit 0) and GIO master
  // enable (bit 19) unless the driver forces otherwise, and 1000 Mb/s.
  constexpr uint32_t kStatus = 0x8, kStatusFd = 1u << 0, kStatusGioMaster = 1u << 19;
  auto regs = device->MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar);
  REQUIRE_OK(regs);
  const uint32_t status = regs->Read32(kStatus);
  INFO("STATUS " << std::hex << status);
  CHECK(status != 0xffffffff);
  CHECK((status & kStatusFd) != 0);
  CHECK((status & kStatusGioMaster) != 0);

  // Capabilities through VFIO match the kernel's own config file.
  auto config = device->ReadConfigSpace();
  REQUIRE_OK(config);
  CHECK(config->size() == 4096);
  auto caps = ListCapabilities(*config);
  REQUIRE_OK(caps);
  auto kernel_caps = ListCapabilities(SysfsConfig(nic));
  REQUIRE_OK(kernel_caps);
  CHECK(IdsAndOffsets(*caps) == IdsAndOffsets(*kernel_caps));
  auto msix_cap = std::find_if(caps->begin(), caps->end(),
                               [](const Capability& cap) { return cap.id == kCapMsix; });
  REQUIRE(msix_cap != caps->end());
  auto msix = DecodeMsix(*config, *msix_cap);
  REQUIRE_OK(msix);
  CHECK(msix->table_size == 5);

  // The MSI-X table's BAR: Linux 6.1 reports CAP_MSIX_MAPPABLE, so all of it
  // can be mapped, and the table reads as QEMU left it (every vector masked).
  auto table_bar = device->GetBar(msix->table_bar);
  REQUIRE_OK(table_bar);
  REQUIRE(table_bar->mappable.size() == 1);
  CHECK(table_bar->mappable[0] == std::pair<uint64_t, uint64_t>{0, table_bar->size});
  auto table = device->MapMmio(msix->table_bar, CachePolicy::UNCACHED_DEVICE, vmar);
  REQUIRE_OK(table);
  for (uint32_t entry = 0; entry < msix->table_size; ++entry) {
    CHECK((table->Read32(msix->table_offset + 16 * entry + 12) & 1) == 1);
  }

  // BAR 2 is I/O ports: described, never mapped.
  auto io = device->GetBar(2);
  REQUIRE_OK(io);
  CHECK(io->is_io);
  CHECK(io->io_base != 0);
  CHECK_FALSE(io->vmo.is_valid());
  CHECK(StatusOf(device->MapMmio(2, CachePolicy::UNCACHED_DEVICE, vmar)) == "WRONG_TYPE");

  auto modes = device->GetInterruptModes();
  REQUIRE_OK(modes);
  CHECK(modes->has_legacy);
  CHECK(modes->msi_count == 1);
  CHECK(modes->msix_count == 5);
  REQUIRE_OK(device->SetBusMastering(true));

  // Interrupt causes: ICS sets them, IMS enables them, ICR reads and clears.
  constexpr uint32_t kIcr = 0xc0, kIcs = 0xc8, kIms = 0xd0, kImc = 0xd8, kIvar = 0xe4;
  constexpr uint32_t kCauseLsc = 1u << 2, kCauseOther = 1u << 24;
  SECTION("MSI-X: the 'other' cause routed to vector 2") {
    CHECK(device->SetInterruptModeWithFallback(3).value() == InterruptMode::MSI_X);
    CHECK(StatusOf(device->MapInterrupt(3)) == "OUT_OF_RANGE");
    auto vector0 = device->MapInterrupt(0);
    auto vector2 = device->MapInterrupt(2);
    REQUIRE_OK(vector0);
    REQUIRE_OK(vector2);
    regs->Write32((0x8u | 2u) << 16, kIvar);  // other causes -> vector 2, valid
    regs->Write32(kCauseOther, kIms);
    regs->Write32(kCauseOther, kIcs);
    REQUIRE_OK(vector2->Wait(DeadlineAfter(kArrives)));
    CHECK(StatusOf(vector0->Wait(DeadlineAfter(kQuiet))) == "TIMED_OUT");
  }
  SECTION("MSI: a link-status cause") {
    REQUIRE_OK(device->SetInterruptMode(InterruptMode::MSI, 1));
    auto irq = device->MapInterrupt(0);
    REQUIRE_OK(irq);
    regs->Write32(kCauseLsc, kIms);
    regs->Write32(kCauseLsc, kIcs);
    REQUIRE_OK(irq->Wait(DeadlineAfter(kArrives)));
    CHECK((regs->Read32(kIcr) & kCauseLsc) != 0);
    // Mapping again gives the same interrupt, not one more fd each time
    // (a driver host asking in a loop must not exhaust the root bus's fds).
    const size_t fds = udrv::guest::OpenFdCount();
    for (int i = 0; i < 100; ++i) {
      auto again = device->MapInterrupt(0);
      REQUIRE_OK(again);
      CHECK_FALSE(again->destroyed());
    }
    CHECK(udrv::guest::OpenFdCount() == fds);
    // One destroyed is replaced by a fresh mapping that works.
    REQUIRE_OK(irq->Destroy());
    auto fresh = device->MapInterrupt(0);
    REQUIRE_OK(fresh);
    CHECK_FALSE(fresh->destroyed());
    regs->Write32(kCauseLsc, kIcs);
    REQUIRE_OK(fresh->Wait(DeadlineAfter(kArrives)));
  }
  regs->Write32(0xffffffff, kImc);
  REQUIRE_OK(device->SetInterruptMode(InterruptMode::DISABLED, 0));
  REQUIRE_OK(device->SetBusMastering(false));

  // e1000e has a PM reset (sysfs reset_method "pm"): VFIO_DEVICE_RESET works.
  REQUIRE_OK(device->ResetDevice());
  CHECK(regs->Read32(kStatus) != 0xffffffff);
  CHECK(device->ReadConfig16(kConfigVendorId).value() == 0x8086);
}

TEST_CASE("vfio: ResetDevice resets the function (QEMU NVMe, FLR)", "[vfio-reset]") {
  const Address nvme = RequireDevice(0x1b36, 0x0010);
  VfioBinding binding(nvme);
  auto device = OpenVfio(nvme);
  Vmar vmar = MakeVmar();
  auto regs = device->MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar);
  REQUIRE_OK(regs);
  // INTMS (0x0c): writing 1s masks interrupt vectors; it reads the mask back.
  // A controller reset clears it.
  constexpr uint32_t kIntms = 0x0c;
  regs->Write32(0x5, kIntms);
  CHECK(regs->Read32(kIntms) == 0x5);
  REQUIRE_OK(device->ResetDevice());
  CHECK(regs->Read32(kIntms) == 0);
}

// ---- removal: these take edu off the bus and bring it back with a rescan ----

namespace {

// Writes "1" to the function's sysfs `remove` from another process: the
// write blocks until vfio-pci has let go of the device. The process is
// spawned (exec), not forked: a fork would inherit this process's device fds
// and BAR mappings and so hold the device itself.
pid_t StartRemoval(const Address& address) {
  const std::string command = "echo 1 > /sys/bus/pci/devices/" + address.ToString() + "/remove";
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv),
                        environ) == 0);
  return pid;
}

// The child's exit code, or nullopt while it runs at `deadline`.
std::optional<int> WaitChild(pid_t pid, udrv::Time deadline) {
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    REQUIRE(done >= 0);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (udrv::Now() >= deadline) return std::nullopt;
    ::usleep(10'000);
  }
}

void RescanAndExpect(const Address& address) {
  {
    std::ofstream rescan("/sys/bus/pci/rescan");
    rescan << "1";
  }
  auto info = SysfsPci().Read(address);
  REQUIRE_OK(info);
  CHECK(info->device_id == 0x11e8);
  CHECK_FALSE(info->driver.has_value());
}

void RequireGone(VfioDevice& device, Vmar& vmar) {
  CHECK(device.removed());
  CHECK(StatusOf(device.ReadConfig16(kConfigVendorId)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.WriteConfig32(0x40, 0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.ReadConfigSpace()) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.GetDeviceInfo()) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.GetBar(0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.SetBusMastering(true)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.GetInterruptModes()) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.SetInterruptMode(InterruptMode::LEGACY, 1)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.SetInterruptMode(InterruptMode::DISABLED, 0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.MapInterrupt(0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.AckInterrupt(0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device.ResetDevice()) == "IO_NOT_PRESENT");
  auto error = device.ReadConfig32(0);
  CHECK(error.error().what.find("removed") != std::string::npos);
}

}  // namespace

TEST_CASE("vfio: edu removed while a driver maps it: the driver is told, then lets go",
          "[vfio-remove]") {
  const Address edu = FindEdu();
  VfioBinding binding(edu);
  auto device = OpenVfio(edu);
  auto removal = device->GetRemovalRequest();
  REQUIRE_OK(removal);
  Vmar vmar = MakeVmar();
  auto mapped = device->MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar);
  REQUIRE_OK(mapped);
  std::optional<udrv::mmio::MmioBuffer> regs(std::move(*mapped));
  CHECK(regs->Read32(0) == 0x010000ed);
  auto kept_bar = device->GetBar(0);  // a VMO the driver holds but has not mapped
  REQUIRE_OK(kept_bar);
  REQUIRE_OK(device->SetInterruptMode(InterruptMode::LEGACY, 1));
  auto irq = device->MapInterrupt(0);
  REQUIRE_OK(irq);
  udrv::Result<udrv::Time> waited = udrv::Fail(udrv::Status::INTERNAL, "not run");
  std::thread waiter([&] { waited = irq->Wait(DeadlineAfter(30s)); });

  const pid_t remover = StartRemoval(edu);
  // vfio-pci asks for the device back; the driver hears it.
  REQUIRE_OK(removal->Wait(DeadlineAfter(10s)));
  waiter.join();
  CHECK(StatusOf(waited) == "CANCELED");  // its interrupt went with the device
  RequireGone(*device, vmar);
  // The kept VMO no longer reaches the device.
  CHECK(StatusOf(vmar.Map(udrv::kVmPermRead | udrv::kVmPermWrite, 0, kept_bar->vmo, 0, 4096)) ==
        "IO_NOT_PRESENT");

  // The driver's mapping still holds the device file: the remover waits.
  CHECK_FALSE(WaitChild(remover, DeadlineAfter(300ms)).has_value());
  CHECK(Exists("/sys/bus/pci/devices/" + edu.ToString()));
  // Dropping it lets the removal finish.
  regs.reset();
  auto exit_code = WaitChild(remover, DeadlineAfter(20s));
  REQUIRE(exit_code.has_value());
  CHECK(*exit_code == 0);
  CHECK_FALSE(Exists("/sys/bus/pci/devices/" + edu.ToString()));

  // Closing the removed device is quiet, and the bus gives edu back.
  device.reset();
  binding.Forget();
  RescanAndExpect(edu);
}

TEST_CASE("vfio: edu removed while a driver holds it unmapped goes at once", "[vfio-remove]") {
  const Address edu = FindEdu();
  VfioBinding binding(edu);
  auto device = OpenVfio(edu);
  auto kept_bar = device->GetBar(0);
  REQUIRE_OK(kept_bar);
  REQUIRE_OK(device->SetInterruptMode(InterruptMode::LEGACY, 1));

  // Nothing of the driver's is mapped: the device lets go by itself.
  const pid_t remover = StartRemoval(edu);
  auto exit_code = WaitChild(remover, DeadlineAfter(20s));
  REQUIRE(exit_code.has_value());
  CHECK(*exit_code == 0);
  CHECK_FALSE(Exists("/sys/bus/pci/devices/" + edu.ToString()));
  Vmar vmar = MakeVmar();
  RequireGone(*device, vmar);

  device.reset();
  binding.Forget();
  RescanAndExpect(edu);
}
