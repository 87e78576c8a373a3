// The resource-template decoder: every descriptor iasl knows (asl/
// resources.asl) against iasl -d of the compiled table, the typed
// decodings against the ASL's numbers, and malformed templates.
#include <catch2/catch.hpp>

#include "aml_oracle.h"
#include "udrv/acpi/resources.h"

namespace udrv::acpi {
namespace {

using testing::MakeTable;
using testing::ReadBytes;

const std::filesystem::path kTables = UDRV_AML_TABLES;

const NamespaceDevice& Find(const Namespace& ns, std::string_view path) {
  for (const NamespaceDevice& device : ns.devices)
    if (device.path == path) return device;
  FAIL("no device " << path);
  std::abort();
}

TEST_CASE("every resource descriptor decodes as iasl -d prints it", "[acpi][resources]") {
  TableSet set;
  set.tables.push_back(MakeTable(ReadBytes(kTables / "resources.aml"), "SSDT1"));
  const Namespace ns = ReadNamespace(set);
  CHECK(ns.problems.empty());
  const auto counts = testing::CheckAgainstOracles(set, ns);
  CHECK(counts.crs_static == 3);
  CHECK(counts.acpiexec_compared == 3);

  const auto& small = Find(ns, "\\_SB_.SMAL").crs.value->resources;
  REQUIRE(small.size() == 15);
  CHECK(small[0].kind == ResourceKind::IRQ);
  const auto irqs = Interrupts(small);
  REQUIRE(irqs.size() == 6);  // 3, 4, 5; 1; 8; 10
  CHECK(irqs[0].gsi == 3);
  CHECK((!irqs[0].edge && irqs[0].active_low && irqs[0].shared));
  CHECK((irqs[3].gsi == 1 && irqs[3].edge && !irqs[3].active_low));
  CHECK((irqs[4].gsi == 8 && irqs[4].edge && !irqs[4].active_low));  // IRQNoFlags: ISA edge, high
  CHECK((irqs[5].gsi == 10 && irqs[5].wake));
  const auto io = IoRanges(small);
  REQUIRE(io.size() == 4);
  CHECK((io[2].base == 0x3F8 && io[2].size == 8 && io[2].resource == 11));
  CHECK((io[3].base == 0x60 && io[3].size == 1));
  CHECK(FormatResource(small[13]) == "FixedDMA (0x0005, 0x0002, Width32bit, )");

  const auto& large = Find(ns, "\\_SB_.LARG").crs.value->resources;
  const auto memory = MemoryRanges(large);
  REQUIRE(memory.size() == 5);
  CHECK((memory[0].base == 0xFED00000 && memory[0].size == 0x400 && memory[0].writable && !memory[0].producer));
  CHECK((memory[1].base == 0xA0000 && memory[1].size == 0x20000 && memory[1].producer));
  CHECK((memory[2].base == 0x8000000000 && memory[2].size == 0x8000000000));
  // The translation offset: the CPU sees 0x10000000 at 0x4010000000.
  CHECK((memory[3].base == 0x4010000000 && memory[3].size == 0x10000 && !memory[3].producer));
  CHECK((memory[4].base == 0xE0000000 && memory[4].size == 0x100000));
  const auto& qword = std::get<AddressResource>(large[13].payload);
  CHECK(qword.source.index == 7);
  CHECK(qword.source.path == "\\_SB.PCI0");
  const auto large_io = IoRanges(large);
  REQUIRE(large_io.size() == 4);
  CHECK((large_io[1].base == 0x3EFF0000 && large_io[1].size == 0x10000));  // DWordIO, translated
  const auto interrupts = Interrupts(large);
  REQUIRE(interrupts.size() == 4);
  CHECK((interrupts[0].gsi == 33 && !interrupts[0].edge && !interrupts[0].active_low));
  CHECK((interrupts[3].gsi == 42 && interrupts[3].edge && interrupts[3].active_low && interrupts[3].shared &&
         interrupts[3].wake));

  const auto& serial = Find(ns, "\\_SB_.SERL").crs.value->resources;
  REQUIRE(serial.size() == 5);
  const auto& gpio = std::get<GpioResource>(serial[0].payload);
  CHECK((gpio.interrupt && gpio.pins == std::vector<uint16_t>{0x12} && gpio.source.path == "\\_SB.GPI0"));
  CHECK(gpio.vendor_data == std::vector<uint8_t>{0xAA, 0xBB});
  const auto& i2c = std::get<SerialBusResource>(serial[2].payload);
  CHECK((i2c.bus_type == 1 && i2c.address == 0x50 && i2c.speed == 400000));
  const auto& uart = std::get<SerialBusResource>(serial[4].payload);
  CHECK((uart.speed == 115200 && uart.rx_fifo == 0x40 && uart.lines == 0xC0));
}

TEST_CASE("a Word descriptor of memory prints as iasl -d prints it", "[acpi][resources]") {
  // No ASL macro writes it (WordSpace refuses type 0); iasl -d of these
  // bytes (WordSpace (0xC0, ...) compiled, its type patched to 0) says:
  const std::string iasl =
      "WordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,"
      " 0x0000, 0x1000, 0x1FFF, 0x0000, 0x1000, ,, , AddressRangeMemory, TypeStatic)";
  const std::vector<uint8_t> bytes = {0x88, 0x0D, 0x00, 0x00, 0x0D, 0x01, 0x00, 0x00, 0x00, 0x10,
                                      0xFF, 0x1F, 0x00, 0x00, 0x00, 0x10, 0x79, 0x00};
  auto decoded = DecodeResourceTemplate(bytes, "x");
  REQUIRE(decoded);
  REQUIRE(decoded->size() == 1);
  CHECK(testing::StripSpace(FormatResource((*decoded)[0])) == testing::StripSpace(iasl));
  const auto memory = MemoryRanges(*decoded);
  REQUIRE(memory.size() == 1);
  CHECK((memory[0].base == 0x1000 && memory[0].size == 0x1000 && memory[0].writable));
}

std::string ErrorOf(std::vector<uint8_t> bytes) {
  auto decoded = DecodeResourceTemplate(bytes, "\\_SB_.TEST._CRS");
  REQUIRE(!decoded);
  CHECK(decoded.error().status == Status::IO_INVALID);
  CHECK(decoded.error().object == "\\_SB_.TEST._CRS");
  return decoded.error().what;
}

TEST_CASE("a malformed template is an error naming the object and the byte", "[acpi][resources]") {
  using Catch::Matchers::Contains;
  // Memory32Fixed cut short: 9 bytes said, 4 there.
  CHECK_THAT(ErrorOf({0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00}),
             Contains("overruns") && Contains("at byte 8"));
  // IO with length 6 (it has 7).
  CHECK_THAT(ErrorOf({0x46, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x79, 0x00}),
             Contains("IO descriptor at byte 0") && Contains("length 6"));
  // Memory32Fixed with length 8.
  CHECK_THAT(ErrorOf({0x86, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x79, 0x00}), Contains("Memory32Fixed"));
  // No end tag.
  CHECK_THAT(ErrorOf({0x22, 0x10, 0x00}), Contains("no end tag") && Contains("at byte 3"));
  CHECK_THAT(ErrorOf({}), Contains("no end tag"));
  // A reserved small type.
  CHECK_THAT(ErrorOf({0x10, 0x79, 0x00}), Contains("reserved"));
  // A large header cut short.
  CHECK_THAT(ErrorOf({0x22, 0x10, 0x00, 0x86, 0x09}), Contains("at byte 3"));
  // Interrupt claiming more entries than it holds.
  CHECK_THAT(ErrorOf({0x89, 0x06, 0x00, 0x01, 0x02, 0x21, 0x00, 0x00, 0x00, 0x79, 0x00}), Contains("interrupts overrun"));
  // An address descriptor below its size.
  CHECK_THAT(ErrorOf({0x88, 0x03, 0x00, 0x00, 0x00, 0x00, 0x79, 0x00}), Contains("WordSpace") && Contains("below"));

  // What follows the end tag is not read (as ACPICA does not).
  auto decoded = DecodeResourceTemplate(std::vector<uint8_t>{0x22, 0x10, 0x00, 0x79, 0x00, 0xFF, 0xFF}, "x");
  REQUIRE(decoded);
  CHECK(decoded->size() == 1);
  // An unknown large type is kept, named by its type.
  decoded = DecodeResourceTemplate(std::vector<uint8_t>{0x9F, 0x02, 0x00, 0xAB, 0xCD, 0x79, 0x00}, "x");
  REQUIRE(decoded);
  REQUIRE(decoded->size() == 1);
  CHECK((*decoded)[0].kind == ResourceKind::OTHER_LARGE);
}

}  // namespace
}  // namespace udrv::acpi
