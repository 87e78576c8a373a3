#include <memory>
#include <utility>

#include "udrv/drivers/usb_mass_storage/usb_mass_storage.h"
#include "udrv/usb/usb_bus.h"

namespace udrv::drivers::usb_mass_storage {

namespace {

class MassStorageInstance final : public bus::DriverInstance {
 public:
  explicit MassStorageInstance(MassStorage disk) : disk_(std::move(disk)) {}

  MassStorage& disk() { return disk_; }

  // Nothing to undo: every command completed before start returned, and
  // the bus releases the interface.
  Result<void> Stop() override { return {}; }

 private:
  MassStorage disk_;
};

std::string Describe(const MassStorage& disk) {
  const InquiryData& inquiry = disk.inquiry();
  const Capacity& capacity = disk.capacity();
  const BulkEndpoints& endpoints = disk.endpoints();
  return "\"" + inquiry.vendor + "\" \"" + inquiry.product + "\" rev \"" + inquiry.revision + "\", type " +
         Hex(inquiry.device_type) + (inquiry.removable ? ", removable" : "") + "; " +
         std::to_string(capacity.blocks) + " blocks of " + std::to_string(capacity.block_size) + " bytes (" +
         std::to_string(capacity.bytes() / (1024 * 1024)) + " MiB); max LUN " +
         std::to_string(disk.max_lun()) + "; bulk IN " + Hex(endpoints.in) + " (" +
         std::to_string(endpoints.in_max_packet) + " bytes), OUT " + Hex(endpoints.out) + " (" +
         std::to_string(endpoints.out_max_packet) + " bytes)";
}

}  // namespace

bus::Driver MakeBusDriver() {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Equal(std::string(usb::kPropClass), usb::kClassMassStorage),
                  bus::BindRule::Equal(std::string(usb::kPropSubclass), kSubclassScsi),
                  bus::BindRule::Equal(std::string(usb::kPropProtocol), kProtocolBulkOnly),
                  bus::BindRule::Present(std::string(usb::kPropInterface))};
  using Type = bus::DriverOption::Type;
  driver.options = {
      {"timeout", Type::DURATION, "5s", "how long each USB transfer may take"},
      {"check-text", Type::STRING, "", "text LBA 0 must start with (empty: not checked)"},
      {"write-test-lba", Type::NUMBER, "0",
       "a block to write a pattern to and read back; it keeps the pattern (0: no write test)"},
      {"read-benchmark-mib", Type::NUMBER, "0",
       "MiB to read from LBA 0 on, wrapping at the disk's end, logging the rate (0: no benchmark)"},
      {"read-transfer-kib", Type::NUMBER, "64", "KiB per READ(10) of the read benchmark"},
  };
  driver.start = [](bus::DriverContext& context) -> Result<std::unique_ptr<bus::DriverInstance>> {
    const bus::DriverOptionValues& settings = context.options();
    UDRV_TRY_ASSIGN(const Duration timeout, settings.GetDuration("timeout"));
    UDRV_TRY_ASSIGN(const std::string check_text, settings.GetString("check-text"));
    UDRV_TRY_ASSIGN(const uint64_t write_test_lba, settings.GetNumber("write-test-lba"));
    UDRV_TRY_ASSIGN(const uint64_t benchmark_mib, settings.GetNumber("read-benchmark-mib"));
    UDRV_TRY_ASSIGN(const uint64_t transfer_kib, settings.GetNumber("read-transfer-kib"));
    if (timeout <= 0 || benchmark_mib > 1024 * 1024 || transfer_kib == 0 || transfer_kib > 16 * 1024) {
      return Fail(
          Status::INVALID_ARGS,
          "a timeout not above 0, read-benchmark-mib past 1048576, or read-transfer-kib not in [1, 16384]",
          context.node().id);
    }
    UDRV_TRY_ASSIGN(usb::Device * device, context.GetProtocol<usb::Device>());
    UDRV_TRY_ASSIGN(MassStorage disk, MassStorage::Open(*device, timeout));
    context.Log("disk over " + std::string(device->route()) + ": " + Describe(disk));
    auto instance = std::make_unique<MassStorageInstance>(std::move(disk));
    const LogLine log = [&context](const std::string& line) { context.Log(line); };
    if (!check_text.empty()) {
      UDRV_TRY(CheckText(instance->disk(), check_text));
      context.Log("LBA 0 starts with \"" + check_text + "\"");
    }
    if (write_test_lba != 0) UDRV_TRY(WriteTest(instance->disk(), write_test_lba, log));
    if (benchmark_mib != 0) {
      UDRV_TRY(ReadBenchmark(instance->disk(), benchmark_mib * 1024 * 1024, transfer_kib * 1024, log));
    }
    return instance;
  };
  return driver;
}

}  // namespace udrv::drivers::usb_mass_storage
