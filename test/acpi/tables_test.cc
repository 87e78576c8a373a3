// The ACPI table reader and decoders against iasl, which nobody here
// wrote: every field `iasl -d` prints of a table (its offset, length and
// value) must be among udrv's decoded fields, in the same order. The
// tables are iasl's own templates (`iasl -T SIG`, compiled by iasl), the
// firmware recordings under test/acpi/firmware/<machine>/ and this
// machine's live tables. Then malformed tables and dumps: each error
// names the table and the offset.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "udrv/acpi/tables.h"

namespace {

namespace fs = std::filesystem;
using udrv::Status;
using udrv::acpi::DecodedTable;
using udrv::acpi::Field;
using udrv::acpi::Table;
using udrv::acpi::TableSet;

// Every signature udrv decodes that iasl has a template for.
const std::vector<std::string> kDecoded = {"FACP", "FACS", "APIC", "MCFG", "HPET", "DMAR", "IORT",
                                           "SRAT", "SLIT", "SPCR", "DBG2", "GTDT", "BGRT"};

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "udrv-acpi-tables-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// Runs `command` in `dir`; its output goes to a log that a failure shows.
void Run(const fs::path& dir, const std::string& command) {
  std::string full = "cd '" + dir.string() + "' && " + command + " > run.log 2>&1";
  int status = std::system(full.c_str());
  std::ifstream log(dir / "run.log");
  std::string text{std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>()};
  INFO(full << "\n" << text);
  REQUIRE(status == 0);
}

std::string Iasl() { return UDRV_IASL; }

std::vector<uint8_t> ReadBytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  REQUIRE(file.good());
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void WriteBytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(file.good());
}

std::string ReadText(const fs::path& path) {
  std::ifstream file(path);
  REQUIRE(file.good());
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// iasl's template of `signature`, compiled: the .aml's path.
fs::path CompileTemplate(const fs::path& dir, const std::string& signature) {
  std::string lower = signature;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return std::tolower(c); });
  fs::remove(dir / (lower + ".asl"));  // iasl -T asks before it overwrites
  Run(dir, Iasl() + " -T " + signature + " < /dev/null");
  Run(dir, Iasl() + " " + lower + ".asl");
  fs::path aml = dir / (lower + ".aml");
  REQUIRE(fs::exists(aml));
  return aml;
}

// Formatting normalised where iasl's layout and udrv's Field differ only
// in spacing: runs of blanks collapsed (iasl pads "Locality   0" and
// aligns continued buffer lines), comments dropped (iasl's "/* Incorrect
// checksum ... */" after a value). ParseIasl joins the lines of a value
// that iasl breaks with a trailing "\".
std::string Collapse(std::string text) {
  text = std::regex_replace(text, std::regex(R"(/\*.*?\*/)"), " ");
  text = std::regex_replace(text, std::regex(R"(\s+)"), " ");
  size_t first = text.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  size_t last = text.find_last_not_of(' ');
  return text.substr(first, last - first + 1);
}

struct IaslField {
  uint32_t offset = 0;
  uint32_t length = 0;
  std::string name;
  std::string value;
  std::vector<std::pair<std::string, std::string>> bits;  // the "decoded below" lines
  std::string line;                                       // as iasl printed it, for messages
};

// The fields of `iasl -d`'s disassembly of a data table: lines
// "[OOOh DDDD  L]   Name : Value", value lines continued with "\", and
// the flag lines without brackets under a flags word.
std::vector<IaslField> ParseIasl(const std::string& dsl) {
  static const std::regex kField(R"(^\[([0-9A-F]+)h ([0-9]{4}) +([0-9]+)\] +(.*?) : ?(.*)$)");
  static const std::regex kBit(R"(^ +(\S.*?) : (.*)$)");
  std::vector<IaslField> fields;
  std::istringstream lines(dsl);
  std::string line;
  bool continued = false;
  while (std::getline(lines, line)) {
    if (line.rfind("Raw Table Data", 0) == 0) break;
    std::smatch match;
    if (continued) {
      std::string& value = fields.back().value;
      value.erase(value.find_last_not_of(' '));  // the "\" that continued it
      value += " " + line;
    } else if (std::regex_match(line, match, kField)) {
      IaslField field;
      field.offset = static_cast<uint32_t>(std::stoul(match[1], nullptr, 16));
      REQUIRE(field.offset == std::stoul(match[2]));
      field.length = static_cast<uint32_t>(std::stoul(match[3]));
      field.name = Collapse(match[4]);
      field.value = match[5];
      field.line = line;
      fields.push_back(std::move(field));
    } else if (line.rfind('[', 0) == 0) {
      FAIL("a field line of iasl's that the test does not parse: " << line);
    } else if (!fields.empty() && std::regex_match(line, match, kBit)) {
      fields.back().bits.emplace_back(Collapse(match[1]), Collapse(match[2]));
      continue;
    } else {
      continue;
    }
    continued = !fields.back().value.empty() && fields.back().value.find_last_not_of(' ') != std::string::npos &&
                fields.back().value[fields.back().value.find_last_not_of(' ')] == '\\';
  }
  // A string's blanks are its own ("BXPC    "): only what follows it is collapsed.
  for (IaslField& field : fields) {
    size_t quote = field.value.find('"');
    size_t close = quote == std::string::npos ? quote : field.value.find('"', quote + 1);
    if (quote != std::string::npos && close != std::string::npos &&
        field.value.find_first_not_of(' ') == quote) {
      field.value = field.value.substr(quote, close - quote + 1) + " " + Collapse(field.value.substr(close + 1));
    } else {
      field.value = Collapse(field.value);
    }
  }
  return fields;
}

void Flatten(const std::vector<Field>& fields, std::vector<const Field*>& flat) {
  for (const Field& field : fields) {
    flat.push_back(&field);
    Flatten(field.children, flat);
  }
}

// One iasl field against udrv's: the value as iasl prints it. A string
// is quoted by iasl; the signature's is followed by the table's
// description, which udrv gives as DecodedTable::description.
void CompareValue(const IaslField& expected, const Field& actual, const DecodedTable& decoded) {
  INFO("iasl: " << expected.line << "\nudrv: " << actual.name << " = '" << actual.text << "'");
  if (!expected.value.empty() && expected.value[0] == '"') {
    size_t close = expected.value.find('"', 1);
    REQUIRE(close != std::string::npos);
    CHECK(expected.value.substr(1, close - 1) == actual.text);
    std::string rest = Collapse(expected.value.substr(close + 1));
    if (!rest.empty()) CHECK(rest == "[" + decoded.description + "]");
    return;
  }
  CHECK(expected.value == Collapse(actual.text));
  // The number too, where iasl's value starts with one.
  static const std::regex kHex(R"(^([0-9A-F]+)( \[.*\])?$)");
  std::smatch match;
  if (actual.number && std::regex_match(expected.value, match, kHex) && match[1].length() <= 16) {
    CHECK(std::stoull(match[1], nullptr, 16) == *actual.number);
  }
}

// Every field iasl prints is among udrv's, in iasl's order, with the same
// offset, length and value; the flag lines under a flags word are the
// word's children.
void CompareWithIasl(const DecodedTable& decoded, const std::vector<IaslField>& iasl) {
  std::vector<const Field*> flat;
  Flatten(decoded.fields, flat);
  REQUIRE(!iasl.empty());
  size_t next = 0;
  for (const IaslField& expected : iasl) {
    INFO("table " << decoded.name << ", iasl's line: " << expected.line);
    auto found = std::find_if(flat.begin() + static_cast<std::ptrdiff_t>(next), flat.end(), [&](const Field* f) {
      return f->offset == expected.offset && Collapse(f->name) == expected.name;
    });
    REQUIRE(found != flat.end());
    const Field& actual = **found;
    next = static_cast<size_t>(found - flat.begin()) + 1;
    CHECK(actual.length == expected.length);
    CompareValue(expected, actual, decoded);
    if (!expected.bits.empty()) {
      REQUIRE(actual.children.size() == expected.bits.size());
      for (size_t i = 0; i < expected.bits.size(); i++) {
        CHECK(actual.children[i].name == expected.bits[i].first);
        CHECK(actual.children[i].text == expected.bits[i].second);
      }
    }
  }
}

// The known iasl 20200925 mistakes, corrected before comparing: SPCR's
// byte after Terminal Type (0x3F) is printed at the offset of the last
// Reserved field (0x4C, its layout names the wrong member).
void CorrectIasl(const std::string& signature, std::vector<IaslField>& iasl) {
  if (signature != "SPCR") return;
  for (size_t i = 1; i < iasl.size(); i++) {
    if (iasl[i].name == "Reserved" && iasl[i].length == 1 && iasl[i - 1].name == "Terminal Type") {
      iasl[i].offset = iasl[i - 1].offset + 1;
    }
  }
}

// `table` decoded by udrv and disassembled by iasl (from a copy in `dir`).
void CheckAgainstIasl(const Table& table, const fs::path& dir) {
  INFO("table " << table.name << " from " << table.source);
  CHECK(table.problems.empty());
  auto decoded = udrv::acpi::DecodeTable(table);
  INFO((decoded ? "" : decoded.error().ToString()));
  REQUIRE(decoded);
  fs::path copy = dir / (table.name + ".dat");
  WriteBytes(copy, table.bytes);
  Run(dir, Iasl() + " -d " + copy.filename().string());
  std::vector<IaslField> iasl = ParseIasl(ReadText(dir / (table.name + ".dsl")));
  CorrectIasl(table.header.signature, iasl);
  CompareWithIasl(*decoded, iasl);
}

Table FromFile(const fs::path& path) {
  auto set = udrv::acpi::ReadTables(path.string());
  INFO((set ? "" : set.error().ToString()));
  REQUIRE(set);
  REQUIRE(set->tables.size() == 1);
  return set->tables[0];
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void FixChecksum(std::vector<uint8_t>& bytes) {
  bytes[9] = 0;
  unsigned sum = 0;
  for (uint8_t byte : bytes) sum += byte;
  bytes[9] = static_cast<uint8_t>(0x100 - (sum & 0xFF));
}

void PutLe32(std::vector<uint8_t>& bytes, size_t offset, uint32_t value) {
  for (size_t i = 0; i < 4; i++) bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

// An MADT of the header, its 8 bytes, and `subtables` after them.
std::vector<uint8_t> Madt(std::vector<uint8_t> subtables) {
  std::vector<uint8_t> bytes(44 + subtables.size(), 0);
  std::copy_n("APIC", 4, bytes.begin());
  bytes[8] = 5;
  for (size_t i = 0; i < subtables.size(); i++) bytes[44 + i] = subtables[i];
  PutLe32(bytes, 4, static_cast<uint32_t>(bytes.size()));
  FixChecksum(bytes);
  return bytes;
}

}  // namespace

TEST_CASE("every decoder agrees with iasl on iasl's own template", "[acpi][tables][iasl]") {
  TempDir dir;
  for (const std::string& signature : kDecoded) {
    DYNAMIC_SECTION(signature) {
      Table table = FromFile(CompileTemplate(dir.path, signature));
      CHECK(table.header.signature == signature);
      CHECK(table.name == signature);
      REQUIRE(udrv::acpi::HasDecoder(signature));
      CheckAgainstIasl(table, dir.path);
    }
  }
}

TEST_CASE("decoded structure: subtables group their fields", "[acpi][tables]") {
  TempDir dir;
  SECTION("MADT's subtables, one per type iasl's template holds") {
    auto decoded = udrv::acpi::DecodeTable(FromFile(CompileTemplate(dir.path, "APIC")));
    REQUIRE(decoded);
    CHECK(decoded->description == "Multiple APIC Description Table (MADT)");
    std::vector<std::string> groups;
    for (const Field& field : decoded->fields) {
      if (!field.children.empty() && field.children[0].name == "Subtable Type") groups.push_back(field.name);
    }
    CHECK(groups.size() == 16);
    CHECK(groups.front() == "Processor Local APIC");
    CHECK(groups.back() == "Generic Interrupt Translator");
  }
  SECTION("DMAR's device scopes sit under their remapping unit") {
    auto decoded = udrv::acpi::DecodeTable(FromFile(CompileTemplate(dir.path, "DMAR")));
    REQUIRE(decoded);
    auto drhd = std::find_if(decoded->fields.begin(), decoded->fields.end(),
                             [](const Field& f) { return f.name == "Hardware Unit Definition"; });
    REQUIRE(drhd != decoded->fields.end());
    auto scope = std::find_if(drhd->children.begin(), drhd->children.end(),
                              [](const Field& f) { return f.name == "IOAPIC Device"; });
    REQUIRE(scope != drhd->children.end());
    CHECK(scope->children.back().name == "PCI Path");
    CHECK(scope->children.back().text == "00,01");
  }
  SECTION("IORT's ID mappings sit under their node") {
    auto decoded = udrv::acpi::DecodeTable(FromFile(CompileTemplate(dir.path, "IORT")));
    REQUIRE(decoded);
    auto root = std::find_if(decoded->fields.begin(), decoded->fields.end(),
                             [](const Field& f) { return f.name == "Root Complex"; });
    REQUIRE(root != decoded->fields.end());
    CHECK(root->children.back().name == "ID Mapping");
  }
}

TEST_CASE("recorded firmware agrees with iasl", "[acpi][tables][iasl]") {
  const fs::path firmware = UDRV_ACPI_FIRMWARE;
  if (!fs::exists(firmware)) {
    WARN("no firmware recordings yet at " << firmware.string());
    return;
  }
  size_t machines = 0;
  for (const auto& machine : fs::directory_iterator(firmware)) {
    if (!machine.is_directory()) continue;
    machines++;
    DYNAMIC_SECTION(machine.path().filename().string()) {
      auto set = udrv::acpi::ReadTables(machine.path().string());
      INFO((set ? "" : set.error().ToString()));
      REQUIRE(set);
      REQUIRE(set->Find("DSDT") != nullptr);
      REQUIRE(set->Find("FACP") != nullptr);
      TempDir dir;
      for (const Table& table : set->tables) {
        CHECK(table.problems.empty());
        if (udrv::acpi::HasDecoder(table.header.signature) && table.header.signature != "RSDP") {
          CheckAgainstIasl(table, dir.path);
        }
      }
    }
  }
  CHECK(machines > 0);
}

TEST_CASE("this machine's live tables agree with iasl", "[acpi][tables][iasl][live]") {
  auto set = udrv::acpi::ReadLiveTables(udrv::sysfs::LinuxPaths{});
  if (!set) {
    // Not root, or no ACPI: the error says which (a real outcome too).
    INFO(set.error().ToString());
    if (set.error().status == Status::ACCESS_DENIED) {
      CHECK(Contains(set.error().what, "needs root"));
    } else {
      CHECK(set.error().status == Status::NOT_FOUND);
    }
    WARN("live ACPI tables not read: " << set.error().ToString());
    return;
  }
  REQUIRE(set->Find("DSDT") != nullptr);
  REQUIRE(set->DefinitionBlocks().front()->name == "DSDT");
  TempDir dir;
  size_t compared = 0;
  for (const Table& table : set->tables) {
    INFO(table.name);
    CHECK(table.source == "/sys/firmware/acpi/tables/" + table.name);
    CHECK(table.problems.empty());
    if (udrv::acpi::HasDecoder(table.header.signature)) {
      CheckAgainstIasl(table, dir.path);
      compared++;
    }
  }
  CHECK(compared > 0);
}

TEST_CASE("a directory as acpidump -b writes it: names as Linux numbers them", "[acpi][tables]") {
  TempDir dir;
  fs::path build = dir.path / "build";
  fs::create_directory(build);
  fs::path tables = dir.path / "tables";
  fs::create_directory(tables);
  fs::copy_file(CompileTemplate(build, "APIC"), tables / "apic.dat");
  fs::copy_file(CompileTemplate(build, "DSDT"), tables / "dsdt.dat");
  fs::path ssdt = CompileTemplate(build, "SSDT");
  for (const char* name : {"ssdt1.dat", "ssdt2.dat", "ssdt10.dat"}) fs::copy_file(ssdt, tables / name);
  fs::copy_file(CompileTemplate(build, "FACS"), tables / "facs.dat");
  {
    std::ofstream notes(tables / "dsdt.dsl");  // a disassembly beside them: not a table
    notes << "/* not a table */\n";
  }
  auto set = udrv::acpi::ReadTables(tables.string());
  INFO((set ? "" : set.error().ToString()));
  REQUIRE(set);
  std::vector<std::string> names;
  for (const Table& table : set->tables) names.push_back(table.name);
  CHECK(names == std::vector<std::string>{"APIC", "DSDT", "FACS", "SSDT1", "SSDT2", "SSDT3"});
  CHECK(set->tables[4].source == (tables / "ssdt2.dat").string());
  CHECK(set->tables[5].source == (tables / "ssdt10.dat").string());
  auto blocks = set->DefinitionBlocks();
  REQUIRE(blocks.size() == 4);
  CHECK(blocks[0]->name == "DSDT");
  CHECK(blocks[3]->name == "SSDT3");
  CHECK(set->Find("SSDT") == set->Find("SSDT1"));
  CHECK(set->Find("XSDT") == nullptr);
  const Table* facs = set->Find("FACS");
  REQUIRE(facs != nullptr);
  CHECK(facs->problems.empty());
  CHECK(facs->header.length == 64);
  // The DSDT is AML: listed with its header, decoded by the namespace reader.
  auto dsdt = udrv::acpi::DecodeTable(*set->Find("DSDT"));
  REQUIRE(!dsdt);
  CHECK(dsdt.error().status == Status::NOT_SUPPORTED);
  CHECK(Contains(dsdt.error().what, "DSDT"));
  auto header = udrv::acpi::DecodeHeader(*set->Find("DSDT"));
  REQUIRE(header.size() == 9);
  CHECK(header[0].text == "DSDT");
  CHECK(header[5].name == "Oem Table ID");
  CHECK(header[5].text == set->Find("DSDT")->header.oem_table_id);
  CHECK(set->Find("DSDT")->header.creator_id == "INTL");
}

TEST_CASE("an acpidump text dump reads as the tables acpidump dumped", "[acpi][tables]") {
  TempDir dir;
  // acpidump -f FILE: acpidump's own text of a table file (no /dev/mem).
  std::vector<fs::path> files = {CompileTemplate(dir.path, "FACP"), CompileTemplate(dir.path, "APIC"),
                                 CompileTemplate(dir.path, "FACS"), CompileTemplate(dir.path, "SSDT"),
                                 CompileTemplate(dir.path, "SSDT")};
  std::string dump;
  for (const fs::path& file : files) {
    Run(dir.path, "(" + std::string(UDRV_ACPIDUMP) + " -f " + file.filename().string() + " > one.txt)");
    dump += ReadText(dir.path / "one.txt");
  }
  fs::path text = dir.path / "dump.txt";
  {
    std::ofstream out(text);
    out << dump;
  }
  auto set = udrv::acpi::ReadTables(text.string());
  INFO((set ? "" : set.error().ToString()));
  REQUIRE(set);
  std::vector<std::string> names;
  for (const Table& table : set->tables) names.push_back(table.name);
  REQUIRE(names == std::vector<std::string>{"FACP", "APIC", "FACS", "SSDT1", "SSDT2"});
  for (size_t i = 0; i < files.size(); i++) {
    CHECK(set->tables[i].bytes == ReadBytes(files[i]));
    CHECK(set->tables[i].problems.empty());
  }
  CHECK(Contains(set->tables[1].source, "dump.txt:"));
  CheckAgainstIasl(set->tables[1], dir.path);

  SECTION("a bad hex line names the line, the table and the offset") {
    // Second line of the APIC (offset 0x10): its third byte made "ZZ".
    size_t apic = dump.find("APIC @ 0x");
    size_t line = dump.find("    0010: ", apic);
    dump.replace(line + 10 + 6, 2, "ZZ");
    auto bad = udrv::acpi::ParseAcpidumpText(dump, "dump.txt");
    REQUIRE(!bad);
    CHECK(bad.error().status == Status::IO_INVALID);
    CHECK(Contains(bad.error().what, "'APIC' at offset 0x12"));
    CHECK(Contains(bad.error().what, "dump.txt:"));
  }
  SECTION("a line whose offset does not follow is refused") {
    size_t apic = dump.find("APIC @ 0x");
    size_t line = dump.find("    0020: ", apic);
    dump.replace(line + 4, 4, "0030");
    auto bad = udrv::acpi::ParseAcpidumpText(dump, "dump.txt");
    REQUIRE(!bad);
    CHECK(Contains(bad.error().what, "'APIC' at offset 0x20"));
  }
}

TEST_CASE("the RSDP is listed with what it has of a header", "[acpi][tables]") {
  TempDir dir;
  Table rsdp = udrv::acpi::ParseTable(ReadBytes(CompileTemplate(dir.path, "RSDP")), "", "rsdp.aml");
  CHECK(rsdp.name == "RSDP");
  CHECK(rsdp.header.signature == "RSDP");
  CHECK(rsdp.problems.empty());
  CHECK(rsdp.header.revision == 2);
  CHECK(rsdp.header.length == 36);
  auto decoded = udrv::acpi::DecodeTable(rsdp);
  REQUIRE(decoded);
  REQUIRE(decoded->fields.size() == 9);
  CHECK(decoded->fields[0].text == "RSD PTR ");
  CHECK(decoded->fields[6].name == "XSDT Address");
}

TEST_CASE("malformed tables: problems and errors name the table and the offset", "[acpi][tables][malformed]") {
  TempDir dir;
  std::vector<uint8_t> apic = ReadBytes(CompileTemplate(dir.path, "APIC"));

  SECTION("bad checksum") {
    apic[0x30] ^= 0x01;
    Table table = udrv::acpi::ParseTable(apic, "", "apic.aml");
    REQUIRE(table.problems.size() == 1);
    CHECK(table.problems[0].object == "APIC");
    CHECK(Contains(table.problems[0].what, "checksum at offset 0x9"));
    CHECK(udrv::acpi::DecodeTable(table).has_value());  // still decoded
  }
  SECTION("length field past the end of the bytes") {
    apic.resize(0x100);
    Table table = udrv::acpi::ParseTable(apic, "", "apic.aml");
    REQUIRE(!table.problems.empty());
    CHECK(Contains(table.problems[0].what, "says 0x15a bytes, the table has 0x100"));
    auto decoded = udrv::acpi::DecodeTable(table);
    REQUIRE(!decoded);
    CHECK(decoded.error().status == Status::IO_INVALID);
    CHECK(decoded.error().object == "APIC");
    // The GICC subtable at 0xb6 (0x50 bytes) runs past 0x100.
    INFO(decoded.error().ToString());
    CHECK(Contains(decoded.error().what, "MADT subtable at offset 0xb6 (80 bytes) runs past the end"));
  }
  SECTION("short header") {
    apic.resize(10);
    Table table = udrv::acpi::ParseTable(apic, "", "apic.aml");
    REQUIRE(table.problems.size() == 1);
    CHECK(Contains(table.problems[0].what, "short header: 10 bytes"));
    auto decoded = udrv::acpi::DecodeTable(table);
    REQUIRE(!decoded);
    CHECK(decoded.error().status == Status::IO_INVALID);
    CHECK(udrv::acpi::DecodeHeader(table).size() == 4);  // the fields of its 10 bytes
  }
  SECTION("MADT subtable of length 0: an error, not an endless loop") {
    Table table = udrv::acpi::ParseTable(Madt({0, 0, 0, 0, 0, 0, 0, 0}), "", "madt");
    CHECK(table.problems.empty());
    auto decoded = udrv::acpi::DecodeTable(table);
    REQUIRE(!decoded);
    CHECK(decoded.error().status == Status::IO_INVALID);
    CHECK(Contains(decoded.error().what, "length 0"));
    CHECK(Contains(decoded.error().what, "at offset 0x2c"));
  }
  SECTION("MADT subtable past the end") {
    Table table = udrv::acpi::ParseTable(Madt({0, 0x50, 0, 0, 1, 0, 0, 0}), "", "madt");
    auto decoded = udrv::acpi::DecodeTable(table);
    REQUIRE(!decoded);
    CHECK(Contains(decoded.error().what, "MADT subtable at offset 0x2c (80 bytes) runs past the end"));
  }
  SECTION("MADT subtable shorter than its type's layout: the fields it has") {
    // A Local APIC of 4 bytes: type, length, Processor ID, APIC ID; no flags.
    auto decoded = udrv::acpi::DecodeTable(udrv::acpi::ParseTable(Madt({0, 4, 7, 9}), "", "madt"));
    REQUIRE(decoded);
    const Field& lapic = decoded->fields.back();
    REQUIRE(lapic.children.size() == 4);
    CHECK(lapic.children[3].name == "Local Apic ID");
    CHECK(lapic.children[3].number == 9u);
  }
  SECTION("huge length field") {
    std::vector<uint8_t> bytes(apic.begin(), apic.begin() + 44);
    PutLe32(bytes, 4, 0xFFFFFFFF);
    Table table = udrv::acpi::ParseTable(bytes, "", "apic.aml");
    REQUIRE(!table.problems.empty());
    CHECK(Contains(table.problems[0].what, "says 0xffffffff bytes"));
    auto decoded = udrv::acpi::DecodeTable(table);  // decodes the 44 bytes it has
    REQUIRE(decoded);
    CHECK(decoded->fields.back().name == "Flags (decoded below)");
  }
  SECTION("a SLIT whose matrix does not fit") {
    std::vector<uint8_t> slit = ReadBytes(CompileTemplate(dir.path, "SLIT"));
    slit[36] = 0xFF;  // 255 localities
    FixChecksum(slit);
    auto decoded = udrv::acpi::DecodeTable(udrv::acpi::ParseTable(slit, "", "slit"));
    REQUIRE(!decoded);
    CHECK(Contains(decoded.error().what, "255 x 255 locality matrix at offset 0x2c"));
  }
  SECTION("an unknown table: NOT_SUPPORTED, its header decoded") {
    std::vector<uint8_t> bytes(apic.begin(), apic.begin() + 36);
    std::copy_n("WXYZ", 4, bytes.begin());
    PutLe32(bytes, 4, 36);
    FixChecksum(bytes);
    Table table = udrv::acpi::ParseTable(bytes, "", "wxyz");
    CHECK(table.problems.empty());
    CHECK(!udrv::acpi::HasDecoder("WXYZ"));
    auto decoded = udrv::acpi::DecodeTable(table);
    REQUIRE(!decoded);
    CHECK(decoded.error().status == Status::NOT_SUPPORTED);
    CHECK(Contains(decoded.error().what, "WXYZ"));
    CHECK(udrv::acpi::DecodeHeader(table).size() == 9);
  }
  SECTION("a file larger than kMaxTableBytes is refused, naming it") {
    fs::path tables = dir.path / "big";
    fs::create_directory(tables);
    fs::path big = tables / "SSDT";
    { std::ofstream create(big); }
    fs::resize_file(big, udrv::acpi::kMaxTableBytes + 1);
    auto set = udrv::acpi::ReadTables(tables.string());
    REQUIRE(!set);
    CHECK(set.error().status == Status::FILE_BIG);
    CHECK(set.error().object == big.string());
  }
  SECTION("a directory without tables, a missing path") {
    CHECK(udrv::acpi::ReadTables((dir.path / "absent").string()).error().status == Status::NOT_FOUND);
    udrv::sysfs::LinuxPaths paths{.sys = (dir.path / "nosys").string()};
    auto live = udrv::acpi::ReadLiveTables(paths);
    REQUIRE(!live);
    CHECK(live.error().status == Status::NOT_FOUND);
  }
}

TEST_CASE("live tables from a sysfs tree: the firmware's, then dynamic/", "[acpi][tables]") {
  TempDir dir;
  fs::path build = dir.path / "build";
  fs::create_directory(build);
  fs::path tables = dir.path / "sys/firmware/acpi/tables";
  fs::create_directories(tables / "data");
  fs::create_directories(tables / "dynamic");
  fs::path ssdt = CompileTemplate(build, "SSDT");
  fs::copy_file(CompileTemplate(build, "DSDT"), tables / "DSDT");
  fs::copy_file(CompileTemplate(build, "APIC"), tables / "APIC");
  for (const char* name : {"SSDT1", "SSDT2", "SSDT10"}) fs::copy_file(ssdt, tables / name);
  fs::copy_file(ssdt, tables / "dynamic/SSDT11");
  auto set = udrv::acpi::ReadLiveTables(udrv::sysfs::LinuxPaths{.sys = (dir.path / "sys").string()});
  INFO((set ? "" : set.error().ToString()));
  REQUIRE(set);
  std::vector<std::string> names;
  for (const Table& table : set->tables) names.push_back(table.name);
  CHECK(names == std::vector<std::string>{"APIC", "DSDT", "SSDT1", "SSDT2", "SSDT10", "SSDT11"});
  CHECK(set->tables.back().source == (tables / "dynamic/SSDT11").string());
  CHECK(set->DefinitionBlocks().size() == 5);
}

TEST_CASE("more than kMaxTables files are refused, naming the directory", "[acpi][tables][malformed]") {
  TempDir dir;
  for (size_t i = 0; i <= udrv::acpi::kMaxTables; i++) {
    std::ofstream(dir.path / ("SSDT" + std::to_string(i + 1))) << "x";
  }
  auto set = udrv::acpi::ReadTables(dir.path.string());
  REQUIRE(!set);
  CHECK(set.error().status == Status::OUT_OF_RANGE);
  CHECK(set.error().object == dir.path.string());
}

TEST_CASE("DMAR: ANDD and SATC, which iasl's template lacks", "[acpi][tables]") {
  // DMAR header, then an ANDD (type 4) naming \_SB.DEV0 as device 7, and
  // a SATC (type 5, VT-d 3.2) on segment 1 with one endpoint 00:1f.0.
  std::vector<uint8_t> bytes(48, 0);
  std::copy_n("DMAR", 4, bytes.begin());
  bytes[36] = 0x2F;
  std::vector<uint8_t> andd = {4, 0, 18, 0, 0, 0, 0, 7, '\\', '_', 'S', 'B', '.', 'D', 'E', 'V', '0', 0};
  std::vector<uint8_t> satc = {5, 0, 16, 0, 1, 0, 1, 0, /* scope */ 1, 8, 0, 0, 0, 0, 0x1F, 0};
  for (uint8_t byte : andd) bytes.push_back(byte);
  for (uint8_t byte : satc) bytes.push_back(byte);
  PutLe32(bytes, 4, static_cast<uint32_t>(bytes.size()));
  FixChecksum(bytes);
  Table table = udrv::acpi::ParseTable(bytes, "", "dmar");
  CHECK(table.problems.empty());
  auto decoded = udrv::acpi::DecodeTable(table);
  INFO((decoded ? "" : decoded.error().ToString()));
  REQUIRE(decoded);
  const Field& namespace_device = decoded->fields[decoded->fields.size() - 2];
  CHECK(namespace_device.name == "ACPI Namespace Device Declaration");
  REQUIRE(namespace_device.children.size() == 5);
  CHECK(namespace_device.children[3].number == 7u);
  CHECK(namespace_device.children[4].text == "\\_SB.DEV0");
  const Field& soc = decoded->fields.back();
  CHECK(soc.name == "SoC Integrated Address Translation Cache");
  REQUIRE(soc.children.size() == 6);
  CHECK(soc.children[4].name == "PCI Segment Number");
  CHECK(soc.children[4].number == 1u);
  const Field& scope = soc.children[5];
  CHECK(scope.name == "PCI Endpoint Device");
  CHECK(scope.children.back().text == "1F,00");

  SECTION("a device scope of length 0 is an error, not an endless loop") {
    bytes[bytes.size() - 7] = 0;  // the scope's Entry Length
    FixChecksum(bytes);
    auto bad = udrv::acpi::DecodeTable(udrv::acpi::ParseTable(bytes, "", "dmar"));
    REQUIRE(!bad);
    CHECK(Contains(bad.error().what, "DMAR device scope of length 0"));
    CHECK(Contains(bad.error().what, "at offset 0x4a"));
  }
}

TEST_CASE("an acpidump table header without hex lines is refused", "[acpi][tables][malformed]") {
  auto set = udrv::acpi::ParseAcpidumpText("APIC @ 0x0000000000000000\n\nDSDT @ 0x0\n", "dump.txt");
  REQUIRE(!set);
  CHECK(Contains(set.error().what, "dump.txt:1: table 'APIC' has no hex lines"));
}

TEST_CASE("a copy of sysfs's directory keeps Linux's names, dynamic/ after", "[acpi][tables]") {
  TempDir dir;
  fs::path build = dir.path / "build";
  fs::create_directory(build);
  fs::path tables = dir.path / "tables";
  fs::create_directories(tables / "dynamic");
  fs::path ssdt = CompileTemplate(build, "SSDT");
  fs::copy_file(CompileTemplate(build, "DSDT"), tables / "DSDT");
  // Linux: one static SSDT is "SSDT"; the one loaded later "SSDT2".
  fs::copy_file(ssdt, tables / "SSDT");
  fs::copy_file(ssdt, tables / "dynamic/SSDT2");
  auto set = udrv::acpi::ReadTables(tables.string());
  INFO((set ? "" : set.error().ToString()));
  REQUIRE(set);
  std::vector<std::string> names;
  for (const Table& table : set->tables) names.push_back(table.name);
  CHECK(names == std::vector<std::string>{"DSDT", "SSDT", "SSDT2"});
  CHECK(set->tables[2].source == (tables / "dynamic/SSDT2").string());
}
