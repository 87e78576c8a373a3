// Smoke tests run inside testbed guests (never on the host: they bind
// drivers). They prove the guest has what later suites stand on: the IOMMU,
// vfio-pci and uio_pci_generic binding QEMU's edu device, and the firmware
// tables. Each tag is one machine's share: [vfio] and [dmar] need the IOMMU
// machine, [uio] the no-IOMMU one, [acpi] and [devices] x86_64, [fdt] aarch64.
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "udrv/core/unique_fd.h"
#include "udrv/pci/sysfs.h"

namespace fs = std::filesystem;
using udrv::UniqueFd;
using udrv::pci::Address;
using udrv::pci::SysfsPci;

namespace {

constexpr uint16_t kEduVendor = 0x1234;
constexpr uint16_t kEduDevice = 0x11e8;

Address FindEdu() {
  SysfsPci sysfs;
  auto addresses = sysfs.List();
  REQUIRE(addresses);
  for (const Address& address : *addresses) {
    auto info = sysfs.Read(address);
    REQUIRE(info);
    if (info->vendor_id == kEduVendor && info->device_id == kEduDevice) return address;
  }
  FAIL("no edu device (1234:11e8) on this guest's PCI bus");
  return {};
}

// sysfs attributes take one write(2) each; errors matter (a refused bind says EINVAL/ENODEV).
void WriteAttribute(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  INFO("write '" << text << "' to " << path << ": " << std::strerror(errno));
  REQUIRE(fd);
  REQUIRE(::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
}

std::string Driver(const Address& address) {
  auto info = SysfsPci().Read(address);
  REQUIRE(info);
  return info->driver.value_or("");
}

void BindWithOverride(const Address& address, const std::string& driver) {
  const std::string dev = SysfsPci().DevicePath(address);
  WriteAttribute(dev + "/driver_override", driver);
  WriteAttribute("/sys/bus/pci/drivers_probe", address.ToString());
  REQUIRE(Driver(address) == driver);
}

void UnbindAndClearOverride(const Address& address) {
  const std::string dev = SysfsPci().DevicePath(address);
  WriteAttribute(dev + "/driver/unbind", address.ToString());
  WriteAttribute(dev + "/driver_override", "\n");
  REQUIRE(Driver(address).empty());
  std::ifstream override_file(dev + "/driver_override");
  std::string value;
  std::getline(override_file, value);
  CHECK(value == "(null)");
}

size_t CountEntries(const fs::path& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
  return n;
}

}  // namespace

TEST_CASE("edu binds to vfio-pci, its IOMMU group opens, and it unbinds", "[vfio]") {
  const Address edu = FindEdu();
  REQUIRE(Driver(edu).empty());
  BindWithOverride(edu, "vfio-pci");

  // On arm64 the group appears only now: SMMUv3 configures a PCI device when
  // a driver probes it, not at enumeration.
  REQUIRE(CountEntries("/sys/kernel/iommu_groups") > 0);
  auto info = SysfsPci().Read(edu);
  REQUIRE(info);
  REQUIRE(info->iommu_group);
  const std::string group = std::to_string(*info->iommu_group);
  CHECK(fs::exists("/sys/kernel/iommu_groups/" + group + "/devices/" + edu.ToString()));

  UniqueFd container(::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC));
  REQUIRE(container);
  CHECK(::ioctl(container.get(), VFIO_GET_API_VERSION) == VFIO_API_VERSION);
  CHECK(::ioctl(container.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);

  {
    UniqueFd group_fd(::open(("/dev/vfio/" + group).c_str(), O_RDWR | O_CLOEXEC));
    INFO("open /dev/vfio/" << group << ": " << std::strerror(errno));
    REQUIRE(group_fd);
    vfio_group_status status{};
    status.argsz = sizeof(status);
    REQUIRE(::ioctl(group_fd.get(), VFIO_GROUP_GET_STATUS, &status) == 0);
    CHECK((status.flags & VFIO_GROUP_FLAGS_VIABLE) != 0);
    REQUIRE(::ioctl(group_fd.get(), VFIO_GROUP_SET_CONTAINER, &container) == 0);
    CHECK(::ioctl(container.get(), VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) == 0);
    UniqueFd device(::ioctl(group_fd.get(), VFIO_GROUP_GET_DEVICE_FD, edu.ToString().c_str()));
    INFO("VFIO_GROUP_GET_DEVICE_FD: " << std::strerror(errno));
    REQUIRE(device);
    vfio_device_info device_info{};
    device_info.argsz = sizeof(device_info);
    REQUIRE(::ioctl(device.get(), VFIO_DEVICE_GET_INFO, &device_info) == 0);
    CHECK((device_info.flags & VFIO_DEVICE_FLAGS_PCI) != 0);
    CHECK(device_info.num_regions >= VFIO_PCI_CONFIG_REGION_INDEX + 1);
  }

  UnbindAndClearOverride(edu);
  CHECK_FALSE(fs::exists("/dev/vfio/" + group));
}

TEST_CASE("edu binds to uio_pci_generic without an IOMMU and unbinds", "[uio]") {
  CHECK(CountEntries("/sys/kernel/iommu_groups") == 0);
  const Address edu = FindEdu();
  REQUIRE(Driver(edu).empty());
  BindWithOverride(edu, "uio_pci_generic");

  const fs::path uio_dir = SysfsPci().DevicePath(edu) + "/uio";
  REQUIRE(CountEntries(uio_dir) == 1);
  const std::string uio = fs::directory_iterator(uio_dir)->path().filename();
  std::ifstream name_file("/sys/class/uio/" + uio + "/name");
  std::string name;
  std::getline(name_file, name);
  CHECK(name == "uio_pci_generic");
  {
    UniqueFd fd(::open(("/dev/" + uio).c_str(), O_RDWR | O_CLOEXEC));
    INFO("open /dev/" << uio << ": " << std::strerror(errno));
    REQUIRE(fd);
  }
  UnbindAndClearOverride(edu);
  CHECK_FALSE(fs::exists("/dev/" + uio));
}

TEST_CASE("the x86_64 machine carries the testbed's PCI devices", "[devices]") {
  SysfsPci sysfs;
  auto addresses = sysfs.List();
  REQUIRE(addresses);
  bool edu = false, e1000e = false, nvme = false, xhci = false;
  for (const Address& address : *addresses) {
    auto info = sysfs.Read(address);
    REQUIRE(info);
    edu |= info->vendor_id == kEduVendor && info->device_id == kEduDevice;
    e1000e |= info->vendor_id == 0x8086 && info->device_id == 0x10d3;  // 82574L
    nvme |= info->class_code == 0x010802;                              // NVM Express
    xhci |= info->class_code == 0x0c0330;                              // USB xHCI
  }
  CHECK(edu);
  CHECK(e1000e);
  CHECK(nvme);
  CHECK(xhci);
}

TEST_CASE("the guest's ACPI tables are in sysfs", "[acpi]") {
  for (const char* table : {"DSDT", "FACP", "APIC", "MCFG"}) {
    INFO(table);
    struct stat st{};
    REQUIRE(::stat((std::string("/sys/firmware/acpi/tables/") + table).c_str(), &st) == 0);
    CHECK(st.st_size > 36);  // larger than the common ACPI table header
  }
}

TEST_CASE("the IOMMU machine has a DMAR table", "[dmar]") {
  CHECK(fs::exists("/sys/firmware/acpi/tables/DMAR"));
}

TEST_CASE("the guest's device tree is in sysfs", "[fdt]") {
  std::ifstream fdt("/sys/firmware/fdt", std::ios::binary);
  REQUIRE(fdt);
  unsigned char header[8] = {};
  REQUIRE(fdt.read(reinterpret_cast<char*>(header), sizeof(header)));
  const uint32_t magic = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                         (uint32_t{header[2]} << 8) | header[3];
  const uint32_t total = (uint32_t{header[4]} << 24) | (uint32_t{header[5]} << 16) |
                         (uint32_t{header[6]} << 8) | header[7];
  CHECK(magic == 0xd00dfeed);
  CHECK(total > 40);
  CHECK(total <= fs::file_size("/sys/firmware/fdt"));
}
