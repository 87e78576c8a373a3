// The one way the table decoders turn bytes into Fields: declarative
// layouts (a list of Specs: kind, size, iasl's name) read one after the
// other, every read bounded by the table, every value printed as `iasl -d`
// prints it so that iasl is the oracle field by field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/acpi/tables.h"
#include "udrv/core/result.h"

namespace udrv::acpi::decode {

// The RSDP's signature is 8 bytes ("RSD PTR "); TableHeader names it so.
inline constexpr std::string_view kRsdpSignature = "RSDP";
// Where a table's own fields start, after the common header.
inline constexpr uint32_t kHeaderEnd = static_cast<uint32_t>(kTableHeaderSize);

enum class Kind : uint8_t {
  kUint,        // little-endian number of 1..8 bytes: 2n hex digits
  kName,        // fixed-length ASCII (4, 6 or 8 bytes): up to its first NUL
  kBuffer,      // bytes: "00 11 22"
  kString,      // NUL-terminated string (size 0: its own length)
  kGas,         // Generic Address Structure (12 bytes), its fields as children
  kIortMemory,  // IORT memory access properties (8 bytes), children
};

// What a value means, iasl's words in brackets after the number: "[SystemIO]".
using Describe = std::string_view (*)(uint64_t value);

// One bit field of a flags word: iasl prints it on a line of its own
// below the word ("Processor Enabled : 1").
struct Bits {
  std::string_view name;
  uint8_t shift = 0;
  uint8_t width = 1;
};

struct Spec {
  Kind kind = Kind::kUint;
  uint8_t size = 0;  // bytes; 0 for a string
  std::string_view name;
  std::span<const Bits> bits = {};
  Describe describe = nullptr;
  // Zero printed as "[Optional field not present]" (DBG2's OEM data).
  bool optional = false;
};

constexpr Spec U8(std::string_view name, std::span<const Bits> bits = {}) { return {Kind::kUint, 1, name, bits}; }
constexpr Spec U16(std::string_view name, std::span<const Bits> bits = {}) { return {Kind::kUint, 2, name, bits}; }
constexpr Spec U24(std::string_view name) { return {Kind::kUint, 3, name}; }
constexpr Spec U32(std::string_view name, std::span<const Bits> bits = {}) { return {Kind::kUint, 4, name, bits}; }
constexpr Spec U64(std::string_view name) { return {Kind::kUint, 8, name}; }
constexpr Spec Enum(uint8_t size, std::string_view name, Describe describe) {
  return {Kind::kUint, size, name, {}, describe};
}
constexpr Spec Name(uint8_t size, std::string_view name) { return {Kind::kName, size, name}; }
constexpr Spec Buf(uint8_t size, std::string_view name) { return {Kind::kBuffer, size, name}; }
constexpr Spec Str(std::string_view name) { return {Kind::kString, 0, name}; }
constexpr Spec Gas(std::string_view name) { return {Kind::kGas, 12, name}; }
constexpr Spec IortMemory(std::string_view name) { return {Kind::kIortMemory, 8, name}; }

// A name from a table of names, the last one standing for every value
// past the others (iasl's "Unknown Subtable Type").
template <size_t N>
constexpr std::string_view Lookup(const std::string_view (&names)[N], uint64_t value) {
  return value < N - 1 ? names[value] : names[N - 1];
}

// Reads the fields of one table. The table ends where its length field
// says or where its bytes end, whichever is first: nothing past it is read.
class Decoder {
 public:
  explicit Decoder(const Table& table);

  uint32_t end() const { return end_; }
  const Table& table() const { return table_; }

  // The fields of `layout` from `offset` on, appended to `out`; returns the
  // offset after the last. Fields that start at or past `limit` (the end of
  // the structure as its own length says) are left out, as iasl leaves out
  // the fields an older, shorter version of a structure lacks. IO_INVALID
  // naming the table and the offset for a field past the table's end.
  Result<uint32_t> Append(std::vector<Field>& out, uint32_t offset, std::span<const Spec> layout,
                          uint32_t limit = UINT32_MAX) const;
  // One field at `offset`.
  Result<Field> One(uint32_t offset, const Spec& spec) const;
  // `size` bytes as a buffer field ("00 11 22"): a row of SLIT's matrix,
  // DBG2's OEM data, IORT's padding.
  Result<Field> Bytes(uint32_t offset, uint64_t size, std::string_view name) const;
  // A number the decoder itself needs (a count, a length, a type).
  Result<uint64_t> Read(uint32_t offset, uint32_t size, std::string_view what) const;

  // IO_INVALID: "<what> at offset 0x.. (N bytes) runs past the end of the
  // table (0x.. bytes)", naming the table.
  std::unexpected<Error> Overrun(std::string_view what, uint64_t offset, uint64_t size) const;
  std::unexpected<Error> Invalid(std::string_view what, uint64_t offset) const;

  // A structure of a type-length family (MADT, SRAT, DMAR, GTDT): its
  // length read at `length_offset` (`length_size` bytes) from `offset`,
  // checked: at least `min_length` (a length of 0 would loop forever) and
  // inside the table.
  Result<uint32_t> SubtableLength(uint32_t offset, uint32_t length_offset, uint32_t length_size,
                                  uint32_t min_length, std::string_view what) const;

 private:
  const Table& table_;
  uint32_t end_ = 0;
};

// A group of fields: a subtable, a device scope, an ID mapping.
Field Group(std::string name, uint32_t offset, uint32_t length, std::vector<Field> children);

// A family of subtables, each starting with its type and its length
// (MADT, SRAT, DMAR): their common header, the layout of each type, and
// what some types carry after their layout (DMAR's device scopes).
struct SubtableFamily {
  std::string_view what;  // "MADT subtable": named in errors
  uint32_t type_size = 1;
  uint32_t length_size = 1;  // the length follows the type
  std::span<const Spec> header;
  Describe type_name;
  std::span<const Spec> (*layout)(uint64_t type);  // empty: a type iasl does not know
  // Appends what follows the layout (at `next`, before `end`) to `children`.
  Result<void> (*rest)(const Decoder& decoder, uint64_t type, uint32_t next, uint32_t end,
                       std::vector<Field>& children) = nullptr;
};
// Every subtable from `offset` to the table's end, each a Group of its
// fields. A subtable shorter than its header or past the table's end is
// IO_INVALID naming its offset.
Result<void> AppendSubtables(const Decoder& decoder, std::vector<Field>& fields, uint32_t offset,
                             const SubtableFamily& family);

// The decoders, one per signature (decode_*.cc); each appends the
// table's fields after the header's.
using TableDecoder = Result<void> (*)(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeFadt(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeFacs(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeMadt(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeMcfg(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeHpet(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeDmar(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeIort(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeSrat(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeSlit(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeSpcr(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeDbg2(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeGtdt(const Decoder& decoder, std::vector<Field>& fields);
Result<void> DecodeBgrt(const Decoder& decoder, std::vector<Field>& fields);

}  // namespace udrv::acpi::decode
