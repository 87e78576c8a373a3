// The binding helpers and the UIO route's refusals, on sysfs trees the tests
// write into temporary directories (never the live /sys, except one read-only
// cross-check). No kernel answers the writes here: a tree's drivers_probe,
// unbind and driver_override are plain files, so a test sees what was
// written where, and a bind never takes (the links stay as the test made
// them). The kernel's side is proven in the guests (test/guest/pci_bind_test.cc).
#include "udrv/pci/bind.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "result_helpers.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/uio.h"

namespace fs = std::filesystem;
using udrv::Status;
using udrv::pci::Address;
using udrv::pci::BindDriver;
using udrv::pci::BindRecord;
using udrv::pci::CheckGroupViability;
using udrv::pci::RestoreDriver;
using udrv::testing::StatusOf;

namespace {

Address A(const char* text) {
  auto address = Address::Parse(text);
  REQUIRE(address);
  return *address;
}

// A sysfs tree laid out as the kernel's, links with the kernel's relative targets.
class FakeSysfs {
 public:
  FakeSysfs() {
    char name[] = "/tmp/udrv-bind-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    root_ = name;
    fs::create_directories(root_ / "bus/pci/devices");
    fs::create_directories(root_ / "bus/pci/drivers");
    fs::create_directories(root_ / "kernel/iommu_groups");
    fs::create_directories(root_ / "devices/pci0000:00");
    Write(root_ / "bus/pci/drivers_probe", "");
  }
  ~FakeSysfs() { fs::remove_all(root_); }

  std::string root() const { return root_.string(); }
  udrv::sysfs::LinuxPaths paths() const { return udrv::sysfs::LinuxPaths{.sys = root()}; }
  fs::path Device(const std::string& address) const {
    return root_ / "devices/pci0000:00" / address;
  }

  fs::path AddDevice(const std::string& address) {
    const fs::path dir = Device(address);
    fs::create_directories(dir);
    for (const char* attribute : {"vendor", "device", "subsystem_vendor", "subsystem_device"}) {
      Write(dir / attribute, "0x1234\n");
    }
    Write(dir / "class", "0x00ff00\n");
    Write(dir / "revision", "0x10\n");
    Write(dir / "irq", "11\n");
    Write(dir / "driver_override", "(null)\n");
    fs::create_directory_symlink("../../../devices/pci0000:00/" + address,
                                 root_ / "bus/pci/devices" / address);
    return dir;
  }
  void AddDriver(const std::string& name) {
    fs::create_directories(root_ / "bus/pci/drivers" / name);
    Write(root_ / "bus/pci/drivers" / name / "bind", "");
    Write(root_ / "bus/pci/drivers" / name / "unbind", "");
  }
  void Bind(const std::string& address, const std::string& driver) {
    AddDriver(driver);
    fs::create_directory_symlink("../../../bus/pci/drivers/" + driver, Device(address) / "driver");
  }
  void AddToGroup(const std::string& address, uint32_t group) {
    const fs::path devices = root_ / "kernel/iommu_groups" / std::to_string(group) / "devices";
    fs::create_directories(devices);
    fs::create_directory_symlink("../../../../devices/pci0000:00/" + address, devices / address);
    fs::create_directory_symlink("../../../kernel/iommu_groups/" + std::to_string(group),
                                 Device(address) / "iommu_group");
  }
  void AddIommu(const std::string& name) { fs::create_directories(root_ / "class/iommu" / name); }

  std::string Contents(const fs::path& path) const {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
  std::string DriverOverride(const std::string& address) const {
    return Contents(Device(address) / "driver_override");
  }
  std::string Probed() const { return Contents(root_ / "bus/pci/drivers_probe"); }
  std::string Unbound(const std::string& driver) const {
    return Contents(root_ / "bus/pci/drivers" / driver / "unbind");
  }

  static void Write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

 private:
  fs::path root_;
};

// q35's ICH9 functions, one IOMMU group (as in the x86_64 guest).
void AddIch9Group(FakeSysfs& tree) {
  tree.AddIommu("dmar0");
  for (const char* address : {"0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"}) {
    tree.AddDevice(address);
    tree.AddToGroup(address, 6);
  }
}

}  // namespace

TEST_CASE("bind: CheckGroupViability names the members that block a group", "[bind]") {
  FakeSysfs tree;
  AddIch9Group(tree);
  tree.Bind("0000:00:1f.2", "ahci");
  tree.Bind("0000:00:1f.3", "i801_smbus");

  // 1f.3 is the one going to vfio-pci: its own driver does not count.
  auto smbus = CheckGroupViability(A("0000:00:1f.3"), tree.paths());
  REQUIRE_OK(smbus);
  CHECK(smbus->group == 6);
  CHECK_FALSE(smbus->viable);
  REQUIRE(smbus->members.size() == 3);
  CHECK(smbus->members[0] == std::pair(A("0000:00:1f.0"), std::string()));
  CHECK(smbus->members[1] == std::pair(A("0000:00:1f.2"), std::string("ahci")));
  CHECK(smbus->members[2] == std::pair(A("0000:00:1f.3"), std::string("i801_smbus")));
  CHECK(smbus->blockers == std::vector<std::string>{"0000:00:1f.2 bound to ahci"});

  auto bridge = CheckGroupViability(A("0000:00:1f.0"), tree.paths());
  REQUIRE_OK(bridge);
  CHECK(bridge->blockers ==
        std::vector<std::string>{"0000:00:1f.2 bound to ahci", "0000:00:1f.3 bound to i801_smbus"});

  // BindDriver refuses before it writes anything.
  tree.AddDriver("vfio-pci");
  auto bound = BindDriver(A("0000:00:1f.0"), "vfio-pci", tree.paths());
  REQUIRE(StatusOf(bound) == "BAD_STATE");
  CHECK(bound.error().what.find("0000:00:1f.2 bound to ahci, 0000:00:1f.3 bound to i801_smbus "
                                "block IOMMU group 6") != std::string::npos);
  CHECK(bound.error().object == "0000:00:1f.0");
  CHECK(tree.DriverOverride("0000:00:1f.0") == "(null)\n");
  CHECK(tree.Probed().empty());
  CHECK(tree.Unbound("ahci").empty());
}

TEST_CASE("bind: drivers that manage DMA themselves keep a group viable", "[bind]") {
  using udrv::pci::DriverKeepsGroupViable;
  CHECK(DriverKeepsGroupViable("vfio-pci"));
  CHECK(DriverKeepsGroupViable("mlx5_vfio_pci"));
  CHECK(DriverKeepsGroupViable("virtio-vfio-pci"));
  CHECK(DriverKeepsGroupViable("pci-stub"));
  CHECK(DriverKeepsGroupViable("pcieport"));
  CHECK_FALSE(DriverKeepsGroupViable("uio_pci_generic"));
  CHECK_FALSE(DriverKeepsGroupViable("vfio"));
  CHECK_FALSE(DriverKeepsGroupViable("ahci"));

  FakeSysfs tree;
  AddIch9Group(tree);
  tree.Bind("0000:00:1f.0", "pcieport");
  tree.Bind("0000:00:1f.2", "vfio-pci");
  tree.Bind("0000:00:1f.3", "pci-stub");
  auto viability = CheckGroupViability(A("0000:00:1f.2"), tree.paths());
  REQUIRE_OK(viability);
  CHECK(viability->viable);
  CHECK(viability->blockers.empty());
  CHECK(viability->members.size() == 3);

  // A platform device in the group (arm64) blocks too, named as sysfs names it.
  const fs::path dma = tree.root() + std::string("/devices/platform/9050000.dma");
  fs::create_directories(dma);
  tree.AddDriver("pl330");
  fs::create_directory_symlink("../../../bus/pci/drivers/pl330", dma / "driver");
  fs::create_directory_symlink(
      "../../../../devices/platform/9050000.dma",
      tree.root() + std::string("/kernel/iommu_groups/6/devices/9050000.dma"));
  viability = CheckGroupViability(A("0000:00:1f.2"), tree.paths());
  REQUIRE_OK(viability);
  CHECK_FALSE(viability->viable);
  CHECK(viability->members.size() == 3);
  CHECK(viability->blockers == std::vector<std::string>{"9050000.dma bound to pl330"});
}

TEST_CASE("bind: a function outside any IOMMU group", "[bind]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:02.0");
  tree.AddDriver("vfio-pci");

  // No IOMMU at all: VFIO cannot have it.
  auto no_iommu = CheckGroupViability(A("0000:00:02.0"), tree.paths());
  REQUIRE(StatusOf(no_iommu) == "NOT_SUPPORTED");
  CHECK(no_iommu.error().what.find("boot with intel_iommu=on") != std::string::npos);
  CHECK(no_iommu.error().what.find("VFIO no-IOMMU mode is not supported") != std::string::npos);
  auto bound = BindDriver(A("0000:00:02.0"), "vfio-pci", tree.paths());
  REQUIRE(StatusOf(bound) == "NOT_SUPPORTED");
  CHECK(bound.error().what.find("no IOMMU group") != std::string::npos);
  CHECK(tree.DriverOverride("0000:00:02.0") == "(null)\n");
  CHECK(tree.Probed().empty());

  // An IOMMU that has not made the group yet (arm64 SMMUv3 before a probe).
  tree.AddIommu("smmu3.0x0000000009050000");
  auto not_yet = CheckGroupViability(A("0000:00:02.0"), tree.paths());
  REQUIRE(StatusOf(not_yet) == "NOT_FOUND");
  CHECK(not_yet.error().what.find("when a driver first probes") != std::string::npos);

  auto missing = CheckGroupViability(A("0000:00:09.0"), tree.paths());
  CHECK(StatusOf(missing) == "IO_NOT_PRESENT");
}

TEST_CASE("bind: an iommu_group link that loops is no missing IOMMU", "[bind]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:02.0");
  tree.AddDriver("vfio-pci");
  tree.AddIommu("dmar0");
  fs::create_directory_symlink("iommu_group", tree.Device("0000:00:02.0") / "iommu_group");
  auto viability = CheckGroupViability(A("0000:00:02.0"), tree.paths());
  REQUIRE(StatusOf(viability) == "IO_INVALID");
  CHECK(viability.error().err_no == ELOOP);
  CHECK(viability.error().what.find("check IOMMU group: read IOMMU group: the iommu_group link "
                                    "cannot be followed") == 0);
  auto bound = BindDriver(A("0000:00:02.0"), "vfio-pci", tree.paths());
  REQUIRE(StatusOf(bound) == "IO_INVALID");
  CHECK(bound.error().err_no == ELOOP);
  CHECK(tree.DriverOverride("0000:00:02.0") == "(null)\n");
  CHECK(tree.Probed().empty());
}

TEST_CASE("bind: BindDriver refuses bad requests before writing anything", "[bind]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:02.0");

  // "uio" is uio_pci_generic, which this tree has not loaded.
  auto not_loaded = BindDriver(A("0000:00:02.0"), "uio", tree.paths());
  REQUIRE(StatusOf(not_loaded) == "NOT_FOUND");
  CHECK(not_loaded.error().what.find("driver 'uio_pci_generic' is not loaded (modprobe "
                                     "uio_pci_generic)") != std::string::npos);
  CHECK(not_loaded.error().object == "0000:00:02.0");

  tree.AddDriver("uio_pci_generic");
  for (const char* name : {"", "uio_pci/generic", "uio pci", "uio\n"}) {
    INFO("driver '" << name << "'");
    CHECK(StatusOf(BindDriver(A("0000:00:02.0"), name, tree.paths())) == "INVALID_ARGS");
  }
  auto missing = BindDriver(A("0000:00:09.0"), "uio", tree.paths());
  CHECK(StatusOf(missing) == "IO_NOT_PRESENT");

  CHECK(tree.DriverOverride("0000:00:02.0") == "(null)\n");
  CHECK(tree.Probed().empty());
}

TEST_CASE("bind: binding to the driver already bound changes nothing", "[bind]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:02.0");
  tree.Bind("0000:00:02.0", "uio_pci_generic");
  FakeSysfs::Write(tree.Device("0000:00:02.0") / "driver_override", "uio_pci_generic\n");

  auto record = BindDriver(A("0000:00:02.0"), "uio", tree.paths());
  REQUIRE_OK(record);
  CHECK(record->address == A("0000:00:02.0"));
  CHECK(record->driver == "uio_pci_generic");
  CHECK(record->previous_driver == "uio_pci_generic");
  CHECK(record->previous_override == "uio_pci_generic");
  REQUIRE_OK(RestoreDriver(*record, tree.paths()));
  CHECK(tree.Unbound("uio_pci_generic").empty());
  CHECK(tree.DriverOverride("0000:00:02.0") == "uio_pci_generic\n");
  CHECK(tree.Probed().empty());
}

TEST_CASE("bind: a bind that does not take is rolled back and reported", "[bind]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:03.0");
  tree.Bind("0000:00:03.0", "e1000e");
  tree.AddDriver("uio_pci_generic");

  // The writes happen in order; the driver link, which only a kernel would
  // change, still says e1000e afterwards.
  auto bound = BindDriver(A("0000:00:03.0"), "uio", tree.paths());
  REQUIRE(StatusOf(bound) == "NOT_SUPPORTED");
  CHECK(bound.error().what.find("bind 0000:00:03.0 to uio_pci_generic: the driver declined the "
                                "device (now bound to e1000e)") != std::string::npos);
  // The rollback unbound again, cleared driver_override and probed for e1000e.
  CHECK(tree.Unbound("e1000e") == "0000:00:03.0");
  CHECK(tree.DriverOverride("0000:00:03.0") == "\n");
  CHECK(tree.Probed() == "0000:00:03.0");
  CHECK(bound.error().what.find("also failed") == std::string::npos);
}

TEST_CASE("bind: a write that fails names the file and keeps its errno", "[bind]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:02.0");
  tree.AddDriver("uio_pci_generic");
  // A directory in place of drivers_probe: the kernel would say EINVAL or
  // ENODEV; the path through the code is the same.
  fs::remove(tree.root() + std::string("/bus/pci/drivers_probe"));
  fs::create_directory(tree.root() + std::string("/bus/pci/drivers_probe"));

  auto bound = BindDriver(A("0000:00:02.0"), "uio", tree.paths());
  REQUIRE_FALSE(bound);
  CHECK(bound.error().err_no == EISDIR);
  CHECK(bound.error().what.find("probe: open " + tree.root() +
                                "/bus/pci/drivers_probe to write '0000:00:02.0'") !=
        std::string::npos);
  // The function had no driver: the rollback only cleared driver_override.
  CHECK(tree.DriverOverride("0000:00:02.0") == "\n");
}

TEST_CASE("bind: RestoreDriver unbinds, restores driver_override and reprobes", "[bind]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:1f.2");
  tree.Bind("0000:00:1f.2", "vfio-pci");
  FakeSysfs::Write(tree.Device("0000:00:1f.2") / "driver_override", "vfio-pci\n");
  const BindRecord record{A("0000:00:1f.2"), "ahci", std::nullopt, "vfio-pci"};

  auto not_loaded = RestoreDriver(record, tree.paths());
  REQUIRE(StatusOf(not_loaded) == "NOT_FOUND");
  CHECK(not_loaded.error().what.find("driver 'ahci' is not loaded") != std::string::npos);
  CHECK(tree.Unbound("vfio-pci").empty());

  tree.AddDriver("ahci");
  auto restored = RestoreDriver(record, tree.paths());
  CHECK(tree.Unbound("vfio-pci") == "0000:00:1f.2");
  CHECK(tree.DriverOverride("0000:00:1f.2") == "\n");
  CHECK(tree.Probed() == "0000:00:1f.2");
  // Without a kernel ahci never binds again, and RestoreDriver checks.
  REQUIRE(StatusOf(restored) == "BAD_STATE");
  CHECK(restored.error().what.find("restore 0000:00:1f.2 to ahci: the device did not bind "
                                   "again (now bound to vfio-pci)") != std::string::npos);
}

TEST_CASE("bind: RestoreDriver leaves a function that had no driver without one", "[bind]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:03.0");
  FakeSysfs::Write(tree.Device("0000:00:03.0") / "driver_override", "vfio-pci\n");
  const BindRecord record{A("0000:00:03.0"), std::nullopt, std::nullopt, "vfio-pci"};
  REQUIRE_OK(RestoreDriver(record, tree.paths()));
  CHECK(tree.DriverOverride("0000:00:03.0") == "\n");
  CHECK(tree.Probed().empty());

  // A recorded override comes back as it was.
  const BindRecord with_override{A("0000:00:03.0"), std::nullopt, "pci-stub", "vfio-pci"};
  REQUIRE_OK(RestoreDriver(with_override, tree.paths()));
  CHECK(tree.DriverOverride("0000:00:03.0") == "pci-stub");
}

TEST_CASE("bind: UnbindDriver takes the function from its driver and records what to restore",
          "[bind]") {
  FakeSysfs tree;
  CHECK(StatusOf(UnbindDriver(A("0000:00:1f.2"), tree.paths())) == "IO_NOT_PRESENT");

  tree.AddDevice("0000:00:1f.2");
  tree.Bind("0000:00:1f.2", "ahci");
  FakeSysfs::Write(tree.Device("0000:00:1f.2") / "driver_override", "ahci\n");
  auto record = UnbindDriver(A("0000:00:1f.2"), tree.paths());
  REQUIRE_OK(record);
  CHECK(tree.Unbound("ahci") == "0000:00:1f.2");
  CHECK(record->previous_driver == "ahci");
  CHECK(record->previous_override == "ahci");
  CHECK(record->driver.empty());
  CHECK(tree.DriverOverride("0000:00:1f.2") == "ahci\n");  // left as it was

  // No driver: nothing written, a record that restores to "no driver".
  tree.AddDevice("0000:00:03.0");
  auto unbound = UnbindDriver(A("0000:00:03.0"), tree.paths());
  REQUIRE_OK(unbound);
  CHECK_FALSE(unbound->previous_driver.has_value());
  CHECK(tree.Probed().empty());
}

TEST_CASE("uio: OpenUioDevice needs the function bound to uio_pci_generic", "[bind][uio]") {
  FakeSysfs tree;
  tree.AddDevice("0000:00:02.0");
  tree.AddDevice("0000:00:03.0");
  tree.Bind("0000:00:03.0", "vfio-pci");

  auto unbound = udrv::pci::OpenUioDevice(A("0000:00:02.0"), tree.paths());
  REQUIRE(StatusOf(unbound) == "BAD_STATE");
  CHECK(unbound.error().what.find("bound to no driver, not uio_pci_generic; bind it first "
                                  "(BindDriver(address, \"uio\"))") != std::string::npos);
  auto on_vfio = udrv::pci::OpenUioDevice(A("0000:00:03.0"), tree.paths());
  REQUIRE(StatusOf(on_vfio) == "BAD_STATE");
  CHECK(on_vfio.error().what.find("bound to vfio-pci") != std::string::npos);

  // Bound, but the driver registered no UIO device (it had failed half-way).
  tree.Bind("0000:00:02.0", "uio_pci_generic");
  auto no_uio = udrv::pci::OpenUioDevice(A("0000:00:02.0"), tree.paths());
  REQUIRE(StatusOf(no_uio) == "BAD_STATE");
  CHECK(no_uio.error().what.find("registered no UIO device") != std::string::npos);

  CHECK(StatusOf(udrv::pci::OpenUioDevice(A("0000:00:09.0"), tree.paths())) == "IO_NOT_PRESENT");
}

// Read only: the live /sys of the machine running the tests, checked against
// SysfsPci's reading of the same groups.
TEST_CASE("bind: CheckGroupViability agrees with SysfsPci on this machine", "[bind]") {
  udrv::pci::SysfsPci sysfs;
  auto addresses = sysfs.List();
  if (!addresses) {
    WARN("no PCI bus in /sys: " << addresses.error().ToString());
    return;
  }
  for (const Address& address : *addresses) {
    INFO(address.ToString());
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    auto viability = CheckGroupViability(address);
    if (!info->iommu_group) {
      CHECK((StatusOf(viability) == "NOT_SUPPORTED" || StatusOf(viability) == "NOT_FOUND"));
      continue;
    }
    REQUIRE_OK(viability);
    CHECK(viability->group == *info->iommu_group);
    REQUIRE(viability->members.size() == info->iommu_group_members.size());
    for (size_t i = 0; i < viability->members.size(); ++i) {
      CHECK(viability->members[i].first == info->iommu_group_members[i]);
      auto member = sysfs.Read(info->iommu_group_members[i]);
      REQUIRE_OK(member);
      CHECK(viability->members[i].second == member->driver.value_or(""));
    }
  }
}
