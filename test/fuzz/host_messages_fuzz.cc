// libFuzzer target: the isolation messages as the root bus's server decodes
// them. The input is what a driver host sends, cut into messages (each a
// 2-byte little-endian length, then that many bytes), fed over a
// socketpair to a host::HostServer with the PCI service over a fake device
// whose config space is memory. Serve must answer, refuse or drop the
// connection, never crash, leak or hit UB, whatever the bytes say.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fake_config_device.h"
#include "udrv/bus/node.h"
#include "udrv/host/server.h"
#include "udrv/pci/isolation.h"

namespace {

// A device with config space and nothing else: BARs, interrupts and BTIs
// are refused, as a device lacking them would.
class FuzzDevice final : public udrv::testing::FakeConfigDevice {
 public:
  FuzzDevice() : FakeConfigDevice(udrv::pci::Address{0, 0, 3, 0}, 0x1234, 0x11e8) {}
  std::string_view route() const override { return "fuzz"; }
  udrv::Result<udrv::pci::DeviceInfo> GetDeviceInfo() const override {
    udrv::pci::DeviceInfo info;
    info.address = address();
    info.vendor_id = 0x1234;
    info.device_id = 0x11e8;
    return info;
  }
  udrv::Result<udrv::pci::Bar> GetBar(uint32_t) override { return Refused(); }
  udrv::Result<udrv::pci::InterruptModes> GetInterruptModes() const override {
    return udrv::pci::InterruptModes{.has_legacy = false, .msi_count = 1, .msix_count = 0};
  }
  udrv::Result<void> SetInterruptMode(udrv::pci::InterruptMode, uint32_t) override { return {}; }
  udrv::Result<udrv::Interrupt> MapInterrupt(uint32_t) override { return Refused(); }
  udrv::Result<void> AckInterrupt(uint32_t) override { return {}; }
  udrv::Result<void> ResetDevice() override { return Refused(); }

 private:
  static std::unexpected<udrv::Error> Refused() {
    return udrv::Fail(udrv::Status::NOT_SUPPORTED, "the fuzz device has none");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return 0;
  udrv::UniqueFd host(fds[1]);
  // Every message goes before Serve starts; the host's end then closes for
  // writing, so Serve ends at the last one (or drops the connection sooner).
  auto input = std::span(reinterpret_cast<const std::byte*>(data), size);
  for (int messages = 0; input.size() >= 2 && messages < 64; ++messages) {
    const size_t length = std::min<size_t>(
        static_cast<size_t>(input[0]) | static_cast<size_t>(input[1]) << 8, input.size() - 2);
    if (::send(host.get(), input.data() + 2, length, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) break;
    input = input.subspan(2 + length);
  }
  (void)::shutdown(host.get(), SHUT_WR);

  FuzzDevice device;
  auto service = udrv::pci::MakeHostService(device, {.paths = {.sys = "/nonexistent-sysfs"}});
  udrv::bus::DeviceNode node;
  node.bus = "pci";
  node.id = "pci/0000:00:03.0";
  udrv::host::HostServerOptions options;
  options.reply_timeout = 100'000'000;  // replies nobody reads fill the socket: not for long
  udrv::host::HostServer server(*service, node, udrv::UniqueFd(fds[0]), std::move(options));
  // Whatever ended the connection says what it was; after the reclaim no
  // pin is left.
  const udrv::Result<void> served = server.Serve();
  if (!served && served.error().what.empty()) std::abort();
  (void)server.Reclaim();
  if (server.live_pins() != 0) std::abort();
  return 0;
}
