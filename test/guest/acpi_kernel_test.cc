// The ACPI bus against the kernel that booted from the same tables
// ("[acpi-kernel]", in the x86_64 noiommu guest and the aarch64 UEFI
// guest). Linux evaluated the namespace with ACPICA: every present device
// is in /sys/bus/acpi/devices with its path, hid, uid and status; a PNP
// device's evaluated _CRS is its `resources`; the regions drivers and the
// platform bus claimed are in /proc/iomem under the device's name. What
// udrv's own AML reader made of /sys/firmware/acpi/tables must agree.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "udrv/acpi/acpi_bus.h"

namespace {

using udrv::acpi::AcpiBus;
using udrv::acpi::KernelAcpiDevice;
using udrv::acpi::MergedDevice;
using udrv::acpi::PnpResource;
using udrv::acpi::ResourceOrigin;

std::unique_ptr<AcpiBus> LiveBus() {
  auto created = AcpiBus::Create({});
  if (!created) FAIL("the ACPI bus on this guest: " << created.error().ToString());
  return std::move(*created);
}

bool FromTables(ResourceOrigin origin) {
  return origin == ResourceOrigin::CRS_STATIC || origin == ResourceOrigin::CRS_EVALUATED;
}

TEST_CASE("every device the kernel enumerated is in udrv's namespace, with the same IDs and status",
          "[acpi-kernel]") {
  auto acpi = LiveBus();
  REQUIRE(acpi->kernel());
  CHECK(acpi->names().problems.empty());
  size_t compared = 0;
  for (const KernelAcpiDevice& kernel : acpi->kernel()->devices) {
    // Scopes, processors and fixed buttons are the kernel's own devices, not Device()s.
    if (!kernel.path || (kernel.hid && kernel.hid->starts_with("LNX"))) continue;
    INFO(kernel.name << " at " << *kernel.path);
    const MergedDevice* device = acpi->Find(*kernel.path);
    REQUIRE(device != nullptr);
    REQUIRE(device->tables != nullptr);
    CHECK(device->kernel == &kernel);
    if (device->tables->hid.value) CHECK(*device->tables->hid.value == kernel.hid);
    if (device->tables->cid.value) CHECK(*device->tables->cid.value == kernel.cids);
    if (device->tables->uid.value) CHECK(*device->tables->uid.value == kernel.uid);
    if (device->tables->adr.value) CHECK(*device->tables->adr.value == kernel.adr);
    if (device->tables->sta.value) CHECK(*device->tables->sta.value == kernel.status);
    CHECK(device->status == kernel.status.value_or(udrv::acpi::kStaDefault));
    ++compared;
  }
  CHECK(compared > 5);
  // And the other way: what udrv lists as present, the kernel enumerated.
  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  for (const auto& node : *nodes) {
    INFO(node.id);
    CHECK(node.properties.Find("acpi.kernel_device") != nullptr);
  }
}

TEST_CASE("_CRS as udrv decodes it is where the kernel put the device", "[acpi-kernel]") {
  auto acpi = LiveBus();
  REQUIRE(acpi->kernel());
  REQUIRE(acpi->kernel()->iomem);
  REQUIRE_FALSE(acpi->kernel()->iomem->addresses_hidden);
  size_t pnp_compared = 0;
  size_t iomem_compared = 0;
  for (const MergedDevice& device : acpi->devices()) {
    if (device.kernel == nullptr) continue;
    INFO(device.path << " (" << device.kernel->name << ")");
    // A PNP device: the kernel's evaluated _CRS, range for range.
    for (const auto& physical : device.kernel->physical_nodes) {
      if (physical.bus != "pnp" || !acpi->kernel()->pnp.contains(physical.name)) continue;
      if (device.tables == nullptr || !device.tables->crs.value) continue;
      std::multiset<std::pair<uint64_t, uint64_t>> kernel_io;
      std::multiset<std::pair<uint64_t, uint64_t>> kernel_mem;
      std::multiset<uint64_t> kernel_irq;
      for (const PnpResource& resource : acpi->kernel()->pnp.at(physical.name).resources) {
        if (resource.disabled) continue;
        if (resource.kind == PnpResource::Kind::IO) kernel_io.insert({resource.start, resource.end});
        if (resource.kind == PnpResource::Kind::MEM) kernel_mem.insert({resource.start, resource.end});
        if (resource.kind == PnpResource::Kind::IRQ) kernel_irq.insert(resource.start);
      }
      std::multiset<std::pair<uint64_t, uint64_t>> io;
      std::multiset<std::pair<uint64_t, uint64_t>> mem;
      std::multiset<uint64_t> irq;
      for (const auto& range : device.io) {
        if (range.range.size != 0) io.insert({range.range.base, range.range.base + range.range.size - 1});
      }
      for (const auto& range : device.memory)
        mem.insert({range.range.base, range.range.base + range.range.size - 1});
      for (const auto& interrupt : device.interrupts) irq.insert(interrupt.info.gsi);
      CHECK(io == kernel_io);
      CHECK(mem == kernel_mem);
      CHECK(irq == kernel_irq);
      ++pnp_compared;
    }
    // The claims named after the device (the platform bus inserts an ACPI
    // platform device's resources under its name): each is a _CRS range.
    // (A PCI function's claims are its BARs, not _CRS ranges.)
    std::vector<std::string> names = {device.kernel->name};
    for (const auto& physical : device.kernel->physical_nodes) {
      if (physical.bus != "pci") names.push_back(physical.name);
    }
    for (const std::string& name : names) {
      for (const auto* claim : acpi->kernel()->iomem->Named(name)) {
        if (claim->parent && acpi->kernel()->iomem->claims[*claim->parent].name == name) continue;
        bool found = false;
        for (const auto& range : device.memory) {
          if (!FromTables(range.origin)) continue;
          found = found ||
                  (range.range.base == claim->start && range.range.base + range.range.size - 1 == claim->end);
        }
        INFO("/proc/iomem " << std::hex << claim->start << "-" << claim->end << " : " << claim->name);
        CHECK(found);
        ++iomem_compared;
      }
    }
  }
  INFO(pnp_compared << " PNP devices, " << iomem_compared << " iomem claims compared");
  CHECK(pnp_compared + iomem_compared > 0);
#if defined(__x86_64__)
  const MergedDevice* hpet = acpi->Find("\\_SB_.HPET");
  REQUIRE(hpet != nullptr);
  REQUIRE(hpet->memory.size() == 1);
  CHECK(hpet->memory[0].range.base == 0xfed00000);
  CHECK(hpet->status == 0x0Fu);
  CHECK(pnp_compared >= 5);
#else
  size_t slots = 0;
  for (const MergedDevice& device : acpi->devices()) slots += device.hid == "LNRO0005" ? 1 : 0;
  CHECK(slots == 32);
  CHECK(iomem_compared >= 33);
#endif
}

#if defined(__aarch64__)
TEST_CASE(
    "the PL011's _CRS is the kernel's ARMH0011:00, and its registers are refused while sbsa-uart holds them",
    "[acpi-pl011]") {
  auto acpi = LiveBus();
  const MergedDevice* uart = acpi->Find("\\_SB_.COM0");
  REQUIRE(uart != nullptr);
  CHECK(uart->hid == "ARMH0011");
  REQUIRE(uart->memory.size() == 1);
  CHECK(uart->memory[0].origin == ResourceOrigin::CRS_STATIC);
  const auto claims = acpi->kernel()->iomem->Named("ARMH0011:00");
  REQUIRE_FALSE(claims.empty());
  CHECK(claims.front()->start == uart->memory[0].range.base);
  CHECK(claims.front()->end == uart->memory[0].range.base + uart->memory[0].range.size - 1);

  auto nodes = acpi->Enumerate();
  REQUIRE(nodes);
  const udrv::bus::DeviceNode* node = nullptr;
  for (const auto& candidate : *nodes) {
    if (candidate.id == "acpi/_SB_/COM0") node = &candidate;
  }
  REQUIRE(node != nullptr);
  CHECK(node->properties.FindString("acpi.driver") == "sbsa-uart");
  auto bound = acpi->Open(*node);
  REQUIRE(bound);
  auto device = (*bound)->protocols().Get<udrv::acpi::Device>();
  REQUIRE(device);
  auto mmio = (*device)->GetMmio(0);
  REQUIRE_FALSE(mmio);
  INFO(mmio.error().ToString());
  CHECK(mmio.error().status == udrv::Status::ACCESS_DENIED);
  CHECK(mmio.error().what.find("kernel driver sbsa-uart holds (platform device ARMH0011:00)") !=
        std::string::npos);
  CHECK(mmio.error().what.find("ARMH0011:00 > ARMH0011:00 ARMH0011:00") != std::string::npos);
}
#endif

}  // namespace
