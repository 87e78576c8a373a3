// ACPI resource templates (ACPI 6.5 §6.4): the bytes a `_CRS` returns,
// decoded completely. The template is outside bytes (firmware, a file): a
// descriptor that overruns the template, a bad length for its type or a
// missing end tag is an error naming the object and the byte.
#pragma once

#include <cstdint>
#include <optional>
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

// The typed decodings, one struct per descriptor kind (ACPI 6.5 §6.4). Numbers
// are as the descriptor holds them (Memory24's are in units of 256 bytes,
// as iasl prints them).
struct IrqResource {         // IRQ (3 bytes) / IRQNoFlags (2 bytes)
  uint16_t mask = 0;         // bit n: IRQ n
  bool has_flags = false;    // IRQ rather than IRQNoFlags (which means edge, active high)
  bool edge = true;
  bool active_low = false;
  bool shared = false;
  bool wake = false;
};
struct DmaResource {
  uint8_t channel_mask = 0;
  uint8_t speed = 0;         // 0 Compatibility, 1 TypeA, 2 TypeB, 3 TypeF
  bool bus_master = false;
  uint8_t transfer = 0;      // 0 Transfer8, 1 Transfer8_16, 2 Transfer16
};
struct StartDependentResource {
  bool has_priority = false;  // StartDependentFn rather than StartDependentFnNoPri
  uint8_t compatibility = 0;
  uint8_t performance = 0;
};
struct EndDependentResource {};
struct IoResource {
  bool decode16 = false;     // otherwise 10-bit decode
  uint16_t minimum = 0;
  uint16_t maximum = 0;
  uint8_t alignment = 0;
  uint8_t length = 0;
};
struct FixedIoResource {
  uint16_t address = 0;
  uint8_t length = 0;
};
struct FixedDmaResource {
  uint16_t request_line = 0;
  uint16_t channel = 0;
  uint8_t width = 0;         // 0 Width8bit ... 5 Width256bit
};
struct VendorResource {      // VendorShort and VendorLong
  std::vector<uint8_t> data;
};
struct Memory24Resource {    // in units of 256 bytes
  bool writable = false;
  uint16_t minimum = 0;
  uint16_t maximum = 0;
  uint16_t alignment = 0;
  uint16_t length = 0;
};
struct GenericRegisterResource {
  uint8_t space = 0;         // an address space id: 0 SystemMemory, 1 SystemIO, 0x7F FFixedHW
  uint8_t bit_width = 0;
  uint8_t bit_offset = 0;
  uint8_t access_size = 0;
  uint64_t address = 0;
};
struct Memory32Resource {
  bool writable = false;
  uint32_t minimum = 0;
  uint32_t maximum = 0;
  uint32_t alignment = 0;
  uint32_t length = 0;
};
struct FixedMemory32Resource {
  bool writable = false;
  uint32_t base = 0;
  uint32_t length = 0;
};
// Where a descriptor names another device (its resource source).
struct ResourceSource {
  std::optional<uint8_t> index;
  std::string path;          // as the firmware wrote it: "\_SB.PCI0"
};
struct AddressResource {     // Word/DWord/QWord/Extended address space
  uint8_t resource_type = 0;  // 0 memory, 1 I/O, 2 bus number, 0xC0-0xFF vendor
  bool producer = false;
  bool subtractive = false;
  bool min_fixed = false;
  bool max_fixed = false;
  uint8_t type_flags = 0;    // the type-specific flags byte
  uint64_t granularity = 0;
  uint64_t minimum = 0;
  uint64_t maximum = 0;
  uint64_t translation = 0;
  uint64_t length = 0;
  uint64_t type_attributes = 0;  // Extended only
  ResourceSource source;     // not in Extended
};
struct ExtendedIrqResource {  // Interrupt
  bool producer = false;
  bool edge = false;
  bool active_low = false;
  bool shared = false;
  bool wake = false;
  std::vector<uint32_t> interrupts;
  ResourceSource source;
};
struct GpioResource {        // GpioInt / GpioIo
  bool interrupt = false;    // GpioInt
  bool producer = false;
  uint16_t flags = 0;        // the interrupt-and-I/O flags word
  uint8_t pin_config = 0;
  uint16_t drive_strength = 0;
  uint16_t debounce = 0;
  std::vector<uint16_t> pins;
  ResourceSource source;
  std::vector<uint8_t> vendor_data;
};
struct SerialBusResource {   // I2cSerialBusV2 / SpiSerialBusV2 / UartSerialBusV2
  uint8_t bus_type = 0;      // 1 I2C, 2 SPI, 3 UART
  bool device_initiated = false;
  bool producer = false;
  bool shared = false;
  uint16_t type_flags = 0;
  uint32_t speed = 0;        // I2C/SPI: Hz; UART: baud
  uint16_t address = 0;      // I2C: the target address; SPI: the device selection
  uint8_t data_bits = 0;     // SPI: data bit length
  uint8_t phase = 0;         // SPI
  uint8_t polarity = 0;      // SPI clock polarity
  uint16_t rx_fifo = 0;      // UART
  uint16_t tx_fifo = 0;      // UART
  uint8_t parity = 0;        // UART
  uint8_t lines = 0;         // UART: the serial lines enabled
  std::vector<uint8_t> vendor_data;
  ResourceSource source;
};
struct OtherResource {       // OTHER_LARGE: the bytes after the length
  uint8_t type = 0;
  std::vector<uint8_t> data;
};
using ResourcePayload =
    std::variant<IrqResource, DmaResource, StartDependentResource, EndDependentResource,
                 IoResource, FixedIoResource, FixedDmaResource, VendorResource, Memory24Resource,
                 GenericRegisterResource, Memory32Resource, FixedMemory32Resource, AddressResource,
                 ExtendedIrqResource, GpioResource, SerialBusResource, OtherResource>;

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
  // The typed decoding that MemoryRanges/IoRanges/Interrupts read.
  ResourcePayload payload;
};

// The resources of a template, in order (the end tag is not one of them).
// IO_INVALID naming `object` ("\_SB_.HPET._CRS") and the byte offset for a
// malformed template.
Result<std::vector<Resource>> DecodeResourceTemplate(std::span<const uint8_t> bytes,
                                                     std::string_view object);

// "Memory32Fixed (ReadWrite, 0xFED00000, 0x00000400, )": the whole macro on
// one line, arguments and numbers as iasl -d prints them (its empty
// descriptor name included), followed by the list where the macro has one
// ("IRQNoFlags () {8}", "Interrupt (...) {0x00000021,}", vendor bytes);
// iasl's text with its comments and line breaks taken out is the same but
// for spacing.
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
