#include "udrv/platform/device_tree.h"

#include <libfdt.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fdt_tree.h"
#include "udrv/sysfs/file.h"

namespace udrv::platform {
namespace internal {

std::string PropertyObject(std::string_view path, std::string_view property) {
  std::string object(path);
  object += ':';
  object += property;
  return object;
}

Result<FdtTree> FdtTree::Index(std::span<const std::byte> blob, const std::string& source) {
  const void* fdt = blob.data();
  std::vector<Node> nodes;
  std::unordered_map<uint32_t, NodeId> phandles;
  std::vector<NodeId> open;  // the nodes enclosing the current one, by depth
  int depth = -1;
  for (int offset = fdt_next_node(fdt, -1, &depth); offset >= 0 && depth >= 0;
       offset = fdt_next_node(fdt, offset, &depth)) {
    const auto id = static_cast<NodeId>(nodes.size());
    int name_length = 0;
    const char* name = fdt_get_name(fdt, offset, &name_length);
    if (name == nullptr || name_length < 0) {
      return Fail(Status::IO_INVALID, "a node at structure offset " + Hex(uint64_t(offset)) +
                                          " has no name: " + fdt_strerror(name_length),
                  source);
    }
    if (static_cast<uint32_t>(depth) >= kMaxDepth) {
      std::string path;
      for (NodeId up : open) path += "/" + std::string(nodes[up].name);
      return Fail(Status::IO_INVALID,
                  "nodes nest deeper than " + std::to_string(kMaxDepth) + " levels (Linux's limit)",
                  source + ": " + path);
    }
    open.resize(static_cast<size_t>(depth));
    Node node{offset, open.empty() ? std::nullopt : std::optional<NodeId>(open.back()),
              std::string_view(name, static_cast<size_t>(name_length))};
    if (depth == 0 && id != 0) {
      return Fail(Status::IO_INVALID, "a second node at the top level, beside the root", source);
    }
    nodes.push_back(node);
    open.push_back(id);
    // Linux's of_find_node_by_phandle() finds the first node in tree order.
    for (const char* property : {"phandle", "linux,phandle"}) {
      int length = 0;
      const void* value = fdt_getprop(fdt, offset, property, &length);
      if (value == nullptr || length != 4) continue;
      const uint32_t phandle = fdt32_ld(static_cast<const fdt32_t*>(value));
      if (phandle != 0 && phandle != 0xffffffffu) phandles.emplace(phandle, id);
      break;
    }
  }
  if (nodes.empty()) return Fail(Status::IO_INVALID, "the tree has no root node", source);
  return FdtTree(fdt, std::move(nodes), std::move(phandles));
}

std::optional<NodeId> FdtTree::Parent(NodeId node) const { return nodes_[node].parent; }

std::string_view FdtTree::BaseName(NodeId node) const {
  const std::string_view name = nodes_[node].name;
  return name.substr(0, name.find('@'));
}

std::string FdtTree::Path(NodeId node) const {
  std::vector<NodeId> chain;
  for (std::optional<NodeId> at = node; at && *at != 0; at = nodes_[*at].parent) chain.push_back(*at);
  if (chain.empty()) return "/";
  std::string path;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    path += '/';
    path += nodes_[*it].name;
  }
  return path;
}

std::optional<NodeId> FdtTree::ByPhandle(uint32_t phandle) const {
  auto it = phandles_.find(phandle);
  if (it == phandles_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::span<const std::byte>> FdtTree::Property(NodeId node, const char* name) const {
  int length = 0;
  const void* value = fdt_getprop(fdt_, nodes_[node].offset, name, &length);
  if (value == nullptr || length < 0) return std::nullopt;
  return std::span<const std::byte>(static_cast<const std::byte*>(value),
                                    static_cast<size_t>(length));
}

Result<std::optional<uint32_t>> FdtTree::U32(NodeId node, const char* name) const {
  auto value = Property(node, name);
  if (!value) return std::nullopt;
  if (value->size() != 4) {
    return Fail(Status::IO_INVALID,
                "a one-cell property holds " + std::to_string(value->size()) + " bytes",
                PropertyObject(Path(node), name));
  }
  return fdt32_ld(reinterpret_cast<const fdt32_t*>(value->data()));
}

Result<std::optional<std::vector<uint32_t>>> FdtTree::Cells(NodeId node, const char* name) const {
  auto value = Property(node, name);
  if (!value) return std::nullopt;
  if (value->size() % 4 != 0) {
    return Fail(Status::IO_INVALID,
                std::to_string(value->size()) + " bytes is not a whole number of cells",
                PropertyObject(Path(node), name));
  }
  std::vector<uint32_t> cells(value->size() / 4);
  for (size_t i = 0; i < cells.size(); ++i) {
    cells[i] = fdt32_ld(reinterpret_cast<const fdt32_t*>(value->data() + 4 * i));
  }
  return cells;
}

Result<std::vector<std::string>> FdtTree::Strings(NodeId node, const char* name) const {
  std::vector<std::string> strings;
  auto value = Property(node, name);
  if (!value || value->empty()) return strings;
  if (value->back() != std::byte{0}) {
    return Fail(Status::IO_INVALID, "a string list that does not end in NUL",
                PropertyObject(Path(node), name));
  }
  const std::string_view text(reinterpret_cast<const char*>(value->data()), value->size() - 1);
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\0', start);
    strings.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return strings;
}

bool FdtTree::Available(NodeId node) const {
  auto status = Property(node, "status");
  if (!status) return true;
  // Compared as C strings, as Linux does: "okay\0junk" is "okay".
  const std::string_view text(reinterpret_cast<const char*>(status->data()),
                              strnlen(reinterpret_cast<const char*>(status->data()), status->size()));
  return text == "okay" || text == "ok";
}

}  // namespace internal

namespace {

using internal::FdtTree;
using internal::NodeId;
using internal::PropertyObject;

// Each reg entry, translated; what cannot be read lands in `device.problems`.
void ReadRegs(const FdtTree& tree, NodeId node, DtDevice& device) {
  // Linux's __of_get_address() reads no `reg` of the root (it has no bus).
  if (!tree.Parent(node)) return;
  auto reg = tree.Cells(node, "reg");
  if (!reg) return device.problems.push_back(reg.error());
  if (!*reg) return;
  auto cells = internal::CountRegCells(tree, node);
  if (!cells) return device.problems.push_back(cells.error());
  const std::string object = PropertyObject(device.path, "reg");
  if (cells->address == 0) {
    return device.problems.push_back(Error{Status::IO_INVALID,
                                           "a reg under a bus of #address-cells 0", object});
  }
  const std::vector<uint32_t>& values = **reg;
  const size_t entry_cells = size_t{cells->address} + cells->size;
  if (values.size() % entry_cells != 0) {
    // Linux reads the whole entries and ignores the rest; a tree that has
    // a rest was written for other cell counts.
    device.problems.push_back(Error{
        Status::IO_INVALID,
        std::to_string(values.size()) + " cells is not a whole number of entries of " +
            std::to_string(cells->address) + " address and " + std::to_string(cells->size) +
            " size cells",
        object});
  }
  for (size_t at = 0; at + entry_cells <= values.size(); at += entry_cells) {
    RegEntry entry;
    entry.index = static_cast<uint32_t>(device.regs.size());
    if (entry.index < device.reg_names.size()) entry.name = device.reg_names[entry.index];
    const std::span<const uint32_t> address(values.data() + at, cells->address);
    entry.cells.assign(address.begin(), address.end());
    entry.bus_address = internal::ReadNumber(address.subspan(cells->flag_cells)).value;
    const internal::CellNumber size =
        internal::ReadNumber(std::span(values.data() + at + cells->address, cells->size));
    entry.size = size.value;
    const std::string index = "reg entry " + std::to_string(entry.index);
    if (!size.fits) {
      device.problems.push_back(
          Error{Status::IO_INVALID, index + ": the size does not fit 64 bits", object});
    }
    if (std::string space = internal::NonMemorySpace(tree, node, address); !space.empty()) {
      entry.untranslated = std::move(space);
    } else if (auto translation = internal::TranslateAddress(tree, node, address); !translation) {
      Error error = translation.error();
      error.what = index + ": " + error.what;
      device.problems.push_back(std::move(error));
      entry.untranslated = "the translation failed (see problems)";
    } else {
      entry.phys = translation->phys;
      entry.untranslated = std::move(translation->untranslated);
      if (entry.phys && entry.size != 0 && *entry.phys + (entry.size - 1) < *entry.phys) {
        device.problems.push_back(Error{Status::IO_INVALID,
                                        index + ": " + Hex(*entry.phys) + " + size " +
                                            Hex(entry.size) + " runs past 2^64",
                                        object});
      }
    }
    device.regs.push_back(std::move(entry));
  }
}

void ReadInterrupts(const FdtTree& tree, NodeId node, DtDevice& device) {
  internal::InterruptList list = internal::ResolveInterrupts(tree, node);
  for (size_t index = 0; index < list.entries.size(); ++index) {
    auto& resolved = list.entries[index];
    if (!resolved) {
      Error error = resolved.error();
      error.what = "interrupt " + std::to_string(index) + ": " + error.what;
      device.problems.push_back(std::move(error));
      continue;
    }
    InterruptEntry entry;
    entry.index = static_cast<uint32_t>(index);
    if (index < device.interrupt_names.size()) entry.name = device.interrupt_names[index];
    entry.controller = tree.Path(resolved->controller);
    entry.specifier = std::move(resolved->specifier);
    if (auto gic = internal::DecodeGic(tree, resolved->controller, entry.specifier); !gic) {
      Error error = gic.error();
      error.what = "interrupt " + std::to_string(index) + ": " + error.what;
      device.problems.push_back(std::move(error));
    } else {
      entry.gic = *gic;
    }
    device.interrupts.push_back(std::move(entry));
  }
  if (list.stopped) device.problems.push_back(std::move(*list.stopped));
}

void ReadDma(const FdtTree& tree, NodeId node, DtDevice& device) {
  auto ranges = internal::DmaRanges(tree, node);
  if (!ranges) return device.problems.push_back(ranges.error());
  if (!*ranges) return;
  const std::vector<internal::DmaRange>& list = **ranges;
  // of_dma_configure_id(): one window over every range, the first range's
  // offset (Linux keeps a per-range map; udrv's BTI takes one window).
  uint64_t start = UINT64_MAX, last = 0;
  for (const internal::DmaRange& range : list) {
    start = std::min(start, range.bus);
    last = std::max(last, range.bus + (range.size - 1));  // DmaRanges checked it fits
  }
  // Linux's workaround for trees that give a mask (0xffffffff) as the
  // size: an odd size grows by one.
  uint64_t span_minus_one = last - start;
  if (span_minus_one % 2 == 0 && span_minus_one != UINT64_MAX) ++span_minus_one;
  DmaWindow window;
  window.offset = static_cast<int64_t>(list.front().cpu - list.front().bus);
  window.bus_base = start;
  window.limit = start + span_minus_one < start ? UINT64_MAX : start + span_minus_one;
  device.dma = window;
}

DtDevice ReadDevice(const FdtTree& tree, NodeId node) {
  DtDevice device;
  device.path = tree.Path(node);
  device.name = std::string(tree.Name(node));
  auto take_strings = [&](const char* property, std::vector<std::string>& out) {
    if (auto strings = tree.Strings(node, property)) {
      out = std::move(*strings);
    } else {
      device.problems.push_back(strings.error());
    }
  };
  take_strings("compatible", device.compatible);
  take_strings("reg-names", device.reg_names);
  take_strings("interrupt-names", device.interrupt_names);
  take_strings("clock-names", device.clock_names);
  if (auto status = tree.Property(node, "status")) {
    device.status.assign(reinterpret_cast<const char*>(status->data()),
                         strnlen(reinterpret_cast<const char*>(status->data()), status->size()));
  }
  device.enabled = tree.Available(node);
  ReadRegs(tree, node, device);
  ReadInterrupts(tree, node, device);
  ReadDma(tree, node, device);
  return device;
}

}  // namespace

Result<DeviceTree> DeviceTree::FromBlob(std::span<const std::byte> blob, std::string source) {
  if (blob.size() > kMaxBlobSize) {
    return Fail(Status::FILE_BIG,
                "a device tree blob of " + std::to_string(blob.size()) + " bytes (at most " +
                    std::to_string(kMaxBlobSize) + ")",
                source);
  }
  if (blob.size() < sizeof(fdt_header)) {
    return Fail(Status::IO_INVALID,
                "truncated: " + std::to_string(blob.size()) + " bytes, less than the " +
                    std::to_string(sizeof(fdt_header)) + "-byte header",
                source);
  }
  // The copy is what gets checked and read: libfdt wants 8-byte alignment,
  // and nobody can change it between the check and the reads.
  std::vector<std::byte> copy(blob.begin(), blob.end());
  if (const int error = fdt_check_full(copy.data(), copy.size()); error != 0) {
    std::string what = std::string("not a valid flattened device tree: ") + fdt_strerror(error);
    if (error == -FDT_ERR_TRUNCATED) {
      what += " (the header says " + std::to_string(fdt_totalsize(copy.data())) + " bytes, " +
              std::to_string(copy.size()) + " are there)";
    }
    return Fail(Status::IO_INVALID, std::move(what), source);
  }
  // What fdt_check_full() leaves to the reader: a root node, Linux's depth.
  UDRV_TRY(internal::FdtTree::Index(copy, source));
  return DeviceTree(std::move(copy), std::move(source));
}

Result<DeviceTree> DeviceTree::FromFile(const std::string& path) {
  // One byte past the limit says the file is larger (or grew while read).
  UDRV_TRY_ASSIGN(const sysfs::FileContents contents, sysfs::ReadFile(path, kMaxBlobSize + 1));
  if (contents.bytes.size() > kMaxBlobSize) {
    return Fail(Status::FILE_BIG,
                "a device tree blob of more than " + std::to_string(kMaxBlobSize) + " bytes", path);
  }
  return FromBlob(std::as_bytes(std::span(contents.bytes)), path);
}

Result<std::vector<DtDevice>> DeviceTree::Enumerate() const {
  UDRV_TRY_ASSIGN(const FdtTree tree, FdtTree::Index(blob_, source_));
  std::vector<DtDevice> devices;
  for (NodeId node = 0; node < tree.size(); ++node) {
    if (tree.Has(node, "compatible")) devices.push_back(ReadDevice(tree, node));
  }
  return devices;
}

Result<DtDevice> DeviceTree::Find(std::string_view path) const {
  UDRV_TRY_ASSIGN(const FdtTree tree, FdtTree::Index(blob_, source_));
  // Names compared whole, as of_find_node_by_path() does (libfdt's lookup
  // takes "ethernet" for "ethernet@7d580000"); no aliases. Where a broken
  // tree has siblings of one name, the first of them that is a device.
  std::optional<NodeId> node;
  for (NodeId at = 0; at < tree.size() && !node; ++at) {
    if (tree.Has(at, "compatible") && tree.Path(at) == path) node = at;
  }
  if (!node) {
    return Fail(Status::NOT_FOUND, "no device node (a node with compatible) at this path",
                source_ + ": " + std::string(path));
  }
  return ReadDevice(tree, *node);
}

}  // namespace udrv::platform
