// The edu driver's self test: the ID, liveness, factorials 1! to 12! each
// completed by interrupt, and a DMA round trip host -> edu -> host verified
// byte for byte. edu-driver runs it, and so does the edu driver under the
// driver manager (bus_driver.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/drivers/edu/edu.h"

namespace udrv::drivers::edu {

struct SelfTestOptions {
  // Bytes of the DMA round trip: 1..kMaxTransfer.
  uint32_t dma_size = kMaxTransfer;
  // After pinning the DMA buffers, hold the pins this long before using
  // them (a test kills the process meanwhile).
  Duration hold_pins = 0;
};

// Receives one line per step that passed.
using SelfTestProgress = std::function<void(const std::string& line)>;

// The first step that fails is the error; OUT_OF_RANGE for a dma_size
// outside 1..kMaxTransfer.
Result<void> SelfTest(Edu& driver, const SelfTestOptions& options,
                      const SelfTestProgress& progress);

}  // namespace udrv::drivers::edu
