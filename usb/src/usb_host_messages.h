// The USB service's messages between a driver host and the root bus
// (host/wire.h frames them; ops from wire::kFirstServiceOp). Private to
// udrv_usb, and to test hosts that speak them raw.
#pragma once

#include <cstdint>

#include "udrv/host/wire.h"

namespace udrv::usb::wire {

enum class UsbOp : uint16_t {
  GET_USBFS = host::wire::kFirstServiceOp,  // the usbfs fd follows the reply (SendFile)
};
inline constexpr uint16_t kLastUsbOp = static_cast<uint16_t>(UsbOp::GET_USBFS);
constexpr uint16_t OpNumber(UsbOp op) { return static_cast<uint16_t>(op); }

// What the fd that follows may reach: USBDEVFS_DROP_PRIVILEGES was applied
// with `interface_mask`, and the root bus no longer claims
// `interface_number` (its kernel driver stays detached), so the host claims it.
struct UsbfsReply {
  uint32_t interface_mask = 0;
  uint8_t interface_number = 0;
  uint8_t configuration = 0;  // bConfigurationValue active at open
  uint16_t reserved = 0;      // 0
};
// Once per host: a second request is BAD_STATE.
struct GetUsbfsRequest {
  static constexpr uint16_t kOp = OpNumber(UsbOp::GET_USBFS);
  using Reply = UsbfsReply;
};

}  // namespace udrv::usb::wire
