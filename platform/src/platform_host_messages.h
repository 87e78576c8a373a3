// The platform service's messages between a driver host and the root bus
// (host/wire.h frames them; ops from wire::kFirstServiceOp). Private to
// udrv_platform.
#pragma once

#include <cstdint>

#include "udrv/host/wire.h"

namespace udrv::platform::wire {

using host::wire::Empty;

enum class PlatformOp : uint16_t {
  GET_MMIO = host::wire::kFirstServiceOp,  // the region's VMO follows the reply
  ACK_INTERRUPT,
};
inline constexpr uint16_t kLastPlatformOp = static_cast<uint16_t>(PlatformOp::ACK_INTERRUPT);
constexpr uint16_t OpNumber(PlatformOp op) { return static_cast<uint16_t>(op); }

struct MmioReply {
  uint64_t offset = 0;  // of the region in the VMO that follows
  uint64_t size = 0;
  uint64_t phys = 0;
};
struct GetMmioRequest {
  static constexpr uint16_t kOp = OpNumber(PlatformOp::GET_MMIO);
  using Reply = MmioReply;
  uint32_t index = 0;
  uint32_t reserved = 0;  // 0
};

// Unmasks interrupt `index` after the host handled it: the root bus relays
// it and keeps it masked at its controller until then (it may be level
// triggered).
struct AckInterruptRequest {
  static constexpr uint16_t kOp = OpNumber(PlatformOp::ACK_INTERRUPT);
  using Reply = Empty;
  uint32_t index = 0;
  uint32_t reserved = 0;  // 0
};

}  // namespace udrv::platform::wire
