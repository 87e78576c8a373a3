// The read-only sysfs route over trees written by the test, where resourceN
// files are ordinary files holding a known pattern: config reads through
// the config file, BARs as physical VMOs that map and read back, write-
// combining BARs, the refusals of a read-only route, an unprivileged process
// that gets read-only BARs, and a device that goes away. Never opens a
// resource file of the live /sys.
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "config_builder.h"
#include "result_helpers.h"
#include "sysfs_tree.h"
#include "udrv/core/vmar.h"
#include "udrv/pci/sysfs_device.h"

namespace fs = std::filesystem;
using udrv::CachePolicy;
using udrv::PhysicalRoute;
using udrv::Status;
using udrv::Vmar;
using udrv::pci::Address;
using udrv::pci::Device;
using udrv::pci::InterruptMode;
using udrv::pci::SysfsDevice;
using udrv::pci::testing::ConfigBuilder;
using udrv::pci::testing::SysfsTree;
using udrv::testing::StatusOf;
namespace pci = udrv::pci;

namespace {

constexpr char kAddress[] = "0000:00:04.0";

std::string ResourceLine(uint64_t start, uint64_t end, uint64_t flags) {
  char line[80];
  std::snprintf(line, sizeof(line), "0x%016llx 0x%016llx 0x%016llx\n",
                static_cast<unsigned long long>(start), static_cast<unsigned long long>(end),
                static_cast<unsigned long long>(flags));
  return line;
}

// Dword i of a BAR file holds `tag` + i.
std::vector<uint8_t> BarPattern(size_t size, uint32_t tag) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size / 4; ++i) {
    const uint32_t value = tag + static_cast<uint32_t>(i);
    for (size_t b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<uint8_t>(value >> (8 * b));
  }
  return bytes;
}

// An 82576-like NIC: legacy pin A, PM, MSI (64-bit, 4 vectors), MSI-X (5
// entries in BAR0), PCIe; BAR0 16 KiB memory, BAR2 8 KiB prefetchable with
// resource2_wc, BAR4 32 I/O ports, BAR5 a 256-byte memory BAR.
struct NicTree {
  SysfsTree tree;
  fs::path dir;
  Address address = *Address::Parse(kAddress);

  explicit NicTree(size_t config_size = 256) {
    dir = tree.AddDevice(kAddress, "0x8086", "0x10c9", "0x020000", "0x01");
    ConfigBuilder config(256, 0x8086, 0x10c9);
    config.Set8(pci::kConfigInterruptPin, 1)
        .Set16(pci::kConfigCommand, 0x0006)
        .AddCap(0x40, pci::kCapPowerManagement)
        .Set16(0x42, 0x3)
        .AddCap(0x50, pci::kCapMsi)
        .Set16(0x52, 2u << 1 | 1u << 7)
        .AddCap(0x70, pci::kCapMsix)
        .Set16(0x72, 4)
        .Set32(0x74, 0x3000)
        .Set32(0x78, 0x3800)
        .AddCap(0xa0, pci::kCapPciExpress)
        .Set16(0xa2, 0x2);
    // An unprivileged reader sees the first 64 bytes of the same space.
    config.bytes.resize(config_size);
    SysfsTree::WriteBytes(dir / "config", config.bytes);
    std::string resource = ResourceLine(0xfebc0000, 0xfebc3fff, 0x140204) +
                           ResourceLine(0, 0, 0) +
                           ResourceLine(0x800000000, 0x800001fff, 0x14220c) +
                           ResourceLine(0, 0, 0) + ResourceLine(0xc000, 0xc01f, 0x40101) +
                           ResourceLine(0xfebd0000, 0xfebd00ff, 0x40200) + ResourceLine(0, 0, 0);
    SysfsTree::Write(dir / "resource", resource);
    SysfsTree::Write(dir / "irq", "16");
    SysfsTree::WriteBytes(dir / "resource0", BarPattern(0x4000, 0xb0000000));
    SysfsTree::WriteBytes(dir / "resource2", BarPattern(0x2000, 0xb2000000));
    SysfsTree::WriteBytes(dir / "resource2_wc", BarPattern(0x2000, 0xb2000000));
  }

  std::unique_ptr<Device> Open() {
    auto device = pci::OpenSysfsDevice(address, tree.paths());
    REQUIRE_OK(device);
    return std::move(*device);
  }
};

}  // namespace

TEST_CASE("sysfs device: config reads through the config file", "[pci][sysfs_device]") {
  NicTree nic;
  auto device = nic.Open();
  CHECK(device->route() == "sysfs");
  CHECK(device->address() == nic.address);
  CHECK(*device->ReadConfig16(pci::kConfigVendorId) == 0x8086);
  CHECK(*device->ReadConfig32(0) == 0x10c98086);
  CHECK(*device->ReadConfig8(pci::kConfigInterruptPin) == 1);
  CHECK(*device->ReadConfig16(0x72) == 4);

  auto unaligned = device->ReadConfig16(0x71);
  REQUIRE_FALSE(unaligned);
  CHECK(unaligned.error().status == Status::INVALID_ARGS);
  auto past = device->ReadConfig32(0x100);
  REQUIRE_FALSE(past);
  CHECK(past.error().status == Status::OUT_OF_RANGE);
  CHECK_THAT(past.error().what, Catch::Contains("0x100 bytes"));
  CHECK_THAT(past.error().object, Catch::Contains("0000:00:04.0 (sysfs)"));

  auto space = device->ReadConfigSpace();
  REQUIRE_OK(space);
  CHECK(space->size() == 256);
  auto caps = pci::ListCapabilities(*space);
  REQUIRE_OK(caps);
  CHECK(caps->size() == 4);

  auto info = device->GetDeviceInfo();
  REQUIRE_OK(info);
  CHECK(info->device_id == 0x10c9);
  CHECK(info->irq == 16);
  CHECK(info->bars.size() == 4);
}

TEST_CASE("sysfs device: the route is read-only", "[pci][sysfs_device]") {
  NicTree nic;
  auto device = nic.Open();
  auto write = device->WriteConfig32(0x40, 0);
  REQUIRE_FALSE(write);
  CHECK(write.error().status == Status::ACCESS_DENIED);
  CHECK_THAT(write.error().what, Catch::Contains("read-only"));
  CHECK(StatusOf(device->WriteConfig16(pci::kConfigCommand, 0)) == "ACCESS_DENIED");
  auto bus_master = device->SetBusMastering(false);
  REQUIRE_FALSE(bus_master);
  CHECK(bus_master.error().status == Status::ACCESS_DENIED);
  CHECK_THAT(bus_master.error().what, Catch::Contains("read-only"));
  auto reset = device->ResetDevice();
  REQUIRE_FALSE(reset);
  CHECK(reset.error().status == Status::NOT_SUPPORTED);
  // Nothing reached the file.
  CHECK(*device->ReadConfig16(pci::kConfigCommand) == 0x0006);
  CHECK(*device->ReadConfig32(0x40) == 0x00035001);
}

TEST_CASE("sysfs device: memory BARs are physical VMOs over resourceN", "[pci][sysfs_device]") {
  NicTree nic;
  auto device = nic.Open();
  auto bar = device->GetBar(0);
  REQUIRE_OK(bar);
  CHECK(bar->index == 0);
  CHECK(bar->size == 0x4000);
  CHECK_FALSE(bar->is_io);
  CHECK(bar->is_64bit);
  CHECK_FALSE(bar->is_prefetchable);
  REQUIRE(bar->mappable.size() == 1);
  CHECK(bar->mappable[0] == std::pair<uint64_t, uint64_t>{0, 0x4000});
  REQUIRE(bar->vmo.is_valid());
  auto description = bar->vmo.Describe();
  REQUIRE_OK(description);
  CHECK(description->kind == udrv::VmoKind::PHYSICAL);
  CHECK(description->route == PhysicalRoute::SYSFS_RESOURCE);
  CHECK(description->cache_policy == CachePolicy::UNCACHED_DEVICE);
  CHECK(description->name == "0000:00:04.0 resource0");
  // Root may open the file read-write; the VMO then carries WRITE.
  if (::geteuid() == 0) CHECK((bar->vmo.rights() & udrv::kRightWrite) != 0);

  auto vmar = Vmar::Create(1 << 20, "test");
  REQUIRE_OK(vmar);
  auto mmio = device->MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
  REQUIRE_OK(mmio);
  CHECK(mmio->Read32(0) == 0xb0000000);
  CHECK(mmio->Read32(0x3ffc) == 0xb0000fff);

  auto wc = device->MapMmio(0, CachePolicy::WRITE_COMBINING, *vmar);
  REQUIRE_FALSE(wc);
  CHECK(wc.error().status == Status::NOT_SUPPORTED);
}

TEST_CASE("sysfs device: BARs that are not there or cannot be mapped", "[pci][sysfs_device]") {
  NicTree nic;
  auto device = nic.Open();
  auto upper = device->GetBar(1);
  REQUIRE_FALSE(upper);
  CHECK(upper.error().status == Status::NOT_FOUND);
  CHECK_THAT(upper.error().what, Catch::Contains("upper half of 64-bit BAR 0"));
  auto upper2 = device->GetBar(3);
  REQUIRE_FALSE(upper2);
  CHECK_THAT(upper2.error().what, Catch::Contains("upper half of 64-bit BAR 2"));
  CHECK(StatusOf(device->GetBar(6)) == "OUT_OF_RANGE");
  auto small = device->GetBar(5);
  REQUIRE_FALSE(small);
  CHECK(small.error().status == Status::NOT_SUPPORTED);
  CHECK_THAT(small.error().what, Catch::Contains("256 bytes"));

  auto io = device->GetBar(4);
  REQUIRE_OK(io);
  CHECK(io->is_io);
  CHECK(io->io_base == 0xc000);
  CHECK(io->size == 32);
  CHECK_FALSE(io->vmo.is_valid());
  CHECK(io->mappable.empty());
  auto vmar = Vmar::Create(1 << 20, "test");
  REQUIRE_OK(vmar);
  CHECK(StatusOf(device->MapMmio(4, CachePolicy::UNCACHED_DEVICE, *vmar)) == "WRONG_TYPE");

  SECTION("a BAR the device does not implement") {
    std::string resource;
    for (int line = 0; line < 7; ++line) resource += ResourceLine(0, 0, 0);
    SysfsTree::Write(nic.dir / "resource", resource);
    auto absent = device->GetBar(0);
    REQUIRE_FALSE(absent);
    CHECK(absent.error().status == Status::NOT_FOUND);
    CHECK_THAT(absent.error().what, Catch::Contains("get BAR 0: not implemented"));
  }
  SECTION("a kernel that offers no resourceN file") {
    fs::remove(nic.dir / "resource0");
    auto none = device->GetBar(0);
    REQUIRE_FALSE(none);
    CHECK(none.error().status == Status::NOT_SUPPORTED);
    CHECK_THAT(none.error().what, Catch::Contains("no resource0"));
  }
}

TEST_CASE("sysfs device: prefetchable BARs map write-combining through resourceN_wc",
          "[pci][sysfs_device]") {
  NicTree nic;
  auto opened = SysfsDevice::Open(nic.address, nic.tree.paths());
  REQUIRE_OK(opened);
  SysfsDevice& device = **opened;
  auto bar = device.GetBarWriteCombining(2);
  REQUIRE_OK(bar);
  CHECK(bar->is_prefetchable);
  CHECK(bar->size == 0x2000);
  auto description = bar->vmo.Describe();
  REQUIRE_OK(description);
  CHECK(description->route == PhysicalRoute::SYSFS_RESOURCE_WC);
  CHECK(description->cache_policy == CachePolicy::WRITE_COMBINING);
  auto vmar = Vmar::Create(1 << 20, "test");
  REQUIRE_OK(vmar);
  auto mmio = udrv::mmio::MmioBuffer::Create(*vmar, 0, bar->size, std::move(bar->vmo),
                                             CachePolicy::WRITE_COMBINING);
  REQUIRE_OK(mmio);
  CHECK(mmio->Read32(4) == 0xb2000001);

  // The plain route of the same BAR is uncached.
  auto plain = device.GetBar(2);
  REQUIRE_OK(plain);
  CHECK(plain->vmo.Describe()->route == PhysicalRoute::SYSFS_RESOURCE);

  auto not_prefetchable = device.GetBarWriteCombining(0);
  REQUIRE_FALSE(not_prefetchable);
  CHECK(not_prefetchable.error().status == Status::NOT_SUPPORTED);
  CHECK_THAT(not_prefetchable.error().what, Catch::Contains("not prefetchable"));
  auto io = device.GetBarWriteCombining(4);
  REQUIRE_FALSE(io);
  CHECK_THAT(io.error().what, Catch::Contains("I/O BAR"));
  CHECK(StatusOf(device.GetBarWriteCombining(3)) == "NOT_FOUND");

  fs::remove(nic.dir / "resource2_wc");
  auto no_wc = device.GetBarWriteCombining(2);
  REQUIRE_FALSE(no_wc);
  CHECK(no_wc.error().status == Status::NOT_SUPPORTED);
  CHECK_THAT(no_wc.error().what, Catch::Contains("resource2_wc"));
}

TEST_CASE("sysfs device: interrupt modes from config space, none to take", "[pci][sysfs_device]") {
  NicTree nic;
  auto device = nic.Open();
  auto modes = device->GetInterruptModes();
  REQUIRE_OK(modes);
  CHECK(modes->has_legacy);
  CHECK(modes->msi_count == 4);
  CHECK(modes->msix_count == 5);

  auto set = device->SetInterruptMode(InterruptMode::MSI_X, 1);
  REQUIRE_FALSE(set);
  CHECK(set.error().status == Status::NOT_SUPPORTED);
  CHECK_THAT(set.error().what, Catch::Contains("vfio-pci") && Catch::Contains("uio_pci_generic"));
  auto fallback = device->SetInterruptModeWithFallback(1);
  REQUIRE_FALSE(fallback);
  CHECK(fallback.error().status == Status::NOT_SUPPORTED);
  CHECK(StatusOf(device->MapInterrupt(0)) == "NOT_SUPPORTED");
  CHECK(StatusOf(device->AckInterrupt(0)) == "NOT_SUPPORTED");
}

TEST_CASE("sysfs device: 64 bytes of config, as an unprivileged reader gets",
          "[pci][sysfs_device]") {
  NicTree nic(64);
  auto device = nic.Open();
  CHECK(*device->ReadConfig16(pci::kConfigDeviceId) == 0x10c9);
  auto past = device->ReadConfig8(0x40);
  REQUIRE_FALSE(past);
  CHECK(past.error().status == Status::OUT_OF_RANGE);
  CHECK_THAT(past.error().what, Catch::Contains("0x40 bytes"));
  auto modes = device->GetInterruptModes();
  REQUIRE_FALSE(modes);
  CHECK(modes.error().status == Status::OUT_OF_RANGE);
  CHECK_THAT(modes.error().what, Catch::Contains("get interrupt modes"));
}

TEST_CASE("sysfs device: an unprivileged process gets read-only BARs", "[pci][sysfs_device]") {
  if (::geteuid() != 0) {
    WARN("not root: this process is the unprivileged case already; skipping the setuid child");
    return;
  }
  NicTree nic;
  // The child drops to nobody, where open(O_RDWR) of the 0644 resource file
  // fails; it reports each step as an exit code.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    auto device = pci::OpenSysfsDevice(nic.address, nic.tree.paths());
    if (!device) ::_exit(11);
    auto bar = (*device)->GetBar(0);
    if (!bar) ::_exit(12);
    if ((bar->vmo.rights() & udrv::kRightWrite) != 0) ::_exit(13);
    if ((bar->vmo.rights() & udrv::kRightMap) == 0) ::_exit(14);
    auto vmar = Vmar::Create(1 << 20, "child");
    if (!vmar) ::_exit(15);
    // MmioBuffer maps read-write: refused for a read-only BAR.
    auto mmio = (*device)->MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
    if (mmio || mmio.error().status != Status::ACCESS_DENIED) ::_exit(16);
    auto address = vmar->Map(udrv::kVmPermRead, 0, bar->vmo, 0, bar->size);
    if (!address) ::_exit(17);
    if (*reinterpret_cast<const volatile uint32_t*>(*address + 8) != 0xb0000002) ::_exit(18);
    auto writable = vmar->Map(udrv::kVmPermRead | udrv::kVmPermWrite, 0, bar->vmo, 0, bar->size);
    if (writable || writable.error().status != Status::ACCESS_DENIED) ::_exit(19);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  INFO("child exit code: 10 setuid, 11 open, 12 GetBar, 13 WRITE right, 14 MAP right, 15 vmar, "
       "16 MapMmio not refused, 17 read-only map, 18 wrong data, 19 writable map not refused");
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("sysfs device: a device that goes away", "[pci][sysfs_device]") {
  NicTree nic;
  auto device = nic.Open();
  // As `echo 1 > remove` does to the live tree: the directory and its links go.
  fs::remove(nic.tree.root / "bus/pci/devices" / kAddress);
  fs::remove_all(nic.dir);
  auto info = device->GetDeviceInfo();
  REQUIRE_FALSE(info);
  CHECK(info.error().status == Status::IO_NOT_PRESENT);
  CHECK(StatusOf(device->GetBar(0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->GetInterruptModes()) == "IO_NOT_PRESENT");

  auto missing = pci::OpenSysfsDevice(*Address::Parse("0000:00:09.0"), nic.tree.paths());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().status == Status::IO_NOT_PRESENT);
}

#ifdef UDRV_PCI_TEST_DATA
// This machine's recorded tree holds no resourceN files: the route inspects
// it without touching a BAR.
TEST_CASE("sysfs device: the recorded tree of this machine", "[pci][sysfs_device]") {
  auto device = pci::OpenSysfsDevice(*Address::Parse("0000:00:01.0"),
                                     udrv::sysfs::LinuxPaths{.sys = UDRV_PCI_TEST_DATA "/host-x86_64"});
  REQUIRE_OK(device);
  CHECK(*(*device)->ReadConfig32(0) == 0x10451af4);
  CHECK(StatusOf((*device)->ReadConfig32(0x100)) == "OUT_OF_RANGE");
  auto modes = (*device)->GetInterruptModes();
  REQUIRE_OK(modes);
  CHECK_FALSE(modes->has_legacy);
  CHECK(modes->msi_count == 0);
  CHECK(modes->msix_count == 5);
  auto bar = (*device)->GetBar(0);
  REQUIRE_FALSE(bar);
  CHECK(bar.error().status == Status::NOT_SUPPORTED);
}
#endif
