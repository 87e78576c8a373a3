// IORT: Arm's I/O topology. Named components and PCI root complexes map
// their requester IDs (ID mappings) to SMMUs and ITS groups: the Output
// Reference of each mapping is the offset of the node the IDs go to, so
// the mappings say which devices sit behind which SMMU.
#include "decode_fields.h"

namespace udrv::acpi::decode {
namespace {

enum : uint8_t { kItsGroup = 0, kNamedComponent = 1, kRootComplex = 2, kSmmu = 3, kSmmuV3 = 4, kPmcg = 5 };

std::string_view NodeName(uint64_t type) {
  static constexpr std::string_view kNames[] = {"ITS Group", "Named Component", "Root Complex",
                                                "SMMUv1/v2", "SMMUv3", "PMCG", "Unknown IORT Node"};
  return Lookup(kNames, type);
}

constexpr Spec kIort[] = {U32("Node Count"), U32("Node Offset"), U32("Reserved")};
constexpr uint32_t kIortFixedEnd = 48;

constexpr Spec kNodeHeader[] = {U8("Type"),     U16("Length"),        U8("Revision"),
                                U32("Reserved"), U32("Mapping Count"), U32("Mapping Offset")};
constexpr uint32_t kNodeHeaderSize = 16;

constexpr Spec kItsGroupLayout[] = {U32("ItsCount")};
constexpr Spec kItsIdentifier[] = {U32("Identifiers")};
constexpr Spec kNamedComponentLayout[] = {U32("Node Flags"), IortMemory("Memory Properties"),
                                          U8("Memory Size Limit"), Str("Device Name")};
constexpr Spec kRootComplexLayout[] = {IortMemory("Memory Properties"), U32("ATS Attribute"),
                                       U32("PCI Segment Number"), U8("Memory Size Limit"), U24("Reserved")};
constexpr Bits kSmmuFlags[] = {{"DVM Supported", 0}, {"Coherent Walk", 1}};
constexpr Spec kSmmuLayout[] = {U64("Base Address"),
                                U64("Span"),
                                U32("Model"),
                                U32("Flags (decoded below)", kSmmuFlags),
                                U32("Global Interrupt Offset"),
                                U32("Context Interrupt Count"),
                                U32("Context Interrupt Offset"),
                                U32("PMU Interrupt Count"),
                                U32("PMU Interrupt Offset")};
constexpr Bits kEdge[] = {{"Edge Triggered", 0}};
constexpr Spec kSmmuGlobalInterrupts[] = {U32("NSgIrpt"), U32("NSgIrpt Flags (decoded below)", kEdge),
                                          U32("NSgCfgIrpt"), U32("NSgCfgIrpt Flags (decoded below)", kEdge)};
constexpr Spec kContextInterrupt[] = {U64("Context Interrupt")};
constexpr Spec kPmuInterrupt[] = {U64("PMU Interrupt")};
constexpr Bits kSmmuV3Flags[] = {{"COHACC Override", 0}, {"HTTU Override", 1}, {"Proximity Domain Valid", 3}};
constexpr Spec kSmmuV3Layout[] = {U64("Base Address"),     U32("Flags (decoded below)", kSmmuV3Flags),
                                  U32("Reserved"),         U64("VATOS Address"),
                                  U32("Model"),            U32("Event GSIV"),
                                  U32("PRI GSIV"),         U32("GERR GSIV"),
                                  U32("Sync GSIV"),        U32("Proximity Domain"),
                                  U32("Device ID Mapping Index")};
constexpr Spec kPmcgLayout[] = {U64("Page 0 Base Address"), U32("Overflow Interrupt GSIV"),
                                U32("Node Reference"), U64("Page 1 Base Address")};

constexpr Bits kSingleMapping[] = {{"Single Mapping", 0}};
constexpr Spec kIdMapping[] = {U32("Input base"), U32("ID Count"), U32("Output Base"),
                               U32("Output Reference"), U32("Flags (decoded below)", kSingleMapping)};
constexpr uint32_t kIdMappingSize = 20;

// `count` structures of `layout` (`size` bytes each) at `at` from the node
// start, all inside the node.
Result<void> AppendArray(const Decoder& decoder, std::vector<Field>& children, uint32_t node,
                         uint32_t node_end, uint64_t at, uint64_t count, uint32_t size,
                         std::span<const Spec> layout, std::string_view what, std::string_view group) {
  const uint64_t start = node + at;
  if (start + count * size > node_end) {
    return decoder.Overrun(std::string(what) + " of the IORT node at " + Hex(node), start, count * size);
  }
  for (uint64_t i = 0; i < count; i++) {
    const uint32_t offset = static_cast<uint32_t>(start + i * size);
    if (group.empty()) {
      UDRV_TRY(decoder.Append(children, offset, layout));
    } else {
      std::vector<Field> fields;
      UDRV_TRY(decoder.Append(fields, offset, layout));
      children.push_back(Group(std::string(group), offset, size, std::move(fields)));
    }
  }
  return {};
}

Result<void> AppendNode(const Decoder& decoder, uint32_t node, uint32_t length, std::vector<Field>& children) {
  const uint32_t end = node + length;
  UDRV_TRY_ASSIGN(uint64_t type, decoder.Read(node, 1, "IORT node"));
  UDRV_TRY_ASSIGN(uint64_t mapping_count, decoder.Read(node + 8, 4, "IORT node"));
  UDRV_TRY_ASSIGN(uint64_t mapping_offset, decoder.Read(node + 12, 4, "IORT node"));
  UDRV_TRY(decoder.Append(children, node, kNodeHeader, end));
  const uint32_t data = node + kNodeHeaderSize;
  switch (type) {
    case kItsGroup: {
      UDRV_TRY(decoder.Append(children, data, kItsGroupLayout, end));
      UDRV_TRY_ASSIGN(uint64_t its_count, decoder.Read(data, 4, "IORT ITS group"));
      UDRV_TRY(AppendArray(decoder, children, node, end, kNodeHeaderSize + 4, its_count, 4, kItsIdentifier,
                           "the ITS identifiers", {}));
      break;
    }
    case kNamedComponent: {
      UDRV_TRY_ASSIGN(uint32_t after_name, decoder.Append(children, data, kNamedComponentLayout, end));
      // What lies between the name and the ID mappings.
      const uint64_t mappings = mapping_count * kIdMappingSize;
      if (after_name < end && end - after_name > mappings) {
        UDRV_TRY_ASSIGN(Field padding, decoder.Bytes(after_name, end - after_name - mappings, "Padding"));
        children.push_back(std::move(padding));
      }
      break;
    }
    case kRootComplex:
      UDRV_TRY(decoder.Append(children, data, kRootComplexLayout, end));
      break;
    case kSmmu: {
      UDRV_TRY(decoder.Append(children, data, kSmmuLayout, end));
      UDRV_TRY_ASSIGN(uint64_t global, decoder.Read(data + 24, 4, "IORT SMMU"));
      UDRV_TRY_ASSIGN(uint64_t context_count, decoder.Read(data + 28, 4, "IORT SMMU"));
      UDRV_TRY_ASSIGN(uint64_t context, decoder.Read(data + 32, 4, "IORT SMMU"));
      UDRV_TRY_ASSIGN(uint64_t pmu_count, decoder.Read(data + 36, 4, "IORT SMMU"));
      UDRV_TRY_ASSIGN(uint64_t pmu, decoder.Read(data + 40, 4, "IORT SMMU"));
      UDRV_TRY(AppendArray(decoder, children, node, end, global, 1, 16, kSmmuGlobalInterrupts,
                           "the global interrupts", {}));
      UDRV_TRY(AppendArray(decoder, children, node, end, context, context_count, 8, kContextInterrupt,
                           "the context interrupts", {}));
      UDRV_TRY(AppendArray(decoder, children, node, end, pmu, pmu_count, 8, kPmuInterrupt,
                           "the PMU interrupts", {}));
      break;
    }
    case kSmmuV3:
      UDRV_TRY(decoder.Append(children, data, kSmmuV3Layout, end));
      break;
    case kPmcg:
      UDRV_TRY(decoder.Append(children, data, kPmcgLayout, end));
      break;
    default:
      return {};  // as iasl: the header, not the mappings of a type it does not know
  }
  return AppendArray(decoder, children, node, end, mapping_offset, mapping_count, kIdMappingSize, kIdMapping,
                     "the ID mappings", "ID Mapping");
}

}  // namespace

Result<void> DecodeIort(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY_ASSIGN(uint32_t offset, decoder.Append(fields, kHeaderEnd, kIort));
  UDRV_TRY_ASSIGN(uint64_t node_offset, decoder.Read(kHeaderEnd + 4, 4, "IORT node offset"));
  if (node_offset < kIortFixedEnd) return decoder.Invalid("IORT nodes inside the table's header", node_offset);
  if (node_offset > offset) {
    UDRV_TRY_ASSIGN(Field padding, decoder.Bytes(offset, node_offset - offset, "Optional Padding"));
    fields.push_back(std::move(padding));
  }
  offset = static_cast<uint32_t>(node_offset);
  while (offset < decoder.end()) {
    UDRV_TRY_ASSIGN(uint32_t length, decoder.SubtableLength(offset, 1, 2, kNodeHeaderSize, "IORT node"));
    UDRV_TRY_ASSIGN(uint64_t type, decoder.Read(offset, 1, "IORT node"));
    std::vector<Field> children;
    UDRV_TRY(AppendNode(decoder, offset, length, children));
    fields.push_back(Group(std::string(NodeName(type)), offset, length, std::move(children)));
    offset += length;
  }
  return {};
}

}  // namespace udrv::acpi::decode
