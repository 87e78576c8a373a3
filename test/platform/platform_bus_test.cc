#include "udrv/platform/platform_bus.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "fake_kernel.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/mmio_buffer.h"

namespace {

namespace fs = std::filesystem;
using udrv::Status;
using udrv::bus::DeviceNode;
using udrv::platform::PlatformBus;
using udrv::platform::PlatformBusOptions;
using udrv::platform::PlatformRoute;
using udrv::platform::testing::AddKernelDevice;
using udrv::sysfs::testing::TempTree;

// The board's blob, compiled from trees/bus_board.dts by the build.
const char* kBoardDtb = UDRV_PLATFORM_TEST_TREES "/bus_board.dtb";

// A machine running the board: its live tree, the kernel's devices for the
// PL031 (AMBA, held by rtc-pl031) and the UART (platform, no driver), and
// physical memory as a sparse dev/mem file.
struct Machine {
  TempTree tree;
  Machine() {
    fs::create_directories(tree.root / "firmware");
    fs::copy_file(kBoardDtb, tree.root / "firmware/fdt");
    AddKernelDevice(tree, "amba", "9010000.pl031", "/pl031@9010000", "rtc-pl031");
    AddKernelDevice(tree, "platform", "10001100.serial", "/soc/serial@1100", "");
    fs::create_directories(tree.root / "dev");
    std::ofstream(tree.root / "dev/mem").close();
    fs::resize_file(tree.root / "dev/mem", 0x10002000);
  }
  std::unique_ptr<PlatformBus> Bus(PlatformRoute route) const {
    PlatformBusOptions options;
    options.paths = tree.paths();
    options.route = route;
    auto bus = PlatformBus::Create(std::move(options));
    REQUIRE(bus);
    return std::move(*bus);
  }
};

const DeviceNode* FindNode(const std::vector<DeviceNode>& nodes, const std::string& id) {
  for (const DeviceNode& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

TEST_CASE("the platform bus lists the tree's enabled devices with their properties and kernel devices",
          "[platform-bus]") {
  Machine machine;
  auto nodes = machine.Bus(PlatformRoute::DEVMEM)->Enumerate();
  REQUIRE(nodes);
  std::vector<std::string> ids;
  for (const DeviceNode& node : *nodes) ids.push_back(node.id);
  // The root (the board) and the disabled GPIO are no devices to bind.
  CHECK(ids == std::vector<std::string>{"platform/interrupt-controller@8000000", "platform/pl031@9010000",
                                        "platform/soc", "platform/soc/serial@1100"});

  const DeviceNode* rtc = FindNode(*nodes, "platform/pl031@9010000");
  REQUIRE(rtc != nullptr);
  CHECK(rtc->bus == "platform");
  CHECK(rtc->parent.empty());
  CHECK(*rtc->properties.Find("fdt.compatible") ==
        udrv::bus::PropertyValue(udrv::bus::StringList{"arm,pl031", "arm,primecell"}));
  CHECK(rtc->properties.FindString("fdt.path") == "/pl031@9010000");
  CHECK(rtc->properties.FindString("fdt.name") == "pl031@9010000");
  CHECK(rtc->properties.FindString("platform.kernel_bus") == "amba");
  CHECK(rtc->properties.FindString("platform.kernel_device") == "9010000.pl031");
  CHECK(rtc->properties.FindString("platform.driver") == "rtc-pl031");

  const DeviceNode* serial = FindNode(*nodes, "platform/soc/serial@1100");
  REQUIRE(serial != nullptr);
  CHECK(serial->parent == "platform/soc");
  CHECK(*serial->properties.Find("fdt.reg_names") ==
        udrv::bus::PropertyValue(udrv::bus::StringList{"regs"}));
  CHECK(serial->properties.FindString("platform.kernel_device") == "10001100.serial");
  CHECK_FALSE(serial->properties.Find("platform.driver"));
}

TEST_CASE("over devmem a region comes at its translated address, by index or reg-names", "[platform-bus]") {
  Machine machine;
  {
    std::fstream mem(machine.tree.root / "dev/mem", std::ios::in | std::ios::out | std::ios::binary);
    mem.seekp(0x10001100);
    mem.write("UART", 4);
  }
  auto bus = machine.Bus(PlatformRoute::DEVMEM);
  auto nodes = bus->Enumerate();
  REQUIRE(nodes);
  const DeviceNode* serial = FindNode(*nodes, "platform/soc/serial@1100");
  REQUIRE(serial != nullptr);
  auto bound = bus->Open(*serial);
  INFO((bound ? std::string() : bound.error().ToString()));
  REQUIRE(bound);
  CHECK((*bound)->Describe() == "no kernel driver (was: no driver), opened over devmem");
  auto device = (*bound)->protocols().Get<udrv::platform::Device>();
  REQUIRE(device);
  CHECK((*device)->route() == "devmem");

  auto by_name = (*device)->GetMmio("regs");
  REQUIRE(by_name);
  CHECK(by_name->phys == 0x10001100);
  CHECK(by_name->size == 0x200);
  CHECK(by_name->offset == 0x100);
  auto vmar = udrv::Vmar::Create(*by_name->vmo.GetSize());
  REQUIRE(vmar);
  auto registers = udrv::mmio::MmioBuffer::Create(*vmar, by_name->offset, by_name->size,
                                                  std::move(by_name->vmo), udrv::CachePolicy::UNCACHED_DEVICE);
  REQUIRE(registers);
  CHECK(registers->Read32(0) == 0x54524155);  // "UART", little endian

  auto missing = (*device)->GetMmio("fifo");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().status == Status::NOT_FOUND);
  CHECK(missing.error().what.find("[\"regs\"]") != std::string::npos);
  auto past = (*device)->GetMmio(1u);
  REQUIRE_FALSE(past);
  CHECK(past.error().status == Status::NOT_FOUND);
  auto interrupt = (*device)->GetInterrupt(0u);
  REQUIRE_FALSE(interrupt);
  CHECK(interrupt.error().status == Status::NOT_SUPPORTED);

  auto report = (*bound)->Release({});
  REQUIRE(report);
  CHECK(report->ok());
}

TEST_CASE("a device's Bti takes the window its dma-ranges give, and only with consent", "[platform-bus]") {
  Machine machine;
  auto bus = machine.Bus(PlatformRoute::DEVMEM);
  auto nodes = bus->Enumerate();
  REQUIRE(nodes);
  const DeviceNode* serial = FindNode(*nodes, "platform/soc/serial@1100");
  REQUIRE(serial != nullptr);
  auto bound = bus->Open(*serial);
  REQUIRE(bound);
  auto device = (*bound)->protocols().Get<udrv::platform::Device>();
  REQUIRE(device);
  auto tree_device = bus->tree().Find("/soc/serial@1100");
  REQUIRE(tree_device);
  REQUIRE(tree_device->dma);
  CHECK(tree_device->dma->offset == -int64_t{0xc0000000});
  CHECK(tree_device->dma->limit == 0xffffffff);
  auto refused = (*device)->GetBti();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().status == Status::ACCESS_DENIED);

  PlatformBusOptions options;
  options.paths = machine.tree.paths();
  options.route = PlatformRoute::DEVMEM;
  options.physical_dma.device_may_reach_all_memory = true;
  auto consenting = PlatformBus::Create(std::move(options));
  REQUIRE(consenting);
  auto opened = (*consenting)->Open(*serial);
  REQUIRE(opened);
  auto with_consent = (*opened)->protocols().Get<udrv::platform::Device>();
  REQUIRE(with_consent);
  auto bti = (*with_consent)->GetBti();
  if (::geteuid() != 0) {
    // pagemap shows frames to CAP_SYS_ADMIN only: the Bti says so.
    REQUIRE_FALSE(bti);
    CHECK(bti.error().what.find("CAP_SYS_ADMIN") != std::string::npos);
    return;
  }
  REQUIRE(bti);
  CHECK(bti->is_physical());
  // Bus addresses 0xc0000000 to 0xffffffff: the device reaches up to 4 GiB.
  CHECK(bti->GetInfo()->aspace_size == 0x100000000);
}

TEST_CASE("the uio route without udrv's module says to load it, and binds nothing", "[platform-bus]") {
  Machine machine;
  auto bus = machine.Bus(PlatformRoute::UIO);
  auto nodes = bus->Enumerate();
  REQUIRE(nodes);
  const DeviceNode* rtc = FindNode(*nodes, "platform/pl031@9010000");
  REQUIRE(rtc != nullptr);
  auto bound = bus->Open(*rtc);
  REQUIRE_FALSE(bound);
  INFO(bound.error().ToString());
  CHECK(bound.error().status == Status::NOT_FOUND);
  CHECK(bound.error().what.find("udrv_uio_platform") != std::string::npos);
  CHECK(fs::is_symlink(machine.tree.root / "devices/platform/9010000.pl031/driver"));
}

TEST_CASE("the vfio route on a kernel without vfio-platform says so, and binds nothing",
          "[platform-bus]") {
  Machine machine;
  auto bus = machine.Bus(PlatformRoute::VFIO);
  auto nodes = bus->Enumerate();
  REQUIRE(nodes);
  for (const char* id : {"platform/pl031@9010000", "platform/soc/serial@1100"}) {
    const DeviceNode* node = FindNode(*nodes, id);
    REQUIRE(node != nullptr);
    auto bound = bus->Open(*node);
    REQUIRE_FALSE(bound);
    INFO(bound.error().ToString());
    CHECK(bound.error().status == Status::NOT_SUPPORTED);
    CHECK(bound.error().what.find("CONFIG_VFIO_PLATFORM") != std::string::npos);
  }
  CHECK(fs::is_symlink(machine.tree.root / "devices/platform/9010000.pl031/driver"));
}

TEST_CASE("a machine without a device tree says so", "[platform-bus]") {
  TempTree empty;
  PlatformBusOptions options;
  options.paths = empty.paths();
  auto bus = PlatformBus::Create(options);
  REQUIRE_FALSE(bus);
  CHECK(bus.error().status == Status::NOT_FOUND);
  CHECK(bus.error().what.find("no device tree") != std::string::npos);
  CHECK(bus.error().what.find("/firmware/fdt") != std::string::npos);
}

TEST_CASE("a disabled node, a foreign node and another machine's tree do not open", "[platform-bus]") {
  Machine machine;
  auto bus = machine.Bus(PlatformRoute::DEVMEM);
  DeviceNode disabled{"platform", "platform/gpio@9050000", "", {}};
  disabled.properties.Set("fdt.path", "/gpio@9050000");
  auto opened = bus->Open(disabled);
  REQUIRE_FALSE(opened);
  CHECK(opened.error().status == Status::BAD_STATE);
  CHECK(opened.error().what.find("disabled") != std::string::npos);

  DeviceNode pci{"pci", "pci/0000:00:01.0", "", {}};
  auto foreign = bus->Open(pci);
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().status == Status::INVALID_ARGS);

  PlatformBusOptions offline;
  offline.dtb = kBoardDtb;
  auto board = PlatformBus::Create(offline);
  REQUIRE(board);
  auto nodes = (*board)->Enumerate();
  REQUIRE(nodes);
  const DeviceNode* rtc = FindNode(*nodes, "platform/pl031@9010000");
  REQUIRE(rtc != nullptr);
  // Offline there is no kernel to ask about drivers.
  CHECK_FALSE(rtc->properties.Find("platform.kernel_device"));
  auto not_here = (*board)->Open(*rtc);
  REQUIRE_FALSE(not_here);
  CHECK(not_here.error().status == Status::BAD_STATE);
}

}  // namespace
