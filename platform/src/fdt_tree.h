// The device tree reader's view of a checked blob: every node indexed once
// (its parent, its name), phandles resolved through a table, and the reads
// of_translate_address and of_irq_parse_one need, each bounded. Internal to
// udrv_devicetree.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "udrv/core/result.h"
#include "udrv/platform/device_tree.h"

namespace udrv::platform::internal {

using NodeId = uint32_t;

// Linux's FDT_MAX_DEPTH: unflatten_dt_nodes() refuses a deeper tree.
inline constexpr uint32_t kMaxDepth = 64;
// Linux's MAX_PHANDLE_ARGS: the cells an interrupt specifier plus a unit
// address may have in of_irq_parse_raw().
inline constexpr uint32_t kMaxPhandleArgs = 16;
// Steps one interrupt may take through interrupt-parent links and
// interrupt-map nexus nodes. Linux has no bound (a loop hangs its boot);
// real trees need a handful.
inline constexpr uint32_t kMaxInterruptHops = 128;

// "/soc/serial@1:reg": the node and property an error is about, as dtc
// names them in its warnings.
std::string PropertyObject(std::string_view path, std::string_view property);

class FdtTree {
 public:
  // Indexes a blob fdt_check_full() accepted. Errors concern the whole tree
  // (deeper than kMaxDepth, no root).
  static Result<FdtTree> Index(std::span<const std::byte> blob, const std::string& source);

  size_t size() const { return nodes_.size(); }
  std::optional<NodeId> Parent(NodeId node) const;
  std::string_view Name(NodeId node) const { return nodes_[node].name; }
  // The name before '@', as of_node_name_eq() compares it.
  std::string_view BaseName(NodeId node) const;
  std::string Path(NodeId node) const;
  std::optional<NodeId> ByPhandle(uint32_t phandle) const;

  std::optional<std::span<const std::byte>> Property(NodeId node, const char* name) const;
  bool Has(NodeId node, const char* name) const { return Property(node, name).has_value(); }
  // A one-cell property: nullopt when absent, an error when its length is
  // not 4 bytes.
  Result<std::optional<uint32_t>> U32(NodeId node, const char* name) const;
  // A property of whole cells (big-endian, converted): nullopt when absent;
  // an error when its length is not a multiple of 4.
  Result<std::optional<std::vector<uint32_t>>> Cells(NodeId node, const char* name) const;
  // A string list (compatible, reg-names): empty when absent; an error when
  // it does not end in NUL.
  Result<std::vector<std::string>> Strings(NodeId node, const char* name) const;
  // of_device_is_available(): `status` absent, "okay" or "ok".
  bool Available(NodeId node) const;

 private:
  struct Node {
    int offset = 0;
    std::optional<NodeId> parent;
    std::string_view name;
  };
  FdtTree(const void* fdt, std::vector<Node> nodes, std::unordered_map<uint32_t, NodeId> phandles)
      : fdt_(fdt), nodes_(std::move(nodes)), phandles_(std::move(phandles)) {}

  const void* fdt_;
  std::vector<Node> nodes_;  // in structure order
  std::unordered_map<uint32_t, NodeId> phandles_;
};

// ---- Addresses (translate.cc) ----

// What a reg or ranges cell string translates to: the CPU address, or why
// there is none (a bus on the way up is not memory-mapped, no range covers
// the address).
struct Translation {
  std::optional<uint64_t> phys;
  std::string untranslated;
};

// The cells of a node's `reg` entries as the bus above it reads them.
struct RegCells {
  uint32_t address = 0;
  uint32_t size = 0;
  uint32_t flag_cells = 0;  // PCI and ISA addresses start with a flags cell
};
// bus->count_cells() for `node`, with the bus being its parent.
Result<RegCells> CountRegCells(const FdtTree& tree, NodeId node);

// Which property the translation follows up the tree.
enum class RangesKind : uint8_t {
  kRanges,     // of_translate_address(): a missing `ranges` ends it
  kDmaRanges,  // of_translate_dma_address(): a missing `dma-ranges` is 1:1
};
// `address` (CountRegCells(node).address cells, as in node's `reg`)
// translated through every `ranges` up to the root. Errors: a broken tree
// (#address-cells above 4, an address or range that does not fit 64 bits
// or its parent's cells).
Result<Translation> TranslateAddress(const FdtTree& tree, NodeId node,
                                     std::span<const uint32_t> address,
                                     RangesKind kind = RangesKind::kRanges);
// Why a `reg` address of `node` is no memory address (PCI configuration or
// I/O space, ISA I/O space: Linux makes no MMIO resource of them); "" when
// it is one.
std::string NonMemorySpace(const FdtTree& tree, NodeId node, std::span<const uint32_t> address);

// The low 64 bits of `cells` and whether the cells above them are zero.
struct CellNumber {
  uint64_t value = 0;
  bool fits = true;
};
CellNumber ReadNumber(std::span<const uint32_t> cells);

struct DmaRange {
  uint64_t bus = 0, cpu = 0, size = 0;
};
// of_dma_get_range(): the ranges of the nearest `dma-ranges` above `node`
// whose CPU side translates; nullopt when there is none (DMA is 1:1).
Result<std::optional<std::vector<DmaRange>>> DmaRanges(const FdtTree& tree, NodeId node);

// ---- Interrupts (interrupts.cc) ----

struct ResolvedInterrupt {
  NodeId controller = 0;
  std::vector<uint32_t> specifier;
};
// of_irq_parse_one() for every index: each resolved interrupt, or the
// error that stopped that index. The outer error stops the list (an
// `interrupts` with no interrupt parent, a cut-short interrupts-extended).
struct InterruptList {
  std::vector<Result<ResolvedInterrupt>> entries;
  std::optional<Error> stopped;
};
InterruptList ResolveInterrupts(const FdtTree& tree, NodeId node);

// How the controller decodes `specifier` when it is a GIC (irq-gic.c,
// irq-gic-v3.c); nullopt for other controllers; an error for a specifier
// the GIC driver refuses.
Result<std::optional<GicInterrupt>> DecodeGic(const FdtTree& tree, NodeId controller,
                                              std::span<const uint32_t> specifier);

}  // namespace udrv::platform::internal
