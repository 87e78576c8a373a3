// udrv's AML reader: the namespace of the DSDT and the SSDTs, and a bounded
// evaluator for the methods that compute a device's identity and resources
// without touching hardware.
//
// Why udrv reads AML itself rather than through ACPICA: Debian packages no
// ACPICA library (acpica-tools has only the iasl/acpiexec programs), and
// ACPICA's interpreter is made to run firmware's methods with full hardware
// access, where udrv must never touch hardware while reading. The tables
// are untrusted input (a file, a recorded dump), and udrv needs only the
// namespace's objects plus an evaluator small enough to bound: nesting,
// steps, call depth, buffer and package sizes. Whatever would read or
// write hardware or kernel state (an OperationRegion field, Notify,
// Sleep/Stall, Acquire, the OS's \_OSI) or an operator this reader does
// not implement stops the evaluation with NOT_SUPPORTED saying what and
// where: that value is the kernel's to give (kernel_view.h), never guessed.
// Every error names the table and the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/acpi/tables.h"
#include "udrv/core/result.h"

namespace udrv::acpi {

// What one evaluation may spend. A firmware method that goes past one is
// refused (OUT_OF_RANGE naming the bound, the table and the offset): none
// that computes a _CRS comes near them.
struct AmlLimits {
  uint32_t max_call_depth = 16;       // methods calling methods
  uint32_t max_nesting = 128;         // operators and objects nested in one another, calls included
  uint64_t max_steps = 200'000;       // operators run per evaluation (While loops included)
  size_t max_buffer = 64 * 1024;      // bytes of one Buffer or String
  size_t max_package = 4096;          // elements of one Package
  // Operators run by all the evaluations of one namespace together: a table
  // of many devices whose methods each loop to max_steps is refused as a
  // whole, not run for minutes.
  uint64_t max_total_steps = 5'000'000;
  // Bytes that Buffer and Package make and that Store, CopyObject, method
  // arguments and Package initializers copy, loading and all the
  // evaluations of one namespace together: a loop that doubles a package,
  // or a table of small Names of 64 KiB buffers, is refused before it
  // exhausts memory.
  uint64_t max_copied = 64ull << 20;
};

// A value copied out of the reader.
struct AmlData {
  enum class Type : uint8_t { INTEGER, STRING, BUFFER, PACKAGE, REFERENCE };
  Type type = Type::INTEGER;
  uint64_t integer = 0;
  std::string string;  // STRING; REFERENCE: the path of the object it names
  std::vector<uint8_t> buffer;
  std::vector<AmlData> package;
};

// The kinds of named object the namespace holds.
enum class AmlObjectKind : uint8_t {
  SCOPE,           // \_SB_, \_GPE, ... and Scope() of a name no table defines
  DEVICE,
  METHOD,
  NAME,            // Name(): a value
  ALIAS,
  OPERATION_REGION,
  FIELD,           // a Field / IndexField / BankField unit: hardware
  MUTEX,
  EVENT,
  PROCESSOR,
  POWER_RESOURCE,
  THERMAL_ZONE,
  BUFFER_FIELD,    // CreateXField
  EXTERNAL,        // declared External() and defined by no table read
  OS_DEFINED,      // \_OSI, \_OS_, \_REV, \_GL_: the running OS's
};

class AmlNamespace {
 public:
  // Loads the DSDT and every SSDT of `tables`, in that order. What breaks
  // off a block (malformed AML) is a problem naming the table and offset;
  // the objects before it stay. Table-level code (If, While, Store) runs as
  // the kernel's loader runs it; an If whose predicate needs the kernel
  // leaves out what it declares, saying so in problems().
  static AmlNamespace Load(const TableSet& tables, AmlLimits limits = {});

  AmlNamespace(AmlNamespace&&) noexcept;
  AmlNamespace& operator=(AmlNamespace&&) noexcept;
  ~AmlNamespace();

  struct DeviceEntry {
    std::string path;  // "\_SB_.PCI0.S08_"
    std::string table;
    uint32_t offset = 0;  // of the DeviceOp
  };
  // Every Device(), in definition order (parents before children).
  const std::vector<DeviceEntry>& devices() const;
  const std::vector<Error>& problems() const;

  // The kind of the object at `path` (segments padded or not:
  // "\_SB.PCI0._CRS" is "\_SB_.PCI0._CRS"), nullopt where there is none.
  std::optional<AmlObjectKind> KindOf(std::string_view path) const;

  // The value of the object at `path`: a Name's, or what a Method returns
  // given `args` (integers). NOT_SUPPORTED where the value needs the
  // kernel (the message says what and where), IO_INVALID for malformed
  // AML, OUT_OF_RANGE past a bound, NOT_FOUND for no such object.
  // Evaluating may change the namespace as the method does (a Name it
  // patches), as it would under the kernel.
  Result<AmlData> Evaluate(std::string_view path, std::span<const uint64_t> args = {});

  struct State;

 private:
  explicit AmlNamespace(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// "\_SB_.PCI0": the canonical spelling of a path (root prefix, 4-character
// segments padded with '_').
std::string CanonicalAmlPath(std::string_view path);

// "PNP0103" from a compressed EISA ID (an integer _HID/_CID).
std::string DecodeEisaId(uint32_t id);

}  // namespace udrv::acpi
