// The binding helpers against the real kernel, in the guests:
//   [bind-vfio]   edu to vfio-pci and back, a driver that is not loaded
//                 (x86_64 and aarch64 with an IOMMU)
//   [bind-group]  q35's ICH9 functions, which share an IOMMU group, and
//                 e1000e without its module (x86_64 with an IOMMU)
//   [bind-uio]    edu to uio_pci_generic and back; vfio-pci refused without
//                 an IOMMU (x86_64 without an IOMMU)
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/sysfs.h"

namespace fs = std::filesystem;
using udrv::pci::Address;
using udrv::pci::BindDriver;
using udrv::pci::CheckGroupViability;
using udrv::pci::RestoreDriver;
using udrv::pci::SysfsPci;
using udrv::testing::StatusOf;

namespace {

using udrv::guest::FindFunction;

udrv::pci::DeviceInfo Read(const Address& address) {
  auto info = SysfsPci().Read(address);
  REQUIRE_OK(info);
  return *info;
}

std::string DriverOf(const Address& address) { return Read(address).driver.value_or(""); }

}  // namespace

TEST_CASE("bind: edu goes to vfio-pci and comes back", "[bind-vfio]") {
  const Address edu = FindFunction(0x1234, 0x11e8);
  REQUIRE(DriverOf(edu).empty());

  // arm64 SMMUv3 makes edu's group only when a driver first probes it.
  const auto group_before = Read(edu).iommu_group;
  auto viability = CheckGroupViability(edu);
  if (group_before) {
    REQUIRE_OK(viability);
    CHECK(viability->viable);
    CHECK(viability->group == *group_before);
    CHECK(viability->members == std::vector{std::pair(edu, std::string())});
  } else {
    CHECK(StatusOf(viability) == "NOT_FOUND");
  }

  auto record = BindDriver(edu, "vfio-pci");
  REQUIRE_OK(record);
  CHECK(record->address == edu);
  CHECK(record->driver == "vfio-pci");
  CHECK_FALSE(record->previous_driver);
  CHECK_FALSE(record->previous_override);
  const auto info = Read(edu);
  CHECK(info.driver == "vfio-pci");
  CHECK(info.driver_override == "vfio-pci");
  REQUIRE(info.iommu_group);
  CHECK(fs::exists("/dev/vfio/" + std::to_string(*info.iommu_group)));
  viability = CheckGroupViability(edu);
  REQUIRE_OK(viability);
  CHECK(viability->viable);
  CHECK(viability->members == std::vector{std::pair(edu, std::string("vfio-pci"))});

  // Binding again changes nothing.
  auto again = BindDriver(edu, "vfio-pci");
  REQUIRE_OK(again);
  CHECK(again->previous_driver == "vfio-pci");
  REQUIRE_OK(RestoreDriver(*again));
  CHECK(DriverOf(edu) == "vfio-pci");

  REQUIRE_OK(RestoreDriver(*record));
  const auto after = Read(edu);
  CHECK_FALSE(after.driver);
  CHECK_FALSE(after.driver_override);
  CHECK_FALSE(fs::exists("/dev/vfio/" + std::to_string(*info.iommu_group)));
}

TEST_CASE("bind: from one driver to another, and back to the first", "[bind-vfio]") {
  const Address edu = FindFunction(0x1234, 0x11e8);
  auto on_uio = BindDriver(edu, "uio");
  REQUIRE_OK(on_uio);
  auto on_vfio = BindDriver(edu, "vfio-pci");
  REQUIRE_OK(on_vfio);
  CHECK(on_vfio->previous_driver == "uio_pci_generic");
  CHECK(on_vfio->previous_override == "uio_pci_generic");
  CHECK(DriverOf(edu) == "vfio-pci");

  // The kernel binds uio_pci_generic again through the restored override.
  REQUIRE_OK(RestoreDriver(*on_vfio));
  CHECK(DriverOf(edu) == "uio_pci_generic");
  CHECK(Read(edu).driver_override == "uio_pci_generic");
  REQUIRE_OK(RestoreDriver(*on_uio));
  CHECK(DriverOf(edu).empty());
  CHECK_FALSE(Read(edu).driver_override);
}

TEST_CASE("bind: a driver that is not loaded is refused and nothing changes", "[bind-vfio]") {
  const Address edu = FindFunction(0x1234, 0x11e8);
  // The guests load only the VFIO and UIO modules.
  auto bound = BindDriver(edu, "e1000e");
  REQUIRE(StatusOf(bound) == "NOT_FOUND");
  CHECK(bound.error().what.find("driver 'e1000e' is not loaded (modprobe e1000e)") !=
        std::string::npos);
  const auto info = Read(edu);
  CHECK_FALSE(info.driver);
  CHECK_FALSE(info.driver_override);
}

TEST_CASE("bind: e1000e without its module goes to vfio-pci and back", "[bind-group]") {
  const Address nic = FindFunction(0x8086, 0x10d3);
  REQUIRE(DriverOf(nic).empty());
  auto record = BindDriver(nic, "vfio-pci");
  REQUIRE_OK(record);
  CHECK_FALSE(record->previous_driver);
  CHECK(DriverOf(nic) == "vfio-pci");
  REQUIRE_OK(RestoreDriver(*record));
  CHECK(DriverOf(nic).empty());
  CHECK_FALSE(Read(nic).driver_override);
}

TEST_CASE("bind: a member bound elsewhere blocks the ICH9 group", "[bind-group]") {
  // q35's ICH9: LPC bridge 1f.0, AHCI 1f.2 and SMBus 1f.3 share one group.
  const Address lpc = FindFunction(0x8086, 0x2918);
  const Address ahci = FindFunction(0x8086, 0x2922);
  const Address smbus = FindFunction(0x8086, 0x2930);
  const auto group = Read(smbus).iommu_group;
  REQUIRE(group);

  // Unbound (the guest has no ahci or i2c-i801 module): viable.
  auto viability = CheckGroupViability(smbus);
  REQUIRE_OK(viability);
  CHECK(viability->group == *group);
  CHECK(viability->viable);
  CHECK(viability->members == std::vector{std::pair(lpc, std::string()),
                                          std::pair(ahci, std::string()),
                                          std::pair(smbus, std::string())});

  // uio_pci_generic does not manage DMA for VFIO: with AHCI on it, the group
  // is not viable, and BindDriver says who blocks.
  auto ahci_record = BindDriver(ahci, "uio");
  REQUIRE_OK(ahci_record);
  viability = CheckGroupViability(smbus);
  REQUIRE_OK(viability);
  CHECK_FALSE(viability->viable);
  CHECK(viability->blockers == std::vector{ahci.ToString() + " bound to uio_pci_generic"});
  CHECK(viability->members[1] == std::pair(ahci, std::string("uio_pci_generic")));
  auto refused = BindDriver(smbus, "vfio-pci");
  REQUIRE(StatusOf(refused) == "BAD_STATE");
  CHECK(refused.error().what.find(ahci.ToString() +
                                  " bound to uio_pci_generic blocks IOMMU group " +
                                  std::to_string(*group)) != std::string::npos);
  CHECK(DriverOf(smbus).empty());
  CHECK_FALSE(Read(smbus).driver_override);
  REQUIRE_OK(RestoreDriver(*ahci_record));
  CHECK(DriverOf(ahci).empty());

  // Then it binds, and the member on vfio-pci keeps the group viable.
  auto smbus_record = BindDriver(smbus, "vfio-pci");
  REQUIRE_OK(smbus_record);
  viability = CheckGroupViability(lpc);
  REQUIRE_OK(viability);
  CHECK(viability->viable);
  CHECK(viability->members[2] == std::pair(smbus, std::string("vfio-pci")));
  REQUIRE_OK(RestoreDriver(*smbus_record));
  CHECK(DriverOf(smbus).empty());
}

TEST_CASE("bind: edu goes to uio_pci_generic and back; vfio-pci needs an IOMMU", "[bind-uio]") {
  const Address edu = FindFunction(0x1234, 0x11e8);
  REQUIRE(DriverOf(edu).empty());

  auto record = BindDriver(edu, "uio");
  REQUIRE_OK(record);
  CHECK(record->driver == "uio_pci_generic");
  CHECK(DriverOf(edu) == "uio_pci_generic");
  const fs::path uio_dir = SysfsPci().DevicePath(edu) + "/uio";
  REQUIRE(fs::is_directory(uio_dir));
  const std::string uio = fs::directory_iterator(uio_dir)->path().filename();
  CHECK(fs::exists("/dev/" + uio));

  auto to_vfio = BindDriver(edu, "vfio-pci");
  REQUIRE(StatusOf(to_vfio) == "NOT_SUPPORTED");
  CHECK(to_vfio.error().what.find("no IOMMU group") != std::string::npos);
  CHECK(DriverOf(edu) == "uio_pci_generic");

  REQUIRE_OK(RestoreDriver(*record));
  CHECK(DriverOf(edu).empty());
  CHECK_FALSE(Read(edu).driver_override);
  CHECK_FALSE(fs::exists("/dev/" + uio));
  CHECK(StatusOf(CheckGroupViability(edu)) == "NOT_SUPPORTED");
}
