// The parts of pci::Device every route shares (pci/src/device.cc), driven
// through a small route over a byte array: config access checks, bus
// mastering, the interrupt-mode fallback and MapMmio's refusals. Then the
// VFIO route's checks that need only sysfs, on trees written by the test
// (nothing here opens a real VFIO node).
#include "udrv/pci/device.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "result_helpers.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"
#include "udrv/pci/vfio.h"

namespace fs = std::filesystem;
using udrv::CachePolicy;
using udrv::Fail;
using udrv::Interrupt;
using udrv::Result;
using udrv::Status;
using udrv::UniqueFd;
using udrv::Vmar;
using udrv::Vmo;
using udrv::testing::StatusOf;
using namespace udrv::pci;

namespace {

// A route whose config space is a byte array and whose BARs and interrupt
// modes the test scripts. It records what reaches it.
class FakeRoute final : public Device {
 public:
  explicit FakeRoute(size_t config_size) : Device(Address{0, 0, 2, 0}), config(config_size, 0) {}

  std::string_view route() const override { return "fake"; }
  Result<DeviceInfo> GetDeviceInfo() const override {
    DeviceInfo info;
    info.address = address();
    return info;
  }

  // BARs: index -> how to build it. Absent: NOT_FOUND.
  struct BarSpec {
    bool is_io = false;
    uint64_t size = 0;
    std::vector<std::pair<uint64_t, uint64_t>> mappable;
  };
  std::map<uint32_t, BarSpec> bars;
  std::optional<UniqueFd> bar_file;  // backs every memory BAR (a memfd)

  Result<Bar> GetBar(uint32_t index) override {
    auto spec = bars.find(index);
    if (spec == bars.end()) return Fail(Status::NOT_FOUND, "no BAR " + std::to_string(index));
    Bar bar;
    bar.index = index;
    bar.size = spec->second.size;
    bar.is_io = spec->second.is_io;
    bar.mappable = spec->second.mappable;
    if (!bar.is_io) {
      auto vmo = Vmo::CreatePhysical(UniqueFd(::dup(bar_file->get())), 0, spec->second.size,
                                     udrv::PhysicalRoute::TEST_FILE, "fake BAR");
      if (!vmo) return std::unexpected(vmo.error());
      bar.vmo = std::move(*vmo);
    }
    return bar;
  }

  // Interrupt modes: what SetInterruptMode answers for each; absent: OK.
  std::map<InterruptMode, udrv::Error> refusals;
  std::vector<std::pair<InterruptMode, uint32_t>> mode_calls;
  Result<InterruptModes> GetInterruptModes() const override { return InterruptModes{}; }
  Result<void> SetInterruptMode(InterruptMode mode, uint32_t count) override {
    mode_calls.emplace_back(mode, count);
    auto refusal = refusals.find(mode);
    if (refusal != refusals.end()) return std::unexpected(refusal->second);
    return {};
  }
  Result<Interrupt> MapInterrupt(uint32_t) override { return Fail(Status::NOT_SUPPORTED, "fake"); }
  Result<void> AckInterrupt(uint32_t) override { return Fail(Status::NOT_SUPPORTED, "fake"); }
  Result<void> ResetDevice() override { return Fail(Status::NOT_SUPPORTED, "fake"); }

  std::vector<uint8_t> config;
  struct Access {
    uint16_t offset;
    size_t width;
    uint32_t value;
  };
  mutable std::vector<Access> reads;
  std::vector<Access> writes;
  std::optional<udrv::Error> read_failure;

 protected:
  Result<uint32_t> DoReadConfig(uint16_t offset, size_t width) const override {
    if (read_failure) return std::unexpected(*read_failure);
    uint32_t value = 0;
    for (size_t i = 0; i < width; ++i) value |= uint32_t{config[offset + i]} << (8 * i);
    reads.push_back({offset, width, value});
    return value;
  }
  Result<void> DoWriteConfig(uint16_t offset, size_t width, uint32_t value) override {
    writes.push_back({offset, width, value});
    for (size_t i = 0; i < width; ++i) config[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    return {};
  }
  size_t ConfigSize() const override { return config.size(); }
};

udrv::Error Refusal(std::string what) {
  return udrv::Error{Status::NOT_SUPPORTED, std::move(what), {}, 0};
}

}  // namespace

TEST_CASE("device: config reads are little endian and bounded by the route", "[pci][device]") {
  FakeRoute device(256);
  const uint8_t header[] = {0x34, 0x12, 0xe8, 0x11, 0x07, 0x05};
  std::memcpy(device.config.data(), header, sizeof(header));
  device.config[0xff] = 0xab;

  CHECK(device.ReadConfig16(0).value() == 0x1234);
  CHECK(device.ReadConfig32(0).value() == 0x11e81234);
  CHECK(device.ReadConfig8(2).value() == 0xe8);
  CHECK(device.ReadConfig8(0xff).value() == 0xab);
  CHECK(device.ReadConfig32(0xfc).value() == 0xab000000);

  SECTION("past the space: OUT_OF_RANGE naming the size, the route never asked") {
    device.reads.clear();
    auto past = device.ReadConfig8(0x100);
    CHECK(StatusOf(past) == "OUT_OF_RANGE");
    CHECK(past.error().what.find("0x100 bytes") != std::string::npos);
    CHECK(past.error().object == "0000:00:02.0 (fake)");
    CHECK(StatusOf(device.ReadConfig16(0xfffe)) == "OUT_OF_RANGE");
    CHECK(StatusOf(device.ReadConfig32(0x100)) == "OUT_OF_RANGE");
    CHECK(device.reads.empty());
  }
  SECTION("misaligned: INVALID_ARGS, the route never asked") {
    device.reads.clear();
    CHECK(StatusOf(device.ReadConfig16(0x41)) == "INVALID_ARGS");
    CHECK(StatusOf(device.ReadConfig32(0x42)) == "INVALID_ARGS");
    CHECK(StatusOf(device.ReadConfig32(0x43)) == "INVALID_ARGS");
    CHECK(device.reads.empty());
  }
  SECTION("extended config space reaches 0xfff") {
    FakeRoute pcie(4096);
    pcie.config[0xffc] = 0x11;
    CHECK(pcie.ReadConfig32(0xffc).value() == 0x11);
    CHECK(StatusOf(pcie.ReadConfig8(0x1000)) == "OUT_OF_RANGE");
  }
}

TEST_CASE("device: writes into the header are ACCESS_DENIED, checked before anything else",
          "[pci][device]") {
  FakeRoute device(256);
  for (uint16_t offset = 0; offset < 0x40; ++offset) {
    INFO("offset " << offset);
    CHECK(StatusOf(device.WriteConfig8(offset, 0xff)) == "ACCESS_DENIED");
  }
  CHECK(StatusOf(device.WriteConfig16(0x04, 0x0007)) == "ACCESS_DENIED");  // the command register
  CHECK(StatusOf(device.WriteConfig16(0x3e, 0)) == "ACCESS_DENIED");
  CHECK(StatusOf(device.WriteConfig32(0x10, 0xffffffff)) == "ACCESS_DENIED");  // BAR sizing
  CHECK(StatusOf(device.WriteConfig32(0x3c, 0)) == "ACCESS_DENIED");
  // A misaligned header write still says it is the header.
  CHECK(StatusOf(device.WriteConfig16(0x3f, 0)) == "ACCESS_DENIED");
  auto denied = device.WriteConfig8(0x3d, 1);
  CHECK(denied.error().what.find("belongs to the root bus") != std::string::npos);
  CHECK(device.writes.empty());

  REQUIRE_OK(device.WriteConfig8(0x40, 0x5a));
  REQUIRE_OK(device.WriteConfig16(0x42, 0xbeef));
  REQUIRE_OK(device.WriteConfig32(0xfc, 0xcafef00d));
  REQUIRE(device.writes.size() == 3);
  CHECK(device.ReadConfig8(0x40).value() == 0x5a);
  CHECK(device.ReadConfig16(0x42).value() == 0xbeef);
  CHECK(device.ReadConfig32(0xfc).value() == 0xcafef00d);

  CHECK(StatusOf(device.WriteConfig16(0x41, 0)) == "INVALID_ARGS");
  CHECK(StatusOf(device.WriteConfig32(0x46, 0)) == "INVALID_ARGS");
  CHECK(StatusOf(device.WriteConfig8(0x100, 0)) == "OUT_OF_RANGE");
  CHECK(StatusOf(device.WriteConfig32(0x100, 0)) == "OUT_OF_RANGE");
  CHECK(device.writes.size() == 3);
}

TEST_CASE("device: ReadConfigSpace copies all the route reaches", "[pci][device]") {
  FakeRoute device(256);
  for (size_t i = 0; i < device.config.size(); ++i) device.config[i] = static_cast<uint8_t>(i);
  auto space = device.ReadConfigSpace();
  REQUIRE_OK(space);
  REQUIRE(space->size() == 256);
  CHECK(std::equal(space->bytes().begin(), space->bytes().end(), device.config.begin()));
  CHECK(space->origin() == "0000:00:02.0 config");

  device.read_failure = udrv::Error{Status::IO_NOT_PRESENT, "gone", {}, 0};
  auto failed = device.ReadConfigSpace();
  CHECK(StatusOf(failed) == "IO_NOT_PRESENT");
  CHECK(failed.error().what == "read config space: gone");
}

TEST_CASE("device: SetBusMastering changes only the bus-master bit", "[pci][device]") {
  FakeRoute device(256);
  device.config[0x04] = 0x03;  // I/O and memory decode on
  device.config[0x05] = 0x05;  // INTx disable and SERR

  REQUIRE_OK(device.SetBusMastering(true));
  REQUIRE(device.writes.size() == 1);
  CHECK(device.writes[0].offset == 0x04);
  CHECK(device.writes[0].width == 2);
  CHECK(device.ReadConfig16(0x04).value() == 0x0507);

  // Already on: read, nothing written.
  REQUIRE_OK(device.SetBusMastering(true));
  CHECK(device.writes.size() == 1);

  REQUIRE_OK(device.SetBusMastering(false));
  CHECK(device.ReadConfig16(0x04).value() == 0x0503);
  CHECK(device.writes.size() == 2);

  device.read_failure = udrv::Error{Status::IO_NOT_PRESENT, "gone", {}, 0};
  auto failed = device.SetBusMastering(true);
  CHECK(StatusOf(failed) == "IO_NOT_PRESENT");
  CHECK(failed.error().what == "set bus mastering: gone");
  CHECK(device.writes.size() == 2);
}

TEST_CASE("device: SetInterruptModeWithFallback tries MSI-X, MSI, legacy in order",
          "[pci][device]") {
  FakeRoute device(256);
  using Call = std::pair<InterruptMode, uint32_t>;

  SECTION("MSI-X first") {
    CHECK(device.SetInterruptModeWithFallback(4).value() == InterruptMode::MSI_X);
    CHECK(device.mode_calls == std::vector<Call>{{InterruptMode::MSI_X, 4}});
  }
  SECTION("MSI when MSI-X says no") {
    device.refusals[InterruptMode::MSI_X] = Refusal("no MSI-X capability");
    CHECK(device.SetInterruptModeWithFallback(2).value() == InterruptMode::MSI);
    CHECK(device.mode_calls ==
          std::vector<Call>{{InterruptMode::MSI_X, 2}, {InterruptMode::MSI, 2}});
  }
  SECTION("legacy for one vector when neither message mode can") {
    device.refusals[InterruptMode::MSI_X] = Refusal("no MSI-X capability");
    device.refusals[InterruptMode::MSI] = Refusal("no MSI capability");
    CHECK(device.SetInterruptModeWithFallback(1).value() == InterruptMode::LEGACY);
    CHECK(device.mode_calls == std::vector<Call>{{InterruptMode::MSI_X, 1},
                                                 {InterruptMode::MSI, 1},
                                                 {InterruptMode::LEGACY, 1}});
  }
  SECTION("legacy is not asked for more than one vector; the error lists every mode") {
    device.refusals[InterruptMode::MSI_X] = Refusal("no MSI-X capability");
    device.refusals[InterruptMode::MSI] = Refusal("the device has 1");
    auto chosen = device.SetInterruptModeWithFallback(2);
    CHECK(StatusOf(chosen) == "NOT_SUPPORTED");
    CHECK(chosen.error().what ==
          "no interrupt mode gives 2 vector(s): MSI-X: no MSI-X capability; MSI: the device has 1; "
          "legacy: one interrupt only");
    CHECK(chosen.error().object == "0000:00:02.0 (fake)");
    CHECK(device.mode_calls ==
          std::vector<Call>{{InterruptMode::MSI_X, 2}, {InterruptMode::MSI, 2}});
  }
  SECTION("nothing works") {
    device.refusals[InterruptMode::MSI_X] = Refusal("a");
    device.refusals[InterruptMode::MSI] = Refusal("b");
    device.refusals[InterruptMode::LEGACY] = Refusal("c");
    auto chosen = device.SetInterruptModeWithFallback(1);
    CHECK(StatusOf(chosen) == "NOT_SUPPORTED");
    CHECK(chosen.error().what ==
          "no interrupt mode gives 1 vector(s): MSI-X: a; MSI: b; legacy: c");
  }
}

TEST_CASE("device: MapMmio maps whole memory BARs and refuses the rest", "[pci][device]") {
  const uint64_t page = udrv::PageSize();
  FakeRoute device(256);
  device.bar_file.emplace(::memfd_create("fake-bar", MFD_CLOEXEC));
  REQUIRE(*device.bar_file);
  REQUIRE(::ftruncate(device.bar_file->get(), static_cast<off_t>(4 * page)) == 0);
  auto vmar = Vmar::Create(64 * page, "device-test");
  REQUIRE_OK(vmar);

  SECTION("a whole BAR maps and its registers are the backing's bytes") {
    device.bars[0] = {false, 4 * page, {{0, 4 * page}}};
    auto mmio = device.MapMmio(0, CachePolicy::CACHED, *vmar);
    REQUIRE_OK(mmio);
    CHECK(mmio->get_size() == 4 * page);
    mmio->Write32(0x12345678, 0x10);
    uint32_t stored = 0;
    REQUIRE(::pread(device.bar_file->get(), &stored, 4, 0x10) == 4);
    CHECK(stored == 0x12345678);
  }
  SECTION("a policy the route cannot honour is the VMO's NOT_SUPPORTED, wrapped") {
    device.bars[0] = {false, 4 * page, {{0, 4 * page}}};
    auto mmio = device.MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
    CHECK(StatusOf(mmio) == "NOT_SUPPORTED");
    CHECK(mmio.error().what.starts_with("map BAR 0: "));
  }
  SECTION("an I/O BAR is WRONG_TYPE") {
    device.bars[2] = {true, 32, {}};
    auto mmio = device.MapMmio(2, CachePolicy::CACHED, *vmar);
    CHECK(StatusOf(mmio) == "WRONG_TYPE");
    CHECK(mmio.error().what == "map BAR 2: an I/O port BAR");
  }
  SECTION("a sparse BAR is NOT_SUPPORTED naming the ranges that can be mapped") {
    device.bars[3] = {false, 4 * page, {{0, page}, {3 * page, page}}};
    auto mmio = device.MapMmio(3, CachePolicy::CACHED, *vmar);
    CHECK(StatusOf(mmio) == "NOT_SUPPORTED");
    CHECK(mmio.error().what.find("mappable ranges: 0x0+0x1000, 0x3000+0x1000") !=
          std::string::npos);
  }
  SECTION("a BAR the route cannot map at all is NOT_SUPPORTED") {
    device.bars[4] = {false, page, {}};
    auto mmio = device.MapMmio(4, CachePolicy::CACHED, *vmar);
    CHECK(StatusOf(mmio) == "NOT_SUPPORTED");
    CHECK(mmio.error().what == "map BAR 4: the route cannot map any of it");
  }
  SECTION("GetBar's error passes through") {
    CHECK(StatusOf(device.MapMmio(5, CachePolicy::CACHED, *vmar)) == "NOT_FOUND");
  }
}

// ---- the VFIO route, as far as sysfs alone decides ----

namespace {

struct SysfsTree {
  fs::path root;
  SysfsTree() {
    char name[] = "/tmp/udrv-vfio-XXXXXX";
    root = ::mkdtemp(name);
    fs::create_directories(root / "sys/bus/pci/devices");
    fs::create_directories(root / "sys/bus/pci/drivers/vfio-pci");
    fs::create_directories(root / "sys/bus/pci/drivers/e1000e");
    fs::create_directories(root / "sys/kernel/iommu_groups/5");
  }
  ~SysfsTree() { fs::remove_all(root); }
  std::string sys() const { return (root / "sys").string(); }
  udrv::sysfs::LinuxPaths paths() const { return udrv::sysfs::LinuxPaths{.sys = sys()}; }

  fs::path AddDevice(const std::string& address) {
    fs::path dir = root / "sys/devices/pci0000:00" / address;
    fs::create_directories(dir);
    for (auto [file, text] : {std::pair{"vendor", "0x8086"},
                              {"device", "0x10d3"},
                              {"subsystem_vendor", "0x8086"},
                              {"subsystem_device", "0x0000"},
                              {"class", "0x020000"},
                              {"revision", "0x00"}}) {
      std::ofstream(dir / file) << text << "\n";
    }
    fs::create_directory_symlink(dir, root / "sys/bus/pci/devices" / address);
    return dir;
  }
};

}  // namespace

TEST_CASE("vfio: OpenVfioDevice needs the device bound to vfio-pci, in an IOMMU group",
          "[pci][vfio]") {
  SysfsTree tree;
  const Address nic{0, 0, 3, 0};
  fs::path dir = tree.AddDevice("0000:00:03.0");

  SECTION("a device bound to another driver: BAD_STATE naming it and BindDriver") {
    fs::create_directory_symlink(tree.root / "sys/bus/pci/drivers/e1000e", dir / "driver");
    auto device = OpenVfioDevice(nic, tree.paths());
    CHECK(StatusOf(device) == "BAD_STATE");
    CHECK(device.error().what.find("bound to e1000e, not vfio-pci") != std::string::npos);
    CHECK(device.error().what.find("BindDriver") != std::string::npos);
    CHECK(device.error().object == "0000:00:03.0 (vfio)");
  }
  SECTION("a device with no driver: BAD_STATE") {
    auto device = OpenVfioDevice(nic, tree.paths());
    CHECK(StatusOf(device) == "BAD_STATE");
    CHECK(device.error().what.find("bound to no driver") != std::string::npos);
  }
  SECTION("bound to vfio-pci but in no IOMMU group: NOT_SUPPORTED") {
    fs::create_directory_symlink(tree.root / "sys/bus/pci/drivers/vfio-pci", dir / "driver");
    auto device = OpenVfioDevice(nic, tree.paths());
    CHECK(StatusOf(device) == "NOT_SUPPORTED");
    CHECK(device.error().what.find("no IOMMU group") != std::string::npos);
  }
  SECTION("a device that is not there: IO_NOT_PRESENT") {
    auto device = OpenVfioDevice(Address{0, 0, 9, 0}, tree.paths());
    CHECK(StatusOf(device) == "IO_NOT_PRESENT");
  }
  SECTION("no IOMMU object: INVALID_ARGS") {
    CHECK(StatusOf(VfioDevice::Open(nic, nullptr, tree.paths())) == "INVALID_ARGS");
  }
}
