// The AML reader's evaluator on methods written for it (asl/methods.asl):
// what it evaluates against acpiexec's evaluation of the same table, what
// it leaves to the kernel and why, its bounds, and malformed AML.
#include <catch2/catch.hpp>

#include "aml_oracle.h"
#include "udrv/acpi/aml.h"
#include "udrv/acpi/namespace.h"

namespace udrv::acpi {
namespace {

using Catch::Matchers::Contains;
using testing::MakeTable;
using testing::ReadBytes;

const std::filesystem::path kTables = UDRV_AML_TABLES;

TableSet MethodsTable() {
  TableSet set;
  set.tables.push_back(MakeTable(ReadBytes(kTables / "methods.aml"), "SSDT1"));
  return set;
}

const NamespaceDevice* Find(const Namespace& ns, std::string_view path) {
  for (const NamespaceDevice& device : ns.devices)
    if (device.path == path) return &device;
  return nullptr;
}

TEST_CASE("methods that build and patch templates evaluate as acpiexec evaluates them", "[acpi][aml]") {
  const TableSet set = MethodsTable();
  const Namespace ns = ReadNamespace(set);
  INFO((ns.problems.empty() ? "" : ns.problems[0].ToString()));
  CHECK(ns.problems.empty());

  // Table-level If: its taken branch only.
  CHECK(Find(ns, "\\_SB_.CND1") != nullptr);
  CHECK(Find(ns, "\\_SB_.CND2") == nullptr);

  const NamespaceDevice* patch = Find(ns, "\\_SB_.PTCH");
  REQUIRE(patch != nullptr);
  INFO(patch->crs.detail);
  REQUIRE(patch->crs.source == ValueSource::EVALUATED);
  CHECK(patch->uid.value == "42");
  CHECK(patch->hid.value == "PNP0C02");
  CHECK(patch->sta.source == ValueSource::EVALUATED);
  CHECK(patch->sta.value == 0x0Fu);
  const auto memory = MemoryRanges(patch->crs.value->resources);
  REQUIRE(memory.size() == 1);
  CHECK((memory[0].base == 0xFEB00000 && memory[0].size == 0x1000));
  const auto interrupts = Interrupts(patch->crs.value->resources);
  REQUIRE(interrupts.size() == 1);
  CHECK(interrupts[0].gsi == 33);

  const NamespaceDevice* branch = Find(ns, "\\_SB_.BRNC");
  REQUIRE(branch != nullptr);
  INFO(branch->crs.detail);
  REQUIRE(branch->crs.source == ValueSource::EVALUATED);
  // PICK(0,2)+PICK(1,2)+PICK(2,2)+PICK(3,2) = 0x20 + 0x20 + 0 + 1
  const auto io = IoRanges(branch->crs.value->resources);
  REQUIRE(io.size() == 1);
  CHECK((io[0].base == 0x3F8 && io[0].size == 0x41));

  const NamespaceDevice* packages = Find(ns, "\\_SB_.PKGS");
  REQUIRE(packages != nullptr);
  CHECK(packages->hid.source == ValueSource::EVALUATED);
  CHECK(packages->hid.value == "PNP0A05");
  CHECK(packages->cid.value == std::vector<std::string>{"PNP0C02", "UDRVCID1"});
  CHECK(packages->uid.value == std::to_string(0x20 + 0x30 + 3));
  REQUIRE(packages->crs.source == ValueSource::EVALUATED);
  CHECK(IoRanges(packages->crs.value->resources).size() == 2);

  // acpiexec evaluates the same methods to the same bytes.
  const auto counts = testing::CheckAgainstOracles(set, ns);
  CHECK(counts.acpiexec_compared == 4);  // three _CRS, PTCH._STA
  CHECK(counts.iasl_conditional == 2);
}

TEST_CASE("the named objects of real firmware load; what reads them needs the kernel", "[acpi][aml]") {
  TableSet set;
  set.tables.push_back(MakeTable(ReadBytes(kTables / "legacy.aml"), "DSDT"));
  const Namespace ns = ReadNamespace(set);
  INFO((ns.problems.empty() ? "" : ns.problems[0].ToString()));
  CHECK(ns.problems.empty());
  const auto counts = testing::CheckAgainstOracles(set, ns);
  CHECK(counts.acpiexec_compared == 4);  // RTC: _CRS, _STA; MATH: _CRS, _STA
  // acpiexec runs HPET._CRS against its simulated memory and EXTD._CRS's
  // Acquire on its own mutex; udrv leaves both to the kernel.
  CHECK(counts.acpiexec_only.size() == 2);

  const NamespaceDevice* hpet = Find(ns, "\\_SB_.PCI0.LPCB.HPET");
  REQUIRE(hpet != nullptr);
  CHECK(hpet->sta.source == ValueSource::NEEDS_KERNEL);
  CHECK_THAT(hpet->sta.detail, Contains("reads OperationRegion field \\HPTE (SystemMemory)"));
  CHECK(hpet->crs.source == ValueSource::NEEDS_KERNEL);
  CHECK_THAT(hpet->crs.detail, Contains("reads OperationRegion field \\HPTB (SystemMemory)"));

  const NamespaceDevice* rtc = Find(ns, "\\_SB_.PCI0.LPCB.RTC_");
  REQUIRE(rtc != nullptr);
  CHECK(rtc->crs.source == ValueSource::STATIC);  // through its Alias
  CHECK(rtc->sta.value == 0x0Fu);

  const NamespaceDevice* math = Find(ns, "\\_SB_.PCI0.LPCB.MATH");
  REQUIRE(math != nullptr);
  CHECK(math->uid.value == "133");
  CHECK(math->sta.value == 0x0Fu);
  REQUIRE(math->crs.value);
  const auto interrupts = Interrupts(math->crs.value->resources);
  REQUIRE(interrupts.size() == 1);
  CHECK((interrupts[0].gsi == 20 && !interrupts[0].edge && !interrupts[0].active_low && interrupts[0].shared));

  const NamespaceDevice* external = Find(ns, "\\_SB_.EXTD");
  REQUIRE(external != nullptr);
  CHECK_THAT(external->sta.detail, Contains("calls \\_SB_.EXTM, which is External"));
  CHECK_THAT(external->crs.detail, Contains("Acquire"));

  AmlNamespace aml = AmlNamespace::Load(set);
  CHECK(aml.KindOf("\\_PR.CPU0") == AmlObjectKind::PROCESSOR);
  CHECK(aml.KindOf("\\PWR0") == AmlObjectKind::POWER_RESOURCE);
  CHECK(aml.KindOf("\\_TZ.TZ00") == AmlObjectKind::THERMAL_ZONE);
  CHECK(aml.KindOf("\\MUT0") == AmlObjectKind::MUTEX);
  CHECK(aml.KindOf("\\EVT0") == AmlObjectKind::EVENT);
  CHECK(aml.KindOf("\\GNVS") == AmlObjectKind::OPERATION_REGION);
  CHECK(aml.KindOf("\\CFG0") == AmlObjectKind::FIELD);
  CHECK(aml.KindOf("\\BNK1") == AmlObjectKind::FIELD);
  CHECK(aml.KindOf("\\_SB.EXT0") == AmlObjectKind::EXTERNAL);
  CHECK(aml.KindOf("\\_SB.PCI0.LPCB.RTC._CRS") == AmlObjectKind::NAME);
  auto temperature = aml.Evaluate("\\_TZ.TZ00._TMP");
  REQUIRE(temperature);
  CHECK(temperature->integer == 3000);
  auto power = aml.Evaluate("\\PWR0._STA");
  REQUIRE(power);
  CHECK(power->integer == 1);
  auto index_field = aml.Evaluate("\\CFG0");
  REQUIRE(!index_field);
  CHECK(index_field.error().status == Status::NOT_SUPPORTED);
  CHECK_THAT(index_field.error().what, Contains("IndexField through \\CMSD, SystemIO"));
  auto package = aml.Evaluate("\\_PR.CPU0.PCTX");
  REQUIRE(package);
  CHECK(package->package.size() == 2);
}

TEST_CASE("what touches hardware or the OS is left to the kernel, saying what and where", "[acpi][aml]") {
  const Namespace ns = ReadNamespace(MethodsTable());
  const NamespaceDevice* hardware = Find(ns, "\\_SB_.HWRD");
  REQUIRE(hardware != nullptr);
  CHECK(hardware->sta.source == ValueSource::NEEDS_KERNEL);
  CHECK_THAT(hardware->sta.detail, Contains("reads OperationRegion field \\_SB_.VEND (SystemMemory)") &&
                                       Contains("SSDT1 at 0x"));
  CHECK(hardware->crs.source == ValueSource::NEEDS_KERNEL);
  CHECK_THAT(hardware->crs.detail, Contains("Notify"));
  CHECK(hardware->uid.source == ValueSource::NEEDS_KERNEL);
  CHECK_THAT(hardware->uid.detail, Contains("Sleep"));
  CHECK(hardware->cid.source == ValueSource::NEEDS_KERNEL);
  CHECK_THAT(hardware->cid.detail, Contains("\\_OSI"));
  CHECK(hardware->hid.value == "UDRV0104");
}

TEST_CASE("loops in method calls and loops that do not end are bounded", "[acpi][aml]") {
  const Namespace ns = ReadNamespace(MethodsTable());
  const NamespaceDevice* loop = Find(ns, "\\_SB_.LOOP");
  REQUIRE(loop != nullptr);
  CHECK(loop->crs.source == ValueSource::BROKEN);
  CHECK_THAT(loop->crs.detail, Contains("nested method calls") && Contains("SSDT1 at 0x"));
  CHECK(loop->sta.source == ValueSource::BROKEN);
  CHECK_THAT(loop->sta.detail, Contains("operators") && Contains("SSDT1 at 0x"));
}

TEST_CASE("methods that attack the reader's bounds end as errors (asl/attack.asl)", "[acpi][aml]") {
  TableSet set;
  set.tables.push_back(MakeTable(ReadBytes(kTables / "attack.aml"), "SSDT1"));
  const Namespace ns = ReadNamespace(set);
  const auto crs = [&ns](std::string_view path) {
    const NamespaceDevice* device = Find(ns, path);
    REQUIRE(device != nullptr);
    INFO(path << ": " << device->crs.detail);
    CHECK(!device->crs.value.has_value());
    return device->crs;
  };
  // CreateField's bit count wraps offset + length past 2^64: refused, not
  // a field that reads (or allocates) past its buffer.
  const auto wrap = crs("\\_SB_.CFWR");
  CHECK(wrap.source == ValueSource::BROKEN);
  CHECK_THAT(wrap.detail, Contains("lies past its buffer of 4 bytes"));
  // A string doubled in a loop stops at the string bound.
  const auto concat = crs("\\_SB_.CCAT");
  CHECK(concat.source == ValueSource::BROKEN);
  CHECK_THAT(concat.detail, Contains("Concat past the reader's string bound"));
  // A package that holds eight copies of itself each turn stops at the
  // copy bound, long before memory runs out.
  const auto copies = crs("\\_SB_.PKGX");
  CHECK(copies.source == ValueSource::BROKEN);
  CHECK_THAT(copies.detail, Contains("buffers, packages and copies past the reader's bound"));
  // A package element that refers to its own package would be a cycle.
  const auto cycle = crs("\\_SB_.PKGC");
  CHECK(cycle.source == ValueSource::NEEDS_KERNEL);
  CHECK_THAT(cycle.detail, Contains("reference into a package element"));
  // A method's Name over a loaded External is refused, and the External stays.
  const auto erase = crs("\\_SB_.ERAS");
  CHECK(erase.source == ValueSource::BROKEN);
  CHECK_THAT(erase.detail, Contains("\\EXT0 is created twice"));
}

// A definition block of `body` with a valid header (checksum included).
Table Block(std::vector<uint8_t> body, uint8_t revision = 2) {
  std::vector<uint8_t> bytes = {'S', 'S', 'D', 'T', 0, 0, 0, 0, revision, 0, 'U', 'D', 'R', 'V', ' ', ' ',
                                'T', 'E', 'S', 'T', ' ', ' ', ' ', ' ', 1, 0, 0, 0, 'I', 'N', 'T', 'L', 1, 0, 0, 0};
  bytes.insert(bytes.end(), body.begin(), body.end());
  const auto length = static_cast<uint32_t>(bytes.size());
  for (int i = 0; i < 4; ++i) bytes[4 + static_cast<size_t>(i)] = static_cast<uint8_t>(length >> (8 * i));
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  bytes[9] = static_cast<uint8_t>(-sum);
  return MakeTable(std::move(bytes), "SSDT1");
}

std::string ProblemOf(std::vector<uint8_t> body) {
  TableSet set;
  set.tables.push_back(Block(std::move(body)));
  const Namespace ns = ReadNamespace(set);
  REQUIRE(!ns.problems.empty());
  return ns.problems[0].what;
}

TEST_CASE("malformed AML is an error naming the table and the offset", "[acpi][aml]") {
  // Device (\_SB_.DEV0) whose PkgLength runs 0x30 bytes past the table.
  CHECK_THAT(ProblemOf({0x5B, 0x82, 0x30, '\\', '_', 'S', 'B', '_'}),
             Contains("SSDT1 at 0x26") && Contains("PkgLength"));
  // A table cut inside a Name.
  CHECK_THAT(ProblemOf({0x08, 'A', 'B'}), Contains("SSDT1 at 0x25") && Contains("breaks off"));
  // A name with a byte no name has.
  CHECK_THAT(ProblemOf({0x08, 'A', 'b', 'C', 'D', 0x00}), Contains("SSDT1 at 0x25"));
  // Name (BUF0, Buffer (0xFFFFFFFF) {}): past the reader's bound.
  CHECK_THAT(ProblemOf({0x08, 'B', 'U', 'F', '0', 0x11, 0x06, 0x0C, 0xFF, 0xFF, 0xFF, 0xFF}),
             Contains("SSDT1 at 0x29") && Contains("bound"));
  // Package (0xFF) past a small bound is fine; VarPackage of 2^32 is not.
  CHECK_THAT(ProblemOf({0x08, 'P', 'K', 'G', '0', 0x13, 0x06, 0x0C, 0xFF, 0xFF, 0xFF, 0xFF}),
             Contains("SSDT1 at 0x29") && Contains("package"));
  // Scopes nested 200 deep.
  std::vector<uint8_t> deep;
  for (int i = 0; i < 200; ++i) {
    std::vector<uint8_t> outer = {0x10};
    const size_t length = deep.size() + 6;  // 2-byte PkgLength + '\' + "_SB_"... kept under 4096
    outer.push_back(static_cast<uint8_t>(0x40 | (length & 0x0F)));
    outer.push_back(static_cast<uint8_t>(length >> 4));
    outer.insert(outer.end(), {'_', 'S', 'B', '_'});
    outer.insert(outer.end(), deep.begin(), deep.end());
    deep = outer;
    if (deep.size() > 4000) break;
  }
  CHECK_THAT(ProblemOf(deep), Contains("nested past the reader's bound"));
  // Else without If.
  CHECK_THAT(ProblemOf({0xA1, 0x01}), Contains("Else without an If"));
  // 1100 Names of Buffer (0xFFFF) in 11 000 bytes: 70 MiB, past the reader's allocation bound.
  std::vector<uint8_t> buffers;
  const char* const kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int i = 0; i < 1100; ++i) {
    buffers.insert(buffers.end(), {0x08, 'X', static_cast<uint8_t>(kChars[i / 36 / 36]),
                                   static_cast<uint8_t>(kChars[i / 36 % 36]), static_cast<uint8_t>(kChars[i % 36]),
                                   0x11, 0x04, 0x0B, 0xFF, 0xFF});
  }
  CHECK_THAT(ProblemOf(buffers), Contains("buffers, packages and copies past the reader's bound of 67108864 bytes"));
}

TEST_CASE("the devices before a break stay", "[acpi][aml]") {
  TableSet set;
  // Device (DEV0) {}, then a Scope whose PkgLength overruns.
  set.tables.push_back(Block({0x5B, 0x82, 0x05, 'D', 'E', 'V', '0', 0x10, 0x3F, '_', 'S', 'B', '_'}));
  const Namespace ns = ReadNamespace(set);
  REQUIRE(ns.devices.size() == 1);
  CHECK(ns.devices[0].path == "\\DEV0");
  CHECK(ns.devices[0].offset == 0x24);
  REQUIRE(ns.problems.size() == 1);
  CHECK_THAT(ns.problems[0].what, Contains("SSDT1 at 0x2c"));  // its PkgLength
}

TEST_CASE("a revision 1 table has 32-bit integers", "[acpi][aml]") {
  TableSet set;
  // Name (ONES, Ones)
  set.tables.push_back(Block({0x08, 'O', 'N', 'E', 'S', 0xFF}, 1));
  AmlNamespace aml = AmlNamespace::Load(set);
  auto ones = aml.Evaluate("\\ONES");
  REQUIRE(ones);
  CHECK(ones->integer == 0xFFFFFFFFu);
}

TEST_CASE("EISA IDs and paths are spelled as Linux spells them", "[acpi][aml]") {
  CHECK(DecodeEisaId(0x0301D041) == "PNP0103");
  CHECK(DecodeEisaId(0x0105D041) == "PNP0501");
  CHECK(CanonicalAmlPath("\\_SB.PCI0.SF8.COM1") == "\\_SB_.PCI0.SF8_.COM1");
  CHECK(CanonicalAmlPath("\\") == "\\");
}

}  // namespace
}  // namespace udrv::acpi
