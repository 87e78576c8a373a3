// The UIO route's own behaviour, in the x86_64 guest without an IOMMU
// (plans/x86_64-noiommu.plan): what uio_pci_generic can and cannot do
// ([uio-route]), and a function removed while a driver holds it
// ([uio-remove], which runs last: it removes edu and rescans the bus). The
// edu suite (pci_edu_test.cc) covers what every route shares.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/core/port.h"
#include "udrv/core/transfer.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/uio.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using udrv::CachePolicy;
using udrv::Vmar;
using udrv::pci::Address;
using udrv::pci::BindDriver;
using udrv::pci::BindRecord;
using udrv::pci::InterruptMode;
using udrv::pci::RestoreDriver;
using udrv::pci::UioDevice;
using udrv::testing::StatusOf;

namespace {

constexpr uint32_t kEduId = 0x00;
constexpr uint32_t kEduLiveness = 0x04;
constexpr uint32_t kEduInterruptStatus = 0x24;
constexpr uint32_t kEduInterruptRaise = 0x60;
constexpr uint32_t kEduInterruptAck = 0x64;

using udrv::guest::FindFunction;

using udrv::guest::FindEdu;

// Binds `address` to uio_pci_generic for the test's lifetime.
class UioBinding {
 public:
  explicit UioBinding(const Address& address) {
    auto record = BindDriver(address, "uio");
    REQUIRE_OK(record);
    record_ = *record;
  }
  ~UioBinding() {
    auto restored = RestoreDriver(record_);
    if (!restored) FAIL_CHECK("restore: " << restored.error().ToString());
  }
  UioBinding(const UioBinding&) = delete;
  UioBinding& operator=(const UioBinding&) = delete;

 private:
  BindRecord record_;
};

std::unique_ptr<UioDevice> Open(const Address& address) {
  auto device = UioDevice::Open(address);
  REQUIRE_OK(device);
  return std::move(*device);
}

uint16_t Command(const UioDevice& device) {
  auto command = device.ReadConfig16(udrv::pci::kConfigCommand);
  REQUIRE_OK(command);
  return *command;
}

bool IntxMasked(const UioDevice& device) {
  return (Command(device) & udrv::pci::kCommandInterruptDisable) != 0;
}

// Reads `offset` of `mmio` in a child process: "value 0x..." or how the
// child died.
std::string ReadInChild(const udrv::mmio::MmioBuffer& mmio, uint64_t offset) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  udrv::UniqueFd read_end(fds[0]), write_end(fds[1]);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const uint32_t value = mmio.Read32(offset);
    (void)!::write(write_end.get(), &value, sizeof(value));
    ::_exit(0);
  }
  write_end.reset();
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  uint32_t value = 0;
  REQUIRE(::read(read_end.get(), &value, sizeof(value)) == sizeof(value));
  char text[32];
  std::snprintf(text, sizeof(text), "value 0x%08x", value);
  return text;
}

}  // namespace

TEST_CASE("uio route: edu has legacy INTx only; MSI and MSI-X are refused", "[uio-route]") {
  const Address edu = FindEdu();
  UioBinding binding(edu);
  auto device = Open(edu);
  CHECK(device->route() == "uio");
  CHECK(device->uio_path().starts_with("/dev/uio"));

  auto modes = device->GetInterruptModes();
  REQUIRE_OK(modes);
  CHECK(modes->has_legacy);
  CHECK(modes->msi_count == 0);  // edu has an MSI capability; uio_pci_generic cannot use it
  CHECK(modes->msix_count == 0);

  for (InterruptMode mode : {InterruptMode::MSI, InterruptMode::MSI_X}) {
    auto set = device->SetInterruptMode(mode, 1);
    REQUIRE(StatusOf(set) == "NOT_SUPPORTED");
    CHECK(set.error().what.find("uio_pci_generic supports only legacy INTx; bind vfio-pci for "
                                "MSI/MSI-X") != std::string::npos);
  }
  CHECK(StatusOf(device->SetInterruptMode(InterruptMode::LEGACY, 2)) == "OUT_OF_RANGE");
  CHECK(StatusOf(device->SetInterruptMode(InterruptMode::LEGACY, 0)) == "INVALID_ARGS");
  CHECK(StatusOf(device->SetInterruptModeWithFallback(2)) == "NOT_SUPPORTED");
  auto chosen = device->SetInterruptModeWithFallback(1);
  REQUIRE_OK(chosen);
  CHECK(*chosen == InterruptMode::LEGACY);

  CHECK(StatusOf(device->MapInterrupt(1)) == "OUT_OF_RANGE");
  REQUIRE_OK(device->SetInterruptMode(InterruptMode::DISABLED, 0));
  CHECK(StatusOf(device->MapInterrupt(0)) == "BAD_STATE");
  CHECK(StatusOf(device->AckInterrupt(0)) == "BAD_STATE");
}

TEST_CASE("uio route: INTx is masked in the command register until acked", "[uio-route]") {
  const Address edu = FindEdu();
  UioBinding binding(edu);
  auto device = Open(edu);
  // Opened with interrupts DISABLED: masked.
  CHECK(IntxMasked(*device));

  auto vmar = Vmar::Create(16u << 20, "uio-test");
  REQUIRE_OK(vmar);
  auto mmio = device->MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
  REQUIRE_OK(mmio);
  REQUIRE(mmio->Read32(kEduId) == 0x010000ed);

  REQUIRE_OK(device->SetInterruptMode(InterruptMode::LEGACY, 1));
  CHECK_FALSE(IntxMasked(*device));
  auto irq = device->MapInterrupt(0);
  REQUIRE_OK(irq);
  CHECK(StatusOf(irq->Wait(udrv::DeadlineAfter(50ms))) == "TIMED_OUT");

  // The kernel masks the line as it takes the interrupt.
  mmio->Write32(1, kEduInterruptRaise);
  REQUIRE_OK(irq->Wait(udrv::DeadlineAfter(2s)));
  CHECK(IntxMasked(*device));
  CHECK(mmio->Read32(kEduInterruptStatus) == 1);
  mmio->Write32(1, kEduInterruptAck);
  // The next Wait unmasks (the Interrupt's ack writes 1 to /dev/uioN).
  CHECK(StatusOf(irq->Wait(udrv::DeadlineAfter(50ms))) == "TIMED_OUT");
  CHECK_FALSE(IntxMasked(*device));

  // A mode change ends the Interrupts of the old mode, as on VFIO.
  mmio->Write32(2, kEduInterruptRaise);
  REQUIRE_OK(irq->Wait(udrv::DeadlineAfter(2s)));
  mmio->Write32(2, kEduInterruptAck);
  REQUIRE_OK(device->SetInterruptMode(InterruptMode::DISABLED, 0));
  CHECK(StatusOf(irq->Wait(udrv::DeadlineAfter(50ms))) == "CANCELED");
  CHECK(IntxMasked(*device));
  // Masked, edu's raised line waits; the count the device keeps delivers it
  // to the Interrupt mapped once LEGACY unmasks.
  mmio->Write32(4, kEduInterruptRaise);
  CHECK(StatusOf(device->AckInterrupt(0)) == "BAD_STATE");
  CHECK(IntxMasked(*device));
  REQUIRE_OK(device->SetInterruptMode(InterruptMode::LEGACY, 1));
  irq = device->MapInterrupt(0);
  REQUIRE_OK(irq);
  REQUIRE_OK(irq->Wait(udrv::DeadlineAfter(2s)));
  mmio->Write32(4, kEduInterruptAck);

  // Through a port: Interrupt::Ack unmasks; so does AckInterrupt.
  auto port = udrv::Port::Create("uio-port");
  REQUIRE_OK(port);
  CHECK(IntxMasked(*device));       // the last Wait's interrupt is not acked yet
  REQUIRE_OK(irq->Bind(*port, 7));  // which Bind does
  CHECK_FALSE(IntxMasked(*device));
  mmio->Write32(4, kEduInterruptRaise);
  auto packet = port->Wait(udrv::DeadlineAfter(2s));
  REQUIRE_OK(packet);
  CHECK(packet->key == 7);
  CHECK(packet->type == udrv::PacketType::INTERRUPT);
  CHECK(IntxMasked(*device));
  mmio->Write32(4, kEduInterruptAck);
  REQUIRE_OK(irq->Ack());
  CHECK_FALSE(IntxMasked(*device));
  mmio->Write32(8, kEduInterruptRaise);
  REQUIRE_OK(port->Wait(udrv::DeadlineAfter(2s)));
  mmio->Write32(8, kEduInterruptAck);
  REQUIRE_OK(device->AckInterrupt(0));
  CHECK_FALSE(IntxMasked(*device));
  REQUIRE_OK(irq->Unbind(*port));

  // Mapping again gives the same interrupt, not one more fd each time.
  const size_t fds = udrv::guest::OpenFdCount();
  for (int i = 0; i < 100; ++i) REQUIRE_OK(device->MapInterrupt(0));
  CHECK(udrv::guest::OpenFdCount() == fds);

  // Its fd is a /dev/uioN, which another process could not rebuild.
  int sockets[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) == 0);
  udrv::UniqueFd ours(sockets[0]), theirs(sockets[1]);
  auto sent = udrv::SendHandle(ours.get(), std::move(*irq));
  REQUIRE(StatusOf(sent) == "NOT_SUPPORTED");
  CHECK(sent.error().what.find("a UIO interrupt cannot be sent to another process") !=
        std::string::npos);

  // Closing the device masks INTx again and ends its Interrupts.
  auto last = device->MapInterrupt(0);
  REQUIRE_OK(last);
  device.reset();
  CHECK(StatusOf(last->Wait(udrv::DeadlineAfter(50ms))) == "CANCELED");
  auto reopened = Open(edu);
  CHECK(IntxMasked(*reopened));
}

TEST_CASE("uio route: BARs come from the sysfs resource files", "[uio-route]") {
  const Address edu = FindEdu();
  UioBinding binding(edu);
  auto device = Open(edu);
  auto vmar = Vmar::Create(64u << 20, "uio-bars");
  REQUIRE_OK(vmar);

  auto bar = device->GetBar(0);
  REQUIRE_OK(bar);
  CHECK(bar->size == (1u << 20));
  CHECK_FALSE(bar->is_io);
  CHECK_FALSE(bar->is_prefetchable);
  REQUIRE(bar->mappable.size() == 1);
  CHECK(bar->mappable[0] == std::pair<uint64_t, uint64_t>(0, 1u << 20));
  auto description = bar->vmo.Describe();
  REQUIRE_OK(description);
  CHECK(description->route == udrv::PhysicalRoute::SYSFS_RESOURCE);
  CHECK(description->kind == udrv::VmoKind::PHYSICAL);
  CHECK(StatusOf(device->GetBar(1)) == "NOT_FOUND");
  CHECK(StatusOf(device->GetBar(6)) == "OUT_OF_RANGE");

  auto mmio = device->MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
  REQUIRE_OK(mmio);
  CHECK(mmio->Read32(kEduId) == 0x010000ed);
  mmio->Write32(0x12345678, kEduLiveness);
  CHECK(mmio->Read32(kEduLiveness) == ~0x12345678u);

  // edu's BAR is not prefetchable: no write-combining.
  auto wc = device->GetBarWriteCombining(0);
  REQUIRE(StatusOf(wc) == "NOT_SUPPORTED");
  CHECK(wc.error().what.find("not prefetchable") != std::string::npos);
  CHECK(StatusOf(device->MapMmio(0, CachePolicy::WRITE_COMBINING, *vmar)) == "NOT_SUPPORTED");

  // No reset method for edu (no FLR, no PM capability, on the root bus).
  auto reset = device->ResetDevice();
  REQUIRE(StatusOf(reset) == "NOT_SUPPORTED");
  CHECK(reset.error().what.find("no reset method") != std::string::npos);
}

TEST_CASE("uio route: a prefetchable BAR maps write-combining", "[uio-route]") {
  // QEMU's standard VGA: BAR 0 is its prefetchable framebuffer.
  const Address vga = FindFunction(0x1234, 0x1111);
  UioBinding binding(vga);
  auto device = Open(vga);
  auto vmar = Vmar::Create(64u << 20, "uio-wc");
  REQUIRE_OK(vmar);

  auto bar = device->GetBarWriteCombining(0);
  REQUIRE_OK(bar);
  CHECK(bar->is_prefetchable);
  auto description = bar->vmo.Describe();
  REQUIRE_OK(description);
  CHECK(description->route == udrv::PhysicalRoute::SYSFS_RESOURCE_WC);
  CHECK(description->cache_policy == CachePolicy::WRITE_COMBINING);
  const uint64_t size = bar->size;
  auto mmio = udrv::mmio::MmioBuffer::Create(*vmar, 0, size, std::move(bar->vmo),
                                             CachePolicy::WRITE_COMBINING);
  REQUIRE_OK(mmio);
  for (uint64_t offset = 0; offset < 4096; offset += 4) {
    mmio->Write32(static_cast<uint32_t>(offset * 0x01010101u), offset);
  }
  for (uint64_t offset = 0; offset < 4096; offset += 4) {
    INFO("offset " << offset);
    REQUIRE(mmio->Read32(offset) == static_cast<uint32_t>(offset * 0x01010101u));
  }
  // Device::MapMmio reaches resourceN_wc when asked for WRITE_COMBINING.
  auto mapped = device->MapMmio(0, CachePolicy::WRITE_COMBINING, *vmar);
  REQUIRE_OK(mapped);
  CHECK(mapped->get_size() == size);
  mapped->Write32(0x5a5aa5a5u, 8192);
  CHECK(mapped->Read32(8192) == 0x5a5aa5a5u);
  // The uncached route refuses write-combining: a request it cannot honour
  // is an error, never a silent downgrade.
  auto uncached = device->GetBar(0);
  REQUIRE_OK(uncached);
  CHECK(StatusOf(uncached->vmo.SetCachePolicy(CachePolicy::WRITE_COMBINING)) == "NOT_SUPPORTED");
}

TEST_CASE("uio route: I/O BARs and a function with a reset method", "[uio-route]") {
  // e1000e (82574L): BAR 2 is I/O ports; the kernel resets it through PM.
  const Address nic = FindFunction(0x8086, 0x10d3);
  UioBinding binding(nic);
  auto device = Open(nic);

  auto info = device->GetDeviceInfo();
  REQUIRE_OK(info);
  const udrv::pci::BarInfo* io = info->FindBar(2);
  REQUIRE(io != nullptr);
  REQUIRE(io->is_io);
  auto bar = device->GetBar(2);
  REQUIRE_OK(bar);
  CHECK(bar->is_io);
  CHECK(bar->io_base == io->address);
  CHECK(bar->size == io->size);
  CHECK_FALSE(bar->vmo.is_valid());
  auto vmar = Vmar::Create(16u << 20, "uio-io");
  REQUIRE_OK(vmar);
  CHECK(StatusOf(device->MapMmio(2, CachePolicy::UNCACHED_DEVICE, *vmar)) == "WRONG_TYPE");
  CHECK(StatusOf(device->GetBarWriteCombining(2)) == "WRONG_TYPE");

  // Config space through sysfs reaches the capabilities (PCIe: 4096 bytes).
  auto config = device->ReadConfigSpace();
  REQUIRE_OK(config);
  CHECK(config->size() == 4096);
  auto vendor = device->ReadConfig32(0);
  REQUIRE_OK(vendor);
  CHECK(*vendor == 0x10d38086);

  REQUIRE_OK(device->ResetDevice());
  vendor = device->ReadConfig32(0);
  REQUIRE_OK(vendor);
  CHECK(*vendor == 0x10d38086);
}

TEST_CASE("uio route: a function removed while held gives clear errors", "[uio-remove]") {
  const Address edu = FindEdu();
  auto record = BindDriver(edu, "uio");
  REQUIRE_OK(record);
  auto device = Open(edu);
  auto vmar = Vmar::Create(16u << 20, "uio-remove");
  REQUIRE_OK(vmar);
  auto mmio = device->MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
  REQUIRE_OK(mmio);
  REQUIRE(mmio->Read32(kEduId) == 0x010000ed);
  REQUIRE_OK(device->SetInterruptMode(InterruptMode::LEGACY, 1));
  auto irq = device->MapInterrupt(0);
  REQUIRE_OK(irq);

  // A waiter blocked when the function goes must wake with the news.
  udrv::Result<udrv::Time> waited = udrv::Fail(udrv::Status::INTERNAL, "not run");
  std::thread waiter([&] { waited = irq->Wait(udrv::DeadlineAfter(20s)); });
  std::this_thread::sleep_for(200ms);
  const auto removed_at = std::chrono::steady_clock::now();
  {
    udrv::UniqueFd remove(
        ::open((udrv::pci::SysfsPci().DevicePath(edu) + "/remove").c_str(), O_WRONLY | O_CLOEXEC));
    REQUIRE(remove);
    REQUIRE(::write(remove.get(), "1", 1) == 1);
  }
  waiter.join();
  CHECK(std::chrono::steady_clock::now() - removed_at < 5s);
  REQUIRE(StatusOf(waited) == "IO_NOT_PRESENT");
  CHECK(waited.error().what.find("the UIO device is gone") != std::string::npos);
  CHECK_FALSE(fs::exists(device->uio_path()));

  CHECK(StatusOf(irq->Wait(udrv::DeadlineAfter(1s))) == "IO_NOT_PRESENT");
  auto config = device->ReadConfig32(0);
  REQUIRE(StatusOf(config) == "IO_NOT_PRESENT");
  CHECK(config.error().what.find("the function was removed") != std::string::npos);
  CHECK(StatusOf(device->WriteConfig32(0x40, 0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->ReadConfigSpace()) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->GetDeviceInfo()) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->GetBar(0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->SetInterruptMode(InterruptMode::LEGACY, 1)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->SetInterruptMode(InterruptMode::DISABLED, 0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->ResetDevice()) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->SetBusMastering(true)) == "IO_NOT_PRESENT");

  // The mapping made before stays: the kernel does not revoke a sysfs
  // resource mapping on removal (it is of the physical address, through
  // iomem's mapping, not the sysfs file's), and the removed edu still
  // decodes its BAR. Touching it neither faults nor hangs. In a child, in
  // case that ever changes.
  CHECK(ReadInChild(*mmio, kEduId) == "value 0x010000ed");

  // Back after a rescan: a new function at the same address, without a
  // driver; the old object never reaches it.
  {
    udrv::UniqueFd rescan(::open("/sys/bus/pci/rescan", O_WRONLY | O_CLOEXEC));
    REQUIRE(rescan);
    REQUIRE(::write(rescan.get(), "1", 1) == 1);
  }
  REQUIRE(FindEdu() == edu);
  auto info = udrv::pci::SysfsPci().Read(edu);
  REQUIRE_OK(info);
  CHECK_FALSE(info->driver);
  CHECK_FALSE(info->driver_override);
  CHECK(StatusOf(device->ReadConfig32(0)) == "IO_NOT_PRESENT");
  CHECK(StatusOf(device->GetBar(0)) == "IO_NOT_PRESENT");
  // The new edu does not decode until a driver enables it: the stale
  // mapping reads what the bus gives.
  CHECK(ReadInChild(*mmio, kEduId).starts_with("value "));
  device.reset();  // masking INTx fails quietly: there is nothing to mask

  // The recorded state (no driver, no override) is the state now.
  REQUIRE_OK(RestoreDriver(*record));
  UioBinding binding(edu);
  auto fresh = Open(edu);
  auto fresh_mmio = fresh->MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
  REQUIRE_OK(fresh_mmio);
  CHECK(fresh_mmio->Read32(kEduId) == 0x010000ed);
}
