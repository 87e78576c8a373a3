// Interrupt resolution as Linux 6.1's drivers/of/irq.c does it
// (of_irq_parse_one, of_irq_parse_raw, of_irq_find_parent), with every walk
// bounded, and the GIC's specifier decoding of irq-gic.c and irq-gic-v3.c.
#include <algorithm>

#include "fdt_tree.h"
#include "udrv/platform/device_tree.h"

namespace udrv::platform {

std::string_view GicKindName(GicInterrupt::Kind kind) {
  switch (kind) {
    case GicInterrupt::Kind::SPI:
      return "SPI";
    case GicInterrupt::Kind::PPI:
      return "PPI";
    case GicInterrupt::Kind::ESPI:
      return "ESPI";
    case GicInterrupt::Kind::EPPI:
      return "EPPI";
    case GicInterrupt::Kind::LPI:
      return "LPI";
  }
  return "unknown";
}

std::string_view GicTriggerName(GicInterrupt::Trigger trigger) {
  switch (trigger) {
    case GicInterrupt::Trigger::EDGE_RISING:
      return "edge-rising";
    case GicInterrupt::Trigger::EDGE_FALLING:
      return "edge-falling";
    case GicInterrupt::Trigger::EDGE_BOTH:
      return "edge-both";
    case GicInterrupt::Trigger::LEVEL_HIGH:
      return "level-high";
    case GicInterrupt::Trigger::LEVEL_LOW:
      return "level-low";
    case GicInterrupt::Trigger::NONE:
      return "none";
  }
  return "unknown";
}

namespace internal {
namespace {

std::string Describe(std::span<const uint32_t> cells) {
  std::string text = "<";
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) text += ' ';
    text += Hex(cells[i]);
  }
  return text + ">";
}

// of_irq_find_parent(): from `child`, follow `interrupt-parent` (or the
// tree parent where there is none) to the first node with
// #interrupt-cells.
Result<NodeId> FindInterruptParent(const FdtTree& tree, NodeId child) {
  NodeId at = child;
  for (uint32_t hop = 0; hop < kMaxInterruptHops; ++hop) {
    UDRV_TRY_ASSIGN(const std::optional<uint32_t> phandle, tree.U32(at, "interrupt-parent"));
    std::optional<NodeId> next;
    if (phandle) {
      next = tree.ByPhandle(*phandle);
      if (!next) {
        return Fail(Status::NOT_FOUND, "interrupt-parent " + Hex(*phandle) + " names no node",
                    PropertyObject(tree.Path(at), "interrupt-parent"));
      }
    } else {
      next = tree.Parent(at);
      if (!next) {
        return Fail(Status::NOT_FOUND,
                    "no interrupt parent: no interrupt-parent and no ancestor with #interrupt-cells",
                    PropertyObject(tree.Path(child), "interrupt-parent"));
      }
    }
    at = *next;
    if (tree.Has(at, "#interrupt-cells")) return at;
  }
  return Fail(Status::IO_INVALID,
              "the interrupt-parent chain does not reach a controller in " +
                  std::to_string(kMaxInterruptHops) + " steps (a loop)",
              PropertyObject(tree.Path(at), "interrupt-parent"));
}

// The first #address-cells at or above `node`, 2 where none is: the "old
// Linux trick" of_irq_parse_raw() keeps for the unit address it matches.
Result<uint32_t> NexusAddressCells(const FdtTree& tree, NodeId node) {
  for (std::optional<NodeId> at = node; at; at = tree.Parent(*at)) {
    UDRV_TRY_ASSIGN(const std::optional<uint32_t> cells, tree.U32(*at, "#address-cells"));
    if (cells) return *cells;
  }
  return 2u;
}

// Controllers whose drivers parse their own interrupt-map: Linux's
// of_irq_imap_abusers[] has the core ignore it.
bool AbusesInterruptMap(const FdtTree& tree, NodeId node) {
  static constexpr std::string_view kAbusers[] = {
      "CBEA,platform-spider-pic", "sti,platform-spider-pic", "realtek,rtl-intc",
      "fsl,ls1021a-extirq",       "fsl,ls1043a-extirq",      "fsl,ls1088a-extirq",
      "renesas,rza1-irqc"};
  auto compatible = tree.Strings(node, "compatible");
  if (!compatible) return false;
  for (const std::string& name : *compatible) {
    if (std::find(std::begin(kAbusers), std::end(kAbusers), name) != std::end(kAbusers)) return true;
  }
  return false;
}

// of_irq_parse_raw(): `interrupt` (a specifier for `interrupt.controller`,
// which may be a nexus) followed through interrupt-map nodes to the
// controller that takes it. `reg` is the device's reg (its unit address).
Result<ResolvedInterrupt> ParseRaw(const FdtTree& tree,
                                   const std::optional<std::vector<uint32_t>>& reg,
                                   ResolvedInterrupt interrupt) {
  NodeId parent = interrupt.controller;
  // The cursor's #interrupt-cells say how to read the specifier.
  UDRV_TRY_ASSIGN(std::optional<uint32_t> cells, tree.U32(parent, "#interrupt-cells"));
  if (!cells) {
    UDRV_TRY_ASSIGN(parent, FindInterruptParent(tree, parent));
    UDRV_TRY_ASSIGN(cells, tree.U32(parent, "#interrupt-cells"));
  }
  uint32_t interrupt_cells = cells.value_or(0);
  if (interrupt.specifier.size() != interrupt_cells) {
    return Fail(Status::IO_INVALID,
                "a specifier of " + std::to_string(interrupt.specifier.size()) + " cells for a " +
                    "controller of #interrupt-cells " + std::to_string(interrupt_cells),
                PropertyObject(tree.Path(parent), "#interrupt-cells"));
  }
  UDRV_TRY_ASSIGN(uint32_t address_cells, NexusAddressCells(tree, parent));
  if (size_t{address_cells} + interrupt_cells > kMaxPhandleArgs) {
    return Fail(Status::IO_INVALID,
                std::to_string(address_cells) + " address and " + std::to_string(interrupt_cells) +
                    " interrupt cells, more than Linux's " + std::to_string(kMaxPhandleArgs),
                PropertyObject(tree.Path(parent), "#interrupt-cells"));
  }
  // What interrupt-map entries are matched against: the unit address, then
  // the specifier. Linux reads a missing reg as zeros.
  std::vector<uint32_t> key(address_cells, 0);
  if (reg) std::copy_n(reg->begin(), std::min<size_t>(address_cells, reg->size()), key.begin());
  key.insert(key.end(), interrupt.specifier.begin(), interrupt.specifier.end());

  for (uint32_t hop = 0; hop < kMaxInterruptHops; ++hop) {
    const bool controller = tree.Has(parent, "interrupt-controller");
    UDRV_TRY_ASSIGN(const auto map, tree.Cells(parent, "interrupt-map"));
    if (controller && (!map || AbusesInterruptMap(tree, parent))) {
      return ResolvedInterrupt{parent, std::move(interrupt.specifier)};
    }
    const std::string object = PropertyObject(tree.Path(parent), "interrupt-map");
    // Linux checks this before it looks for a map at all.
    if (address_cells != 0 && !reg) {
      return Fail(Status::IO_INVALID,
                  "the interrupt tree here matches a unit address of " +
                      std::to_string(address_cells) + " cells and the device has no reg",
                  object);
    }
    if (!map) {
      UDRV_TRY_ASSIGN(parent, FindInterruptParent(tree, parent));
      continue;
    }
    const size_t key_cells = key.size();
    UDRV_TRY_ASSIGN(const auto mask_cells, tree.Cells(parent, "interrupt-map-mask"));
    std::vector<uint32_t> mask(key_cells, 0xffffffffu);
    if (mask_cells) {
      if (mask_cells->size() < key_cells) {
        return Fail(Status::IO_INVALID,
                    std::to_string(mask_cells->size()) + " cells, the map's keys have " +
                        std::to_string(key_cells),
                    PropertyObject(tree.Path(parent), "interrupt-map-mask"));
      }
      std::copy_n(mask_cells->begin(), key_cells, mask.begin());
    }
    // Each entry: key_cells of child unit address and specifier, the
    // parent's phandle, then the parent's unit address (the parent's own
    // #address-cells, 0 when it has none) and specifier.
    const std::vector<uint32_t>& entries = *map;
    size_t at = 0;
    bool matched = false;
    NodeId next = parent;
    uint32_t next_address_cells = 0, next_interrupt_cells = 0;
    for (size_t index = 0; !matched && entries.size() - at > key_cells + 1; ++index) {
      matched = true;
      for (size_t i = 0; i < key_cells; ++i) {
        if (((key[i] ^ entries[at + i]) & mask[i]) != 0) matched = false;
      }
      at += key_cells;
      const uint32_t phandle = entries[at++];
      const std::optional<NodeId> target = tree.ByPhandle(phandle);
      const std::string where = "entry " + std::to_string(index) + ": ";
      if (!target) {
        return Fail(Status::NOT_FOUND, where + "the parent " + Hex(phandle) + " names no node",
                    object);
      }
      next = *target;
      // Linux skips entries whose parent is disabled.
      if (!tree.Available(next)) matched = false;
      UDRV_TRY_ASSIGN(const std::optional<uint32_t> target_interrupt_cells,
                      tree.U32(next, "#interrupt-cells"));
      if (!target_interrupt_cells) {
        return Fail(Status::IO_INVALID,
                    where + "the parent " + tree.Path(next) + " has no #interrupt-cells", object);
      }
      UDRV_TRY_ASSIGN(const std::optional<uint32_t> target_address_cells,
                      tree.U32(next, "#address-cells"));
      next_interrupt_cells = *target_interrupt_cells;
      next_address_cells = target_address_cells.value_or(0);
      const size_t parent_cells = size_t{next_address_cells} + next_interrupt_cells;
      if (parent_cells > kMaxPhandleArgs || entries.size() - at < parent_cells) {
        return Fail(Status::IO_INVALID,
                    where + "cut short: the parent " + tree.Path(next) + " needs " +
                        std::to_string(next_address_cells) + " address and " +
                        std::to_string(next_interrupt_cells) + " interrupt cells",
                    object);
      }
      at += parent_cells;
    }
    if (!matched) {
      // A controller whose map does not cover the specifier takes it itself.
      if (controller) return ResolvedInterrupt{parent, std::move(interrupt.specifier)};
      return Fail(Status::NOT_FOUND, "no entry matches " + Describe(key), object);
    }
    const size_t parent_cells = size_t{next_address_cells} + next_interrupt_cells;
    key.assign(entries.begin() + static_cast<ptrdiff_t>(at - parent_cells),
               entries.begin() + static_cast<ptrdiff_t>(at));
    interrupt.specifier.assign(key.end() - next_interrupt_cells, key.end());
    address_cells = next_address_cells;
    interrupt_cells = next_interrupt_cells;
    // A map entry may point at its own node (an interrupt controller that
    // is also a nexus for itself).
    if (next == parent) return ResolvedInterrupt{parent, std::move(interrupt.specifier)};
    parent = next;
  }
  return Fail(Status::IO_INVALID,
              "interrupt-map nexus nodes do not reach a controller in " +
                  std::to_string(kMaxInterruptHops) + " steps (a loop)",
              PropertyObject(tree.Path(parent), "interrupt-map"));
}

enum class GicVersion : uint8_t { kV2, kV3 };

// The compatibles irq-gic.c and irq-gic-v3.c declare (IRQCHIP_DECLARE).
std::optional<GicVersion> GicVersionOf(const FdtTree& tree, NodeId controller) {
  auto compatible = tree.Strings(controller, "compatible");
  if (!compatible) return std::nullopt;
  static constexpr std::string_view kV2[] = {
      "arm,gic-400",         "arm,arm11mp-gic",    "arm,arm1176jzf-devchip-gic",
      "arm,cortex-a15-gic",  "arm,cortex-a9-gic",  "arm,cortex-a7-gic",
      "qcom,msm-8660-qgic",  "qcom,msm-qgic2",     "arm,pl390"};
  for (const std::string& name : *compatible) {
    if (name == "arm,gic-v3") return GicVersion::kV3;
    if (std::find(std::begin(kV2), std::end(kV2), name) != std::end(kV2)) return GicVersion::kV2;
  }
  return std::nullopt;
}

}  // namespace

InterruptList ResolveInterrupts(const FdtTree& tree, NodeId node) {
  InterruptList list;
  auto stop = [&](Error error) {
    list.stopped = std::move(error);
    return std::move(list);
  };
  auto reg = tree.Cells(node, "reg");
  if (!reg) return stop(reg.error());

  // The new style first: <phandle specifier...> per interrupt.
  auto extended = tree.Cells(node, "interrupts-extended");
  if (!extended) return stop(extended.error());
  if (*extended) {
    const std::vector<uint32_t>& cells = **extended;
    const std::string object = PropertyObject(tree.Path(node), "interrupts-extended");
    for (size_t at = 0, index = 0; at < cells.size(); ++index) {
      const uint32_t phandle = cells[at++];
      const std::string where = "entry " + std::to_string(index) + ": ";
      if (phandle == 0) {
        list.entries.push_back(Fail(Status::NOT_FOUND, where + "an empty entry (phandle 0)", object));
        continue;
      }
      const std::optional<NodeId> controller = tree.ByPhandle(phandle);
      if (!controller) {
        return stop(Error{Status::NOT_FOUND, where + "phandle " + Hex(phandle) + " names no node",
                          object});
      }
      auto count = tree.U32(*controller, "#interrupt-cells");
      if (!count) return stop(count.error());
      if (!*count) {
        return stop(Error{Status::IO_INVALID,
                          where + tree.Path(*controller) + " has no #interrupt-cells", object});
      }
      if (cells.size() - at < **count) {
        return stop(Error{Status::IO_INVALID,
                          where + "cut short: " + tree.Path(*controller) + " takes " +
                              std::to_string(**count) + " cells",
                          object});
      }
      ResolvedInterrupt interrupt{*controller, {cells.begin() + static_cast<ptrdiff_t>(at),
                                                cells.begin() + static_cast<ptrdiff_t>(at + **count)}};
      at += **count;
      list.entries.push_back(ParseRaw(tree, *reg, std::move(interrupt)));
    }
    return list;
  }

  auto interrupts = tree.Cells(node, "interrupts");
  if (!interrupts) return stop(interrupts.error());
  if (!*interrupts) return list;
  const std::string object = PropertyObject(tree.Path(node), "interrupts");
  auto parent = FindInterruptParent(tree, node);
  if (!parent) return stop(parent.error());
  auto count = tree.U32(*parent, "#interrupt-cells");
  if (!count) return stop(count.error());
  const uint32_t cells = count->value_or(0);
  if (cells == 0) {
    return stop(Error{Status::IO_INVALID,
                      "the interrupt parent " + tree.Path(*parent) + " has #interrupt-cells 0",
                      object});
  }
  const std::vector<uint32_t>& values = **interrupts;
  if (values.size() % cells != 0) {
    list.stopped = Error{Status::IO_INVALID,
                         std::to_string(values.size()) + " cells is not a whole number of " +
                             std::to_string(cells) + "-cell specifiers of " + tree.Path(*parent),
                         object};
  }
  for (size_t at = 0; at + cells <= values.size(); at += cells) {
    ResolvedInterrupt interrupt{*parent, {values.begin() + static_cast<ptrdiff_t>(at),
                                          values.begin() + static_cast<ptrdiff_t>(at + cells)}};
    list.entries.push_back(ParseRaw(tree, *reg, std::move(interrupt)));
  }
  return list;
}

Result<std::optional<GicInterrupt>> DecodeGic(const FdtTree& tree, NodeId controller,
                                              std::span<const uint32_t> specifier) {
  const std::optional<GicVersion> version = GicVersionOf(tree, controller);
  if (!version) return std::nullopt;
  const std::string object = PropertyObject(tree.Path(controller), "#interrupt-cells");
  if (specifier.size() < 3) {
    return Fail(Status::IO_INVALID,
                "a GIC specifier of " + std::to_string(specifier.size()) + " cells (it needs 3)",
                object);
  }
  GicInterrupt gic;
  gic.number = specifier[1];
  uint64_t hwirq = 0;
  switch (specifier[0]) {
    case 0:
      gic.kind = GicInterrupt::Kind::SPI;
      hwirq = uint64_t{gic.number} + 32;
      break;
    case 1:
      gic.kind = GicInterrupt::Kind::PPI;
      hwirq = uint64_t{gic.number} + 16;
      break;
    case 2:
    case 3:
      if (*version != GicVersion::kV3) {
        return Fail(Status::IO_INVALID,
                    "interrupt type " + std::to_string(specifier[0]) +
                        " (extended SPI/PPI) on a GIC before v3",
                    object);
      }
      gic.kind = specifier[0] == 2 ? GicInterrupt::Kind::ESPI : GicInterrupt::Kind::EPPI;
      // ESPI_BASE_INTID and EPPI_BASE_INTID.
      hwirq = uint64_t{gic.number} + (specifier[0] == 2 ? 4096 : 1056);
      break;
    case 0xa:  // GIC_IRQ_TYPE_LPI
      if (*version != GicVersion::kV3) {
        return Fail(Status::IO_INVALID, "an LPI on a GIC before v3", object);
      }
      gic.kind = GicInterrupt::Kind::LPI;
      hwirq = gic.number;
      break;
    default:
      return Fail(Status::IO_INVALID,
                  "interrupt type " + std::to_string(specifier[0]) + " is none the GIC knows",
                  object);
  }
  if (hwirq > UINT32_MAX) {
    return Fail(Status::IO_INVALID, "interrupt number " + Hex(gic.number) + " overflows", object);
  }
  gic.hwirq = static_cast<uint32_t>(hwirq);
  // IRQ_TYPE_SENSE_MASK; the bits above are a PPI's CPU mask.
  switch (specifier[2] & 0xf) {
    case 0:
      gic.trigger = GicInterrupt::Trigger::NONE;
      break;
    case 1:
      gic.trigger = GicInterrupt::Trigger::EDGE_RISING;
      break;
    case 2:
      gic.trigger = GicInterrupt::Trigger::EDGE_FALLING;
      break;
    case 3:
      gic.trigger = GicInterrupt::Trigger::EDGE_BOTH;
      break;
    case 4:
      gic.trigger = GicInterrupt::Trigger::LEVEL_HIGH;
      break;
    case 8:
      gic.trigger = GicInterrupt::Trigger::LEVEL_LOW;
      break;
    default:
      return Fail(Status::IO_INVALID,
                  "trigger flags " + Hex(specifier[2] & 0xf) + " name no single trigger", object);
  }
  return gic;
}

}  // namespace internal
}  // namespace udrv::platform
