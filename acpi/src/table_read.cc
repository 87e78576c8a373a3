// Reading tables: the live sysfs directory, a directory of table files,
// an acpidump text dump; each table checked (length, checksum) by
// ParseTable.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cctype>
#include <map>
#include <tuple>

#include "udrv/acpi/tables.h"
#include "udrv/sysfs/file.h"

namespace udrv::acpi {
namespace {

constexpr std::string_view kRsdpBytes = "RSD PTR ";
constexpr size_t kRsdpV1Size = 20;
constexpr size_t kRsdpV2Size = 36;
constexpr size_t kFacsHeaderSize = 8;
// An acpidump line holds 16 bytes in about 4.3 bytes of text each.
constexpr size_t kMaxDumpTextBytes = 5 * kMaxTableBytes;

uint32_t Le32(std::span<const uint8_t> bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 4; i > 0; i--) value = (value << 8) | bytes[offset + i - 1];
  return value;
}

// Fixed-length ASCII: trailing spaces and NULs dropped.
std::string Ascii(std::span<const uint8_t> bytes) {
  std::string text(bytes.begin(), bytes.end());
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
  return text;
}

// A signature as text, non-printable bytes escaped ("\x00").
std::string Signature(std::span<const uint8_t> bytes) {
  std::string text;
  for (uint8_t byte : bytes) {
    if (byte >= 0x20 && byte <= 0x7E && byte != '\\') {
      text += static_cast<char>(byte);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
      text += escaped;
    }
  }
  return text;
}

uint8_t Sum(std::span<const uint8_t> bytes) {
  unsigned sum = 0;
  for (uint8_t byte : bytes) sum += byte;
  return static_cast<uint8_t>(sum);
}

void AddProblem(Table& table, std::string what) {
  table.problems.push_back(Error{Status::IO_DATA_INTEGRITY, std::move(what), table.name, 0});
}

// The bytes of [0, end) must sum to 0 mod 256; `at` is the checksum byte.
void CheckSum(Table& table, size_t end, size_t at, std::string_view what) {
  end = std::min(end, table.bytes.size());
  uint8_t sum = Sum(std::span(table.bytes).first(end));
  if (sum == 0) return;
  uint8_t good = static_cast<uint8_t>(table.bytes[at] - sum);
  AddProblem(table, std::string(what) + " at offset " + Hex(at) + " is " + Hex(table.bytes[at]) +
                        ": the first " + Hex(end) + " bytes sum to " + Hex(sum) + " (mod 256), not 0 (" +
                        Hex(good) + " would make them)");
}

void CheckLength(Table& table, uint64_t length) {
  if (length == table.bytes.size()) return;
  AddProblem(table, "the length field at offset 0x4 says " + Hex(length) + " bytes, the table has " +
                        Hex(table.bytes.size()));
}

void ParseRsdp(Table& table) {
  TableHeader& header = table.header;
  header.signature = "RSDP";
  if (table.bytes.size() < kRsdpV1Size) {
    AddProblem(table, "short RSDP: " + std::to_string(table.bytes.size()) + " bytes, less than its " +
                          std::to_string(kRsdpV1Size));
    return;
  }
  header.checksum = table.bytes[8];
  header.oem_id = Ascii(std::span(table.bytes).subspan(9, 6));
  header.revision = table.bytes[15];
  header.length = static_cast<uint32_t>(kRsdpV1Size);
  CheckSum(table, kRsdpV1Size, 8, "the RSDP checksum");
  if (header.revision < 2) return;
  if (table.bytes.size() < kRsdpV2Size) {
    AddProblem(table, "short RSDP revision " + std::to_string(header.revision) + ": " +
                          std::to_string(table.bytes.size()) + " bytes, less than its " +
                          std::to_string(kRsdpV2Size));
    return;
  }
  header.length = Le32(table.bytes, 20);
  if (header.length != table.bytes.size()) {
    AddProblem(table, "the RSDP length field at offset 0x14 says " + Hex(header.length) +
                          " bytes, the RSDP has " + Hex(table.bytes.size()));
  }
  CheckSum(table, header.length, 32, "the RSDP extended checksum");
}

void ParseFacs(Table& table) {
  table.header.signature = "FACS";
  if (table.bytes.size() < kFacsHeaderSize) {
    AddProblem(table, "short FACS: " + std::to_string(table.bytes.size()) + " bytes, less than its 8-byte header");
    return;
  }
  table.header.length = Le32(table.bytes, 4);
  CheckLength(table, table.header.length);
}

void ParseHeader(Table& table) {
  std::span<const uint8_t> bytes = table.bytes;
  TableHeader& header = table.header;
  header.signature = Signature(bytes.first(std::min<size_t>(4, bytes.size())));
  if (bytes.size() < kTableHeaderSize) {
    AddProblem(table, "short header: " + std::to_string(bytes.size()) + " bytes, less than the " +
                          std::to_string(kTableHeaderSize) + "-byte table header");
    return;
  }
  header.length = Le32(bytes, 4);
  header.revision = bytes[8];
  header.checksum = bytes[9];
  header.oem_id = Ascii(bytes.subspan(10, 6));
  header.oem_table_id = Ascii(bytes.subspan(16, 8));
  header.oem_revision = Le32(bytes, 24);
  header.creator_id = Ascii(bytes.subspan(28, 4));
  header.creator_revision = Le32(bytes, 32);
  CheckLength(table, header.length);
  CheckSum(table, header.length, 9, "the checksum");
}

// "SSDT10" after "SSDT9": names compared by their letters, then their number.
bool NaturalLess(const std::string& a, const std::string& b) {
  auto split = [](const std::string& name) {
    size_t digits = name.find_first_of("0123456789");
    if (digits == std::string::npos) return std::tuple(name, uint64_t{0}, std::string());
    size_t end = name.find_first_not_of("0123456789", digits);
    if (end == std::string::npos) end = name.size();
    uint64_t number = 0;
    std::from_chars(name.data() + digits, name.data() + end, number);
    return std::tuple(name.substr(0, digits), number, name.substr(end));
  };
  return split(a) < split(b);
}

// Linux's names (drivers/acpi/sysfs.c): a signature that occurs more than
// once gets its instance number from 1 on, one that occurs once none.
void NameAsLinux(std::vector<Table>& tables) {
  std::map<std::string, size_t> count;
  for (const Table& table : tables) count[table.header.signature]++;
  std::map<std::string, size_t> instance;
  for (Table& table : tables) {
    const std::string& signature = table.header.signature;
    table.name = count[signature] > 1 ? signature + std::to_string(++instance[signature]) : signature;
    for (Error& problem : table.problems) problem.object = table.name;
  }
}

Result<std::vector<uint8_t>> ReadTableFile(const std::string& path) {
  auto contents = sysfs::ReadFile(path, kMaxTableBytes + 1);
  if (!contents) {
    if (contents.error().err_no == EACCES) {
      return Fail(Status::ACCESS_DENIED, "reading ACPI tables needs root (" + path + " cannot be opened)",
                  path, EACCES);
    }
    return std::unexpected(contents.error());
  }
  if (contents->bytes.size() > kMaxTableBytes) {
    return Fail(Status::FILE_BIG,
                "a table file larger than " + std::to_string(kMaxTableBytes >> 20) + " MiB is refused", path);
  }
  return std::vector<uint8_t>(contents->bytes.begin(), contents->bytes.end());
}

Result<std::vector<std::string>> ListTableFiles(const std::string& dir) {
  UDRV_TRY_ASSIGN(auto names, sysfs::ListDirectory(dir));
  std::sort(names.begin(), names.end(), NaturalLess);
  if (names.size() > kMaxTables) {
    return Fail(Status::OUT_OF_RANGE,
                "more than " + std::to_string(kMaxTables) + " files in a directory of ACPI tables", dir);
  }
  return names;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Files of a table directory: sysfs's bare names, acpidump -b's *.dat,
// iasl's *.aml; the disassemblies and sources beside them are not tables.
bool IsTableFileName(const std::string& name) {
  size_t dot = name.rfind('.');
  if (dot == std::string::npos) return true;
  std::string_view extension = std::string_view(name).substr(dot);
  return extension == ".dat" || extension == ".aml" || extension == ".bin";
}

// acpidump's header line: "DSDT @ 0x0000000000000000".
bool IsDumpHeader(std::string_view line) {
  if (line.size() < 9 || line.substr(4, 5) != " @ 0x") return false;
  return std::all_of(line.begin() + 9, line.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ' ' || c == '\r'; });
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool LooksLikeDumpText(std::string_view text) {
  std::string_view head = text.substr(0, 4096);
  if (head.find('\0') != std::string_view::npos) return false;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t end = text.find('\n', line_start);
    if (end == std::string_view::npos) end = text.size();
    if (IsDumpHeader(text.substr(line_start, end - line_start))) return true;
    line_start = end + 1;
    if (line_start > 4096) break;
  }
  return false;
}

}  // namespace

const Table* TableSet::Find(std::string_view name) const {
  for (const Table& table : tables) {
    if (table.name == name) return &table;
  }
  for (const Table& table : tables) {
    if (table.header.signature == name) return &table;
  }
  return nullptr;
}

std::vector<const Table*> TableSet::DefinitionBlocks() const {
  std::vector<const Table*> blocks;
  for (const Table& table : tables) {
    if (table.header.signature == "DSDT") blocks.push_back(&table);
  }
  for (const Table& table : tables) {
    if (table.header.signature == "SSDT") blocks.push_back(&table);
  }
  return blocks;
}

Table ParseTable(std::vector<uint8_t> bytes, std::string name, std::string source) {
  Table table;
  table.name = std::move(name);
  table.bytes = std::move(bytes);
  table.source = std::move(source);
  std::span<const uint8_t> view = table.bytes;
  if (view.size() >= kRsdpBytes.size() && std::equal(kRsdpBytes.begin(), kRsdpBytes.end(), view.begin())) {
    if (table.name.empty()) table.name = "RSDP";
    ParseRsdp(table);
  } else if (view.size() >= 4 && std::equal(view.begin(), view.begin() + 4, "FACS")) {
    if (table.name.empty()) table.name = "FACS";
    ParseFacs(table);
  } else {
    if (table.name.empty()) table.name = Signature(view.first(std::min<size_t>(4, view.size())));
    ParseHeader(table);
  }
  for (Error& problem : table.problems) problem.object = table.name;
  return table;
}

Result<TableSet> ReadLiveTables(const sysfs::LinuxPaths& paths) {
  const std::string root = paths.sys + "/firmware/acpi/tables";
  auto names = ListTableFiles(root);
  if (!names) {
    if (names.error().err_no == ENOENT) {
      return Fail(Status::NOT_FOUND, "no ACPI tables: " + root + " is absent (a machine without ACPI?)", root,
                  ENOENT);
    }
    if (names.error().err_no == EACCES) {
      return Fail(Status::ACCESS_DENIED, "reading ACPI tables needs root", root, EACCES);
    }
    return std::unexpected(names.error());
  }
  TableSet set;
  // The firmware's tables, then those it loaded at run time (dynamic/).
  for (const std::string& dir : {root, root + "/dynamic"}) {
    std::vector<std::string> files;
    if (dir == root) {
      files = *names;
    } else if (IsDirectory(dir)) {
      UDRV_TRY_ASSIGN(files, ListTableFiles(dir));
    }
    for (const std::string& name : files) {
      const std::string path = dir + "/" + name;
      if (IsDirectory(path)) continue;  // data/, dynamic/
      if (set.tables.size() == kMaxTables) {
        return Fail(Status::OUT_OF_RANGE, "more than " + std::to_string(kMaxTables) + " ACPI tables", root);
      }
      UDRV_TRY_ASSIGN(auto bytes, ReadTableFile(path));
      set.tables.push_back(ParseTable(std::move(bytes), name, path));
    }
  }
  return set;
}

Result<TableSet> ParseAcpidumpText(std::string_view text, const std::string& source) {
  TableSet set;
  std::vector<uint8_t> bytes;
  std::string signature;  // of the table being read; empty between tables
  size_t header_line = 0;
  auto finish = [&]() -> Result<void> {
    if (signature.empty()) return {};
    if (bytes.empty()) {
      return Fail(Status::IO_INVALID, source + ":" + std::to_string(header_line) + ": table '" + signature +
                                          "' has no hex lines", source);
    }
    if (set.tables.size() == kMaxTables) {
      return Fail(Status::OUT_OF_RANGE, "more than " + std::to_string(kMaxTables) + " tables in the dump", source);
    }
    set.tables.push_back(ParseTable(std::move(bytes), "", source + ":" + std::to_string(header_line)));
    bytes.clear();
    signature.clear();
    return {};
  };
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    line_number++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = source + ":" + std::to_string(line_number);
    if (IsDumpHeader(line)) {
      UDRV_TRY(finish());
      signature = std::string(line.substr(0, 4));
      header_line = line_number;
      continue;
    }
    size_t first = line.find_first_not_of(' ');
    if (first == std::string_view::npos) {  // a blank line ends a table
      UDRV_TRY(finish());
      continue;
    }
    size_t colon = line.find(": ", first);
    bool hex_offset = colon != std::string_view::npos && colon > first && colon - first <= 8 &&
                      std::all_of(line.begin() + first, line.begin() + colon,
                                  [](char c) { return HexDigit(c) >= 0; });
    if (signature.empty()) {
      if (hex_offset) return Fail(Status::IO_INVALID, where + ": a hex line outside a table", source);
      continue;  // acpidump's banner and messages
    }
    auto bad = [&](std::string what) {
      return Fail(Status::IO_INVALID,
                  where + ": table '" + signature + "' at offset " + Hex(bytes.size()) + ": " + what, source);
    };
    if (!hex_offset) return bad("not a hex line: '" + std::string(line.substr(0, 60)) + "'");
    uint64_t offset = 0;
    std::from_chars(line.data() + first, line.data() + colon, offset, 16);
    if (offset != bytes.size()) return bad("the line's offset is " + Hex(offset));
    size_t count = 0;
    for (size_t at = colon + 2; count < 16 && at + 1 < line.size(); at += 3, count++) {
      if (line[at] == ' ' && line[at + 1] == ' ') break;  // the fill before the ASCII column
      int high = HexDigit(line[at]), low = HexDigit(line[at + 1]);
      if (high < 0 || low < 0 || (at + 2 < line.size() && line[at + 2] != ' ')) {
        return Fail(Status::IO_INVALID,
                    where + ": table '" + signature + "' at offset " + Hex(bytes.size()) + ": '" +
                        std::string(line.substr(at, 3)) + "' is not a hex byte",
                    source);
      }
      bytes.push_back(static_cast<uint8_t>(high * 16 + low));
    }
    if (count == 0) return bad("no bytes on the line");
    if (bytes.size() > kMaxTableBytes) {
      return Fail(Status::FILE_BIG,
                  where + ": table '" + signature + "' is larger than " + std::to_string(kMaxTableBytes >> 20) +
                      " MiB",
                  source);
    }
  }
  UDRV_TRY(finish());
  NameAsLinux(set.tables);
  return set;
}

Result<TableSet> ReadTables(const std::string& path) {
  TableSet set;
  if (IsDirectory(path)) {
    // A copy of sysfs's directory keeps Linux's names (its dynamic/ tables
    // after the others); acpidump -b's and iasl's files are named here.
    bool sysfs_names = true;
    for (const std::string& dir : {path, path + "/dynamic"}) {
      if (dir != path && !IsDirectory(dir)) break;
      UDRV_TRY_ASSIGN(auto names, ListTableFiles(dir));
      for (const std::string& name : names) {
        const std::string file = dir + "/" + name;
        if (!IsTableFileName(name) || IsDirectory(file)) continue;
        if (set.tables.size() == kMaxTables) {
          return Fail(Status::OUT_OF_RANGE, "more than " + std::to_string(kMaxTables) + " ACPI tables", path);
        }
        UDRV_TRY_ASSIGN(auto bytes, ReadTableFile(file));
        sysfs_names = sysfs_names && name.find('.') == std::string::npos;
        set.tables.push_back(ParseTable(std::move(bytes), name, file));
      }
    }
    if (!sysfs_names) NameAsLinux(set.tables);
    return set;
  }
  auto contents = sysfs::ReadFile(path, kMaxDumpTextBytes + 1);
  if (!contents) return std::unexpected(contents.error());
  if (contents->bytes.size() > kMaxDumpTextBytes) {
    return Fail(Status::FILE_BIG,
                "a table file or dump larger than " + std::to_string(kMaxDumpTextBytes >> 20) +
                    " MiB is refused",
                path);
  }
  if (LooksLikeDumpText(contents->bytes)) return ParseAcpidumpText(contents->bytes, path);
  // One binary table.
  if (contents->bytes.size() > kMaxTableBytes) {
    return Fail(Status::FILE_BIG,
                "a table file larger than " + std::to_string(kMaxTableBytes >> 20) + " MiB is refused", path);
  }
  set.tables.push_back(
      ParseTable(std::vector<uint8_t>(contents->bytes.begin(), contents->bytes.end()), "", path));
  return set;
}

}  // namespace udrv::acpi
