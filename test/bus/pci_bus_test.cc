// The PCI bus as the driver manager sees it, on recorded and written sysfs
// trees: enumeration (nodes, ids, parents, properties from DeviceInfo) and
// the opens it refuses before binding anything. Nothing here binds or opens
// a device: the guest suite (test/guest/driver_manager_test.cc) does that.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "result_helpers.h"
#include "sysfs_tree.h"
#include "udrv/bus/bind_rules.h"
#include "udrv/drivers/edu/bus_driver.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/pci/sysfs.h"

using udrv::bus::DeviceNode;
using udrv::bus::Evaluate;
using udrv::pci::Address;
using udrv::pci::PciBus;
using udrv::pci::PciBusOptions;
using udrv::pci::PciRoute;
using udrv::pci::PropertiesOf;
using udrv::pci::SysfsPci;
using udrv::testing::StatusOf;
namespace edu = udrv::drivers::edu;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<PciBus> MakeBus(const std::string& root) {
  PciBusOptions options;
  options.paths.sys = root;
  auto bus = PciBus::Create(options);
  REQUIRE_OK(bus);
  return std::move(*bus);
}

std::map<std::string, DeviceNode> ById(const std::vector<DeviceNode>& nodes) {
  std::map<std::string, DeviceNode> by_id;
  for (const DeviceNode& node : nodes) by_id[node.id] = node;
  return by_id;
}

}  // namespace

TEST_CASE("pci bus: the uio route needs consent, the vfio route refuses it", "[bus][pci]") {
  PciBusOptions uio;
  uio.route = PciRoute::UIO;
  auto refused = PciBus::Create(uio);
  CHECK(StatusOf(refused) == "INVALID_ARGS");
  CHECK_THAT(refused.error().what, Catch::Contains("device_may_reach_all_memory"));
  uio.physical_dma.device_may_reach_all_memory = true;
  REQUIRE_OK(PciBus::Create(uio));

  PciBusOptions vfio;
  vfio.physical_dma.device_may_reach_all_memory = true;
  auto pointless = PciBus::Create(vfio);
  CHECK(StatusOf(pointless) == "INVALID_ARGS");
  CHECK_THAT(pointless.error().what, Catch::Contains("uio route only"));
}

TEST_CASE("pci bus: nodes of a recorded tree carry their DeviceInfo as properties",
          "[bus][pci]") {
  const std::string tree = GENERATE(std::string("guest-x86_64"), std::string("guest-aarch64"),
                                    std::string("host-x86_64"));
  const std::string root = UDRV_PCI_TEST_DATA "/" + tree;
  INFO("tree " << tree);
  auto bus = MakeBus(root);
  CHECK(bus->name() == "pci");
  auto nodes = bus->Enumerate();
  REQUIRE_OK(nodes);

  SysfsPci sysfs(udrv::sysfs::LinuxPaths{.sys = root});
  auto addresses = sysfs.List();
  REQUIRE_OK(addresses);
  REQUIRE(nodes->size() == addresses->size());
  for (size_t i = 0; i < nodes->size(); ++i) {
    const DeviceNode& node = (*nodes)[i];
    auto info = sysfs.Read((*addresses)[i]);
    REQUIRE_OK(info);
    INFO("node " << node.id);
    CHECK(node.bus == "pci");
    // No bridges in these trees: every function sits on the root bus.
    CHECK(node.id == "pci/" + info->address.ToString());
    CHECK(node.parent.empty());
    CHECK(node.properties == PropertiesOf(*info));
    CHECK(node.properties.FindString("pci.address") == info->address.ToString());
    CHECK(node.properties.FindNumber("pci.vendor") == info->vendor_id);
    CHECK(node.properties.FindNumber("pci.device") == info->device_id);
    CHECK(node.properties.FindNumber("pci.subsystem_vendor") == info->subsystem_vendor_id);
    CHECK(node.properties.FindNumber("pci.subsystem_device") == info->subsystem_id);
    CHECK(node.properties.FindNumber("pci.class") == info->base_class());
    CHECK(node.properties.FindNumber("pci.subclass") == info->sub_class());
    CHECK(node.properties.FindNumber("pci.interface") == info->prog_if());
    CHECK(node.properties.FindNumber("pci.revision") == info->revision);
    CHECK(node.properties.FindString("pci.driver") == info->driver);
    CHECK(node.properties.FindNumber("pci.iommu_group") == info->iommu_group);
  }
}

TEST_CASE("pci bus: the edu driver's rules pick edu out of the recorded guests",
          "[bus][pci]") {
  const auto [tree, address] = GENERATE(std::pair<std::string, std::string>("guest-x86_64", "0000:00:02.0"),
                                        std::pair<std::string, std::string>("guest-aarch64", "0000:00:01.0"));
  INFO("tree " << tree);
  auto nodes = MakeBus(UDRV_PCI_TEST_DATA "/" + tree)->Enumerate();
  REQUIRE_OK(nodes);
  const udrv::bus::Driver driver = edu::MakeBusDriver();
  CHECK(driver.name == "edu");
  size_t matched = 0;
  for (const DeviceNode& node : *nodes) {
    auto evaluation = Evaluate(driver.rules, node.properties);
    INFO(node.id << ": " << evaluation.Explain());
    if (node.id == "pci/" + address) {
      CHECK(evaluation.matched);
      ++matched;
    } else {
      CHECK_FALSE(evaluation.matched);
      CHECK_THAT(evaluation.Explain(), Catch::Contains("pci.vendor == 0x1234: it is") ||
                                           Catch::Contains("pci.device == 0x11e8: it is"));
    }
  }
  CHECK(matched == 1);
}

TEST_CASE("pci bus: ids follow the bridges down; parents are the bridges' nodes", "[bus][pci]") {
  udrv::pci::testing::SysfsTree tree;
  tree.AddDevice("0000:00:00.0", "0x8086", "0x29c0", "0x060000", "0x02");
  tree.AddDevice("0000:00:1c.0", "0x8086", "0x2940", "0x060400", "0x02");
  tree.AddDevice("0000:03:00.0", "0x8086", "0x10d3", "0x020000", "0x00",
                 "devices/pci0000:00/0000:00:1c.0");
  tree.AddDevice("0000:04:00.0", "0x1234", "0x11e8", "0x00ff00", "0x10",
                 "devices/pci0000:00/0000:00:1c.0/0000:03:00.0");

  auto nodes = MakeBus(tree.root.string())->Enumerate();
  REQUIRE_OK(nodes);
  REQUIRE(nodes->size() == 4);
  auto by_id = ById(*nodes);
  REQUIRE(by_id.contains("pci/0000:00:00.0"));
  REQUIRE(by_id.contains("pci/0000:00:1c.0"));
  REQUIRE(by_id.contains("pci/0000:00:1c.0/0000:03:00.0"));
  REQUIRE(by_id.contains("pci/0000:00:1c.0/0000:03:00.0/0000:04:00.0"));
  CHECK(by_id["pci/0000:00:1c.0"].parent.empty());
  CHECK(by_id["pci/0000:00:1c.0/0000:03:00.0"].parent == "pci/0000:00:1c.0");
  CHECK(by_id["pci/0000:00:1c.0/0000:03:00.0/0000:04:00.0"].parent ==
        "pci/0000:00:1c.0/0000:03:00.0");
  // Parents come before their children.
  CHECK((*nodes)[1].id == "pci/0000:00:1c.0");
  CHECK((*nodes)[2].id == "pci/0000:00:1c.0/0000:03:00.0");
}

TEST_CASE("pci bus: a function with a bad attribute is skipped, saying which and why",
          "[bus][pci]") {
  udrv::pci::testing::SysfsTree tree;
  tree.AddDevice("0000:00:02.0", "0x1234", "0x11e8", "0x00ff00", "0x10");
  tree.AddDevice("0000:00:03.0", "0xzz86", "0x10d3", "0x020000", "0x00");
  const fs::path fifo = tree.AddDevice("0000:00:04.0", "0x8086", "0x10d3", "0x020000", "0x00");
  fs::remove(fifo / "class");
  REQUIRE(::mkfifo((fifo / "class").c_str(), 0644) == 0);

  std::vector<std::string> lines;
  PciBusOptions options;
  options.paths = tree.paths();
  options.log = [&lines](std::string_view line) { lines.emplace_back(line); };
  auto bus = PciBus::Create(options);
  REQUIRE_OK(bus);
  auto nodes = (*bus)->Enumerate();
  REQUIRE_OK(nodes);
  REQUIRE(nodes->size() == 1);
  CHECK((*nodes)[0].id == "pci/0000:00:02.0");
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Catch::StartsWith("skipped 0000:00:03.0: IO_INVALID: unexpected content "
                                         "'0xzz86'"));
  CHECK_THAT(lines[1], Catch::StartsWith("skipped 0000:00:04.0: NOT_FILE: read "));
  CHECK_THAT(lines[1], Catch::Contains("0000:00:04.0/class: a FIFO"));
}

TEST_CASE("pci bus: opens it refuses before binding anything", "[bus][pci]") {
  udrv::pci::testing::SysfsTree tree;
  tree.AddDevice("0000:00:02.0", "0x1234", "0x11e8", "0x00ff00", "0x10");
  auto bus = MakeBus(tree.root.string());
  auto nodes = bus->Enumerate();
  REQUIRE_OK(nodes);
  REQUIRE(nodes->size() == 1);
  const DeviceNode edu_node = (*nodes)[0];

  SECTION("a node of another bus") {
    DeviceNode other = edu_node;
    other.bus = "usb";
    auto opened = bus->Open(other);
    CHECK(StatusOf(opened) == "INVALID_ARGS");
    CHECK_THAT(opened.error().what, Catch::Contains("'usb'"));
  }
  SECTION("a node without an address") {
    DeviceNode other = edu_node;
    other.properties = {};
    other.properties.Set("pci.vendor", 0x1234);
    auto opened = bus->Open(other);
    CHECK(StatusOf(opened) == "INVALID_ARGS");
    CHECK_THAT(opened.error().what, Catch::Contains("pci.address"));
  }
  SECTION("a node whose address does not parse") {
    DeviceNode other = edu_node;
    other.properties.Set("pci.address", "not an address");
    CHECK(StatusOf(bus->Open(other)) == "INVALID_ARGS");
  }
  SECTION("a function that is gone") {
    DeviceNode other = edu_node;
    other.properties.Set("pci.address", "0000:00:09.0");
    CHECK(StatusOf(bus->Open(other)) == "IO_NOT_PRESENT");
  }
  SECTION("a function whose IDs changed since it was enumerated") {
    DeviceNode other = edu_node;
    other.properties.Set("pci.device", 0x1111);
    auto opened = bus->Open(other);
    CHECK(StatusOf(opened) == "BAD_STATE");
    CHECK_THAT(opened.error().what, Catch::Contains("0x1234:0x11e8 now"));
  }
  // None of them wrote the tree: no driver_override appeared.
  CHECK_FALSE(std::filesystem::exists(tree.root / "devices/pci0000:00/0000:00:02.0/driver_override"));
}
