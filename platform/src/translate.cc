// Address translation as Linux 6.1's drivers/of/address.c does it
// (of_translate_address, of_dma_get_range), on the indexed blob: every
// overflow Linux would wrap or truncate silently is an error here.
#include <algorithm>
#include <array>
#include <cstring>

#include "fdt_tree.h"
#include "udrv/platform/device_tree.h"

namespace udrv::platform::internal {
namespace {

// Linux's OF_ROOT_NODE_ADDR_CELLS_DEFAULT and OF_ROOT_NODE_SIZE_CELLS_DEFAULT
// (every architecture but SPARC). The devicetree specification says 2 and 1;
// a tree that leaves them out is read as Linux reads it.
constexpr uint32_t kDefaultAddressCells = 1;
constexpr uint32_t kDefaultSizeCells = 1;
// No real bus has more size cells; a larger count is a broken tree.
constexpr uint32_t kMaxSizeCells = 4;

// The translators of Linux's of_busses[] (CONFIG_PCI; 6.1 has no
// "default-flags" bus).
enum class BusKind : uint8_t { kDefault, kPci, kIsa };

// The flags cell of PCI and ISA addresses is no part of the number.
uint32_t FlagCells(BusKind bus) { return bus == BusKind::kDefault ? 0 : 1; }

bool DeviceTypeIs(const FdtTree& tree, NodeId node, std::string_view type) {
  auto value = tree.Property(node, "device_type");
  if (!value) return false;
  // Compared as a C string, as of_node_is_type() does.
  const char* text = reinterpret_cast<const char*>(value->data());
  const size_t length = strnlen(text, value->size());
  return length < value->size() && std::string_view(text, length) == type;
}

// of_match_bus(): the translator for the children of `node`.
BusKind MatchBus(const FdtTree& tree, NodeId node) {
  // of_bus_pci_match(): "pciex" is PCI Express, "vci" and "ht" powermac
  // buses; a node named "pcie" without device_type counts too.
  for (std::string_view type : {"pci", "pciex", "vci", "ht"}) {
    if (DeviceTypeIs(tree, node, type)) return BusKind::kPci;
  }
  if (tree.BaseName(node) == "pcie") return BusKind::kPci;
  if (tree.BaseName(node) == "isa") return BusKind::kIsa;
  return BusKind::kDefault;
}

// of_bus_n_addr_cells() / of_bus_n_size_cells(): `node`'s own cell count,
// else its nearest ancestor's (Linux walks up; the specification would
// take the default), else the default.
Result<uint32_t> BusCells(const FdtTree& tree, NodeId node, const char* property,
                          uint32_t fallback, uint32_t max) {
  for (std::optional<NodeId> at = node; at; at = tree.Parent(*at)) {
    UDRV_TRY_ASSIGN(const std::optional<uint32_t> cells, tree.U32(*at, property));
    if (!cells) continue;
    if (*cells > max) {
      return Fail(Status::IO_INVALID,
                  std::to_string(*cells) + " cells, more than the " + std::to_string(max) +
                      " a bus may have",
                  PropertyObject(tree.Path(*at), property));
    }
    return *cells;
  }
  return fallback;
}

enum PciSpace : unsigned { kPciConfig = 0, kPciIo = 1, kPciMemory = 2 };

// of_bus_pci_get_flags(), reduced to what of_bus_pci_map() compares.
unsigned PciSpaceOf(uint32_t high) {
  switch ((high >> 24) & 3) {
    case 1:
      return kPciIo;
    case 2:
    case 3:
      return kPciMemory;
    default:
      return kPciConfig;
  }
}

std::string FormatCells(std::span<const uint32_t> cells) {
  std::string text = "<";
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) text += ' ';
    text += Hex(cells[i]);
  }
  return text + ">";
}

const char* RangesName(RangesKind kind) {
  return kind == RangesKind::kRanges ? "ranges" : "dma-ranges";
}

// One `ranges` entry's map() for `address` (na cells on `bus`): the offset
// into the entry's child window, or nullopt when the entry does not cover
// the address.
Result<std::optional<uint64_t>> MapEntry(BusKind bus, std::span<const uint32_t> address,
                                         std::span<const uint32_t> entry, uint32_t na,
                                         uint32_t pna, uint32_t ns, const std::string& object,
                                         size_t entry_index) {
  if (bus == BusKind::kPci && PciSpaceOf(address[0]) != PciSpaceOf(entry[0])) return std::nullopt;
  if (bus == BusKind::kIsa && ((address[0] ^ entry[0]) & 1) != 0) return std::nullopt;
  const uint32_t flags = FlagCells(bus);
  const CellNumber child = ReadNumber(entry.subspan(flags, na - flags));
  const CellNumber size = ReadNumber(entry.subspan(size_t{na} + pna, ns));
  const CellNumber wanted = ReadNumber(address.subspan(flags, na - flags));
  const std::string where = "entry " + std::to_string(entry_index) + " ";
  if (!child.fits || !size.fits) {
    return Fail(Status::IO_INVALID, where + FormatCells(entry) + " does not fit 64 bits", object);
  }
  if (size.value != 0 && child.value + (size.value - 1) < child.value) {
    return Fail(Status::IO_INVALID,
                where + "runs past 2^64: " + Hex(child.value) + " + size " + Hex(size.value),
                object);
  }
  if (!wanted.fits) {
    return Fail(Status::IO_INVALID, "the address " + FormatCells(address) + " does not fit 64 bits",
                object);
  }
  if (wanted.value < child.value || wanted.value - child.value >= size.value) return std::nullopt;
  return wanted.value - child.value;
}

// of_translate_one(): `address` (na cells on `bus`, below `node`) becomes
// pna cells on `node`'s parent bus `parent_bus`. nullopt on success; the
// reason when `node` does not translate it.
Result<std::optional<std::string>> TranslateOne(const FdtTree& tree, NodeId node, BusKind bus,
                                                BusKind parent_bus,
                                                std::array<uint32_t, kMaxAddressCells>& address,
                                                uint32_t na, uint32_t ns, uint32_t pna,
                                                RangesKind kind) {
  const char* property = RangesName(kind);
  const std::string object = PropertyObject(tree.Path(node), property);
  UDRV_TRY_ASSIGN(const auto ranges, tree.Cells(node, property));
  if (!ranges && kind == RangesKind::kRanges) {
    return std::optional<std::string>(tree.Path(node) +
                                      " has no ranges: the bus below it is not memory-mapped");
  }
  uint64_t offset = 0;
  const std::span<const uint32_t> child(address.data(), na);
  if (!ranges || ranges->empty()) {
    // Identity: the whole address is the offset into the parent's space.
    const uint32_t flags = FlagCells(bus);
    const CellNumber number = ReadNumber(child.subspan(flags));
    if (!number.fits) {
      return Fail(Status::IO_INVALID, "the address " + FormatCells(child) + " does not fit 64 bits",
                  object);
    }
    offset = number.value;
    address.fill(0);
  } else {
    const size_t entry_cells = size_t{na} + pna + ns;
    bool found = false;
    for (size_t at = 0, index = 0; at + entry_cells <= ranges->size(); at += entry_cells, ++index) {
      const std::span<const uint32_t> entry(ranges->data() + at, entry_cells);
      UDRV_TRY_ASSIGN(const std::optional<uint64_t> within,
                      MapEntry(bus, child, entry, na, pna, ns, object, index));
      if (!within) continue;
      offset = *within;
      address.fill(0);
      std::copy_n(entry.begin() + na, pna, address.begin());
      found = true;
      break;
    }
    if (!found) {
      return std::optional<std::string>("no entry of " + object + " covers " + FormatCells(child));
    }
  }
  // The parent bus's translate(): the offset added to its address, kept in
  // its cells (PCI and ISA keep their flags cell).
  const uint32_t flags = FlagCells(parent_bus);
  const std::span<uint32_t> parent(address.data() + flags, pna - flags);
  const CellNumber base = ReadNumber(parent);
  if (!base.fits) {
    return Fail(Status::IO_INVALID,
                "the parent address " + FormatCells(parent) + " does not fit 64 bits", object);
  }
  const uint64_t sum = base.value + offset;
  if (sum < base.value) {
    return Fail(Status::IO_INVALID,
                Hex(base.value) + " + " + Hex(offset) + " runs past 2^64", object);
  }
  if (parent.size() == 1 && sum > UINT32_MAX) {
    return Fail(Status::IO_INVALID,
                Hex(sum) + " does not fit the parent bus's one address cell", object);
  }
  std::fill(parent.begin(), parent.end(), 0u);
  if (parent.size() > 1) parent[parent.size() - 2] = static_cast<uint32_t>(sum >> 32);
  parent[parent.size() - 1] = static_cast<uint32_t>(sum);
  return std::optional<std::string>();
}

}  // namespace

CellNumber ReadNumber(std::span<const uint32_t> cells) {
  CellNumber number;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (cells.size() - i > 2 && cells[i] != 0) number.fits = false;
    number.value = (number.value << 32) | cells[i];
  }
  return number;
}

Result<RegCells> CountRegCells(const FdtTree& tree, NodeId node) {
  const NodeId bus = tree.Parent(node).value_or(node);
  switch (MatchBus(tree, bus)) {
    case BusKind::kPci:
      return RegCells{3, 2, 1};
    case BusKind::kIsa:
      return RegCells{2, 1, 1};
    case BusKind::kDefault:
      break;
  }
  UDRV_TRY_ASSIGN(const uint32_t address,
                  BusCells(tree, bus, "#address-cells", kDefaultAddressCells, kMaxAddressCells));
  UDRV_TRY_ASSIGN(const uint32_t size,
                  BusCells(tree, bus, "#size-cells", kDefaultSizeCells, kMaxSizeCells));
  return RegCells{address, size, 0};
}

std::string NonMemorySpace(const FdtTree& tree, NodeId node, std::span<const uint32_t> address) {
  const std::optional<NodeId> parent = tree.Parent(node);
  if (!parent || address.empty()) return "";
  switch (MatchBus(tree, *parent)) {
    case BusKind::kPci:
      switch (PciSpaceOf(address[0])) {
        case kPciConfig:
          return "a PCI configuration-space address";
        case kPciIo:
          return "a PCI I/O-space address (a port, not memory)";
        default:
          return "";
      }
    case BusKind::kIsa:
      return (address[0] & 1) ? "an ISA I/O-port address" : "";
    case BusKind::kDefault:
      return "";
  }
  return "";
}

Result<Translation> TranslateAddress(const FdtTree& tree, NodeId node,
                                     std::span<const uint32_t> address, RangesKind kind) {
  const std::optional<NodeId> parent = tree.Parent(node);
  if (!parent) return Translation{std::nullopt, "the root node is on no bus"};
  UDRV_TRY_ASSIGN(const RegCells cells, CountRegCells(tree, node));
  if (address.size() != cells.address) {
    return Fail(Status::INVALID_ARGS,
                "an address of " + std::to_string(address.size()) + " cells on a bus of " +
                    std::to_string(cells.address),
                tree.Path(node));
  }
  // OF_CHECK_COUNTS(): a bus without size cells (I2C, SPI, /cpus) names
  // things that are not memory.
  auto not_mapped = [&](NodeId bus, const RegCells& counts) {
    return Translation{std::nullopt, tree.Path(bus) + " has #" +
                                         (counts.address == 0 ? "address" : "size") +
                                         "-cells 0: the bus below it is not memory-mapped"};
  };
  if (cells.address == 0 || cells.size == 0) return not_mapped(*parent, cells);

  std::array<uint32_t, kMaxAddressCells> cursor{};
  std::copy(address.begin(), address.end(), cursor.begin());
  BusKind bus = MatchBus(tree, *parent);
  uint32_t na = cells.address, ns = cells.size;
  // Each step moves one level up; the tree is at most kMaxDepth deep.
  for (NodeId level = *parent;;) {
    const std::optional<NodeId> up = tree.Parent(level);
    if (!up) {
      const CellNumber number = ReadNumber(std::span(cursor.data(), na));
      if (!number.fits) {
        return Fail(Status::IO_INVALID,
                    "the CPU address " + FormatCells(std::span(cursor.data(), na)) +
                        " does not fit 64 bits",
                    PropertyObject(tree.Path(node), kind == RangesKind::kRanges ? "reg" : "dma-ranges"));
      }
      return Translation{number.value, ""};
    }
    UDRV_TRY_ASSIGN(const RegCells parent_cells, CountRegCells(tree, level));
    if (parent_cells.address == 0 || parent_cells.size == 0) return not_mapped(*up, parent_cells);
    const BusKind parent_bus = MatchBus(tree, *up);
    UDRV_TRY_ASSIGN(const std::optional<std::string> stopped,
                    TranslateOne(tree, level, bus, parent_bus, cursor, na, ns,
                                 parent_cells.address, kind));
    if (stopped) return Translation{std::nullopt, *stopped};
    na = parent_cells.address;
    ns = parent_cells.size;
    bus = parent_bus;
    level = *up;
  }
}

Result<std::optional<std::vector<DmaRange>>> DmaRanges(const FdtTree& tree, NodeId node) {
  // The nearest non-empty dma-ranges at or above the device; an empty one
  // passes on to the parent, a missing one above the device ends the
  // search (no translation: 1:1).
  std::optional<NodeId> at = node;
  std::optional<std::vector<uint32_t>> ranges;
  for (bool above_device = false; at; above_device = true, at = tree.Parent(*at)) {
    UDRV_TRY_ASSIGN(ranges, tree.Cells(*at, "dma-ranges"));
    if (ranges && !ranges->empty()) break;
    if (above_device && !ranges) return std::nullopt;
  }
  if (!at) return std::nullopt;
  const NodeId bus = *at;
  const std::string object = PropertyObject(tree.Path(bus), "dma-ranges");
  UDRV_TRY_ASSIGN(const uint32_t na,
                  BusCells(tree, bus, "#address-cells", kDefaultAddressCells, kMaxAddressCells));
  UDRV_TRY_ASSIGN(const uint32_t ns,
                  BusCells(tree, bus, "#size-cells", kDefaultSizeCells, kMaxSizeCells));
  // The CPU side has the cells of the bus `bus` sits on.
  UDRV_TRY_ASSIGN(const RegCells parent_cells, CountRegCells(tree, bus));
  const uint32_t pna = parent_cells.address;
  const uint32_t flags = FlagCells(MatchBus(tree, bus));
  if (na < flags) return Fail(Status::IO_INVALID, "a PCI or ISA bus without address cells", object);
  const size_t entry_cells = size_t{na} + pna + ns;
  if (entry_cells == 0 || ranges->size() % entry_cells != 0) {
    return Fail(Status::IO_INVALID,
                std::to_string(ranges->size()) + " cells is not a whole number of entries of " +
                    std::to_string(entry_cells) + " cells",
                object);
  }
  std::vector<DmaRange> list;
  for (size_t at_cell = 0, index = 0; at_cell < ranges->size(); at_cell += entry_cells, ++index) {
    const std::span<const uint32_t> entry(ranges->data() + at_cell, entry_cells);
    const CellNumber bus_address = ReadNumber(entry.subspan(flags, na - flags));
    const CellNumber size = ReadNumber(entry.subspan(size_t{na} + pna, ns));
    const std::string where = "entry " + std::to_string(index) + " ";
    if (!bus_address.fits || !size.fits) {
      return Fail(Status::IO_INVALID, where + FormatCells(entry) + " does not fit 64 bits", object);
    }
    if (size.value != 0 && bus_address.value + (size.value - 1) < bus_address.value) {
      return Fail(Status::IO_INVALID,
                  where + "runs past 2^64: " + Hex(bus_address.value) + " + size " +
                      Hex(size.value),
                  object);
    }
    // Linux ends its region map at a zero size.
    if (size.value == 0) continue;
    UDRV_TRY_ASSIGN(const Translation cpu,
                    TranslateAddress(tree, bus, entry.subspan(na, pna), RangesKind::kDmaRanges));
    // Linux skips a range whose CPU side does not translate.
    if (!cpu.phys) continue;
    list.push_back(DmaRange{bus_address.value, *cpu.phys, size.value});
  }
  if (list.empty()) {
    return Fail(Status::IO_INVALID, "no entry translates to a CPU address", object);
  }
  return list;
}

}  // namespace udrv::platform::internal
