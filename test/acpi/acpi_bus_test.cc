// The ACPI bus (acpi_bus.h) on the testbed's recorded guests: the tables'
// namespace merged with the kernel's view as the live machine showed it,
// the nodes and properties drivers bind on, Open over devmem, and the
// same tables read offline.
#include "udrv/acpi/acpi_bus.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <cstring>
#include <set>
#include <sstream>

#include "kernel_mirror.h"
#include "udrv/bus/bind_rules.h"
#include "udrv/drivers/hpet/hpet.h"
#include "udrv/drivers/virtio_mmio_probe/virtio_mmio_probe.h"

namespace {

using udrv::Status;
using udrv::acpi::AcpiBus;
using udrv::acpi::AcpiBusOptions;
using udrv::acpi::MergedDevice;
using udrv::acpi::ResourceOrigin;
using udrv::acpi::testing::KernelMirror;
namespace bus = udrv::bus;
namespace fs = std::filesystem;

std::map<std::string, bus::DeviceNode> ById(const std::vector<bus::DeviceNode>& nodes) {
  std::map<std::string, bus::DeviceNode> by_id;
  for (const bus::DeviceNode& node : nodes) by_id.emplace(node.id, node);
  return by_id;
}

std::unique_ptr<AcpiBus> LiveBus(const KernelMirror& mirror, std::vector<std::string>* log = nullptr) {
  AcpiBusOptions options;
  options.paths = mirror.paths();
  if (log != nullptr) options.log = [log](std::string_view line) { log->emplace_back(line); };
  auto created = AcpiBus::Create(std::move(options));
  REQUIRE(created);
  return std::move(*created);
}

// dev/mem as a sparse file reaching past `end`: physical memory for Open's maps.
void MakeMem(const KernelMirror& mirror, uint64_t end) {
  std::ofstream(mirror.root() / "dev/mem").close();
  fs::resize_file(mirror.root() / "dev/mem", end);
}

TEST_CASE("node ids are the path's segments as Linux pads them", "[acpi-bus]") {
  CHECK(udrv::acpi::NodeIdOf("\\_SB_.PCI0.SF8_.COM1") == "acpi/_SB_/PCI0/SF8_/COM1");
  CHECK(udrv::acpi::NodeIdOf("\\_SB_.HPET") == "acpi/_SB_/HPET");
}

TEST_CASE("q35: the namespace merged with the guest kernel's view", "[acpi-bus]") {
  KernelMirror mirror("x86_64-q35");
  auto acpi = LiveBus(mirror);
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  const auto by_id = ById(*nodes);

  // Parents come first, and each parent is a node.
  std::set<std::string> seen;
  for (const bus::DeviceNode& node : *nodes) {
    CHECK(node.bus == "acpi");
    if (!node.parent.empty()) CHECK(seen.contains(node.parent));
    seen.insert(node.id);
  }

  REQUIRE(by_id.contains("acpi/_SB_/HPET"));
  const bus::Properties& hpet = by_id.at("acpi/_SB_/HPET").properties;
  CHECK(hpet.FindString("acpi.path") == "\\_SB_.HPET");
  CHECK(hpet.FindString("acpi.hid") == "PNP0103");
  CHECK(hpet.FindNumber("acpi.status") == 15u);
  CHECK(hpet.FindString("acpi.kernel_device") == "PNP0103:00");
  CHECK(hpet.FindString("acpi.physical_node") == "platform/PNP0103:00");
  CHECK(hpet.Find("acpi.driver") == nullptr);
  const MergedDevice* merged = acpi->Find("\\_SB_.HPET");
  REQUIRE(merged != nullptr);
  // QEMU's HPET _STA reads the timer's registers: the kernel's status completes it.
  CHECK(merged->status_source == "kernel: status");
  REQUIRE(merged->memory.size() == 1);
  CHECK(merged->memory[0].range.base == 0xfed00000);
  CHECK(merged->memory[0].range.size == 0x400);
  CHECK(merged->memory[0].origin == ResourceOrigin::CRS_STATIC);
  CHECK(udrv::acpi::ResourceOriginName(merged->memory[0].origin) == "_CRS (static)");

  REQUIRE(by_id.contains("acpi/_SB_/PCI0/SF8_/COM1"));
  const bus::DeviceNode& com1 = by_id.at("acpi/_SB_/PCI0/SF8_/COM1");
  CHECK(com1.parent == "acpi/_SB_/PCI0/SF8_");
  CHECK(com1.properties.FindString("acpi.hid") == "PNP0501");
  CHECK(com1.properties.FindString("acpi.physical_node") == "pnp/00:03");
  CHECK(com1.properties.FindString("acpi.driver") == "serial");
  const MergedDevice* serial = acpi->Find("\\_SB_.PCI0.SF8_.COM1");
  REQUIRE(serial != nullptr);
  REQUIRE(serial->io.size() == 1);
  CHECK(serial->io[0].range.base == 0x3f8);
  CHECK(serial->io[0].range.size == 8);
  REQUIRE(serial->interrupts.size() == 1);
  CHECK(serial->interrupts[0].info.gsi == 4);

  // The host bridge's CIDs are a list a rule can match.
  REQUIRE(by_id.contains("acpi/_SB_/PCI0"));
  const bus::PropertyValue* cid = by_id.at("acpi/_SB_/PCI0").properties.Find("acpi.cid");
  REQUIRE(cid != nullptr);
  CHECK(std::get<bus::StringList>(*cid) == bus::StringList{"PNP0A03"});
  CHECK(bus::Evaluate(std::vector{bus::BindRule::Equal("acpi.cid", std::string("PNP0A03"))},
                      by_id.at("acpi/_SB_/PCI0").properties)
            .matched);

  // The HPET driver's rule holds on the HPET and on nothing else.
  const bus::Driver driver = udrv::drivers::hpet::MakeBusDriver();
  for (const bus::DeviceNode& node : *nodes) {
    CHECK(bus::Evaluate(driver.rules, node.properties).matched == (node.id == "acpi/_SB_/HPET"));
  }
}

TEST_CASE("q35: the HPET opens over devmem; interrupts and ports are described", "[acpi-bus]") {
  KernelMirror mirror("x86_64-q35");
  MakeMem(mirror, 0xfed01000);
  auto acpi = LiveBus(mirror);
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  const auto by_id = ById(*nodes);

  auto bound = acpi->Open(by_id.at("acpi/_SB_/HPET"));
  REQUIRE(bound);
  CHECK((*bound)->Describe() ==
        "nothing taken from the kernel (kernel device PNP0103:00, platform/PNP0103:00 "
        "no driver), opened over devmem");
  auto device = (*bound)->protocols().Get<udrv::acpi::Device>();
  REQUIRE(device);
  CHECK((*device)->route() == "devmem");
  REQUIRE((*device)->MemoryRanges().size() == 1);
  auto mmio = (*device)->GetMmio(0);
  REQUIRE(mmio);
  CHECK(mmio->phys == 0xfed00000);
  CHECK(mmio->offset == 0);
  CHECK(mmio->size == 0x400);
  auto past = (*device)->GetMmio(1);
  REQUIRE_FALSE(past);
  CHECK(past.error().status == Status::NOT_FOUND);
  auto released = (*bound)->Release({});
  REQUIRE(released);
  CHECK(released->ok());

  auto com1 = acpi->Open(by_id.at("acpi/_SB_/PCI0/SF8_/COM1"));
  REQUIRE(com1);
  auto uart = (*com1)->protocols().Get<udrv::acpi::Device>();
  REQUIRE(uart);
  CHECK((*uart)->MemoryRanges().empty());
  REQUIRE((*uart)->GetIoPorts().size() == 1);
  CHECK((*uart)->GetIoPorts()[0].range.base == 0x3f8);
  auto info = (*uart)->GetInterruptInfo(0);
  REQUIRE(info);
  CHECK(info->info.gsi == 4);
  CHECK(info->flags_known);
  auto interrupt = (*uart)->GetInterrupt(0);
  REQUIRE_FALSE(interrupt);
  CHECK(interrupt.error().status == Status::NOT_SUPPORTED);
  CHECK(interrupt.error().what.find("GSI 4") != std::string::npos);
}

TEST_CASE("GetMmio over devmem refuses a range /proc/iomem says is System RAM", "[acpi-bus]") {
  KernelMirror mirror("x86_64-q35");
  MakeMem(mirror, 0xfed01000);
  // The HPET's _CRS range as the kernel's RAM: firmware that lies, or a
  // system board's _CRS that covers RAM; /dev/mem itself would map it.
  const fs::path iomem = mirror.root() / "proc/iomem";
  std::ifstream in(iomem);
  std::stringstream text;
  text << in.rdbuf();
  in.close();
  std::string edited = text.str();
  const std::string hpet = "fed00000-fed003ff : HPET 0\n  fed00000-fed003ff : PNP0103:00\n";
  const size_t at = edited.find(hpet);
  REQUIRE(at != std::string::npos);
  edited.replace(at, hpet.size(), "fed00000-fed00fff : System RAM\n");
  std::ofstream(iomem, std::ios::trunc) << edited;

  auto acpi = LiveBus(mirror);
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  auto bound = acpi->Open(ById(*nodes).at("acpi/_SB_/HPET"));
  REQUIRE(bound);
  auto device = (*bound)->protocols().Get<udrv::acpi::Device>();
  REQUIRE(device);
  auto mmio = (*device)->GetMmio(0);
  REQUIRE_FALSE(mmio);
  CHECK(mmio.error().status == Status::ACCESS_DENIED);
  CHECK(mmio.error().what.find("overlaps System RAM 0xfed00000-0xfed00fff") != std::string::npos);
}

TEST_CASE("a device the kernel says is absent is no node, and does not open", "[acpi-bus]") {
  KernelMirror mirror("x86_64-q35");
  std::ofstream(mirror.root() / "sys/bus/acpi/devices/PNP0103:00/status") << "0\n";
  std::vector<std::string> log;
  auto acpi = LiveBus(mirror, &log);
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  CHECK_FALSE(ById(*nodes).contains("acpi/_SB_/HPET"));
  CHECK(std::find(log.begin(), log.end(),
                  "acpi: \\_SB_.HPET left out: not present (status 0x0, kernel: status), nor its children") !=
        log.end());
  bus::DeviceNode node{"acpi", "acpi/_SB_/HPET", "", {}};
  node.properties.Set("acpi.path", std::string("\\_SB_.HPET"));
  auto bound = acpi->Open(node);
  REQUIRE_FALSE(bound);
  CHECK(bound.error().status == Status::BAD_STATE);
  CHECK(bound.error().what == "open \\_SB_.HPET over devmem: not present (status 0x0, kernel: status)");
}

TEST_CASE("offline, the recorded tables list what they can and open nothing", "[acpi-bus]") {
  AcpiBusOptions options;
  options.tables = KernelMirror::Tables("x86_64-q35");
  auto acpi = AcpiBus::Create(options);
  REQUIRE(acpi);
  CHECK_FALSE((*acpi)->kernel());
  auto nodes = (*acpi)->Enumerate();
  REQUIRE(nodes);
  const auto by_id = ById(*nodes);
  // Whether the HPET is present is its _STA method's to say: unknown offline, listed.
  REQUIRE(by_id.contains("acpi/_SB_/HPET"));
  CHECK(by_id.at("acpi/_SB_/HPET").properties.Find("acpi.status") == nullptr);
  CHECK(by_id.at("acpi/_SB_/HPET").properties.Find("acpi.kernel_device") == nullptr);
  auto bound = (*acpi)->Open(by_id.at("acpi/_SB_/HPET"));
  REQUIRE_FALSE(bound);
  CHECK(bound.error().status == Status::BAD_STATE);
  CHECK(bound.error().what.find("not this machine's tables") != std::string::npos);
}

TEST_CASE("aarch64 virt: 32 virtio-mmio slots and the PL011, where the kernel put them", "[acpi-bus]") {
  KernelMirror mirror("aarch64-virt");
  auto acpi = LiveBus(mirror);
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  const bus::Driver probe = udrv::drivers::virtio_mmio_probe::MakeBusDriver();
  size_t slots = 0;
  for (const bus::DeviceNode& node : *nodes) {
    if (!bus::Evaluate(probe.rules, node.properties).matched) continue;
    const MergedDevice* slot = acpi->Find(*node.properties.FindString("acpi.path"));
    REQUIRE(slot != nullptr);
    REQUIRE(slot->memory.size() == 1);
    CHECK(slot->memory[0].range.size == 0x200);
    // Where the kernel's platform device for it claimed its registers.
    REQUIRE(slot->kernel != nullptr);
    const auto claims = acpi->kernel()->iomem->Named(slot->kernel->name);
    REQUIRE(claims.size() == 1);
    CHECK(claims[0]->start == slot->memory[0].range.base);
    ++slots;
  }
  CHECK(slots == 32);

  const MergedDevice* uart = acpi->Find("\\_SB_.COM0");
  REQUIRE(uart != nullptr);
  CHECK(uart->hid == "ARMH0011");
  REQUIRE(uart->memory.size() == 1);
  CHECK(uart->memory[0].range.base == 0x09000000);
  CHECK(uart->memory[0].range.size == 0x1000);
  REQUIRE_FALSE(uart->interrupts.empty());
  CHECK(uart->interrupts[0].info.gsi == 33);
  const auto claims = acpi->kernel()->iomem->Named("ARMH0011:00");
  REQUIRE(claims.size() == 1);
  CHECK(claims[0]->start == uart->memory[0].range.base);
  CHECK(claims[0]->end == uart->memory[0].range.base + uart->memory[0].range.size - 1);
  auto properties = udrv::acpi::PropertiesOf(*uart);
  REQUIRE(properties);
  CHECK(properties->FindString("acpi.driver") == "sbsa-uart");
}

}  // namespace

namespace {

TEST_CASE(
    "without the tables (not root) the kernel's view alone describes the devices, each resource's origin "
    "said",
    "[acpi-bus]") {
  KernelMirror mirror("x86_64-q35");
  auto view = udrv::acpi::ReadKernelView(mirror.paths());
  REQUIRE(view);
  const std::vector<MergedDevice> devices = udrv::acpi::MergeDevices(nullptr, &*view);
  std::map<std::string, const MergedDevice*> by_path;
  for (const MergedDevice& device : devices) {
    CHECK(device.tables == nullptr);
    by_path.emplace(device.path, &device);
  }
  // The root and \_SB_ are scopes; paths sort parents first.
  CHECK_FALSE(by_path.contains("\\"));
  CHECK_FALSE(by_path.contains("\\_SB_"));
  CHECK(std::is_sorted(devices.begin(), devices.end(),
                       [](const MergedDevice& a, const MergedDevice& b) { return a.path < b.path; }));

  REQUIRE(by_path.contains("\\_SB_.HPET"));
  const MergedDevice& hpet = *by_path.at("\\_SB_.HPET");
  CHECK(hpet.hid == "PNP0103");
  CHECK(hpet.status == 15u);
  CHECK(hpet.status_source == "kernel: status");
  REQUIRE(hpet.memory.size() == 1);
  CHECK(hpet.memory[0].range.base == 0xfed00000);
  CHECK(hpet.memory[0].range.size == 0x400);
  CHECK(udrv::acpi::ResourceOriginName(hpet.memory[0].origin) == "kernel: /proc/iomem");

  REQUIRE(by_path.contains("\\_SB_.PCI0.SF8_.COM1"));
  const MergedDevice& com1 = *by_path.at("\\_SB_.PCI0.SF8_.COM1");
  REQUIRE(com1.io.size() == 1);
  CHECK(com1.io[0].range.base == 0x3f8);
  CHECK(com1.io[0].range.size == 8);
  CHECK(udrv::acpi::ResourceOriginName(com1.io[0].origin) == "kernel: pnp resources");
  REQUIRE(com1.interrupts.size() == 1);
  CHECK(com1.interrupts[0].info.gsi == 4);
  CHECK_FALSE(com1.interrupts[0].flags_known);

  // The system board's window is a producer range, not registers.
  REQUIRE(by_path.contains("\\_SB_.DRAC"));
  const MergedDevice& board = *by_path.at("\\_SB_.DRAC");
  REQUIRE(board.memory.size() == 1);
  CHECK(board.memory[0].range.producer);
}

TEST_CASE("addresses a non-root reader sees as zero are said to be hidden, not taken", "[acpi-bus]") {
  KernelMirror mirror("x86_64-q35");
  std::ofstream(mirror.root() / "proc/iomem")
      << "00000000-00000000 : HPET 0\n  00000000-00000000 : PNP0103:00\n";
  auto view = udrv::acpi::ReadKernelView(mirror.paths());
  REQUIRE(view);
  const std::vector<MergedDevice> devices = udrv::acpi::MergeDevices(nullptr, &*view);
  const auto hpet = std::find_if(devices.begin(), devices.end(),
                                 [](const MergedDevice& device) { return device.path == "\\_SB_.HPET"; });
  REQUIRE(hpet != devices.end());
  CHECK(hpet->memory.empty());
  CHECK(hpet->resources_note == "/proc/iomem shows every address as zero to a reader without CAP_SYS_ADMIN");
}

}  // namespace

namespace {

std::unique_ptr<AcpiBus> UioBus(const KernelMirror& mirror) {
  AcpiBusOptions options;
  options.paths = mirror.paths();
  options.route = udrv::acpi::AcpiRoute::UIO;
  auto created = AcpiBus::Create(std::move(options));
  REQUIRE(created);
  return std::move(*created);
}

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST_CASE("the uio route serves platform and amba physical nodes only, and says so", "[acpi-bus]") {
  KernelMirror mirror("x86_64-q35");
  auto acpi = UioBus(mirror);
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  // COM1's physical node is a PNP device.
  auto bound = acpi->Open(ById(*nodes).at("acpi/_SB_/PCI0/SF8_/COM1"));
  REQUIRE_FALSE(bound);
  INFO(bound.error().ToString());
  CHECK(bound.error().status == Status::NOT_SUPPORTED);
  CHECK(bound.error().what.find("pnp/00:") != std::string::npos);
  CHECK(bound.error().what.find("use the devmem route") != std::string::npos);
}

TEST_CASE("the uio route without udrv's module says to load it, and binds nothing", "[acpi-bus]") {
  KernelMirror mirror("aarch64-virt");
  const fs::path slot = mirror.root() / "sys/bus/platform/devices/LNRO0005:00";
  WriteFile(slot / "driver_override", "(null)\n");
  auto acpi = UioBus(mirror);
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  auto bound = acpi->Open(ById(*nodes).at("acpi/_SB_/VR00"));
  REQUIRE_FALSE(bound);
  INFO(bound.error().ToString());
  CHECK(bound.error().status == Status::NOT_FOUND);
  CHECK(bound.error().what.find("insmod udrv_uio_platform.ko") != std::string::npos);
  std::ifstream override_file(slot / "driver_override");
  std::string override_text;
  std::getline(override_file, override_text);
  CHECK(override_text == "(null)");
}

TEST_CASE("over uio a virtio-mmio slot's range is found in the module's page-wide map", "[acpi-bus]") {
  KernelMirror mirror("aarch64-virt");
  // The module loaded and bound to slot 1 already (so Open binds nothing):
  // its map 0 is the whole page 0x0a000000, the slot 0x200 into it, as the
  // guest's module shows it.
  const fs::path drivers = mirror.root() / "sys/bus/platform/drivers";
  fs::create_directories(drivers / "udrv-uio-platform");
  const fs::path slot = mirror.root() / "sys/bus/platform/devices/LNRO0005:01";
  WriteFile(slot / "driver_override", "udrv-uio-platform\n");
  fs::create_symlink(drivers / "udrv-uio-platform", slot / "driver");
  const fs::path map = slot / "uio/uio3/maps/map0";
  WriteFile(map / "addr", "0x000000000a000000\n");
  WriteFile(map / "size", "0x0000000000001000\n");
  WriteFile(map / "offset", "0x200\n");
  // dev/uio3 as a file: the page behind map 0, the slot's magic 0x200 into it.
  {
    std::ofstream uio(mirror.root() / "dev/uio3", std::ios::binary);
    std::string page(0x1000, '\0');
    const uint32_t magic = 0x74726976;
    const uint32_t version = 2;
    std::memcpy(page.data() + 0x200, &magic, sizeof(magic));
    std::memcpy(page.data() + 0x204, &version, sizeof(version));
    uio.write(page.data(), static_cast<std::streamsize>(page.size()));
  }
  auto acpi = UioBus(mirror);
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  auto bound = acpi->Open(ById(*nodes).at("acpi/_SB_/VR01"));
  REQUIRE(bound);
  CHECK((*bound)->Describe() ==
        "platform device LNRO0005:01 bound to udrv-uio-platform (was: udrv-uio-platform), opened over uio");
  auto device = (*bound)->protocols().Get<udrv::acpi::Device>();
  REQUIRE(device);
  CHECK((*device)->route() == "uio");
  auto mmio = (*device)->GetMmio(0);
  REQUIRE(mmio);
  CHECK(mmio->phys == 0x0a000200);
  CHECK(mmio->offset == 0x200);
  CHECK(mmio->size == 0x200);
  auto described = mmio->vmo.Describe();
  REQUIRE(described);
  CHECK(described->route == udrv::PhysicalRoute::UIO_MAP);
  CHECK(described->offset == 0);  // map 0: page 0 of /dev/uio3
  // The driver reads the slot's magic through the map.
  auto id = udrv::drivers::virtio_mmio_probe::Probe(**device);
  REQUIRE(id);
  CHECK(id->phys == 0x0a000200);
  CHECK(id->version == 2);
  // Slot 1's interrupt is GSI 49; the module serves the first only.
  auto info = (*device)->GetInterruptInfo(0);
  REQUIRE(info);
  CHECK(info->info.gsi == 49);
  auto second = (*device)->GetInterrupt(1);
  REQUIRE_FALSE(second);
  CHECK(second.error().status == Status::NOT_FOUND);
  auto released = (*bound)->Release({});
  REQUIRE(released);
  CHECK(released->ok());
  CHECK(released->steps.back().detail == "left with udrv-uio-platform");
}

}  // namespace
