// SysfsPci over trees written by the test and the recorded tree of this
// machine: the parsing of every attribute, the errors for broken trees, and
// a vanished device.
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "result_helpers.h"
#include "sysfs_tree.h"
#include "udrv/pci/config.h"
#include "udrv/pci/sysfs.h"

namespace fs = std::filesystem;
using udrv::Status;
using udrv::pci::Address;
using udrv::pci::SysfsPci;

using Tree = udrv::pci::testing::SysfsTree;

TEST_CASE("sysfs pci: lists and reads a recorded tree", "[pci]") {
  Tree tree;
  fs::path nic = tree.AddDevice("0000:00:03.0", "0x8086", "0x10d3", "0x020000", "0x00");
  tree.AddDevice("0000:00:00.0", "0x8086", "0x29c0", "0x060000", "0x02");
  tree.BindDriver(nic, "e1000e");
  tree.JoinGroup(nic, "0000:00:03.0", 7);

  SysfsPci sysfs(tree.paths());
  auto list = sysfs.List();
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].ToString() == "0000:00:00.0");
  CHECK((*list)[1].ToString() == "0000:00:03.0");

  auto info = sysfs.Read((*list)[1]);
  REQUIRE(info);
  CHECK(info->vendor_id == 0x8086);
  CHECK(info->device_id == 0x10d3);
  CHECK(info->subsystem_vendor_id == 0x8086);
  CHECK(info->class_code == 0x020000);
  CHECK(info->base_class() == 0x02);
  CHECK(info->revision == 0);
  REQUIRE(info->driver);
  CHECK(*info->driver == "e1000e");
  REQUIRE(info->iommu_group);
  CHECK(*info->iommu_group == 7);

  auto bridge = sysfs.Read((*list)[0]);
  REQUIRE(bridge);
  CHECK(bridge->revision == 2);
  CHECK_FALSE(bridge->driver);
  CHECK_FALSE(bridge->iommu_group);
}

TEST_CASE("sysfs pci: revision falls back to config space", "[pci]") {
  Tree tree;
  fs::path dir = tree.AddDevice("0000:00:02.0", "0x1234", "0x11e8", "0x00ff00", "");
  std::string config(64, '\0');
  config[8] = '\x10';
  std::ofstream(dir / "config", std::ios::binary) << config;
  auto info = SysfsPci(tree.paths()).Read(*Address::Parse("0000:00:02.0"));
  REQUIRE(info);
  CHECK(info->revision == 0x10);
}

TEST_CASE("sysfs pci: broken trees give errors naming the file", "[pci]") {
  Tree tree;
  SysfsPci sysfs(tree.paths());

  SECTION("no PCI bus") {
    SysfsPci empty(udrv::sysfs::LinuxPaths{.sys = "/nonexistent-udrv-root"});
    auto list = empty.List();
    REQUIRE_FALSE(list);
    CHECK(list.error().status == Status::NOT_FOUND);
    CHECK_THAT(list.error().what, Catch::Contains("/nonexistent-udrv-root/bus/pci/devices"));
  }
  SECTION("an entry that is not an address") {
    fs::create_directory(tree.root / "bus/pci/devices/garbage");
    auto list = sysfs.List();
    REQUIRE_FALSE(list);
    CHECK(list.error().status == Status::IO_INVALID);
    CHECK_THAT(list.error().what, Catch::Contains("garbage"));
  }
  SECTION("a malformed attribute") {
    tree.AddDevice("0000:00:04.0", "0xzz86", "0x10d3", "0x020000", "0x00");
    auto info = sysfs.Read(*Address::Parse("0000:00:04.0"));
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::IO_INVALID);
    CHECK_THAT(info.error().object, Catch::EndsWith("0000:00:04.0/vendor"));
  }
  SECTION("an out-of-range attribute") {
    tree.AddDevice("0000:00:04.0", "0x18086", "0x10d3", "0x020000", "0x00");
    auto info = sysfs.Read(*Address::Parse("0000:00:04.0"));
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::IO_INVALID);
  }
  SECTION("a missing attribute") {
    fs::path dir = tree.AddDevice("0000:00:04.0", "0x8086", "0x10d3", "0x020000", "0x00");
    fs::remove(dir / "class");
    auto info = sysfs.Read(*Address::Parse("0000:00:04.0"));
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::NOT_FOUND);
    CHECK_THAT(info.error().what, Catch::Contains("/class"));
  }
  SECTION("a device that vanished") {
    auto info = sysfs.Read(*Address::Parse("0000:00:09.0"));
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::IO_NOT_PRESENT);
  }
}

namespace {

void OnAlarm(int) {}

// Runs `read` with SIGALRM due after two seconds and no SA_RESTART: a read
// that blocks (a FIFO opened for reading waits for a writer) ends in EINTR
// instead of hanging the suite.
template <typename Read>
auto WithinTwoSeconds(Read read) {
  struct sigaction action{};
  struct sigaction previous{};
  action.sa_handler = OnAlarm;
  ::sigaction(SIGALRM, &action, &previous);
  ::alarm(2);
  auto result = read();
  ::alarm(0);
  ::sigaction(SIGALRM, &previous, nullptr);
  return result;
}

}  // namespace

TEST_CASE("sysfs pci: a FIFO or device node where an attribute belongs is refused, not opened",
          "[pci]") {
  Tree tree;
  fs::path dir = tree.AddDevice("0000:00:03.0", "0x8086", "0x10d3", "0x020000", "0x00");
  SysfsPci sysfs(tree.paths());
  const Address address = *Address::Parse("0000:00:03.0");
  for (const char* attribute : {"vendor", "irq", "resource", "driver_override"}) {
    fs::remove(dir / attribute);
    REQUIRE(::mkfifo((dir / attribute).c_str(), 0644) == 0);
    auto info = WithinTwoSeconds([&] { return sysfs.Read(address); });
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::NOT_FILE);
    CHECK_THAT(info.error().what,
               Catch::Contains(sysfs.DevicePath(address) + "/" + attribute + ": a FIFO"));
    fs::remove(dir / attribute);
    // The others are optional.
    if (attribute == std::string("vendor")) Tree::Write(dir / attribute, "0x8086");
  }
  REQUIRE(::mkfifo((dir / "config").c_str(), 0644) == 0);
  auto config = WithinTwoSeconds([&] { return sysfs.ReadConfig(address); });
  REQUIRE_FALSE(config);
  CHECK(config.error().status == Status::NOT_FILE);
  CHECK_THAT(config.error().what, Catch::Contains("config: a FIFO"));

  // /dev/null's numbers: a device node whose open would run a driver.
  fs::remove(dir / "config");
  if (::mknod((dir / "config").c_str(), S_IFCHR | 0644, ::makedev(1, 3)) == 0) {
    config = sysfs.ReadConfig(address);
    REQUIRE_FALSE(config);
    CHECK(config.error().status == Status::NOT_FILE);
    CHECK_THAT(config.error().what, Catch::Contains("config: a character device"));
  }
}

namespace {

// A resource file line as the kernel prints it.
std::string ResourceLine(uint64_t start, uint64_t end, uint64_t flags) {
  char line[80];
  std::snprintf(line, sizeof(line), "0x%016llx 0x%016llx 0x%016llx", static_cast<unsigned long long>(start),
                static_cast<unsigned long long>(end), static_cast<unsigned long long>(flags));
  return line;
}

// BAR0 64-bit memory, BAR2 64-bit prefetchable, BAR4 I/O, an expansion ROM,
// then a line past the ROM (an SR-IOV or bridge window) that must be ignored.
std::string NicResources() {
  const std::string empty = ResourceLine(0, 0, 0);
  return ResourceLine(0xfebc0000, 0xfebdffff, 0x140204) + "\n" + empty + "\n" +
         ResourceLine(0x800000000, 0x800003fff, 0x14220c) + "\n" + empty + "\n" +
         ResourceLine(0xc000, 0xc01f, 0x40101) + "\n" + empty + "\n" +
         ResourceLine(0xfeb80000, 0xfebbffff, 0x46200) + "\n" +
         ResourceLine(0xfe000000, 0xfe0fffff, 0x140204);
}

}  // namespace

TEST_CASE("sysfs pci: BARs, ROM, IRQ, NUMA node, driver_override", "[pci]") {
  Tree tree;
  fs::path nic = tree.AddDevice("0000:00:03.0", "0x8086", "0x10d3", "0x020000", "0x00");
  Tree::Write(nic / "resource", NicResources());
  Tree::Write(nic / "irq", "22");
  Tree::Write(nic / "numa_node", "1");
  Tree::Write(nic / "driver_override", "vfio-pci");
  auto info = SysfsPci(tree.paths()).Read(*Address::Parse("0000:00:03.0"));
  REQUIRE_OK(info);

  REQUIRE(info->bars.size() == 3);
  const udrv::pci::BarInfo& bar0 = info->bars[0];
  CHECK(bar0.index == 0);
  CHECK(bar0.address == 0xfebc0000);
  CHECK(bar0.size == 0x20000);
  CHECK_FALSE(bar0.is_io);
  CHECK(bar0.is_64bit);
  CHECK_FALSE(bar0.is_prefetchable);
  const udrv::pci::BarInfo& bar2 = info->bars[1];
  CHECK(bar2.index == 2);
  CHECK(bar2.address == 0x800000000);
  CHECK(bar2.size == 0x4000);
  CHECK(bar2.is_64bit);
  CHECK(bar2.is_prefetchable);
  const udrv::pci::BarInfo& bar4 = info->bars[2];
  CHECK(bar4.index == 4);
  CHECK(bar4.is_io);
  CHECK(bar4.address == 0xc000);
  CHECK(bar4.size == 32);
  CHECK_FALSE(bar4.is_64bit);
  CHECK(info->FindBar(2) == &info->bars[1]);
  CHECK(info->FindBar(1) == nullptr);

  REQUIRE(info->expansion_rom);
  CHECK(info->expansion_rom->address == 0xfeb80000);
  CHECK(info->expansion_rom->size == 0x40000);
  CHECK(info->irq == 22);
  CHECK(info->numa_node == 1);
  REQUIRE(info->driver_override);
  CHECK(*info->driver_override == "vfio-pci");
  CHECK_FALSE(info->parent_bridge);

  SECTION("'(null)' means no override; -1 no NUMA node") {
    Tree::Write(nic / "driver_override", "(null)");
    Tree::Write(nic / "numa_node", "-1");
    auto again = SysfsPci(tree.paths()).Read(*Address::Parse("0000:00:03.0"));
    REQUIRE_OK(again);
    CHECK_FALSE(again->driver_override);
    CHECK(again->numa_node == -1);
  }
  SECTION("a kernel without the optional attributes") {
    fs::remove(nic / "resource");
    fs::remove(nic / "irq");
    fs::remove(nic / "numa_node");
    fs::remove(nic / "driver_override");
    auto bare = SysfsPci(tree.paths()).Read(*Address::Parse("0000:00:03.0"));
    REQUIRE_OK(bare);
    CHECK(bare->bars.empty());
    CHECK_FALSE(bare->expansion_rom);
    CHECK(bare->irq == 0);
    CHECK(bare->numa_node == -1);
    CHECK_FALSE(bare->driver_override);
  }
}

TEST_CASE("sysfs pci: IOMMU group members and the parent bridge", "[pci]") {
  Tree tree;
  fs::path port = tree.AddDevice("0000:00:1c.0", "0x8086", "0x2940", "0x060400", "0x03");
  fs::path nic = tree.AddDevice("0000:03:00.0", "0x8086", "0x10d3", "0x020000", "0x00",
                                "devices/pci0000:00/0000:00:1c.0");
  fs::path nic_fn1 = tree.AddDevice("0000:03:00.1", "0x8086", "0x10d3", "0x020000", "0x00",
                                    "devices/pci0000:00/0000:00:1c.0");
  tree.JoinGroup(nic_fn1, "0000:03:00.1", 12);
  tree.JoinGroup(nic, "0000:03:00.0", 12);
  // Groups on arm64 can hold platform devices; they are not PCI members.
  fs::create_directory_symlink(tree.root, tree.root / "kernel/iommu_groups/12/devices/9000000.pl011");

  SysfsPci sysfs(tree.paths());
  auto info = sysfs.Read(*Address::Parse("0000:03:00.0"));
  REQUIRE_OK(info);
  REQUIRE(info->parent_bridge);
  CHECK(info->parent_bridge->ToString() == "0000:00:1c.0");
  REQUIRE(info->iommu_group);
  CHECK(*info->iommu_group == 12);
  REQUIRE(info->iommu_group_members.size() == 2);
  CHECK(info->iommu_group_members[0].ToString() == "0000:03:00.0");
  CHECK(info->iommu_group_members[1].ToString() == "0000:03:00.1");

  auto root_port = sysfs.Read(*Address::Parse("0000:00:1c.0"));
  REQUIRE_OK(root_port);
  CHECK_FALSE(root_port->parent_bridge);
  CHECK(root_port->iommu_group_members.empty());
  (void)port;
}

TEST_CASE("sysfs pci: an iommu_group link that leads to no group says why", "[pci]") {
  Tree tree;
  fs::path dir = tree.AddDevice("0000:00:03.0", "0x8086", "0x10d3", "0x020000", "0x00");
  SysfsPci sysfs(tree.paths());
  const Address address = *Address::Parse("0000:00:03.0");
  const std::string link = sysfs.DevicePath(address) + "/iommu_group";

  SECTION("a loop") {
    // The group's directory links back to itself: ELOOP on every lookup.
    fs::create_directories(tree.root / "kernel/iommu_groups");
    fs::create_directory_symlink("7", tree.root / "kernel/iommu_groups/7");
    fs::create_directory_symlink("../../../kernel/iommu_groups/7", dir / "iommu_group");
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    CHECK_FALSE(info->iommu_group);
    REQUIRE(info->iommu_group_error);
    CHECK(info->iommu_group_error->err_no == ELOOP);
    CHECK(info->iommu_group_error->object == link);
    CHECK_THAT(info->iommu_group_error->what, Catch::Contains("cannot be followed"));
  }
  SECTION("a link to itself") {
    fs::create_directory_symlink("iommu_group", dir / "iommu_group");
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    REQUIRE(info->iommu_group_error);
    CHECK(info->iommu_group_error->err_no == ELOOP);
  }
  SECTION("a target that is no group") {
    fs::create_directory_symlink("../../../kernel/iommu_groups/seven", dir / "iommu_group");
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    REQUIRE(info->iommu_group_error);
    CHECK(info->iommu_group_error->status == Status::IO_INVALID);
    CHECK_THAT(info->iommu_group_error->what,
               Catch::Contains("leads to 'seven', not an IOMMU group"));
  }
  SECTION("a group directory the recorded tree left out still names its group") {
    fs::create_directory_symlink("../../../kernel/iommu_groups/9", dir / "iommu_group");
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    CHECK(info->iommu_group == 9u);
    CHECK_FALSE(info->iommu_group_error);
  }
}

TEST_CASE("sysfs pci: malformed optional attributes name the file", "[pci]") {
  Tree tree;
  fs::path dir = tree.AddDevice("0000:00:03.0", "0x8086", "0x10d3", "0x020000", "0x00");
  SysfsPci sysfs(tree.paths());
  const Address address = *Address::Parse("0000:00:03.0");
  SECTION("resource") {
    Tree::Write(dir / "resource", ResourceLine(0, 0, 0) + "\nnot a resource line");
    auto info = sysfs.Read(address);
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::IO_INVALID);
    CHECK_THAT(info.error().object, Catch::EndsWith("0000:00:03.0/resource"));
    CHECK_THAT(info.error().what, Catch::Contains("line 1"));
  }
  SECTION("resource with end before start") {
    Tree::Write(dir / "resource", ResourceLine(0x2000, 0x1000, 0x200));
    CHECK(udrv::testing::StatusOf(sysfs.Read(address)) == "IO_INVALID");
  }
  SECTION("irq") {
    Tree::Write(dir / "irq", "eleven");
    auto info = sysfs.Read(address);
    REQUIRE_FALSE(info);
    CHECK(info.error().status == Status::IO_INVALID);
    CHECK_THAT(info.error().object, Catch::EndsWith("/irq"));
  }
  SECTION("numa_node") {
    Tree::Write(dir / "numa_node", "-7");
    auto info = sysfs.Read(address);
    REQUIRE_FALSE(info);
    CHECK_THAT(info.error().object, Catch::EndsWith("/numa_node"));
  }
}

TEST_CASE("sysfs pci: ReadConfig returns what the config file gives", "[pci]") {
  Tree tree;
  fs::path dir = tree.AddDevice("0000:00:03.0", "0x8086", "0x10d3", "0x020000", "0x00");
  SysfsPci sysfs(tree.paths());
  const Address address = *Address::Parse("0000:00:03.0");

  std::vector<uint8_t> bytes(4096);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  Tree::WriteBytes(dir / "config", bytes);
  auto config = sysfs.ReadConfig(address);
  REQUIRE_OK(config);
  CHECK(config->size() == 4096);
  CHECK(*config->Read8(0xfff) == static_cast<uint8_t>(0xfff * 7));
  CHECK(config->origin() == "0000:00:03.0 config");

  bytes.resize(64);  // what an unprivileged reader gets
  Tree::WriteBytes(dir / "config", bytes);
  config = sysfs.ReadConfig(address);
  REQUIRE_OK(config);
  CHECK(config->size() == 64);

  Tree::WriteBytes(dir / "config", {});
  CHECK(udrv::testing::StatusOf(sysfs.ReadConfig(address)) == "IO_INVALID");
  // 20 GB (sparse): no config space is larger than 4096 bytes.
  fs::resize_file(dir / "config", uint64_t{20} << 30);
  auto huge = sysfs.ReadConfig(address);
  REQUIRE_FALSE(huge);
  CHECK(huge.error().status == Status::FILE_BIG);
  CHECK_THAT(huge.error().what,
             Catch::Contains("holds 21474836480 bytes, more than any config space (4096): not a "
                             "config space"));
  auto gone = sysfs.ReadConfig(*Address::Parse("0000:00:09.0"));
  REQUIRE_FALSE(gone);
  CHECK(gone.error().status == Status::IO_NOT_PRESENT);
}

#ifdef UDRV_PCI_TEST_DATA
// This machine's tree, recorded by test/pci/record-sysfs-tree.sh: five VirtIO
// functions behind an Intel host bridge (pci_enum_vs_lspci.sh compares it
// with lspci fact by fact; here, the shape).
TEST_CASE("sysfs pci: the recorded tree of this machine", "[pci]") {
  SysfsPci sysfs(udrv::sysfs::LinuxPaths{.sys = UDRV_PCI_TEST_DATA "/host-x86_64"});
  auto list = sysfs.List();
  REQUIRE_OK(list);
  REQUIRE(list->size() == 6);
  auto balloon = sysfs.Read(*Address::Parse("0000:00:01.0"));
  REQUIRE_OK(balloon);
  CHECK(balloon->vendor_id == 0x1af4);
  CHECK(balloon->device_id == 0x1045);
  REQUIRE(balloon->bars.size() == 1);
  CHECK(balloon->bars[0].address == 0x4000000000);
  CHECK(balloon->bars[0].size == 512 * 1024);
  CHECK(balloon->bars[0].is_64bit);
  CHECK(balloon->driver.value_or("") == "virtio-pci");
  CHECK_FALSE(balloon->driver_override);
  CHECK(balloon->numa_node == -1);
  CHECK_FALSE(balloon->parent_bridge);

  auto config = sysfs.ReadConfig(*Address::Parse("0000:00:01.0"));
  REQUIRE_OK(config);
  CHECK(config->size() == 256);
  auto caps = udrv::pci::ListCapabilities(*config);
  REQUIRE_OK(caps);
  REQUIRE(caps->size() == 6);
  CHECK(caps->back().id == udrv::pci::kCapMsix);
  CHECK(caps->back().offset == 0x98);
  auto msix = udrv::pci::DecodeMsix(*config, caps->back());
  REQUIRE_OK(msix);
  CHECK(msix->table_size == 5);
  CHECK(msix->pba_offset == 0x48000);
}

// The x86_64 testbed guest (q35 + VT-d), recorded in the guest by the same
// script: the e1000e with its PCIe capabilities and a 4096-byte config.
TEST_CASE("sysfs pci: the recorded tree of the x86_64 guest", "[pci]") {
  SysfsPci sysfs(udrv::sysfs::LinuxPaths{.sys = UDRV_PCI_TEST_DATA "/guest-x86_64"});
  const Address nic = *Address::Parse("0000:00:03.0");
  auto info = sysfs.Read(nic);
  REQUIRE_OK(info);
  CHECK(info->vendor_id == 0x8086);
  CHECK(info->device_id == 0x10d3);
  CHECK(info->irq == 11);
  REQUIRE(info->iommu_group);
  CHECK(*info->iommu_group == 3);
  REQUIRE(info->iommu_group_members.size() == 1);
  CHECK(info->iommu_group_members[0] == nic);
  REQUIRE(info->bars.size() == 4);
  CHECK(info->bars[2].index == 2);
  CHECK(info->bars[2].is_io);
  CHECK(info->bars[2].size == 32);
  REQUIRE(info->expansion_rom);
  CHECK(info->expansion_rom->size == 256 * 1024);

  auto config = sysfs.ReadConfig(nic);
  REQUIRE_OK(config);
  REQUIRE(config->size() == 4096);
  auto caps = udrv::pci::ListCapabilities(*config);
  REQUIRE_OK(caps);
  REQUIRE(caps->size() == 4);
  CHECK((*caps)[0].id == udrv::pci::kCapPowerManagement);
  CHECK((*caps)[1].id == udrv::pci::kCapMsi);
  CHECK((*caps)[2].id == udrv::pci::kCapPciExpress);
  CHECK((*caps)[3].id == udrv::pci::kCapMsix);
  auto pcie = udrv::pci::DecodePciExpress(*config, (*caps)[2]);
  REQUIRE_OK(pcie);
  CHECK(pcie->port_type == 9);  // integrated endpoint on q35's root bus
  CHECK_FALSE(pcie->has_link);
  auto extended = udrv::pci::ListExtendedCapabilities(*config);
  REQUIRE_OK(extended);
  REQUIRE(extended->size() == 2);
  CHECK((*extended)[0].id == udrv::pci::kExtCapAer);
  CHECK((*extended)[0].version == 2);
  CHECK((*extended)[1].offset == 0x140);

  // Three functions of the ICH9 share group 6.
  auto lpc = sysfs.Read(*Address::Parse("0000:00:1f.0"));
  REQUIRE_OK(lpc);
  CHECK(lpc->iommu_group_members.size() == 3);
}
#endif
