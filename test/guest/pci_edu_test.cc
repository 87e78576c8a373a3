// THE edu suite: QEMU's educational device driven through pci::Device, one
// suite for every route. UDRV_TEST_ROUTE picks the route: "vfio"
// (OpenVfioDevice after binding vfio-pci) or "uio" (OpenUioDevice after
// binding uio_pci_generic); unset or anything else fails every test. Each
// test binds edu, opens it, and puts the previous driver back. Runs only in
// testbed guests (it binds drivers and writes registers).
//
// edu (QEMU hw/misc/edu.c, docs/specs/edu.rst): BAR0, 1 MiB of 32-bit
// registers: 0x00 ID 0x010000ed; 0x04 liveness (reads back ~written);
// 0x08 factorial; 0x20 status (bit 0 computing, bit 7 interrupt when done);
// 0x24 interrupt status; 0x60 raise (sets bits in 0x24); 0x64 acknowledge
// (clears them; the INTx line drops when none is left). INTx and one MSI
// vector, no MSI-X.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <optional>
#include <string>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/core/port.h"
#include "udrv/core/time.h"
#include "udrv/core/vmar.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/device.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/uio.h"
#include "udrv/pci/vfio.h"

using udrv::CachePolicy;
using udrv::DeadlineAfter;
using udrv::Interrupt;
using udrv::Port;
using udrv::Vmar;
using udrv::testing::StatusOf;
using namespace udrv::pci;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t kEduId = 0x00;
constexpr uint32_t kEduLiveness = 0x04;
constexpr uint32_t kEduFactorial = 0x08;
constexpr uint32_t kEduStatus = 0x20;
constexpr uint32_t kEduInterruptStatus = 0x24;
constexpr uint32_t kEduInterruptRaise = 0x60;
constexpr uint32_t kEduInterruptAck = 0x64;
constexpr uint32_t kEduStatusComputing = 1u << 0;
constexpr uint32_t kEduStatusIrqOnFactorial = 1u << 7;
constexpr uint32_t kEduFactorialIrq = 0x1;  // the bit edu raises when a factorial is done
constexpr uint64_t kEduBarSize = 1 << 20;

// An interrupt that is due arrives well within this under TCG.
constexpr auto kArrives = 5s;
// Long enough for a stray interrupt to show up, short enough to wait often.
constexpr auto kQuiet = 100ms;

std::string Route() {
  const char* route = std::getenv("UDRV_TEST_ROUTE");
  const std::string value = route ? route : "";
  INFO("UDRV_TEST_ROUTE='" << value << "'");
  REQUIRE((value == "vfio" || value == "uio"));
  return value;
}

using udrv::guest::FindEdu;

// edu bound to the route's driver and opened through it. Declare it first
// in a test: it closes the device and puts the previous driver back when it
// goes, after the test's mappings (an unbind from vfio-pci waits for every
// mapping of the device to go).
class OpenedEdu : public udrv::guest::BoundDevice {
 public:
  OpenedEdu() : OpenedEdu(Route()) {}
  bool vfio() const { return route_ == "vfio"; }

 private:
  explicit OpenedEdu(const std::string& route)
      : BoundDevice(FindEdu(), route == "vfio" ? "vfio-pci" : "uio_pci_generic",
                    [&route](const Address& address) {
                      return route == "vfio" ? OpenVfioDevice(address) : OpenUioDevice(address);
                    }),
        route_(route) {}

  std::string route_;
};

udrv::mmio::MmioBuffer MapRegisters(Device& device, const Vmar& vmar) {
  auto mmio = device.MapMmio(0, CachePolicy::UNCACHED_DEVICE, vmar);
  REQUIRE_OK(mmio);
  REQUIRE(mmio->get_size() == kEduBarSize);
  return std::move(*mmio);
}

Vmar MakeVmar() {
  auto vmar = Vmar::Create(4 * kEduBarSize, "edu-test");
  REQUIRE_OK(vmar);
  return std::move(*vmar);
}

// Polls the computing bit against a deadline: edu computes on a thread of
// its own and says nothing about when it will be done.
uint32_t Factorial(const udrv::mmio::MmioBuffer& regs, uint32_t n) {
  regs.Write32(n, kEduFactorial);
  const udrv::Time deadline = DeadlineAfter(kArrives);
  while (regs.Read32(kEduStatus) & kEduStatusComputing) {
    REQUIRE(udrv::Now() < deadline);
    ::usleep(1000);
  }
  return regs.Read32(kEduFactorial);
}

void RequireArrives(const Interrupt& interrupt) {
  auto fired = interrupt.Wait(DeadlineAfter(kArrives));
  REQUIRE_OK(fired);
}

void RequireQuiet(const Interrupt& interrupt) {
  CHECK(StatusOf(interrupt.Wait(DeadlineAfter(kQuiet))) == "TIMED_OUT");
}

}  // namespace

TEST_CASE("edu: config space and BAR 0 as the route reports them", "[edu]") {
  OpenedEdu edu;
  Device& device = edu.device();
  CHECK(device.route() == (edu.vfio() ? "vfio" : "uio"));
  CHECK(device.ReadConfig16(kConfigVendorId).value() == 0x1234);
  CHECK(device.ReadConfig16(kConfigDeviceId).value() == 0x11e8);
  CHECK(device.ReadConfig8(kConfigRevisionId).value() == 0x10);
  CHECK(device.ReadConfig8(kConfigInterruptPin).value() == 1);

  auto info = device.GetDeviceInfo();
  REQUIRE_OK(info);
  CHECK(info->vendor_id == 0x1234);
  CHECK(info->device_id == 0x11e8);
  CHECK(info->driver == (edu.vfio() ? "vfio-pci" : "uio_pci_generic"));

  // The header belongs to the root bus: refused before it reaches the route.
  CHECK(StatusOf(device.WriteConfig16(kConfigCommand, 0)) == "ACCESS_DENIED");
  CHECK(StatusOf(device.WriteConfig32(kConfigBar0, 0xffffffff)) == "ACCESS_DENIED");
  CHECK(device.ReadConfig16(kConfigVendorId).value() == 0x1234);

  auto bar = device.GetBar(0);
  REQUIRE_OK(bar);
  CHECK(bar->size == kEduBarSize);
  CHECK_FALSE(bar->is_io);
  CHECK_FALSE(bar->is_64bit);
  CHECK_FALSE(bar->is_prefetchable);
  REQUIRE(bar->mappable.size() == 1);
  CHECK(bar->mappable[0] == std::pair<uint64_t, uint64_t>{0, kEduBarSize});
  CHECK(StatusOf(device.GetBar(1)) == "NOT_FOUND");
  CHECK(StatusOf(device.GetBar(6)) == "OUT_OF_RANGE");
}

TEST_CASE("edu: the ID register and the liveness check through MapMmio", "[edu]") {
  OpenedEdu edu;
  Vmar vmar = MakeVmar();
  auto regs = MapRegisters(edu.device(), vmar);
  CHECK(regs.Read32(kEduId) == 0x010000ed);
  for (uint32_t value : {0u, 0x12345678u, 0xffffffffu, 0xa5a55a5au}) {
    regs.Write32(value, kEduLiveness);
    CHECK(regs.Read32(kEduLiveness) == ~value);
  }
  // A second mapping of the same BAR sees the same registers.
  auto again = MapRegisters(edu.device(), vmar);
  again.Write32(0x0f0f0f0f, kEduLiveness);
  CHECK(regs.Read32(kEduLiveness) == 0xf0f0f0f0);
}

TEST_CASE("edu: factorial, polling the status register", "[edu]") {
  OpenedEdu edu;
  Vmar vmar = MakeVmar();
  auto regs = MapRegisters(edu.device(), vmar);
  regs.Write32(0, kEduStatus);
  CHECK(Factorial(regs, 5) == 120);
  CHECK(Factorial(regs, 10) == 3628800);
  CHECK(Factorial(regs, 12) == 479001600);
}

TEST_CASE("edu: legacy interrupts arrive, wait to be acked, and time out when quiet", "[edu]") {
  OpenedEdu edu;
  Device& device = edu.device();
  Vmar vmar = MakeVmar();
  auto regs = MapRegisters(device, vmar);
  regs.Write32(0xffffffff, kEduInterruptAck);  // nothing pending from an earlier test

  auto modes = device.GetInterruptModes();
  REQUIRE_OK(modes);
  CHECK(modes->has_legacy);
  CHECK(StatusOf(device.MapInterrupt(0)) == "BAD_STATE");  // no mode set yet
  REQUIRE_OK(device.SetInterruptMode(InterruptMode::LEGACY, 1));
  CHECK(StatusOf(device.MapInterrupt(1)) == "OUT_OF_RANGE");
  auto irq = device.MapInterrupt(0);
  REQUIRE_OK(irq);

  RequireQuiet(*irq);

  regs.Write32(0x1, kEduInterruptRaise);
  RequireArrives(*irq);
  CHECK(regs.Read32(kEduInterruptStatus) == 0x1);
  // Lower the line, then unmask: the other order would fire again at once.
  regs.Write32(0x1, kEduInterruptAck);
  REQUIRE_OK(device.AckInterrupt(0));
  CHECK(regs.Read32(kEduInterruptStatus) == 0);

  regs.Write32(0x4, kEduInterruptRaise);
  RequireArrives(*irq);
  CHECK(regs.Read32(kEduInterruptStatus) == 0x4);
  regs.Write32(0x4, kEduInterruptAck);
  REQUIRE_OK(device.AckInterrupt(0));
  RequireQuiet(*irq);

  SECTION("a factorial with bit 7 set raises the interrupt when it is done") {
    regs.Write32(kEduStatusIrqOnFactorial, kEduStatus);
    CHECK(Factorial(regs, 6) == 720);
    RequireArrives(*irq);
    CHECK(regs.Read32(kEduInterruptStatus) == kEduFactorialIrq);
    regs.Write32(kEduFactorialIrq, kEduInterruptAck);
    regs.Write32(0, kEduStatus);
    REQUIRE_OK(device.AckInterrupt(0));
    RequireQuiet(*irq);
  }
  SECTION("bound to a port, Interrupt::Ack lets the next one in") {
    auto port = Port::Create("edu-port");
    REQUIRE_OK(port);
    REQUIRE_OK(irq->Bind(*port, 42));
    for (uint32_t bit : {0x2u, 0x8u}) {
      regs.Write32(bit, kEduInterruptRaise);
      auto packet = port->Wait(DeadlineAfter(kArrives));
      REQUIRE_OK(packet);
      CHECK(packet->key == 42);
      CHECK(packet->type == udrv::PacketType::INTERRUPT);
      CHECK(regs.Read32(kEduInterruptStatus) == bit);
      regs.Write32(bit, kEduInterruptAck);
      REQUIRE_OK(irq->Ack());
    }
    CHECK(StatusOf(port->Wait(DeadlineAfter(kQuiet))) == "TIMED_OUT");
    REQUIRE_OK(irq->Unbind(*port));
  }
  REQUIRE_OK(device.SetInterruptMode(InterruptMode::DISABLED, 0));
  CHECK(StatusOf(device.AckInterrupt(0)) == "BAD_STATE");
}

TEST_CASE("edu: MSI interrupts (VFIO), refused by routes without MSI", "[edu]") {
  OpenedEdu edu;
  Device& device = edu.device();
  auto modes = device.GetInterruptModes();
  REQUIRE_OK(modes);
  CHECK(modes->msix_count == 0);
  CHECK(StatusOf(device.SetInterruptMode(InterruptMode::MSI_X, 1)) == "NOT_SUPPORTED");

  if (!edu.vfio()) {
    CHECK(modes->msi_count == 0);
    CHECK(StatusOf(device.SetInterruptMode(InterruptMode::MSI, 1)) == "NOT_SUPPORTED");
    CHECK(device.SetInterruptModeWithFallback(1).value() == InterruptMode::LEGACY);
    return;
  }

  CHECK(modes->msi_count == 1);
  CHECK(StatusOf(device.SetInterruptMode(InterruptMode::MSI, 2)) == "OUT_OF_RANGE");
  CHECK(StatusOf(device.SetInterruptMode(InterruptMode::MSI, 0)) == "INVALID_ARGS");
  // edu has no MSI-X, so the fallback settles on MSI.
  CHECK(device.SetInterruptModeWithFallback(1).value() == InterruptMode::MSI);
  auto irq = device.MapInterrupt(0);
  REQUIRE_OK(irq);
  // An MSI is a memory write by the device: no bus mastering, no interrupt.
  REQUIRE_OK(device.SetBusMastering(true));

  Vmar vmar = MakeVmar();
  auto regs = MapRegisters(device, vmar);
  regs.Write32(0xffffffff, kEduInterruptAck);
  RequireQuiet(*irq);
  for (uint32_t bit : {0x1u, 0x10u}) {
    regs.Write32(bit, kEduInterruptRaise);
    RequireArrives(*irq);
    CHECK(regs.Read32(kEduInterruptStatus) == bit);
    regs.Write32(bit, kEduInterruptAck);
    REQUIRE_OK(device.AckInterrupt(0));  // nothing to unmask for MSI
  }
  RequireQuiet(*irq);

  // Switching modes destroys the Interrupts of the old one.
  REQUIRE_OK(device.SetInterruptMode(InterruptMode::LEGACY, 1));
  CHECK(StatusOf(irq->Wait(DeadlineAfter(kQuiet))) == "CANCELED");
  REQUIRE_OK(device.SetBusMastering(false));
}

TEST_CASE("edu: ResetDevice does what the kernel can do for edu", "[edu]") {
  OpenedEdu edu;
  Device& device = edu.device();
  // QEMU's edu has no reset handler and sits on the root bus with neither
  // FLR nor PM capability, so the kernel finds no reset method for it (sysfs
  // reset_method is empty) and every route must say NOT_SUPPORTED. Where a
  // method exists, the reset must succeed and leave edu working.
  std::ifstream method_file("/sys/bus/pci/devices/" + edu.address().ToString() + "/reset_method");
  std::string methods;
  std::getline(method_file, methods);
  INFO("reset_method: '" << methods << "'");
  auto reset = device.ResetDevice();
  if (methods.empty()) {
    CHECK(StatusOf(reset) == "NOT_SUPPORTED");
  } else {
    REQUIRE_OK(reset);
  }
  Vmar vmar = MakeVmar();
  auto regs = MapRegisters(device, vmar);
  CHECK(regs.Read32(kEduId) == 0x010000ed);
  regs.Write32(0x1234, kEduLiveness);
  CHECK(regs.Read32(kEduLiveness) == ~0x1234u);
}
