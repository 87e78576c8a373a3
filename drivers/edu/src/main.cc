// edu-driver: binds QEMU's edu device to vfio-pci or uio_pci_generic, runs
// the edu driver's self test on it (ID, liveness, a factorial completed by
// interrupt, a DMA round trip verified byte for byte) and puts the previous
// driver back. It binds drivers and drives a device: run it in a testbed
// guest, never on a machine whose devices matter.
//
// Exit status: 0 when every step passed; 1 on an error, printed with what
// failed and where; 2 for bad arguments.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/drivers/edu/edu.h"
#include "udrv/drivers/edu/self_test.h"
#include "udrv/pci/address.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/uio.h"
#include "udrv/pci/vfio.h"

namespace {

using udrv::Error;
using udrv::Fail;
using udrv::Hex;
using udrv::Result;
using udrv::Status;
using udrv::Wrap;
namespace edu = udrv::drivers::edu;
namespace pci = udrv::pci;

struct Settings {
  std::optional<pci::Address> device;  // none: the first edu in sysfs
  std::string route;                   // "vfio" or "uio"
  bool unsafe_physical_dma = false;
  uint32_t size = edu::kMaxTransfer;
  uint32_t hold_pins_seconds = 0;
};

// One line of progress. Flushed at once: a parent waiting on a pipe for a
// step (the kill test waits for the pins) must see it when it happens.
void Say(const std::string& line) {
  std::printf("edu-driver: %s\n", line.c_str());
  std::fflush(stdout);
}

Result<pci::Address> FindEdu(const pci::SysfsPci& sysfs) {
  auto addresses = sysfs.List();
  if (!addresses) return Wrap(addresses.error(), "look for edu");
  for (const pci::Address& address : *addresses) {
    auto info = sysfs.Read(address);
    if (!info) return Wrap(info.error(), "look for edu");
    if (info->vendor_id == edu::kVendorId && info->device_id == edu::kDeviceId) return address;
  }
  return Fail(Status::NOT_FOUND,
              "look for edu: no PCI function " + Hex(edu::kVendorId) + ":" + Hex(edu::kDeviceId) +
                  " (QEMU's -device edu) in sysfs");
}

std::string DriverName(const std::optional<std::string>& driver) {
  return driver ? *driver : "no driver";
}

Result<std::unique_ptr<pci::Device>> Open(const Settings& settings, const pci::Address& address) {
  if (settings.route == "vfio") return pci::OpenVfioDevice(address);
  pci::UioOptions options;
  options.physical_dma.device_may_reach_all_memory = settings.unsafe_physical_dma;
  return pci::OpenUioDevice(address, options);
}

Result<void> SelfTest(pci::Device& device, const Settings& settings) {
  auto driver = edu::Edu::Create(device);
  if (!driver) return std::unexpected(driver.error());
  edu::SelfTestOptions options;
  options.dma_size = settings.size;
  options.hold_pins = udrv::Duration{settings.hold_pins_seconds} * 1'000'000'000;
  return edu::SelfTest(*driver, options, Say);
}

Result<void> Run(const Settings& settings) {
  pci::SysfsPci sysfs;
  pci::Address address;
  if (settings.device) {
    address = *settings.device;
  } else {
    auto found = FindEdu(sysfs);
    if (!found) return std::unexpected(found.error());
    address = *found;
  }
  // Never bind something else just to find out it is not edu.
  auto info = sysfs.Read(address);
  if (!info) return Wrap(info.error(), "read " + address.ToString());
  if (info->vendor_id != edu::kVendorId || info->device_id != edu::kDeviceId) {
    return Fail(Status::NOT_SUPPORTED,
                "check the device: it is " + Hex(info->vendor_id) + ":" + Hex(info->device_id) +
                    ", not edu (" + Hex(edu::kVendorId) + ":" + Hex(edu::kDeviceId) + ")",
                address.ToString());
  }

  auto record = pci::BindDriver(address, settings.route == "vfio" ? "vfio-pci" : "uio");
  if (!record) return std::unexpected(record.error());
  Say(address.ToString() + " bound to " + record->driver + " (was: " +
      DriverName(record->previous_driver) + ")");

  // The device and the driver are gone before the previous driver comes
  // back: vfio-pci's unbind waits for the device to be closed.
  Result<void> tested = [&]() -> Result<void> {
    auto device = Open(settings, address);
    if (!device) return Wrap(device.error(), "open edu");
    auto result = SelfTest(**device, settings);
    if (!result && result.error().status == Status::ACCESS_DENIED && settings.route == "uio" &&
        !settings.unsafe_physical_dma) {
      result.error().what += " (edu-driver: --unsafe-physical-dma gives that consent)";
    }
    return result;
  }();

  auto restored = pci::RestoreDriver(*record);
  if (!restored) {
    if (!tested) {
      std::fprintf(stderr, "edu-driver: also failed: restore the previous driver: %s\n",
                   restored.error().ToString().c_str());
      return tested;
    }
    return Wrap(restored.error(), "restore the previous driver");
  }
  Say(address.ToString() + " back to " + DriverName(record->previous_driver));
  return tested;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "edu-driver: bind QEMU's edu device, run the edu driver's self test on it, put the "
      "previous driver back. Binds drivers: for testbed guests only."};
  Settings settings;
  std::string device;
  app.add_option("--device", device, "edu's address, DDDD:BB:DD.F (default: the first edu)")
      ->check([](const std::string& text) {
        auto address = pci::Address::Parse(text);
        return address ? std::string() : address.error().what;
      });
  app.add_option("--route", settings.route, "how to reach edu: vfio (vfio-pci) or uio (uio_pci_generic)")
      ->required()
      ->check(CLI::IsMember({"vfio", "uio"}));
  app.add_flag("--unsafe-physical-dma", settings.unsafe_physical_dma,
               "uio route: let edu DMA to physical addresses (it could reach ALL memory)");
  app.add_option("--size", settings.size, "bytes of the DMA round trip (default 4095)")
      ->check(CLI::Range(uint32_t{1}, edu::kMaxTransfer));
  app.add_option("--hold-pins-seconds", settings.hold_pins_seconds,
                 "after pinning the DMA buffers, hold the pins this long before using them");
  try {
    app.parse(argc, argv);
    if (settings.unsafe_physical_dma && settings.route != "uio") {
      throw CLI::ValidationError("--unsafe-physical-dma", "applies to --route uio only");
    }
  } catch (const CLI::ParseError& e) {
    // --help exits 0; everything else is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!device.empty()) settings.device = pci::Address::Parse(device).value();

  auto result = Run(settings);
  if (!result) {
    std::fprintf(stderr, "edu-driver: FAILED: %s\n", result.error().ToString().c_str());
    return 1;
  }
  Say("PASS");
  return 0;
}
