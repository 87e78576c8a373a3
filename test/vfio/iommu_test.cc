// The VFIO layer as far as it goes without a VFIO device: which backend is
// chosen and what is said when it is missing, and the Iommu's bookkeeping of
// open devices (over a fake backend whose "device fd" is an eventfd, which
// VFIO_DEVICE_GET_INFO refuses). The rest runs in the guests
// (test/guest/pci_vfio_test.cc).
#include <sys/eventfd.h>

#include <catch2/catch.hpp>
#include <cerrno>

#include "result_helpers.h"
#include "temp_tree.h"
#include "udrv/vfio/device.h"
#include "udrv/vfio/iommu.h"

using udrv::Result;
using udrv::UniqueFd;
using udrv::testing::StatusOf;
using udrv::vfio::DeviceFile;
using udrv::vfio::DeviceLocation;
using udrv::vfio::Iommu;
using udrv::vfio::IommuBackend;

namespace {

// Attaches every device as an eventfd and counts the attaches.
class FakeIommu final : public Iommu {
 public:
  FakeIommu() : Iommu(udrv::sysfs::LinuxPaths{}) {}
  IommuBackend backend() const override { return IommuBackend::TYPE1V2; }
  std::string Describe() const override { return "fake iommu"; }
  Result<void> Map(uint64_t, uintptr_t, uint64_t, bool, bool) override { return {}; }
  Result<void> Unmap(uint64_t, uint64_t) override { return {}; }
  Result<udrv::dma::IommuInfo> Info() const override { return udrv::dma::IommuInfo{}; }

  int attached = 0;

 protected:
  Result<UniqueFd> AttachDevice(const DeviceLocation&) override {
    ++attached;
    return UniqueFd(::eventfd(0, EFD_CLOEXEC));
  }
};

}  // namespace

TEST_CASE("vfio iommu: says what is missing under a /dev without VFIO", "[vfio]") {
  udrv::sysfs::testing::TempTree dev;  // with no dev/ at all
  auto container = Iommu::Create(IommuBackend::TYPE1V2, dev.paths());
  CHECK(StatusOf(container) == "NOT_FOUND");
  CHECK_THAT(container.error().what, Catch::Contains(dev.paths().dev + "/vfio/vfio"));
  CHECK_THAT(container.error().what, Catch::Contains("load the vfio module"));

  // AUTO falls back to the container when there is no iommufd.
  CHECK(StatusOf(Iommu::Create(IommuBackend::AUTO, dev.paths())) == "NOT_FOUND");

  auto iommufd = Iommu::Create(IommuBackend::IOMMUFD, dev.paths());
  CHECK(StatusOf(iommufd) == "NOT_SUPPORTED");
  CHECK_THAT(iommufd.error().what, Catch::Contains("CONFIG_IOMMUFD"));

  CHECK(udrv::vfio::IommuBackendName(IommuBackend::TYPE1V2) == "type1v2");
  CHECK(udrv::vfio::IommuBackendName(IommuBackend::IOMMUFD) == "iommufd");
}

TEST_CASE("vfio iommu: a device opens once per Iommu until it is released", "[vfio]") {
  FakeIommu iommu;
  const DeviceLocation edu{"0000:00:02.0", "/sys/bus/pci/devices/0000:00:02.0", 2};
  auto first = iommu.OpenDevice(edu);
  REQUIRE_OK(first);
  auto again = iommu.OpenDevice(edu);
  CHECK(StatusOf(again) == "ALREADY_BOUND");
  CHECK_THAT(again.error().what, Catch::Contains("already open through this fake iommu"));
  CHECK(iommu.attached == 1);
  // Another device of the same group is another device.
  REQUIRE_OK(iommu.OpenDevice({"0000:00:02.1", "", 2}));
  iommu.ReleaseDevice(edu.name);
  REQUIRE_OK(iommu.OpenDevice(edu));
  CHECK(iommu.attached == 3);
}

TEST_CASE("vfio device: a file that is no VFIO device is refused and released", "[vfio]") {
  auto iommu = std::make_shared<FakeIommu>();
  const DeviceLocation edu{"0000:00:02.0", "", 2};
  auto file = DeviceFile::Open(iommu, edu, "0000:00:02.0 (vfio)");
  REQUIRE_FALSE(file);
  CHECK_THAT(file.error().what, Catch::Contains("VFIO_DEVICE_GET_INFO"));
  // Linux answers an ioctl a file does not know with ENOTTY; qemu-user (the
  // aarch64 suite) with ENOSYS, for one it cannot translate.
  CHECK((file.error().err_no == ENOTTY || file.error().err_no == ENOSYS));
  CHECK(file.error().object == "0000:00:02.0 (vfio)");
  // Released on the way out: it opens again.
  REQUIRE_OK(iommu->OpenDevice(edu));

  CHECK(StatusOf(DeviceFile::Open(nullptr, edu, "x")) == "INVALID_ARGS");
}
