// ACPI resource templates (ACPI 6.5 §6.4): the bytes a `_CRS` returns,
// decoded completely. The template is outside bytes (firmware, a file): a
// descriptor that overruns the template, a bad length for its type or a
// missing end tag is an error naming the object and the byte.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::acpi {

enum class ResourceKind : uint8_t {
  IRQ,               // IRQ / IRQNoFlags
  DMA,
  START_DEPENDENT,   // StartDependentFn / StartDependentFnNoPri
  END_DEPENDENT,
  IO,
  FIXED_IO,
  FIXED_DMA,
  VENDOR_SHORT,
  END_TAG,
  MEMORY24,
  GENERIC_REGISTER,  // Register
  VENDOR_LONG,
  MEMORY32,
  FIXED_MEMORY32,
  ADDRESS16,         // WordIO / WordBusNumber / WordSpace (Memory for Word: WordSpace)
  ADDRESS32,         // DWordMemory / DWordIO / DWordSpace
  ADDRESS64,         // QWordMemory / QWordIO / QWordSpace
  EXTENDED_ADDRESS,  // ExtendedMemory / ExtendedIO / ExtendedSpace
  EXTENDED_IRQ,      // Interrupt
  GPIO_INT,
  GPIO_IO,
  I2C_SERIAL_BUS,
  SPI_SERIAL_BUS,
  UART_SERIAL_BUS,
  OTHER_LARGE,       // a large descriptor type this decoder does not know: kept, named by type
};

// The fields a driver and busctl use are named here; the full decoding of
// each descriptor (every field iasl -d shows) is `fields`, as name/value
// pairs in iasl's order.
struct Resource {
  ResourceKind kind = ResourceKind::END_TAG;
  uint32_t offset = 0;  // of the descriptor in the template
  uint32_t length = 0;  // of the whole descriptor, tag included
  // The ASL macro iasl -d writes for it: "Memory32Fixed", "QWordMemory",
  // "Interrupt", "IRQNoFlags", "I2cSerialBusV2", ...
  std::string macro;
  std::vector<std::pair<std::string, std::string>> fields;
  // The typed decoding (the AML helper's choice: a variant of one struct
  // per descriptor kind) that MemoryRanges/IoRanges/Interrupts read.
};

// The resources of a template, in order (the end tag is not one of them).
// IO_INVALID naming `object` ("\_SB_.HPET._CRS") and the byte offset for a
// malformed template.
Result<std::vector<Resource>> DecodeResourceTemplate(std::span<const uint8_t> bytes,
                                                     std::string_view object);

// "Memory32Fixed (ReadWrite, 0xFED00000, 0x00000400)": one line, as iasl
// -d's ASL starts it (the first line of the macro, numbers as iasl prints
// them).
std::string FormatResource(const Resource& resource);

// What the bus and drivers take from resources: the CPU-side ranges and
// interrupts, in template order. Index i of each is what GetMmio(i) /
// GetInterrupt(i) / I/O port range i mean.
struct MemoryRange {
  uint64_t base = 0;       // CPU physical: address-space descriptors add their translation offset
  uint64_t size = 0;
  bool writable = true;
  bool producer = false;   // a window a bridge decodes for its children, not the device's registers
  uint32_t resource = 0;   // index of the descriptor in the decoded list
};
struct IoRange {
  uint64_t base = 0;
  uint64_t size = 0;
  bool producer = false;
  uint32_t resource = 0;
};
struct InterruptInfo {
  uint32_t gsi = 0;  // the GSI (IRQ number on x86, GIC INTID on arm64)
  bool edge = false;        // otherwise level
  bool active_low = false;  // otherwise high
  bool shared = false;
  bool wake = false;
  uint32_t resource = 0;
};

// Memory32Fixed, Memory24, Memory32 (min == max), and Word/DWord/QWord/
// Extended memory descriptors with a length.
std::vector<MemoryRange> MemoryRanges(std::span<const Resource> resources);
// IO, FixedIO and I/O address-space descriptors.
std::vector<IoRange> IoRanges(std::span<const Resource> resources);
// IRQ/IRQNoFlags (one per IRQ in the mask) and Interrupt (one per entry).
std::vector<InterruptInfo> Interrupts(std::span<const Resource> resources);

}  // namespace udrv::acpi
