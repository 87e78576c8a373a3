// The mass-storage driver's transport and SCSI layer (drivers/usb/mass-storage)
// against QEMU's usb-storage on the x86_64 guests ("[usb-mass-storage]"),
// with Linux as the oracle: what /dev/sda reads and /sys/block/sda/size say
// before udrv takes the disk. Errors come from QEMU's SCSI disk itself, so
// the sense decoding meets a SCSI target nobody here wrote: an unknown
// opcode and a READ past the end.
#include "udrv/drivers/usb_mass_storage/usb_mass_storage.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "result_helpers.h"
#include "udrv/usb/usb_bus.h"
#include "usb_guest.h"

namespace {

namespace fs = std::filesystem;
namespace msc = udrv::drivers::usb_mass_storage;
using namespace std::chrono_literals;
using udrv::testing::UsbDriverOf;
using udrv::testing::WaitFor;
using udrv::usb::UsbBus;

constexpr char kDiskInterface[] = "2-1:1.0";
constexpr udrv::Duration kSecond = 1'000'000'000;

bool DiskWithLinux() { return UsbDriverOf(kDiskInterface) == "usb-storage" && fs::exists("/dev/sda"); }

// What Linux reads: the first `bytes` of /dev/sda, past the page cache.
std::vector<std::byte> LinuxReads(size_t bytes) {
  std::ifstream sda("/dev/sda", std::ios::binary);
  std::vector<std::byte> data(bytes);
  sda.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(bytes));
  REQUIRE(static_cast<size_t>(sda.gcount()) == bytes);
  return data;
}

uint64_t LinuxSectors() {
  std::ifstream size("/sys/block/sda/size");
  uint64_t sectors = 0;
  size >> sectors;
  return sectors;
}

// The disk's interface opened over usbfs; given back to usb-storage at the end.
struct OpenedDisk {
  std::unique_ptr<UsbBus> bus;
  std::unique_ptr<udrv::bus::BoundDevice> bound;
  udrv::usb::Device* device = nullptr;
  ~OpenedDisk() {
    if (bound) (void)bound->Release({.restore_kernel_driver = true});
  }
};

void OpenDisk(OpenedDisk& opened) {
  auto bus = UsbBus::Create();
  REQUIRE_OK(bus);
  opened.bus = std::move(*bus);
  auto nodes = opened.bus->Enumerate();
  REQUIRE_OK(nodes);
  for (const udrv::bus::DeviceNode& node : *nodes) {
    if (node.properties.FindString(udrv::usb::kPropDevice) != "2-1") continue;
    if (node.properties.FindNumber(udrv::usb::kPropInterface) != 0u) continue;
    auto bound = opened.bus->Open(node);
    REQUIRE_OK(bound);
    opened.bound = std::move(*bound);
    auto protocol = opened.bound->protocols().Get<udrv::usb::Device>();
    REQUIRE_OK(protocol);
    opened.device = *protocol;
    return;
  }
  FAIL("no node for interface 2-1:1.0");
}

}  // namespace

TEST_CASE("usb-mass-storage reads what Linux reads and decodes QEMU's sense data", "[usb-mass-storage]") {
  REQUIRE(WaitFor(DiskWithLinux, 20s));
  const uint64_t sectors = LinuxSectors();
  const std::vector<std::byte> linux_start = LinuxReads(64 * 1024);
  REQUIRE(sectors > 0);

  {
    OpenedDisk opened;
    OpenDisk(opened);
    auto disk = msc::MassStorage::Open(*opened.device, kSecond);
    REQUIRE_OK(disk);
    CHECK(disk->inquiry().vendor == "QEMU");
    CHECK(disk->inquiry().product == "QEMU HARDDISK");
    CHECK(disk->inquiry().device_type == 0);
    CHECK(disk->max_lun() == 0);
    CHECK(disk->endpoints().in == 0x81);
    CHECK(disk->endpoints().out == 0x02);
    CHECK(disk->endpoints().in_max_packet == 1024);  // SuperSpeed bulk
    // Linux's sectors are 512 bytes whatever the disk's block size.
    CHECK(disk->capacity().bytes() == sectors * 512);
    REQUIRE_OK(msc::CheckText(*disk, "UDRV-TESTBED-usb-DISK"));

    // The first 64 KiB, in READ(10)s of 8 KiB: byte for byte what Linux read.
    const uint32_t block_size = disk->capacity().block_size;
    std::vector<std::byte> udrv_start(linux_start.size());
    REQUIRE_OK(disk->Read(0, udrv_start.size() / block_size, udrv_start, 8192));
    CHECK(udrv_start == linux_start);

    // QEMU's SCSI disk answers an opcode it does not know with CHECK
    // CONDITION; REQUEST SENSE says why.
    auto transport = msc::BulkOnlyTransport::Create(*opened.device, kSecond);
    REQUIRE_OK(transport);
    msc::ScsiDisk scsi(*transport, 0);
    const std::array<std::byte, 6> unknown = {std::byte{0xC0}};
    auto refused = scsi.Run("opcode 0xc0", unknown, msc::Direction::NONE, {});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().status == udrv::Status::IO);
    CHECK(
        refused.error().what ==
        "opcode 0xc0: CHECK CONDITION, ILLEGAL REQUEST, ASC/ASCQ 0x20/0x00: invalid command operation code");

    // A READ(10) past the last block: the data stage moves nothing the CSW
    // counts (its residue is the whole length), and the sense names the LBA.
    std::vector<std::byte> block(block_size);
    const auto past_end = static_cast<uint32_t>(disk->capacity().blocks);
    auto beyond = scsi.Read(past_end, 1, block_size, block);
    REQUIRE_FALSE(beyond);
    CHECK(beyond.error().what == "READ(10) at LBA " + std::to_string(past_end) +
                                     ": CHECK CONDITION, ILLEGAL REQUEST, ASC/ASCQ 0x21/0x00: logical block "
                                     "address out of range");

    // Reset recovery on a device in step, then it still answers.
    REQUIRE_OK(transport->ResetRecovery());
    REQUIRE_OK(scsi.TestUnitReady());
    REQUIRE_OK(scsi.Read(0, 1, block_size, block));
    CHECK(std::memcmp(block.data(), linux_start.data(), block.size()) == 0);
  }
  // Released with the kernel driver restored: Linux has its disk again.
  CHECK(WaitFor(DiskWithLinux, 20s));
}
