// The device tree reader on small trees (test/platform/trees/*.dts, built
// with dtc): each expected value is worked out by hand from the tree as
// Linux's of_translate_address and of_irq_parse_one would read it.
#include "udrv/platform/device_tree.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using udrv::Status;
using udrv::platform::DeviceTree;
using udrv::platform::DtDevice;
using udrv::platform::GicInterrupt;

std::string TreePath(const std::string& name) {
  return std::string(UDRV_TEST_TREES) + "/" + name + ".dtb";
}

std::vector<std::byte> ReadBlob(const std::string& name) {
  std::ifstream file(TreePath(name), std::ios::binary);
  REQUIRE(file.good());
  std::vector<char> chars{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  std::vector<std::byte> bytes(chars.size());
  std::transform(chars.begin(), chars.end(), bytes.begin(), [](char c) { return std::byte(c); });
  return bytes;
}

std::vector<DtDevice> Enumerate(const std::string& name) {
  auto tree = DeviceTree::FromFile(TreePath(name));
  INFO((tree ? "" : tree.error().ToString()));
  REQUIRE(tree);
  auto devices = tree->Enumerate();
  INFO((devices ? "" : devices.error().ToString()));
  REQUIRE(devices);
  return std::move(*devices);
}

const DtDevice& Device(const std::vector<DtDevice>& devices, const std::string& path) {
  for (const DtDevice& device : devices) {
    if (device.path == path) return device;
  }
  FAIL("no device at " << path);
  throw std::logic_error("unreachable");
}

std::string Problems(const DtDevice& device) {
  std::string text;
  for (const auto& problem : device.problems) text += problem.ToString() + "\n";
  return text;
}

// The device has exactly one problem, about `object`, saying `words`.
void RequireProblem(const DtDevice& device, const std::string& object, const std::string& words) {
  INFO(device.path << ":\n" << Problems(device));
  REQUIRE(device.problems.size() == 1);
  CHECK(device.problems[0].object == object);
  CHECK_THAT(device.problems[0].what, Catch::Matchers::Contains(words));
}

void RequireClean(const DtDevice& device) {
  INFO(device.path << ":\n" << Problems(device));
  REQUIRE(device.problems.empty());
}

void RequireGic(const udrv::platform::InterruptEntry& entry, GicInterrupt::Kind kind,
                uint32_t number, uint32_t hwirq, GicInterrupt::Trigger trigger) {
  REQUIRE(entry.gic);
  CHECK(entry.gic->kind == kind);
  CHECK(entry.gic->number == number);
  CHECK(entry.gic->hwirq == hwirq);
  CHECK(entry.gic->trigger == trigger);
}

}  // namespace

TEST_CASE("nested simple-buses translate through every ranges", "[devicetree]") {
  const auto devices = Enumerate("nested");
  const DtDevice& serial = Device(devices, "/soc/bus@7e100000/serial@1000");
  RequireClean(serial);
  CHECK(serial.name == "serial@1000");
  CHECK(serial.compatible == std::vector<std::string>{"udrv,uart", "arm,pl011"});
  CHECK(serial.enabled);
  CHECK(serial.status.empty());
  REQUIRE(serial.regs.size() == 2);
  CHECK(serial.regs[0].name == "regs");
  CHECK(serial.regs[0].cells == std::vector<uint32_t>{0x1000});
  CHECK(serial.regs[0].bus_address == 0x1000);
  CHECK(serial.regs[0].size == 0x100);
  // 0x1000 -> 0x7e101000 (bus@7e100000) -> 0xfe101000 (/soc).
  CHECK(serial.regs[0].phys == 0xfe101000u);
  CHECK(serial.regs[1].name == "fifo");
  CHECK(serial.regs[1].phys == 0xfe102000u);
  CHECK(serial.clock_names == std::vector<std::string>{"uartclk", "apb_pclk"});
  REQUIRE(serial.interrupts.size() == 1);
  CHECK(serial.interrupts[0].name == "rx");
  // Inherited: the root's interrupt-parent.
  CHECK(serial.interrupts[0].controller == "/interrupt-controller@40041000");
  CHECK(serial.interrupts[0].specifier == std::vector<uint32_t>{0, 57, 4});
  RequireGic(serial.interrupts[0], GicInterrupt::Kind::SPI, 57, 89,
             GicInterrupt::Trigger::LEVEL_HIGH);
  CHECK_FALSE(serial.dma);

  const DtDevice& outside = Device(devices, "/soc/bus@7e100000/outside@20000");
  RequireClean(outside);
  REQUIRE(outside.regs.size() == 1);
  CHECK_FALSE(outside.regs[0].phys);
  CHECK_THAT(outside.regs[0].untranslated,
             Catch::Matchers::Contains("/soc/bus@7e100000:ranges covers <0x20000>"));

  const DtDevice& gpio = Device(devices, "/soc/gpio@7e200000");
  RequireClean(gpio);
  CHECK(gpio.regs.at(0).phys == 0xfe200000u);
  REQUIRE(gpio.interrupts.size() == 2);
  RequireGic(gpio.interrupts[1], GicInterrupt::Kind::SPI, 114, 146,
             GicInterrupt::Trigger::LEVEL_HIGH);
}

TEST_CASE("status decides enabled, and disabled nodes are listed", "[devicetree]") {
  const auto devices = Enumerate("nested");
  const DtDevice& off = Device(devices, "/soc/bus@7e100000/disabled@3000");
  CHECK_FALSE(off.enabled);
  CHECK(off.status == "disabled");
  CHECK(off.regs.at(0).phys == 0xfe103000u);
  const DtDevice& ok = Device(devices, "/soc/bus@7e100000/ok@4000");
  CHECK(ok.enabled);
  CHECK(ok.status == "ok");
  // The root has compatible too; it is on no bus and has no regs.
  const DtDevice& root = Device(devices, "/");
  CHECK(root.name.empty());
  CHECK(root.regs.empty());
  // A parent before its children.
  size_t soc_bus = 0, serial = 0;
  for (size_t i = 0; i < devices.size(); ++i) {
    if (devices[i].path == "/soc/bus@7e100000") soc_bus = i;
    if (devices[i].path == "/soc/bus@7e100000/serial@1000") serial = i;
  }
  CHECK(soc_bus < serial);
}

TEST_CASE("empty ranges is identity, a missing one and #size-cells 0 are not memory",
          "[devicetree]") {
  const auto devices = Enumerate("nested");
  const DtDevice& timer = Device(devices, "/identity-bus/timer@0,60000000");
  RequireClean(timer);
  CHECK(timer.regs.at(0).phys == 0x60000000u);

  const DtDevice& hidden = Device(devices, "/no-ranges-bus/device@100");
  RequireClean(hidden);
  CHECK(hidden.regs.at(0).bus_address == 0x100);
  CHECK_FALSE(hidden.regs.at(0).phys);
  CHECK_THAT(hidden.regs.at(0).untranslated, Catch::Matchers::Contains("/no-ranges-bus has no ranges"));

  // An I2C child: a bus address, no MMIO region.
  const DtDevice& sensor = Device(devices, "/soc/i2c@7e804000/sensor@48");
  RequireClean(sensor);
  REQUIRE(sensor.regs.size() == 1);
  CHECK(sensor.regs[0].bus_address == 0x48);
  CHECK(sensor.regs[0].size == 0);
  CHECK_FALSE(sensor.regs[0].phys);
  CHECK_THAT(sensor.regs[0].untranslated,
             Catch::Matchers::Contains("/soc/i2c@7e804000 has #size-cells 0"));
  // Its interrupt goes to the GPIO controller, which is no GIC.
  REQUIRE(sensor.interrupts.size() == 1);
  CHECK(sensor.interrupts[0].controller == "/soc/gpio@7e200000");
  CHECK(sensor.interrupts[0].specifier == std::vector<uint32_t>{5, 8});
  CHECK_FALSE(sensor.interrupts[0].gic);
}

TEST_CASE("two-cell child addresses and dma-ranges", "[devicetree]") {
  const auto devices = Enumerate("nested");
  const DtDevice& ethernet = Device(devices, "/scb/ethernet@7d580000");
  RequireClean(ethernet);
  CHECK(ethernet.regs.at(0).cells == std::vector<uint32_t>{0x0, 0x7d580000});
  CHECK(ethernet.regs.at(0).phys == 0xfd580000u);
  REQUIRE(ethernet.dma);
  CHECK(ethernet.dma->offset == 0);
  CHECK(ethernet.dma->bus_base == 0);
  CHECK(ethernet.dma->limit == 0xfbffffffu);

  const DtDevice& xhci = Device(devices, "/scb/xhci@6,0");
  RequireClean(xhci);
  CHECK(xhci.regs.at(0).bus_address == 0x600000100u);
  CHECK(xhci.regs.at(0).phys == 0x600000100u);

  // BCM2711's emmc2bus: bus address 0xc0000000 is CPU address 0.
  const DtDevice& mmc = Device(devices, "/emmc2bus/mmc@7e340000");
  RequireClean(mmc);
  CHECK(mmc.regs.at(0).phys == 0xfe340000u);
  REQUIRE(mmc.dma);
  CHECK(mmc.dma->offset == -0xc0000000ll);
  CHECK(mmc.dma->bus_base == 0xc0000000u);
  CHECK(mmc.dma->limit == 0xffffffffu);
}

TEST_CASE("interrupts-extended and the GIC's kinds and triggers", "[devicetree]") {
  const auto devices = Enumerate("nested");
  const DtDevice& timer = Device(devices, "/identity-bus/timer@0,60000000");
  REQUIRE(timer.interrupts.size() == 3);
  CHECK(timer.interrupts[0].controller == "/interrupt-controller@40041000");
  // 0xf08: a PPI's CPU mask above the trigger bits.
  RequireGic(timer.interrupts[0], GicInterrupt::Kind::PPI, 13, 29,
             GicInterrupt::Trigger::LEVEL_LOW);
  CHECK(timer.interrupts[1].controller == "/interrupt-controller@50000000");
  RequireGic(timer.interrupts[1], GicInterrupt::Kind::ESPI, 5, 4101,
             GicInterrupt::Trigger::EDGE_RISING);
  RequireGic(timer.interrupts[2], GicInterrupt::Kind::EPPI, 2, 1058,
             GicInterrupt::Trigger::EDGE_FALLING);
  CHECK(udrv::platform::GicKindName(GicInterrupt::Kind::ESPI) == "ESPI");
  CHECK(udrv::platform::GicTriggerName(GicInterrupt::Trigger::LEVEL_HIGH) == "level-high");
}

TEST_CASE("an interrupt-map nexus matches unit address and specifier", "[devicetree]") {
  const auto devices = Enumerate("nested");
  const DtDevice& first = Device(devices, "/nexus@70000000/dev@1000");
  RequireClean(first);
  CHECK(first.regs.at(0).phys == 0x70001000u);
  REQUIRE(first.interrupts.size() == 2);
  // To the GIC-400 (#address-cells 0: no parent unit address in the entry).
  CHECK(first.interrupts[0].controller == "/interrupt-controller@40041000");
  RequireGic(first.interrupts[0], GicInterrupt::Kind::SPI, 20, 52,
             GicInterrupt::Trigger::LEVEL_HIGH);
  // To the GICv3 (#address-cells 2: two cells of unit address first).
  CHECK(first.interrupts[1].controller == "/interrupt-controller@50000000");
  CHECK(first.interrupts[1].specifier == std::vector<uint32_t>{0, 21, 1});
  RequireGic(first.interrupts[1], GicInterrupt::Kind::SPI, 21, 53,
             GicInterrupt::Trigger::EDGE_RISING);

  // The mask keeps unit address 0x2000 apart from 0x1000.
  const DtDevice& second = Device(devices, "/nexus@70000000/dev@2000");
  REQUIRE(second.interrupts.size() == 1);
  RequireGic(second.interrupts[0], GicInterrupt::Kind::PPI, 7, 23,
             GicInterrupt::Trigger::LEVEL_LOW);
  // <0x2000 3> matches no entry.
  RequireProblem(second, "/nexus@70000000:interrupt-map", "no entry matches <0x2000 0x3>");
}

TEST_CASE("PCI three-cell addresses match ranges by space", "[devicetree]") {
  const auto devices = Enumerate("pci");
  const DtDevice& bridge = Device(devices, "/pcie@10000000");
  RequireClean(bridge);
  CHECK(bridge.regs.at(0).phys == 0x4010000000u);

  const DtDevice& nic = Device(devices, "/pcie@10000000/ethernet@1,0");
  RequireClean(nic);
  REQUIRE(nic.regs.size() == 5);
  CHECK_FALSE(nic.regs[0].phys);
  CHECK_THAT(nic.regs[0].untranslated, Catch::Matchers::Contains("configuration-space"));
  CHECK(nic.regs[1].cells == std::vector<uint32_t>{0x02000810, 0x0, 0x10001000});
  CHECK(nic.regs[1].bus_address == 0x10001000u);
  CHECK(nic.regs[1].size == 0x1000);
  CHECK(nic.regs[1].phys == 0x10001000u);
  // 64-bit memory: past the 32-bit window, into the 64-bit one.
  CHECK(nic.regs[2].bus_address == 0x8000002000u);
  CHECK(nic.regs[2].phys == 0x8000002000u);
  CHECK_FALSE(nic.regs[3].phys);
  CHECK_THAT(nic.regs[3].untranslated, Catch::Matchers::Contains("I/O"));
  // Numerically inside the I/O range's CPU window, but memory space: no
  // memory range covers it.
  CHECK_FALSE(nic.regs[4].phys);
  CHECK_THAT(nic.regs[4].untranslated,
             Catch::Matchers::Contains("/pcie@10000000:ranges covers <0x2000810 0x0 0x3f000000>"));

  // INTB of device 1 through the host bridge's map to the GICv3.
  REQUIRE(nic.interrupts.size() == 1);
  CHECK(nic.interrupts[0].controller == "/interrupt-controller@8000000");
  RequireGic(nic.interrupts[0], GicInterrupt::Kind::SPI, 5, 37,
             GicInterrupt::Trigger::LEVEL_HIGH);
}

TEST_CASE("broken trees give problems naming the node and the property", "[devicetree]") {
  const auto devices = Enumerate("broken");
  RequireClean(Device(devices, "/interrupt-controller@1000"));

  const DtDevice& short_reg = Device(devices, "/short-reg@2000");
  RequireProblem(short_reg, "/short-reg@2000:reg", "3 cells is not a whole number");
  CHECK(short_reg.regs.size() == 1);

  RequireProblem(Device(devices, "/wide-bus/device@0"), "/wide-bus:#address-cells",
                 "5 cells, more than the 4");
  RequireProblem(Device(devices, "/high-bus/device@18000000"), "/high-bus:ranges",
                 "0x108000000 does not fit the parent bus's one address cell");
  RequireProblem(Device(devices, "/wrap-bus/device@ffffffff,f0000000"), "/wrap-bus:ranges",
                 "runs past 2^64");
  RequireProblem(Device(devices, "/looped@4000"), "/loop-b:interrupt-parent", "(a loop)");
  const DtDevice& nexus_looped = Device(devices, "/nexus-looped@5000");
  INFO(Problems(nexus_looped));
  REQUIRE(nexus_looped.problems.size() == 1);
  CHECK_THAT(nexus_looped.problems[0].object, Catch::Matchers::EndsWith(":interrupt-map"));
  CHECK_THAT(nexus_looped.problems[0].what, Catch::Matchers::Contains("(a loop)"));
  RequireProblem(Device(devices, "/orphan@6000"), "/orphan@6000:interrupt-parent",
                 "0x4242 names no node");
  const DtDevice& ragged = Device(devices, "/ragged-interrupts@7000");
  RequireProblem(ragged, "/ragged-interrupts@7000:interrupts", "4 cells is not a whole number");
  CHECK(ragged.interrupts.size() == 1);
  RequireProblem(Device(devices, "/bad-cells-bus/device@8000"), "/bad-cells-bus:#address-cells",
                 "holds 2 bytes");
}

TEST_CASE("broken blobs are refused before anything reads them", "[devicetree]") {
  const std::vector<std::byte> blob = ReadBlob("nested");
  REQUIRE(DeviceTree::FromBlob(blob, "nested.dtb"));

  auto truncated = DeviceTree::FromBlob(std::span(blob).first(blob.size() / 2), "half.dtb");
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().status == Status::IO_INVALID);
  CHECK(truncated.error().object == "half.dtb");
  CHECK_THAT(truncated.error().what, Catch::Matchers::Contains("TRUNCATED"));

  auto tiny = DeviceTree::FromBlob(std::span(blob).first(16), "tiny.dtb");
  REQUIRE_FALSE(tiny);
  CHECK_THAT(tiny.error().what, Catch::Matchers::Contains("header"));

  std::vector<std::byte> bad_magic = blob;
  bad_magic[0] = std::byte{0};
  auto magic = DeviceTree::FromBlob(bad_magic, "magic.dtb");
  REQUIRE_FALSE(magic);
  CHECK_THAT(magic.error().what, Catch::Matchers::Contains("BADMAGIC"));

  // The structure block's offset (header word 2) pointed past the end.
  std::vector<std::byte> bad_offset = blob;
  bad_offset[8] = std::byte{0x7f};
  auto offset = DeviceTree::FromBlob(bad_offset, "offset.dtb");
  REQUIRE_FALSE(offset);
  CHECK(offset.error().status == Status::IO_INVALID);

  // A node name cut mid-structure: fdt_check_full walks the whole block.
  std::vector<std::byte> bad_tag = blob;
  const uint32_t struct_offset = (uint32_t(bad_tag[8]) << 24) | (uint32_t(bad_tag[9]) << 16) |
                                 (uint32_t(bad_tag[10]) << 8) | uint32_t(bad_tag[11]);
  bad_tag[struct_offset + 3] = std::byte{0x09};  // FDT_BEGIN_NODE becomes tag 9
  // fdt_check_full() reads an unknown tag as the end, and an empty
  // structure is valid to it: the reader wants a root node.
  auto tag = DeviceTree::FromBlob(bad_tag, "tag.dtb");
  REQUIRE_FALSE(tag);
  CHECK_THAT(tag.error().what, Catch::Matchers::Contains("no root node"));

  auto missing = DeviceTree::FromFile(TreePath("no-such-tree"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().status == Status::NOT_FOUND);
}

TEST_CASE("a blob file too large, or no regular file, is refused before it is read", "[devicetree]") {
  char dir[] = "/tmp/udrv-dtb-test-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string big = std::string(dir) + "/big.dtb";
  {
    std::ofstream file(big);
  }
  std::filesystem::resize_file(big, udrv::platform::kMaxBlobSize + 1);  // sparse
  auto too_big = DeviceTree::FromFile(big);
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error().status == Status::FILE_BIG);
  CHECK(too_big.error().object == big);

  const std::string fifo = std::string(dir) + "/fifo.dtb";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto not_file = DeviceTree::FromFile(fifo);  // never opened: it would block
  REQUIRE_FALSE(not_file);
  CHECK(not_file.error().status == Status::NOT_FILE);
  auto directory = DeviceTree::FromFile(dir);
  REQUIRE_FALSE(directory);
  std::filesystem::remove_all(dir);
}

TEST_CASE("Find reads one device by its full path", "[devicetree]") {
  auto tree = DeviceTree::FromFile(TreePath("nested"));
  REQUIRE(tree);
  auto mmc = tree->Find("/emmc2bus/mmc@7e340000");
  REQUIRE(mmc);
  CHECK(mmc->regs.at(0).phys == 0xfe340000u);
  CHECK(tree->Find("/emmc2bus"));  // a bus with compatible is a device too
  auto absent = tree->Find("/soc/nothing@0");
  REQUIRE_FALSE(absent);
  CHECK(absent.error().status == Status::NOT_FOUND);
  // A node without compatible is no device; aliases are not paths.
  auto broken = DeviceTree::FromFile(TreePath("broken"));
  REQUIRE(broken);
  CHECK_FALSE(broken->Find("/loop-a"));
  CHECK_FALSE(tree->Find("serial0"));
}
