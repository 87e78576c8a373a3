// The PCI service's messages between a driver host and the root bus
// (host/wire.h frames them; ops from wire::kFirstServiceOp). Private to
// udrv_pci and its tests (a test host uses them to send what the library
// never would).
#pragma once

#include <cstdint>

#include "udrv/host/wire.h"

namespace udrv::pci::wire {

using host::wire::Empty;

enum class PciOp : uint16_t {
  CONFIG_SIZE = host::wire::kFirstServiceOp,
  READ_CONFIG,
  WRITE_CONFIG,
  GET_DEVICE_INFO,
  GET_BAR,             // a memory BAR's VMO follows the reply
  SET_BUS_MASTERING,
  GET_INTERRUPT_MODES,
  SET_INTERRUPT_MODE,
  ACK_INTERRUPT,
  RESET_DEVICE,
};
inline constexpr uint16_t kLastPciOp = static_cast<uint16_t>(PciOp::RESET_DEVICE);
constexpr uint16_t OpNumber(PciOp op) { return static_cast<uint16_t>(op); }

struct ConfigSizeReply {
  uint64_t size = 0;  // 64, 256 or 4096
};
struct ConfigSizeRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::CONFIG_SIZE);
  using Reply = ConfigSizeReply;
};

struct ReadConfigReply {
  uint32_t value = 0;
};
struct ReadConfigRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::READ_CONFIG);
  using Reply = ReadConfigReply;
  uint16_t offset = 0;
  uint8_t width = 0;  // 1, 2 or 4
  uint8_t reserved = 0;
};

struct WriteConfigRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::WRITE_CONFIG);
  using Reply = Empty;
  uint16_t offset = 0;
  uint8_t width = 0;  // 1, 2 or 4
  uint8_t reserved = 0;
  uint32_t value = 0;
};

struct BarMessage {
  uint32_t index = 0;
  uint32_t flags = 0;  // kBar*
  uint64_t address = 0;
  uint64_t size = 0;
};
inline constexpr uint32_t kBarIo = 1u << 0;
inline constexpr uint32_t kBar64 = 1u << 1;
inline constexpr uint32_t kBarPrefetchable = 1u << 2;

struct DeviceInfoReply {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  uint32_t class_code = 0;
  uint32_t irq = 0;
  int32_t numa_node = -1;
  uint8_t revision = 0;
  uint8_t bar_count = 0;
  uint16_t reserved = 0;
  BarMessage bars[6] = {};
};
struct GetDeviceInfoRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::GET_DEVICE_INFO);
  using Reply = DeviceInfoReply;
};

struct BarReply {
  uint64_t size = 0;
  uint64_t io_base = 0;
  uint32_t flags = 0;  // kBar*
  uint32_t reserved = 0;
};
struct GetBarRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::GET_BAR);
  using Reply = BarReply;
  uint32_t index = 0;
};

struct SetBusMasteringRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::SET_BUS_MASTERING);
  using Reply = Empty;
  uint32_t enable = 0;  // 0 or 1
};

struct InterruptModesReply {
  uint32_t has_legacy = 0;
  uint32_t msi_count = 0;
  uint32_t msix_count = 0;
};
struct GetInterruptModesRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::GET_INTERRUPT_MODES);
  using Reply = InterruptModesReply;
};

struct SetInterruptModeRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::SET_INTERRUPT_MODE);
  using Reply = Empty;
  uint32_t mode = 0;  // pci::InterruptMode
  uint32_t count = 0;
};

struct AckInterruptRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::ACK_INTERRUPT);
  using Reply = Empty;
  uint32_t vector = 0;
};

struct ResetDeviceRequest {
  static constexpr uint16_t kOp = OpNumber(PciOp::RESET_DEVICE);
  using Reply = Empty;
};

}  // namespace udrv::pci::wire
