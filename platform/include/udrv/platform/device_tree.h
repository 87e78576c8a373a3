// A flattened device tree (libfdt) read as Linux reads it: which nodes are
// platform devices, where their registers sit in the CPU's physical address
// space (of_translate_address), which interrupt controller each interrupt
// reaches and with what specifier (of_irq_parse_one, interrupt-map nexus
// nodes included), and the DMA window `dma-ranges` gives them.
//
// The blob comes from the live tree (/sys/firmware/fdt) or a .dtb file, on
// any architecture. It is checked whole (fdt_check_full) before anything
// reads it; everything after that still treats its bytes as hostile: cell
// counts, phandles and offsets are bounded and every loop is finite.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::platform {

// A blob larger than this is refused (real board DTBs are under 256 KiB).
inline constexpr size_t kMaxBlobSize = 16 << 20;
// Linux's OF_MAX_ADDR_CELLS: more address cells is a broken tree.
inline constexpr uint32_t kMaxAddressCells = 4;

// One entry of a node's `reg`.
struct RegEntry {
  uint32_t index = 0;
  std::string name;                 // its `reg-names` entry; "" when none
  std::vector<uint32_t> cells;      // the address cells as the tree holds them
  uint64_t bus_address = 0;         // those cells as Linux reads them (low 64 bits; PCI: phys.mid/lo)
  uint64_t size = 0;
  // The CPU physical address; nullopt when a bus on the way up is not
  // memory-mapped (it has no `ranges`: I2C, SPI) or no range covers the
  // address, and `untranslated` says which node stopped it and why.
  std::optional<uint64_t> phys;
  std::string untranslated;
};

// How a GIC specifier decodes (arm,gic-400, arm,cortex-a15-gic, arm,gic-v3, ...).
struct GicInterrupt {
  enum class Kind : uint8_t { SPI, PPI, ESPI, EPPI, LPI };
  enum class Trigger : uint8_t { EDGE_RISING, EDGE_FALLING, EDGE_BOTH, LEVEL_HIGH, LEVEL_LOW, NONE };
  Kind kind = Kind::SPI;
  uint32_t number = 0;  // within its kind: SPI 2 is hwirq 34
  uint32_t hwirq = 0;   // the GIC's interrupt ID
  Trigger trigger = Trigger::NONE;
};
std::string_view GicKindName(GicInterrupt::Kind kind);        // "SPI"
std::string_view GicTriggerName(GicInterrupt::Trigger trigger);  // "level-high"

// One interrupt of a node, resolved to the controller that takes it
// (interrupt-map nexus nodes followed).
struct InterruptEntry {
  uint32_t index = 0;
  std::string name;                  // its `interrupt-names` entry; "" when none
  std::string controller;            // the controller node's full path
  std::vector<uint32_t> specifier;   // #interrupt-cells cells, as the controller reads them
  std::optional<GicInterrupt> gic;   // when the controller is a GIC
};

// What `dma-ranges` on the way up gives the device: bus address = CPU
// address - offset; the device reaches bus addresses up to `limit`.
struct DmaWindow {
  int64_t offset = 0;     // CPU physical minus bus address
  uint64_t bus_base = 0;  // the lowest bus address the window maps
  uint64_t limit = 0;     // the highest bus address the device reaches (inclusive)
};

// A node that has `compatible`.
struct DtDevice {
  std::string path;                      // "/soc/serial@7e201000"; "/" is the root
  std::string name;                      // "serial@7e201000"
  std::vector<std::string> compatible;   // most specific first
  bool enabled = true;                   // `status` absent, "okay" or "ok"
  std::string status;                    // as the tree says; "" when absent
  std::vector<RegEntry> regs;
  std::vector<InterruptEntry> interrupts;
  std::vector<std::string> reg_names, interrupt_names, clock_names;
  std::optional<DmaWindow> dma;          // nullopt: no dma-ranges anywhere up (1:1)
  // What could not be read of this node (a `reg` of the wrong length, an
  // interrupt parent that does not exist), each naming the node and the
  // property. A device with problems is listed, never bound.
  std::vector<Error> problems;
};

class DeviceTree {
 public:
  // Checks `blob` (size bounds, fdt_check_full) and keeps a copy. `source`
  // names it in errors ("/sys/firmware/fdt", "board.dtb"). IO_INVALID with
  // libfdt's reason for a broken blob.
  static Result<DeviceTree> FromBlob(std::span<const std::byte> blob, std::string source);
  // Reads `path` (a regular file or /sys/firmware/fdt, at most
  // kMaxBlobSize) and checks it as FromBlob.
  static Result<DeviceTree> FromFile(const std::string& path);

  const std::string& source() const { return source_; }
  std::span<const std::byte> blob() const { return blob_; }

  // Every node with `compatible`, enabled or not, in tree order (a parent
  // before its children). Errors of one node land in its `problems`; an
  // error here is one of the whole tree (no root, a structure libfdt
  // cannot walk).
  Result<std::vector<DtDevice>> Enumerate() const;
  // The device at `path`; NOT_FOUND when no node there has `compatible`.
  Result<DtDevice> Find(std::string_view path) const;

 private:
  DeviceTree(std::vector<std::byte> blob, std::string source)
      : blob_(std::move(blob)), source_(std::move(source)) {}

  std::vector<std::byte> blob_;
  std::string source_;
};

}  // namespace udrv::platform
