// The kernel's view of ACPI (kernel_view.h) read from the testbed's
// recorded guests (the q35 noiommu guest with hpet=disable, the aarch64
// virt UEFI guest) and from texts as the kernel prints them.
#include "udrv/acpi/kernel_view.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "kernel_mirror.h"

namespace {

using udrv::Status;
using udrv::acpi::KernelAcpiDevice;
using udrv::acpi::KernelView;
using udrv::acpi::ParsePnpResources;
using udrv::acpi::ParseResourceTree;
using udrv::acpi::PnpResource;
using udrv::acpi::testing::KernelMirror;

const KernelAcpiDevice& Named(const KernelView& view, std::string_view name) {
  for (const KernelAcpiDevice& device : view.devices) {
    if (device.name == name) return device;
  }
  FAIL("the view has no device " << name);
  return view.devices.front();
}

TEST_CASE("a PNP device's resources, as pnp/interface.c prints them", "[acpi-kernel-view]") {
  auto parsed = ParsePnpResources(
      "state = active\nio 0x3f8-0x3ff\nirq 4\nmem 0xb0000000-0xbfffffff window\nio disabled\ndma 2\nio "
      "0-0xf\n",
      "resources");
  REQUIRE(parsed);
  CHECK(parsed->active);
  REQUIRE(parsed->resources.size() == 6);
  CHECK(parsed->resources[0].kind == PnpResource::Kind::IO);
  CHECK(parsed->resources[0].start == 0x3f8);
  CHECK(parsed->resources[0].end == 0x3ff);
  CHECK(parsed->resources[1].kind == PnpResource::Kind::IRQ);
  CHECK(parsed->resources[1].start == 4);
  CHECK(parsed->resources[2].kind == PnpResource::Kind::MEM);
  CHECK(parsed->resources[2].window);
  CHECK(parsed->resources[2].end == 0xbfffffff);
  CHECK(parsed->resources[3].disabled);
  CHECK(parsed->resources[4].kind == PnpResource::Kind::DMA);
  // %#llx prints zero bare.
  CHECK(parsed->resources[5].start == 0);
  CHECK(parsed->resources[5].end == 0xf);

  auto disabled = ParsePnpResources("state = disabled\n", "r");
  REQUIRE(disabled);
  CHECK_FALSE(disabled->active);

  for (const char* text : {"io 0x3ff-0x3f8\n", "irq four\n", "port 0x60-0x60\n", "irq\n"}) {
    auto bad = ParsePnpResources(std::string("state = active\n") + text, "res");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().status == Status::IO_INVALID);
    CHECK(bad.error().what.starts_with("res:2: "));
  }
}

TEST_CASE("/proc/iomem as a tree: nesting, chains, hidden addresses", "[acpi-kernel-view]") {
  auto tree = ParseResourceTree(
      "fec00000-fec003ff : IOAPIC 0\nfed00000-fed003ff : HPET 0\n  fed00000-fed003ff : PNP0103:00\n"
      "100000000-8ffffffff : PCI Bus 0000:00\n",
      "iomem");
  REQUIRE(tree);
  REQUIRE(tree->claims.size() == 4);
  CHECK_FALSE(tree->addresses_hidden);
  CHECK(tree->claims[2].depth == 1);
  CHECK(tree->claims[2].parent == 1u);
  CHECK(tree->Chain(tree->claims[2]) == "HPET 0 > PNP0103:00");
  CHECK(tree->claims[3].end == 0x8ffffffffULL);
  const auto over = tree->Overlapping(0xfed00100, 0xfed00103);
  REQUIRE(over.size() == 2);
  CHECK(over.back()->name == "PNP0103:00");
  CHECK(tree->Named("PNP0103:00").size() == 1);

  auto hidden =
      ParseResourceTree("00000000-00000000 : Reserved\n  00000000-00000000 : PNP0103:00\n", "iomem");
  REQUIRE(hidden);
  CHECK(hidden->addresses_hidden);

  for (const char* text : {"   fed00000-fed003ff : x\n", "fed00000-fed003ff : a\n    fed00000-fed003ff : b\n",
                           "fed00000 : x\n", "fed00000-fed003ff x\n"}) {
    auto bad = ParseResourceTree(text, "iomem");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().status == Status::IO_INVALID);
    CHECK(bad.error().what.starts_with("iomem:"));
  }
}

TEST_CASE("the q35 guest's kernel view: devices, physical nodes, PNP resources, iomem",
          "[acpi-kernel-view]") {
  KernelMirror mirror("x86_64-q35");
  auto view = udrv::acpi::ReadKernelView(mirror.paths());
  REQUIRE(view);

  const KernelAcpiDevice& hpet = Named(*view, "PNP0103:00");
  CHECK(hpet.path == "\\_SB_.HPET");
  CHECK(hpet.hid == "PNP0103");
  CHECK(hpet.cids.empty());
  CHECK(hpet.uid == "0");
  CHECK(hpet.status == 15u);
  REQUIRE(hpet.physical_nodes.size() == 1);
  CHECK(hpet.physical_nodes[0].Id() == "platform/PNP0103:00");
  CHECK_FALSE(hpet.physical_nodes[0].driver);
  CHECK(view->FindByPath("\\_SB_.HPET") == &hpet);

  const KernelAcpiDevice& com1 = Named(*view, "PNP0501:00");
  CHECK(com1.path == "\\_SB_.PCI0.SF8_.COM1");
  REQUIRE(com1.physical_nodes.size() == 1);
  CHECK(com1.physical_nodes[0].Id() == "pnp/00:03");
  CHECK(com1.physical_nodes[0].driver == "serial");
  REQUIRE(view->pnp.contains("00:03"));
  const auto& resources = view->pnp.at("00:03").resources;
  REQUIRE(resources.size() == 2);
  CHECK(resources[0].start == 0x3f8);
  CHECK(resources[1].kind == PnpResource::Kind::IRQ);
  CHECK(resources[1].start == 4);

  // Two physical nodes: the PNP device and the serio port i8042 made (a
  // bus the recording did not copy: unknown).
  const KernelAcpiDevice& keyboard = Named(*view, "PNP0303:00");
  REQUIRE(keyboard.physical_nodes.size() == 2);
  CHECK(keyboard.physical_nodes[0].Id() == "pnp/00:00");
  CHECK(keyboard.physical_nodes[0].driver == "i8042 kbd");
  CHECK(keyboard.physical_nodes[1].name == "serio0");

  const KernelAcpiDevice& host_bridge = Named(*view, "PNP0A08:00");
  CHECK(host_bridge.cids == std::vector<std::string>{"PNP0A03"});

  REQUIRE(view->iomem);
  CHECK_FALSE(view->iomem->addresses_hidden);
  const auto claims = view->iomem->Named("PNP0103:00");
  REQUIRE(claims.size() == 1);
  CHECK(claims[0]->start == 0xfed00000);
  CHECK(view->iomem->Chain(*claims[0]) == "HPET 0 > PNP0103:00");
  REQUIRE(view->ioports);
  CHECK_FALSE(view->ioports->claims.empty());
}

TEST_CASE("the aarch64 UEFI guest's kernel view: the PL011 and 32 virtio-mmio slots on the platform bus",
          "[acpi-kernel-view]") {
  KernelMirror mirror("aarch64-virt");
  auto view = udrv::acpi::ReadKernelView(mirror.paths());
  REQUIRE(view);
  const KernelAcpiDevice& uart = Named(*view, "ARMH0011:00");
  CHECK(uart.path == "\\_SB_.COM0");
  REQUIRE(uart.physical_nodes.size() == 1);
  CHECK(uart.physical_nodes[0].Id() == "platform/ARMH0011:00");
  CHECK(uart.physical_nodes[0].driver == "sbsa-uart");
  size_t slots = 0;
  for (const KernelAcpiDevice& device : view->devices) {
    if (device.hid != "LNRO0005") continue;
    ++slots;
    REQUIRE(device.physical_nodes.size() == 1);
    CHECK(device.physical_nodes[0].bus == "platform");
    CHECK_FALSE(device.physical_nodes[0].driver);
  }
  CHECK(slots == 32);
  REQUIRE(view->iomem);
  const auto claims = view->iomem->Named("LNRO0005:1f");
  REQUIRE(claims.size() == 1);
  CHECK(claims[0]->start == 0x0a003e00);
}

TEST_CASE("a machine without the ACPI bus says so", "[acpi-kernel-view]") {
  namespace fs = std::filesystem;
  char name[] = "/tmp/udrv-acpi-none-XXXXXX";
  REQUIRE(::mkdtemp(name) != nullptr);
  auto view = udrv::acpi::ReadKernelView(udrv::sysfs::LinuxPaths{.sys = name, .dev = name, .proc = name});
  fs::remove_all(name);
  REQUIRE_FALSE(view);
  CHECK(view.error().status == Status::NOT_FOUND);
  CHECK(view.error().what.find("no ACPI bus") != std::string::npos);
}

}  // namespace
