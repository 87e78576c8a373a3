// ACPI tables as firmware left them: read from the live system
// (/sys/firmware/acpi/tables, root only), from a directory of table files
// (what `acpidump -b` writes, or a copy of the sysfs directory) or from an
// `acpidump` text dump; each checked (length, checksum) and decoded field
// by field.
//
// Tables are outside bytes: a length past the end, a bad checksum or a
// subtable that overruns its table is reported as a problem naming the
// table and the offset, never read past. What a less-trusted file can make
// udrv spend is bounded (kMaxTableBytes, kMaxTables).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/sysfs/paths.h"

namespace udrv::acpi {

inline constexpr size_t kTableHeaderSize = 36;
// Bounds on what a table source may hold: the largest real DSDTs are a few
// MiB (big servers); a file past these is refused, naming it.
inline constexpr size_t kMaxTableBytes = 64u << 20;
inline constexpr size_t kMaxTables = 1024;

// The common header every table but the FACS and the RSDP has.
struct TableHeader {
  std::string signature;     // "FACP", "APIC", "SSDT": 4 bytes, non-printable ones escaped
  uint32_t length = 0;       // as the header says
  uint8_t revision = 0;
  uint8_t checksum = 0;
  std::string oem_id;        // 6 bytes, trailing spaces and NULs dropped
  std::string oem_table_id;  // 8 bytes, likewise
  uint32_t oem_revision = 0;
  std::string creator_id;    // 4 bytes ("INTL" for iasl, "BXPC" for QEMU)
  uint32_t creator_revision = 0;
};

struct Table {
  // "DSDT", "SSDT1", "SSDT2": the signature, numbered as Linux numbers the
  // files of /sys/firmware/acpi/tables when a signature occurs more than
  // once.
  std::string name;
  TableHeader header;
  std::vector<uint8_t> bytes;  // all of it, header included, as read
  std::string source;          // "/sys/firmware/acpi/tables/SSDT1", "dump.txt:120"
  // What is wrong with it (length unlike the bytes, bad checksum, short
  // header), each naming the table and the offset; empty for a good table.
  // A table with problems is still listed and decoded as far as it goes.
  std::vector<Error> problems;
};

struct TableSet {
  std::vector<Table> tables;  // in the order of the source
  // A table by name ("DSDT", "SSDT2") or, for the first of a signature, by
  // signature ("FACP"); nullptr when there is none.
  const Table* Find(std::string_view name) const;
  // The DSDT, then every SSDT, in order: what the namespace is built from.
  std::vector<const Table*> DefinitionBlocks() const;
};

// The live tables: sys/firmware/acpi/tables (and its dynamic/ directory,
// whose tables the firmware loaded at run time). ACCESS_DENIED saying that
// reading them needs root when the files cannot be opened; NOT_FOUND on a
// machine without ACPI (a device-tree board).
Result<TableSet> ReadLiveTables(const sysfs::LinuxPaths& paths);
// A directory of table files (each file one table; *.dat and *.aml as
// acpidump -b and iasl name them, or sysfs's bare names), or an acpidump
// text dump ("DSDT @ 0x..." then hex lines). Which one by what `path` is.
Result<TableSet> ReadTables(const std::string& path);
// The text of an acpidump dump (what ReadTables reads from a file):
// `source` names it in the tables' sources ("dump.txt:120") and in errors.
// A hex line that does not parse, or whose offset does not follow the one
// before, is IO_INVALID naming the line, the table and the offset.
Result<TableSet> ParseAcpidumpText(std::string_view text, const std::string& source);
// One table from bytes (what the readers above do per table; the fuzz
// target's entry). An empty `name` is the signature. The RSDP ("RSD PTR ")
// gets the signature "RSDP", its checksums and length checked as ACPI
// defines them; the FACS has a signature and a length, no checksum.
Table ParseTable(std::vector<uint8_t> bytes, std::string name, std::string source);

// A decoded field: one line of `busctl acpi tables show`, named and laid
// out as `iasl -d` prints it ("[024h 0036   4]  Firmware Control : 00000000"),
// so that iasl is the oracle field by field.
struct Field {
  std::string name;                 // iasl's name for it: "PM1A Event Block Address"
  uint32_t offset = 0;              // from the start of the table
  uint32_t length = 0;              // in bytes (a bit field: its byte's)
  std::optional<uint64_t> number;   // the value, for a number
  // The value as iasl prints it: "00000600", "0B [Generic Interrupt
  // Controller]", "01 [SystemIO]", "00,02" (a PCI path), "00 11 22" (a
  // buffer); a string or name without iasl's quotes ("APIC", "BXPC    ").
  std::string text;
  std::vector<Field> children;      // a subtable's or a flags word's fields
};

struct DecodedTable {
  std::string name;         // the table's name (Table::name)
  std::string description;  // "Fixed ACPI Description Table (FADT)"
  std::vector<Field> fields;  // the header's, then the table's, subtables as children
};

// FACP, APIC, MCFG, HPET, DMAR, IORT, SRAT, SLIT, SPCR, DBG2, GTDT, BGRT
// (and the header of any table). NOT_SUPPORTED naming the signature for a
// table without a decoder (its header is still a Field list:
// DecodeHeader); IO_INVALID naming the table and the offset for a table
// or subtable that does not fit.
Result<DecodedTable> DecodeTable(const Table& table);
std::vector<Field> DecodeHeader(const Table& table);
// Whether DecodeTable knows the table's signature.
bool HasDecoder(std::string_view signature);

}  // namespace udrv::acpi
