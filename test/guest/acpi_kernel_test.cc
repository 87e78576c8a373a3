// The ACPI bus against the kernel that booted from the same tables
// ("[acpi-kernel]", in the x86_64 noiommu guest and the aarch64 UEFI
// guest). The uio route ("[acpi-uio]", "[acpi-ged]": aarch64, with udrv's
// UIO platform module loaded by the plan line) against the kernel's IRQ
// descriptors and QEMU's power button. Linux evaluated the namespace with ACPICA: every present device
// is in /sys/bus/acpi/devices with its path, hid, uid and status; a PNP
// device's evaluated _CRS is its `resources`; the regions drivers and the
// platform bus claimed are in /proc/iomem under the device's name. What
// udrv's own AML reader made of /sys/firmware/acpi/tables must agree.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "udrv/acpi/acpi_bus.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/devmem.h"
#include "udrv/mmio/mmio_buffer.h"

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

#if defined(__aarch64__)
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::unique_ptr<AcpiBus> UioBus() {
  udrv::acpi::AcpiBusOptions options;
  options.route = udrv::acpi::AcpiRoute::UIO;
  auto created = AcpiBus::Create(std::move(options));
  if (!created) FAIL("the ACPI bus on this guest: " << created.error().ToString());
  return std::move(*created);
}

std::unique_ptr<udrv::bus::BoundDevice> OpenNode(AcpiBus& acpi, const std::string& id) {
  auto nodes = acpi.Enumerate();
  REQUIRE(nodes);
  for (const udrv::bus::DeviceNode& node : *nodes) {
    if (node.id != id) continue;
    auto bound = acpi.Open(node);
    if (!bound) FAIL("open " << id << ": " << bound.error().ToString());
    return std::move(*bound);
  }
  FAIL("no node " << id);
  return nullptr;
}

// The bound driver of a platform device; "" for none.
std::string DriverOf(const std::string& device) {
  std::error_code error;
  const fs::path link = fs::read_symlink("/sys/bus/platform/devices/" + device + "/driver", error);
  return error ? std::string() : link.filename().string();
}

// The GIC hwirq of the interrupt whose handler is `action` (the UIO
// module names it after the device), from the kernel's IRQ descriptors.
std::optional<uint32_t> HwirqOf(const std::string& action) {
  for (const auto& entry : fs::directory_iterator("/sys/kernel/irq")) {
    std::ifstream actions(entry.path() / "actions");
    std::string name;
    std::getline(actions, name);
    if (name != action) continue;
    std::ifstream hwirq(entry.path() / "hwirq");
    uint32_t value = 0;
    if (hwirq >> value) return value;
  }
  return std::nullopt;
}

TEST_CASE("over uio a virtio-mmio slot's magic reads through /dev/uio, its GSI the kernel's",
          "[acpi-uio]") {
  REQUIRE(DriverOf("LNRO0005:00").empty());
  auto acpi = UioBus();
  auto bound = OpenNode(*acpi, "acpi/_SB_/VR00");
  CHECK(DriverOf("LNRO0005:00") == "udrv-uio-platform");
  auto device = bound->protocols().Get<udrv::acpi::Device>();
  REQUIRE(device);
  CHECK((*device)->route() == "uio");

  auto mmio = (*device)->GetMmio(0);
  REQUIRE(mmio);
  CHECK(mmio->phys == 0x0a000000);
  CHECK(mmio->offset == 0);
  CHECK(mmio->size == 0x200);
  auto described = mmio->vmo.Describe();
  REQUIRE(described);
  CHECK(described->route == udrv::PhysicalRoute::UIO_MAP);
  auto vmar = udrv::Vmar::Create(0x1000, "virtio-mmio");
  REQUIRE(vmar);
  auto registers = udrv::mmio::MmioBuffer::Create(*vmar, mmio->offset, 0x10, std::move(mmio->vmo),
                                                  udrv::CachePolicy::UNCACHED_DEVICE);
  REQUIRE(registers);
  CHECK(registers->Read32(0) == 0x74726976);

  auto info = (*device)->GetInterruptInfo(0);
  REQUIRE(info);
  CHECK(info->info.gsi == 48);
  // The kernel's IRQ the module requested for the device is that GSI.
  CHECK(HwirqOf("LNRO0005:00") == info->info.gsi);
  auto interrupt = (*device)->GetInterrupt(0);
  if (!interrupt) FAIL(interrupt.error().ToString());
  // An empty slot raises nothing.
  auto waited = interrupt->Wait(udrv::DeadlineAfter(50ms));
  REQUIRE_FALSE(waited);
  CHECK(waited.error().status == udrv::Status::TIMED_OUT);
  auto second = (*device)->GetInterrupt(1);
  REQUIRE_FALSE(second);
  CHECK(second.error().status == udrv::Status::NOT_FOUND);

  udrv::bus::ReleaseOptions release;
  release.restore_kernel_driver = true;
  auto released = bound->Release(release);
  REQUIRE(released);
  CHECK(released->ok());
  CHECK(DriverOf("LNRO0005:00").empty());
  CHECK_FALSE(fs::exists("/sys/bus/platform/devices/LNRO0005:00/uio"));
}

TEST_CASE("over uio the GED's interrupt fires when QEMU presses the power button", "[acpi-ged]") {
  REQUIRE(DriverOf("ACPI0013:00") == "acpi-ged");
  auto acpi = UioBus();
  auto bound = OpenNode(*acpi, "acpi/_SB_/GED_");
  CHECK(DriverOf("ACPI0013:00") == "udrv-uio-platform");
  auto device = bound->protocols().Get<udrv::acpi::Device>();
  REQUIRE(device);
  // The GED's _CRS is its interrupt alone: the event register is an
  // OperationRegion (EREG, 0x09080000, 4 bytes).
  CHECK((*device)->MemoryRanges().empty());
  auto info = (*device)->GetInterruptInfo(0);
  REQUIRE(info);
  CHECK(info->info.gsi == 41);
  CHECK(info->info.edge);
  CHECK(HwirqOf("ACPI0013:00") == info->info.gsi);
  auto interrupt = (*device)->GetInterrupt(0);
  if (!interrupt) FAIL(interrupt.error().ToString());
  auto idle = interrupt->Wait(udrv::DeadlineAfter(50ms));
  REQUIRE_FALSE(idle);
  CHECK(idle.error().status == udrv::Status::TIMED_OUT);

  REQUIRE(std::system("udrv-guest-request system_powerdown") == 0);
  const udrv::Time asked = udrv::Now();
  auto fired = interrupt->Wait(udrv::DeadlineAfter(20s));
  if (!fired) FAIL("no GED interrupt within 20 s of system_powerdown: " << fired.error().ToString());
  INFO("the interrupt came " << (*fired - asked) / 1000000 << " ms after the request");
  // The event: ESEL's power-down bit (the DSDT's _EVT tests 0x02); reading
  // ESEL clears it and lowers QEMU's line.
  auto esel = udrv::mmio::OpenDevmemRegion({}, 0x09080000, 4, "GED ESEL", nullptr);
  REQUIRE(esel);
  auto esel_vmar = udrv::Vmar::Create(0x1000, "ged");
  REQUIRE(esel_vmar);
  auto event = udrv::mmio::MmioBuffer::Create(*esel_vmar, esel->offset, 4, std::move(esel->vmo),
                                              udrv::CachePolicy::UNCACHED_DEVICE);
  REQUIRE(event);
  CHECK((event->Read32(0) & 0x2) == 0x2);
  // This wait acks the interrupt (the module unmasks it): no second event.
  auto after = interrupt->Wait(udrv::DeadlineAfter(200ms));
  REQUIRE_FALSE(after);
  CHECK(after.error().status == udrv::Status::TIMED_OUT);
  CHECK((event->Read32(0) & 0x2) == 0);

  udrv::bus::ReleaseOptions release;
  release.restore_kernel_driver = true;
  auto released = bound->Release(release);
  REQUIRE(released);
  CHECK(released->ok());
  CHECK(DriverOf("ACPI0013:00") == "acpi-ged");
}

}  // namespace
#endif
