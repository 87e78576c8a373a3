// The AML reader (aml.h): one interpreter that both loads definition
// blocks (creating named objects, running table-level code) and runs
// methods, reading the bytes as it goes, as ACPICA does. Structured
// operators carry their length (PkgLength), so a branch not taken is
// stepped over; an operand the reader must not evaluate (an
// OperationRegion's address) is walked in `skip` mode, which parses
// without effects.
#include "udrv/acpi/aml.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <map>
#include <variant>

namespace udrv::acpi {

namespace {

struct Value;
using BufferPtr = std::shared_ptr<std::vector<uint8_t>>;
using PackagePtr = std::shared_ptr<std::vector<Value>>;
struct NameRef {
  std::string path;  // canonical where resolved; as written where not
};
struct IndexRef {  // what Index() gives: an element of a buffer or a package
  BufferPtr buffer;
  PackagePtr package;
  size_t index = 0;
};
struct Value {
  std::variant<std::monostate, uint64_t, std::string, BufferPtr, PackagePtr, NameRef, IndexRef> v;
  bool empty() const { return std::holds_alternative<std::monostate>(v); }
};

Value Int(uint64_t n) { return Value{n}; }
Value Buf(std::vector<uint8_t> bytes) {
  return Value{std::make_shared<std::vector<uint8_t>>(std::move(bytes))};
}

struct Node {
  AmlObjectKind kind = AmlObjectKind::SCOPE;
  size_t block = 0;
  uint32_t offset = 0;
  Value value;                 // NAME
  uint32_t body = 0, end = 0;  // METHOD: its TermList
  uint8_t arg_count = 0;       // METHOD, EXTERNAL (methods), OS_DEFINED
  std::string target;          // ALIAS: the path it names; FIELD: its region
  std::string space;           // OPERATION_REGION, FIELD: "SystemMemory"
  BufferPtr buffer;            // BUFFER_FIELD
  uint64_t bit_offset = 0, bit_length = 0;
  bool temporary = false;      // created by a running method
};

struct Block {
  std::string name;
  std::vector<uint8_t> bytes;
  uint64_t mask = ~uint64_t{0};  // 32-bit integers in a revision 1 table
};

std::string HexText(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::string SpaceName(uint8_t space) {
  static const char* const kSpaces[] = {
      "SystemMemory", "SystemIO", "PCI_Config", "EmbeddedControl", "SMBus", "SystemCMOS",
      "PCIBARTarget", "IPMI", "GeneralPurposeIo", "GenericSerialBus", "PCC", "PlatformRtMechanism"};
  if (space < std::size(kSpaces)) return kSpaces[space];
  if (space == 0x7F) return "FFixedHW";
  return "space " + HexText(space);
}

// A NameString as written: root or parent prefixes, then segments.
struct NameString {
  bool root = false;
  int parents = 0;
  std::vector<std::string> segments;
  bool Searchable() const { return !root && parents == 0 && segments.size() == 1; }
  std::string Text() const {
    std::string out = root ? "\\" : std::string(static_cast<size_t>(parents), '^');
    for (size_t i = 0; i < segments.size(); ++i) out += (i ? "." : "") + segments[i];
    return out;
  }
};

std::string Join(const std::string& scope, const std::string& segment) {
  return scope == "\\" ? "\\" + segment : scope + "." + segment;
}
std::string Parent(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? "\\" : path.substr(0, dot);
}

enum class Flow { NORMAL, RETURN, BREAK, CONTINUE };

struct Frame {
  std::string scope;  // where names resolve: the method's path, or the scope being loaded
  std::array<Value, 7> args;
  std::array<Value, 8> locals;
  Value returned;
  std::vector<std::string> created;  // names to remove when the method returns
  bool loading = false;
};

struct Cursor {
  size_t block = 0;
  size_t pos = 0;
  size_t end = 0;
};

}  // namespace

struct AmlNamespace::State {
  AmlLimits limits;
  std::vector<Block> blocks;
  std::map<std::string, Node> nodes;
  std::vector<DeviceEntry> devices;
  std::vector<Error> problems;
  std::string object;  // what is being evaluated, for errors
  uint64_t steps = 0;
  uint64_t total_steps = 0;
  uint64_t copied = 0;  // bytes Buffer, Package and Copy made, loading and all evaluations together
  uint32_t nesting = 0;
  uint32_t calls = 0;
  bool skip = false;

  // --- errors ---
  std::string Where(const Cursor& c, size_t at) const {
    return blocks[c.block].name + " at " + HexText(at);
  }
  std::unexpected<Error> Broken(const Cursor& c, size_t at, const std::string& what) const {
    return Fail(Status::IO_INVALID, Where(c, at) + ": " + what, object);
  }
  std::unexpected<Error> NeedsKernel(const Cursor& c, size_t at, const std::string& what) const {
    return Fail(Status::NOT_SUPPORTED, Where(c, at) + ": " + what, object);
  }
  std::unexpected<Error> Limit(const Cursor& c, size_t at, const std::string& what) const {
    return Fail(Status::OUT_OF_RANGE, Where(c, at) + ": " + what, object);
  }
  uint64_t Mask(const Cursor& c) const { return blocks[c.block].mask; }
  const std::vector<uint8_t>& Bytes(const Cursor& c) const { return blocks[c.block].bytes; }

  // The object at `path`, through aliases.
  std::map<std::string, Node>::iterator Follow(std::string path) {
    auto it = nodes.find(path);
    for (int hops = 0; it != nodes.end() && it->second.kind == AmlObjectKind::ALIAS && hops < 8; ++hops)
      it = nodes.find(it->second.target);
    return it;
  }

  // --- the byte stream ---
  Result<uint8_t> Byte(Cursor& c) {
    if (c.pos >= c.end) return Broken(c, c.pos, "the AML breaks off (expected a byte)");
    return Bytes(c)[c.pos++];
  }
  Result<uint64_t> Le(Cursor& c, int size) {
    if (c.pos + static_cast<size_t>(size) > c.end)
      return Broken(c, c.pos, "the AML breaks off (expected " + std::to_string(size) + " bytes)");
    uint64_t value = 0;
    for (int i = 0; i < size; ++i) value |= uint64_t{Bytes(c)[c.pos + static_cast<size_t>(i)]} << (8 * i);
    c.pos += static_cast<size_t>(size);
    return value;
  }
  // PkgLength: the encoded length counts from its own first byte.
  Result<uint64_t> PkgValue(Cursor& c) {
    UDRV_TRY_ASSIGN(uint8_t lead, Byte(c));
    const int follow = lead >> 6;
    if (follow == 0) return lead & 0x3Fu;
    uint64_t length = lead & 0x0Fu;
    for (int i = 0; i < follow; ++i) {
      UDRV_TRY_ASSIGN(uint8_t next, Byte(c));
      length |= uint64_t{next} << (4 + 8 * i);
    }
    return length;
  }
  Result<size_t> PkgEnd(Cursor& c) {
    const size_t start = c.pos;
    UDRV_TRY_ASSIGN(uint64_t length, PkgValue(c));
    if (length < c.pos - start || start + length > c.end)
      return Broken(c, start, "PkgLength " + std::to_string(length) + " runs past its enclosing object (which ends at " +
                                  HexText(c.end) + ")");
    return start + length;
  }
  Result<std::string> NameSeg(Cursor& c) {
    if (c.pos + 4 > c.end) return Broken(c, c.pos, "the AML breaks off inside a name");
    std::string seg(reinterpret_cast<const char*>(&Bytes(c)[c.pos]), 4);
    for (size_t i = 0; i < 4; ++i) {
      const char ch = seg[i];
      const bool ok = ch == '_' || (ch >= 'A' && ch <= 'Z') || (i > 0 && ch >= '0' && ch <= '9');
      if (!ok) return Broken(c, c.pos, "a name segment with byte " + HexText(static_cast<uint8_t>(ch)));
    }
    c.pos += 4;
    return seg;
  }
  Result<NameString> ReadName(Cursor& c) {
    NameString name;
    if (c.pos < c.end && Bytes(c)[c.pos] == '\\') {
      name.root = true;
      ++c.pos;
    }
    while (!name.root && c.pos < c.end && Bytes(c)[c.pos] == '^') {
      ++name.parents;
      ++c.pos;
    }
    UDRV_TRY_ASSIGN(uint8_t lead, Byte(c));
    size_t count = 1;
    if (lead == 0x00) {
      count = 0;
    } else if (lead == 0x2E) {
      count = 2;
    } else if (lead == 0x2F) {
      UDRV_TRY_ASSIGN(uint8_t n, Byte(c));
      count = n;
    } else {
      --c.pos;
    }
    for (size_t i = 0; i < count; ++i) {
      UDRV_TRY_ASSIGN(std::string seg, NameSeg(c));
      name.segments.push_back(std::move(seg));
    }
    return name;
  }
  static bool IsNameStart(uint8_t op) {
    return op == '\\' || op == '^' || op == 0x2E || op == 0x2F || op == '_' || (op >= 'A' && op <= 'Z');
  }

  // --- the namespace ---
  // The path a name means from `scope`, without searching (for definitions).
  std::string Resolve(const std::string& scope, const NameString& name) const {
    std::string path = name.root ? "\\" : scope;
    for (int i = 0; i < name.parents; ++i) path = Parent(path);
    for (const std::string& seg : name.segments) path = Join(path, seg);
    return path;
  }
  // ACPI's search rule: a single segment is looked for in the scope, then
  // in each scope above it.
  Node* Lookup(const std::string& scope, const NameString& name, std::string* found = nullptr) {
    if (name.segments.empty()) return nullptr;
    std::string path;
    Node* node = nullptr;
    if (name.Searchable()) {
      for (std::string s = scope;; s = Parent(s)) {
        path = Join(s, name.segments[0]);
        if (auto it = nodes.find(path); it != nodes.end()) {
          node = &it->second;
          break;
        }
        if (s == "\\") break;
      }
    } else {
      path = Resolve(scope, name);
      if (auto it = nodes.find(path); it != nodes.end()) node = &it->second;
    }
    for (int hops = 0; node && node->kind == AmlObjectKind::ALIAS && hops < 8; ++hops) {
      path = node->target;
      auto it = nodes.find(path);
      node = it == nodes.end() ? nullptr : &it->second;
    }
    if (found) *found = path;
    return node;
  }
  // Creates a named object; a second definition of a name is a problem and
  // the first stays (as ACPICA keeps it).
  Result<Node*> Define(Cursor& c, size_t at, Frame& f, const NameString& name, Node node) {
    const std::string path = Resolve(f.scope, name);
    node.block = c.block;
    node.offset = static_cast<uint32_t>(at);
    node.temporary = !f.loading;
    auto [it, inserted] = nodes.try_emplace(path, node);
    if (!inserted) {
      // A method's name over a loaded External or Scope would replace it,
      // and erase it when the method returns: at run time every name is new.
      if (!f.loading || (it->second.kind != AmlObjectKind::EXTERNAL && it->second.kind != AmlObjectKind::SCOPE)) {
        if (f.loading) {
          problems.push_back(Fail(Status::ALREADY_EXISTS,
                                  Where(c, at) + ": " + path + " is defined again (first at " +
                                      blocks[it->second.block].name + " " + HexText(it->second.offset) + ")",
                                  blocks[c.block].name)
                                 .error());
          return nullptr;
        }
        return Broken(c, at, path + " is created twice");
      }
      it->second = node;
    }
    if (!f.loading) f.created.push_back(path);
    if (node.kind == AmlObjectKind::DEVICE && f.loading)
      devices.push_back({path, blocks[c.block].name, node.offset});
    return &it->second;
  }

  Result<void> Step(const Cursor& c, size_t at) {
    if (++total_steps > limits.max_total_steps)
      return Limit(c, at, "the namespace's evaluations ran past the reader's bound of " +
                              std::to_string(limits.max_total_steps) + " operators in all");
    if (++steps > limits.max_steps)
      return Limit(c, at, "evaluation runs past the reader's bound of " + std::to_string(limits.max_steps) +
                              " operators (a loop that does not end?)");
    return {};
  }

  // A copy as Store makes it: buffers and packages are not shared. Every
  // copy counts against max_copied and its packages' depth against
  // max_nesting, so a loop that stores a package into itself ends as an
  // error, not as exhausted memory or stack.
  Result<void> Spend(const Cursor& c, size_t at, uint64_t bytes) {
    copied += bytes;
    if (copied > limits.max_copied)
      return Limit(c, at, "buffers, packages and copies past the reader's bound of " +
                              std::to_string(limits.max_copied) + " bytes in all");
    return {};
  }
  Result<Value> Copy(const Cursor& c, size_t at, const Value& value, uint32_t depth = 0) {
    const auto spend = [&](uint64_t bytes) { return Spend(c, at, bytes); };
    if (auto* b = std::get_if<BufferPtr>(&value.v)) {
      UDRV_TRY(spend((*b)->size()));
      return Buf(**b);
    }
    if (auto* s = std::get_if<std::string>(&value.v)) UDRV_TRY(spend(s->size()));
    if (auto* p = std::get_if<PackagePtr>(&value.v)) {
      if (depth >= limits.max_nesting)
        return Limit(c, at, "packages nested past the reader's bound of " + std::to_string(limits.max_nesting));
      UDRV_TRY(spend((*p)->size() * sizeof(Value)));
      auto copy = std::make_shared<std::vector<Value>>();
      copy->reserve((*p)->size());
      for (const Value& element : **p) {
        UDRV_TRY_ASSIGN(Value element_copy, Copy(c, at, element, depth + 1));
        copy->push_back(std::move(element_copy));
      }
      return Value{copy};
    }
    return value;
  }

  // --- conversions ---
  Result<uint64_t> ToInt(const Cursor& c, size_t at, const Value& value) {
    if (auto* n = std::get_if<uint64_t>(&value.v)) return *n & Mask(c);
    if (auto* b = std::get_if<BufferPtr>(&value.v)) {
      uint64_t n = 0;
      const size_t width = Mask(c) == ~uint64_t{0} ? 8 : 4;
      for (size_t i = 0; i < std::min((*b)->size(), width); ++i) n |= uint64_t{(**b)[i]} << (8 * i);
      return n;
    }
    if (auto* s = std::get_if<std::string>(&value.v)) {  // implicit conversion: hex digits
      uint64_t n = 0;
      std::string_view text = *s;
      if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
      for (char ch : text) {
        int digit = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                  : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (digit < 0) break;
        n = (n << 4) | static_cast<uint64_t>(digit);
      }
      return n & Mask(c);
    }
    if (value.empty()) return Broken(c, at, "an operand that has no value (an uninitialized local or argument)");
    return Broken(c, at, "an operand that is not an integer, string or buffer");
  }
  Result<std::vector<uint8_t>> ToBytes(const Cursor& c, size_t at, const Value& value) {
    if (auto* b = std::get_if<BufferPtr>(&value.v)) return **b;
    if (auto* s = std::get_if<std::string>(&value.v)) {
      std::vector<uint8_t> bytes(s->begin(), s->end());
      bytes.push_back(0);
      return bytes;
    }
    UDRV_TRY_ASSIGN(uint64_t n, ToInt(c, at, value));
    std::vector<uint8_t> bytes(Mask(c) == ~uint64_t{0} ? 8 : 4);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
    return bytes;
  }
  Result<std::string> ToText(const Cursor& c, size_t at, const Value& value) {
    if (auto* s = std::get_if<std::string>(&value.v)) return *s;
    if (auto* b = std::get_if<BufferPtr>(&value.v)) {
      std::string out;
      for (size_t i = 0; i < (*b)->size(); ++i) out += (i ? "," : "") + HexText((**b)[i]);
      return out;
    }
    UDRV_TRY_ASSIGN(uint64_t n, ToInt(c, at, value));
    char text[24];
    std::snprintf(text, sizeof(text), "%llX", static_cast<unsigned long long>(n));
    return std::string(text);
  }

  // --- reading and writing named objects ---
  Result<Value> ReadNode(const Cursor& c, size_t at, const std::string& path, Node& node) {
    switch (node.kind) {
      case AmlObjectKind::NAME:
        return node.value;
      case AmlObjectKind::BUFFER_FIELD: {
        const auto& bytes = *node.buffer;
        if ((node.bit_offset + node.bit_length + 7) / 8 > bytes.size())
          return Broken(c, at, "buffer field " + path + " lies past its buffer");
        if (node.bit_length > 64) {
          std::vector<uint8_t> out((node.bit_length + 7) / 8);
          for (uint64_t i = 0; i < node.bit_length; ++i) {
            const uint64_t bit = node.bit_offset + i;
            if (bytes[bit / 8] & (1u << (bit % 8))) out[i / 8] = static_cast<uint8_t>(out[i / 8] | (1u << (i % 8)));
          }
          return Buf(std::move(out));
        }
        uint64_t n = 0;
        for (uint64_t i = 0; i < node.bit_length; ++i) {
          const uint64_t bit = node.bit_offset + i;
          if (bytes[bit / 8] & (1u << (bit % 8))) n |= uint64_t{1} << i;
        }
        return Int(n);
      }
      case AmlObjectKind::FIELD:
        return NeedsKernel(c, at, "reads OperationRegion field " + path + " (" + node.space + ")");
      case AmlObjectKind::OS_DEFINED:
        return NeedsKernel(c, at, "reads " + path + ", which the running OS defines");
      case AmlObjectKind::EXTERNAL:
        return NeedsKernel(c, at, "reads " + path + ", which is External and no table read here defines");
      default:
        return Value{NameRef{path}};
    }
  }
  Result<void> WriteNode(const Cursor& c, size_t at, const std::string& path, Node& node, const Value& value) {
    switch (node.kind) {
      case AmlObjectKind::NAME: {
        // Store to a named object converts to its type (ACPI 6.5 §19.3.5.8).
        if (std::holds_alternative<uint64_t>(node.value.v)) {
          UDRV_TRY_ASSIGN(uint64_t n, ToInt(c, at, value));
          node.value = Int(n);
        } else if (std::holds_alternative<BufferPtr>(node.value.v) && !std::holds_alternative<PackagePtr>(value.v)) {
          UDRV_TRY_ASSIGN(auto bytes, ToBytes(c, at, value));
          auto& target = *std::get<BufferPtr>(node.value.v);
          std::fill(target.begin(), target.end(), 0);
          std::copy_n(bytes.begin(), std::min(bytes.size(), target.size()), target.begin());
        } else if (std::holds_alternative<std::string>(node.value.v)) {
          UDRV_TRY_ASSIGN(std::string text, ToText(c, at, value));
          node.value = Value{text};
        } else {
          UDRV_TRY_ASSIGN(node.value, Copy(c, at, value));
        }
        return {};
      }
      case AmlObjectKind::BUFFER_FIELD: {
        auto& bytes = *node.buffer;
        if ((node.bit_offset + node.bit_length + 7) / 8 > bytes.size())
          return Broken(c, at, "buffer field " + path + " lies past its buffer");
        UDRV_TRY_ASSIGN(auto source, ToBytes(c, at, value));
        for (uint64_t i = 0; i < node.bit_length; ++i) {
          const bool set = i / 8 < source.size() && (source[i / 8] & (1u << (i % 8)));
          const uint64_t bit = node.bit_offset + i;
          const auto mask = static_cast<uint8_t>(1u << (bit % 8));
          bytes[bit / 8] = static_cast<uint8_t>(set ? bytes[bit / 8] | mask : bytes[bit / 8] & ~mask);
        }
        return {};
      }
      case AmlObjectKind::FIELD:
        return NeedsKernel(c, at, "writes OperationRegion field " + path + " (" + node.space + ")");
      default:
        return NeedsKernel(c, at, "stores to " + path + ", which is not a value the reader holds");
    }
  }

  // --- operands ---
  // A Target: where an operator's result goes. NullName discards it.
  struct Target {
    enum class Kind { NONE, LOCAL, ARG, NODE, INDEX, DEBUG } kind = Kind::NONE;
    int slot = 0;
    std::string path;
    IndexRef index;
    size_t at = 0;
  };
  Result<Target> ReadTarget(Cursor& c, Frame& f) {
    Target t;
    t.at = c.pos;
    if (c.pos >= c.end) return Broken(c, c.pos, "the AML breaks off (expected a target)");
    const uint8_t op = Bytes(c)[c.pos];
    if (op == 0x00) {
      ++c.pos;
      return t;
    }
    if (op >= 0x60 && op <= 0x67) {
      ++c.pos;
      t.kind = Target::Kind::LOCAL;
      t.slot = op - 0x60;
      return t;
    }
    if (op >= 0x68 && op <= 0x6E) {
      ++c.pos;
      t.kind = Target::Kind::ARG;
      t.slot = op - 0x68;
      return t;
    }
    if (op == 0x5B && c.pos + 1 < c.end && Bytes(c)[c.pos + 1] == 0x31) {
      c.pos += 2;
      t.kind = Target::Kind::DEBUG;
      return t;
    }
    if (IsNameStart(op)) {
      UDRV_TRY_ASSIGN(NameString name, ReadName(c));
      if (skip) return t;
      std::string path;
      Node* node = Lookup(f.scope, name, &path);
      if (!node) return NeedsKernel(c, t.at, "stores to " + name.Text() + ", which no table read here defines");
      t.kind = Target::Kind::NODE;
      t.path = path;
      return t;
    }
    // Index(...) or DerefOf(...) or a method returning a reference.
    UDRV_TRY_ASSIGN(Value ref, TermArg(c, f));
    if (skip) return t;
    if (auto* index = std::get_if<IndexRef>(&ref.v)) {
      t.kind = Target::Kind::INDEX;
      t.index = *index;
      return t;
    }
    if (auto* name = std::get_if<NameRef>(&ref.v); name && nodes.contains(name->path)) {
      t.kind = Target::Kind::NODE;
      t.path = name->path;
      return t;
    }
    return NeedsKernel(c, t.at, "stores through a reference the reader does not follow");
  }
  Result<void> Write(const Cursor& c, Frame& f, const Target& t, const Value& value) {
    if (skip) return {};
    switch (t.kind) {
      case Target::Kind::NONE:
      case Target::Kind::DEBUG:
        return {};
      case Target::Kind::LOCAL: {
        UDRV_TRY_ASSIGN(f.locals[static_cast<size_t>(t.slot)], Copy(c, t.at, value));
        return {};
      }
      case Target::Kind::ARG: {
        UDRV_TRY_ASSIGN(f.args[static_cast<size_t>(t.slot)], Copy(c, t.at, value));
        return {};
      }
      case Target::Kind::NODE: {
        // Evaluating a later operand (a method that returned) may have erased it.
        const auto it = nodes.find(t.path);
        if (it == nodes.end()) return Broken(c, t.at, "stores to " + t.path + ", which no longer exists");
        return WriteNode(c, t.at, t.path, it->second, value);
      }
      case Target::Kind::INDEX:
        if (t.index.buffer) {
          if (t.index.index >= t.index.buffer->size()) return Broken(c, t.at, "Index past the end of a buffer");
          UDRV_TRY_ASSIGN(uint64_t n, ToInt(c, t.at, value));
          (*t.index.buffer)[t.index.index] = static_cast<uint8_t>(n);
        } else {
          if (t.index.index >= t.index.package->size()) return Broken(c, t.at, "Index past the end of a package");
          // A package holds no references to elements: one to itself would be a cycle.
          if (std::holds_alternative<IndexRef>(value.v))
            return NeedsKernel(c, t.at, "stores a reference into a package element, which the reader does not keep");
          UDRV_TRY_ASSIGN((*t.index.package)[t.index.index], Copy(c, t.at, value));
        }
        return {};
    }
    return {};
  }

  Result<uint64_t> IntArg(Cursor& c, Frame& f) {
    const size_t at = c.pos;
    UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
    if (skip) return 0;
    return ToInt(c, at, v);
  }

  // A Package's or VarPackage's elements up to `end`: data, or names kept
  // as references (not evaluated, as ACPI says).
  Result<Value> PackageElements(Cursor& c, Frame& f, size_t at, uint64_t count, size_t end) {
    if (count > limits.max_package)
      return Limit(c, at, "a package of " + std::to_string(count) + " elements, past the reader's bound of " +
                              std::to_string(limits.max_package));
    UDRV_TRY(Spend(c, at, count * sizeof(Value)));
    auto elements = std::make_shared<std::vector<Value>>();
    Cursor inner{c.block, c.pos, end};
    while (inner.pos < end) {
      const uint8_t op = Bytes(inner)[inner.pos];
      Value element;
      if (IsNameStart(op)) {
        UDRV_TRY_ASSIGN(NameString name, ReadName(inner));
        std::string path;
        Lookup(f.scope, name, &path);
        element = Value{NameRef{path.empty() ? name.Text() : path}};
      } else {
        const size_t element_at = inner.pos;
        UDRV_TRY_ASSIGN(Value term, TermArg(inner, f));
        if (std::holds_alternative<IndexRef>(term.v))
          return NeedsKernel(c, element_at, "a package element that is a reference, which the reader does not keep");
        UDRV_TRY_ASSIGN(element, Copy(inner, element_at, term));
      }
      // Initializers past the count are dropped, as ACPICA drops them.
      if (elements->size() < count) elements->push_back(std::move(element));
    }
    elements->resize(static_cast<size_t>(count));
    c.pos = end;
    return Value{elements};
  }

  Result<Value> CallMethod(Cursor& c, size_t at, Frame& f, const std::string& path, Node& node) {
    const uint8_t arg_count = node.arg_count;
    std::array<Value, 7> args;
    for (uint8_t i = 0; i < arg_count; ++i) {
      UDRV_TRY_ASSIGN(Value arg, TermArg(c, f));
      UDRV_TRY_ASSIGN(args[i], Copy(c, at, arg));
    }
    if (skip) return Value{};
    if (node.kind == AmlObjectKind::OS_DEFINED)
      return NeedsKernel(c, at, "calls " + path + ", which the running OS answers");
    if (node.kind == AmlObjectKind::EXTERNAL)
      return NeedsKernel(c, at, "calls " + path + ", which is External and no table read here defines");
    return Invoke(c, at, path, node, std::move(args));
  }
  Result<Value> Invoke(const Cursor& c, size_t at, const std::string& path, const Node& node,
                       std::array<Value, 7> args) {
    if (calls >= limits.max_call_depth)
      return Limit(c, at, "calls " + path + " past the reader's bound of " + std::to_string(limits.max_call_depth) +
                              " nested method calls (recursion that does not end?)");
    ++calls;
    Frame frame;
    frame.scope = path;
    frame.args = std::move(args);
    Cursor body{node.block, node.body, node.end};
    auto flow = TermList(body, frame);
    --calls;
    for (auto it = frame.created.rbegin(); it != frame.created.rend(); ++it) nodes.erase(*it);
    if (!flow) return std::unexpected(flow.error());
    return frame.returned;
  }

  // An operand: an expression that yields a value.
  Result<Value> TermArg(Cursor& c, Frame& f) {
    if (++nesting > limits.max_nesting) {
      --nesting;
      return Limit(c, c.pos, "operators nested past the reader's bound of " + std::to_string(limits.max_nesting));
    }
    auto result = TermArgInner(c, f);
    --nesting;
    return result;
  }

  Result<Value> Binary(Cursor& c, Frame& f, size_t at, uint8_t op) {
    UDRV_TRY_ASSIGN(uint64_t a, IntArg(c, f));
    UDRV_TRY_ASSIGN(uint64_t b, IntArg(c, f));
    UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
    if (skip) return Value{};
    const uint64_t mask = Mask(c);
    uint64_t r = 0;
    switch (op) {
      case 0x72: r = a + b; break;
      case 0x74: r = a - b; break;
      case 0x77: r = a * b; break;
      case 0x79: r = b >= 64 ? 0 : a << b; break;
      case 0x7A: r = b >= 64 ? 0 : a >> b; break;
      case 0x7B: r = a & b; break;
      case 0x7C: r = ~(a & b); break;
      case 0x7D: r = a | b; break;
      case 0x7E: r = ~(a | b); break;
      case 0x7F: r = a ^ b; break;
      case 0x85:
        if (b == 0) return Broken(c, at, "Mod by zero");
        r = a % b;
        break;
      default: break;
    }
    Value result = Int(r & mask);
    UDRV_TRY(Write(c, f, t, result));
    return result;
  }

  Result<int> Compare(Cursor& c, Frame& f, size_t at) {
    UDRV_TRY_ASSIGN(Value a, TermArg(c, f));
    UDRV_TRY_ASSIGN(Value b, TermArg(c, f));
    if (skip) return 0;
    if (std::holds_alternative<std::string>(a.v)) {
      UDRV_TRY_ASSIGN(std::string bs, ToText(c, at, b));
      const auto& as = std::get<std::string>(a.v);
      return as < bs ? -1 : as > bs ? 1 : 0;
    }
    if (std::holds_alternative<BufferPtr>(a.v)) {
      UDRV_TRY_ASSIGN(auto bb, ToBytes(c, at, b));
      const auto& ab = *std::get<BufferPtr>(a.v);
      return ab < bb ? -1 : ab > bb ? 1 : 0;
    }
    UDRV_TRY_ASSIGN(uint64_t ai, ToInt(c, at, a));
    UDRV_TRY_ASSIGN(uint64_t bi, ToInt(c, at, b));
    return ai < bi ? -1 : ai > bi ? 1 : 0;
  }

  Result<Value> CreateField(Cursor& c, Frame& f, size_t at, uint8_t op) {
    UDRV_TRY_ASSIGN(Value source, TermArg(c, f));
    UDRV_TRY_ASSIGN(uint64_t index, IntArg(c, f));
    uint64_t bits = 0;
    if (op == 0x13) {
      UDRV_TRY_ASSIGN(bits, IntArg(c, f));
    }
    UDRV_TRY_ASSIGN(NameString name, ReadName(c));
    if (skip) return Value{};
    auto* buffer = std::get_if<BufferPtr>(&source.v);
    if (!buffer) return NeedsKernel(c, at, "creates a buffer field on an object that is not a buffer the reader holds");
    uint64_t bit_offset = index * 8;
    switch (op) {
      case 0x8D: bit_offset = index; bits = 1; break;
      case 0x8C: bits = 8; break;
      case 0x8B: bits = 16; break;
      case 0x8A: bits = 32; break;
      case 0x8F: bits = 64; break;
      default: bit_offset = index; break;
    }
    // Compared without a sum that could wrap: a bit count near 2^64 must not pass.
    const uint64_t buffer_bits = uint64_t{(*buffer)->size()} * 8;
    if (bits == 0 || index > buffer_bits || bits > buffer_bits || bit_offset > buffer_bits - bits)
      return Broken(c, at, "buffer field " + name.Text() + " (bits " + std::to_string(bit_offset) + "+" +
                               std::to_string(bits) + ") lies past its buffer of " + std::to_string((*buffer)->size()) +
                               " bytes");
    Node node;
    node.kind = AmlObjectKind::BUFFER_FIELD;
    node.buffer = *buffer;
    node.bit_offset = bit_offset;
    node.bit_length = bits;
    UDRV_TRY(Define(c, at, f, name, node));
    return Value{};
  }

  Result<Value> TermArgInner(Cursor& c, Frame& f) {
    const size_t at = c.pos;
    UDRV_TRY(Step(c, at));
    UDRV_TRY_ASSIGN(uint8_t op, Byte(c));
    switch (op) {
      case 0x00: return Int(0);
      case 0x01: return Int(1);
      case 0xFF: return Int(Mask(c));
      case 0x0A: { UDRV_TRY_ASSIGN(uint64_t n, Le(c, 1)); return Int(n); }
      case 0x0B: { UDRV_TRY_ASSIGN(uint64_t n, Le(c, 2)); return Int(n); }
      case 0x0C: { UDRV_TRY_ASSIGN(uint64_t n, Le(c, 4)); return Int(n); }
      case 0x0E: { UDRV_TRY_ASSIGN(uint64_t n, Le(c, 8)); return Int(n & Mask(c)); }
      case 0x0D: {
        std::string text;
        while (true) {
          UDRV_TRY_ASSIGN(uint8_t ch, Byte(c));
          if (ch == 0) break;
          if (text.size() >= limits.max_buffer) return Limit(c, at, "a string past the reader's bound");
          text += static_cast<char>(ch);
        }
        return Value{text};
      }
      case 0x11: {  // Buffer
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        Cursor inner{c.block, c.pos, end};
        UDRV_TRY_ASSIGN(uint64_t size, IntArg(inner, f));
        c.pos = end;
        if (skip) return Value{};
        const size_t initializer = end - inner.pos;
        const uint64_t length = std::max<uint64_t>(size, initializer);
        if (length > limits.max_buffer)
          return Limit(c, at, "a buffer of " + std::to_string(length) + " bytes, past the reader's bound of " +
                                  std::to_string(limits.max_buffer));
        // A 10-byte Name of a 64 KiB Buffer: a table's worth of them must not exhaust memory.
        UDRV_TRY(Spend(c, at, length));
        std::vector<uint8_t> bytes(static_cast<size_t>(length));
        std::copy(Bytes(c).begin() + static_cast<std::ptrdiff_t>(inner.pos),
                  Bytes(c).begin() + static_cast<std::ptrdiff_t>(end), bytes.begin());
        return Buf(std::move(bytes));
      }
      case 0x12: {  // Package
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        UDRV_TRY_ASSIGN(uint8_t count, Byte(c));
        return PackageElements(c, f, at, count, end);
      }
      case 0x13: {  // VarPackage
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        Cursor inner{c.block, c.pos, end};
        UDRV_TRY_ASSIGN(uint64_t count, IntArg(inner, f));
        c.pos = inner.pos;
        return PackageElements(c, f, at, count, end);
      }
      case 0x60: case 0x61: case 0x62: case 0x63: case 0x64: case 0x65: case 0x66: case 0x67:
        if (f.loading && !skip) return Broken(c, at, "Local" + std::to_string(op - 0x60) + " outside a method");
        return f.locals[op - 0x60];
      case 0x68: case 0x69: case 0x6A: case 0x6B: case 0x6C: case 0x6D: case 0x6E:
        if (f.loading && !skip) return Broken(c, at, "Arg" + std::to_string(op - 0x68) + " outside a method");
        return f.args[op - 0x68];
      case 0x70: {  // Store
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        UDRV_TRY(Write(c, f, t, v));
        return v;
      }
      case 0x71: {  // RefOf
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        if (t.kind == Target::Kind::NODE) return Value{NameRef{t.path}};
        if (t.kind == Target::Kind::INDEX) return Value{t.index};
        return NeedsKernel(c, at, "RefOf a local or an argument, which the reader does not follow");
      }
      case 0x72: case 0x74: case 0x77: case 0x79: case 0x7A: case 0x7B: case 0x7C: case 0x7D:
      case 0x7E: case 0x7F: case 0x85:
        return Binary(c, f, at, op);
      case 0x73: case 0x84: {  // Concat, ConcatRes
        UDRV_TRY_ASSIGN(Value a, TermArg(c, f));
        UDRV_TRY_ASSIGN(Value b, TermArg(c, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        Value result;
        if (op == 0x84) {
          UDRV_TRY_ASSIGN(auto ab, ToBytes(c, at, a));
          UDRV_TRY_ASSIGN(auto bb, ToBytes(c, at, b));
          // Each template's end tag goes; one ends the result (checksum 0).
          auto strip = [](std::vector<uint8_t>& bytes) {
            if (bytes.size() >= 2 && bytes[bytes.size() - 2] == 0x79) bytes.resize(bytes.size() - 2);
          };
          strip(ab);
          strip(bb);
          ab.insert(ab.end(), bb.begin(), bb.end());
          ab.push_back(0x79);
          ab.push_back(0);
          result = Buf(std::move(ab));
        } else if (std::holds_alternative<std::string>(a.v)) {
          UDRV_TRY_ASSIGN(std::string bs, ToText(c, at, b));
          result = Value{std::get<std::string>(a.v) + bs};
        } else {
          UDRV_TRY_ASSIGN(auto ab, ToBytes(c, at, a));
          UDRV_TRY_ASSIGN(auto bb, ToBytes(c, at, b));
          ab.insert(ab.end(), bb.begin(), bb.end());
          result = Buf(std::move(ab));
        }
        if (auto* bytes = std::get_if<BufferPtr>(&result.v); bytes && (*bytes)->size() > limits.max_buffer)
          return Limit(c, at, "Concat past the reader's buffer bound");
        if (auto* text = std::get_if<std::string>(&result.v); text && text->size() > limits.max_buffer)
          return Limit(c, at, "Concat past the reader's string bound");
        UDRV_TRY(Write(c, f, t, result));
        return result;
      }
      case 0x75: case 0x76: {  // Increment, Decrement
        const size_t target_at = c.pos;
        Cursor again = c;
        UDRV_TRY_ASSIGN(Value v, TermArg(again, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        if (std::holds_alternative<IndexRef>(v.v)) {
          UDRV_TRY_ASSIGN(v, Deref(c, target_at, f, v));
        }
        UDRV_TRY_ASSIGN(uint64_t n, ToInt(c, target_at, v));
        Value result = Int((op == 0x75 ? n + 1 : n - 1) & Mask(c));
        UDRV_TRY(Write(c, f, t, result));
        return result;
      }
      case 0x78: {  // Divide
        UDRV_TRY_ASSIGN(uint64_t a, IntArg(c, f));
        UDRV_TRY_ASSIGN(uint64_t b, IntArg(c, f));
        UDRV_TRY_ASSIGN(Target remainder, ReadTarget(c, f));
        UDRV_TRY_ASSIGN(Target quotient, ReadTarget(c, f));
        if (skip) return Value{};
        if (b == 0) return Broken(c, at, "Divide by zero");
        UDRV_TRY(Write(c, f, remainder, Int(a % b)));
        UDRV_TRY(Write(c, f, quotient, Int(a / b)));
        return Int(a / b);
      }
      case 0x80: case 0x81: case 0x82: {  // Not, FindSetLeftBit, FindSetRightBit
        UDRV_TRY_ASSIGN(uint64_t a, IntArg(c, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        uint64_t r = 0;
        if (op == 0x80) {
          r = ~a & Mask(c);
        } else if (a != 0) {
          r = op == 0x81 ? 64 - static_cast<uint64_t>(std::countl_zero(a))
                         : static_cast<uint64_t>(std::countr_zero(a)) + 1;
        }
        UDRV_TRY(Write(c, f, t, Int(r)));
        return Int(r);
      }
      case 0x83: {  // DerefOf
        UDRV_TRY_ASSIGN(Value ref, TermArg(c, f));
        if (skip) return Value{};
        return Deref(c, at, f, ref);
      }
      case 0x86:
        return NeedsKernel(c, at, "Notify (the kernel's to deliver)");
      case 0x87: {  // SizeOf
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        if (skip) return Value{};
        if (auto* b = std::get_if<BufferPtr>(&v.v)) return Int((*b)->size());
        if (auto* s = std::get_if<std::string>(&v.v)) return Int(s->size());
        if (auto* p = std::get_if<PackagePtr>(&v.v)) return Int((*p)->size());
        return Broken(c, at, "SizeOf an object that is not a buffer, string or package");
      }
      case 0x88: {  // Index
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        UDRV_TRY_ASSIGN(uint64_t index, IntArg(c, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        if (std::holds_alternative<NameRef>(v.v)) {
          UDRV_TRY_ASSIGN(v, Deref(c, at, f, v));
        }
        IndexRef ref;
        ref.index = static_cast<size_t>(index);
        if (auto* b = std::get_if<BufferPtr>(&v.v)) {
          if (index >= (*b)->size()) return Broken(c, at, "Index " + std::to_string(index) + " past a buffer of " + std::to_string((*b)->size()));
          ref.buffer = *b;
        } else if (auto* p = std::get_if<PackagePtr>(&v.v)) {
          if (index >= (*p)->size()) return Broken(c, at, "Index " + std::to_string(index) + " past a package of " + std::to_string((*p)->size()));
          ref.package = *p;
        } else {
          return NeedsKernel(c, at, "Index of an object that is not a buffer or package");
        }
        Value result{ref};
        if (t.kind != Target::Kind::NONE) UDRV_TRY(Write(c, f, t, result));
        return result;
      }
      case 0x8A: case 0x8B: case 0x8C: case 0x8D: case 0x8F:
        return CreateField(c, f, at, op);
      case 0x8E: {  // ObjectType
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        if (skip) return Value{};
        if (std::holds_alternative<uint64_t>(v.v)) return Int(1);
        if (std::holds_alternative<std::string>(v.v)) return Int(2);
        if (std::holds_alternative<BufferPtr>(v.v)) return Int(3);
        if (std::holds_alternative<PackagePtr>(v.v)) return Int(4);
        return NeedsKernel(c, at, "ObjectType of a reference");
      }
      case 0x90: case 0x91: {  // LAnd, LOr: both operands are evaluated
        UDRV_TRY_ASSIGN(uint64_t a, IntArg(c, f));
        UDRV_TRY_ASSIGN(uint64_t b, IntArg(c, f));
        const bool r = op == 0x90 ? (a && b) : (a || b);
        return Int(r ? Mask(c) : 0);
      }
      case 0x92: {  // LNot (LNotEqual, LLessEqual, LGreaterEqual are LNot of the others)
        UDRV_TRY_ASSIGN(uint64_t a, IntArg(c, f));
        return Int(a ? 0 : Mask(c));
      }
      case 0x93: case 0x94: case 0x95: {
        UDRV_TRY_ASSIGN(int order, Compare(c, f, at));
        const bool r = op == 0x93 ? order == 0 : op == 0x94 ? order > 0 : order < 0;
        return Int(r ? Mask(c) : 0);
      }
      case 0x96: case 0x99: case 0x97: case 0x98: {  // ToBuffer, ToInteger, ToDecimalString, ToHexString
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        Value result;
        if (op == 0x96) {
          UDRV_TRY_ASSIGN(auto bytes, ToBytes(c, at, v));
          if (std::holds_alternative<std::string>(v.v) && std::get<std::string>(v.v).empty()) bytes.clear();
          result = Buf(std::move(bytes));
        } else if (op == 0x99) {
          if (auto* s = std::get_if<std::string>(&v.v); s && !(s->starts_with("0x") || s->starts_with("0X"))) {
            uint64_t n = 0;  // ToInteger reads decimal unless the string says hex
            for (char ch : *s) {
              if (ch < '0' || ch > '9') break;
              n = n * 10 + static_cast<uint64_t>(ch - '0');
            }
            result = Int(n & Mask(c));
          } else {
            UDRV_TRY_ASSIGN(uint64_t n, ToInt(c, at, v));
            result = Int(n);
          }
        } else if (std::holds_alternative<std::string>(v.v)) {
          result = v;
        } else if (auto* n = std::get_if<uint64_t>(&v.v)) {
          result = Value{op == 0x97 ? std::to_string(*n) : HexText(*n)};
        } else {
          UDRV_TRY_ASSIGN(auto bytes, ToBytes(c, at, v));
          std::string text;
          for (size_t i = 0; i < bytes.size(); ++i)
            text += (i ? "," : "") + (op == 0x97 ? std::to_string(bytes[i]) : HexText(bytes[i]));
          if (text.size() > limits.max_buffer) return Limit(c, at, "a string past the reader's bound");
          result = Value{text};
        }
        UDRV_TRY(Write(c, f, t, result));
        return result;
      }
      case 0x9E: {  // Mid
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        UDRV_TRY_ASSIGN(uint64_t index, IntArg(c, f));
        UDRV_TRY_ASSIGN(uint64_t length, IntArg(c, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        Value result;
        if (auto* s = std::get_if<std::string>(&v.v)) {
          result = Value{index < s->size() ? s->substr(static_cast<size_t>(index), static_cast<size_t>(length))
                                           : std::string()};
        } else {
          UDRV_TRY_ASSIGN(auto bytes, ToBytes(c, at, v));
          const size_t from = static_cast<size_t>(std::min<uint64_t>(index, bytes.size()));
          const size_t to = static_cast<size_t>(std::min<uint64_t>(from + std::min<uint64_t>(length, bytes.size()), bytes.size()));
          result = Buf(std::vector<uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(from),
                                            bytes.begin() + static_cast<std::ptrdiff_t>(to)));
        }
        UDRV_TRY(Write(c, f, t, result));
        return result;
      }
      case 0x9D: {  // CopyObject: as Store, without conversion to the target's type
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        if (const auto it = nodes.find(t.path); t.kind == Target::Kind::NODE && it != nodes.end() &&
                                                 it->second.kind == AmlObjectKind::NAME) {
          UDRV_TRY_ASSIGN(it->second.value, Copy(c, at, v));
        } else {
          UDRV_TRY(Write(c, f, t, v));
        }
        return v;
      }
      case 0x5B:
        return ExtTermArg(c, f, at);
      default:
        break;
    }
    if (IsNameStart(op)) {
      --c.pos;
      UDRV_TRY_ASSIGN(NameString name, ReadName(c));
      std::string path;
      Node* node = Lookup(f.scope, name, &path);
      if (node && (node->kind == AmlObjectKind::METHOD ||
                   ((node->kind == AmlObjectKind::EXTERNAL || node->kind == AmlObjectKind::OS_DEFINED) &&
                    node->arg_count != 0xFF)))
        return CallMethod(c, at, f, path, *node);
      if (skip) return Value{};
      if (!node) return NeedsKernel(c, at, "refers to " + name.Text() + ", which no table read here defines");
      return ReadNode(c, at, path, *node);
    }
    return NeedsKernel(c, at, "an operator the reader does not run (opcode " + HexText(op) + ")");
  }

  Result<Value> Deref(const Cursor& c, size_t at, Frame& f, const Value& ref) {
    if (auto* index = std::get_if<IndexRef>(&ref.v)) {
      if (index->buffer) {
        if (index->index >= index->buffer->size()) return Broken(c, at, "DerefOf past the end of a buffer");
        return Int((*index->buffer)[index->index]);
      }
      if (index->index >= index->package->size()) return Broken(c, at, "DerefOf past the end of a package");
      const Value& element = (*index->package)[index->index];
      if (auto* name = std::get_if<NameRef>(&element.v)) return Deref(c, at, f, Value{*name});
      return element;
    }
    std::string path;
    if (auto* name = std::get_if<NameRef>(&ref.v)) path = name->path;
    if (auto* text = std::get_if<std::string>(&ref.v)) path = CanonicalAmlPath(*text);
    if (!path.empty()) {
      auto it = nodes.find(path);
      if (it == nodes.end()) return NeedsKernel(c, at, "DerefOf " + path + ", which no table read here defines");
      return ReadNode(c, at, path, it->second);
    }
    return Broken(c, at, "DerefOf an object that is not a reference");
  }

  Result<Value> ExtTermArg(Cursor& c, Frame& f, size_t at) {
    UDRV_TRY_ASSIGN(uint8_t op, Byte(c));
    switch (op) {
      case 0x12: {  // CondRefOf
        const size_t name_at = c.pos;
        Value found = Int(0);
        std::string path;
        if (c.pos < c.end && IsNameStart(Bytes(c)[c.pos])) {
          UDRV_TRY_ASSIGN(NameString name, ReadName(c));
          Node* node = Lookup(f.scope, name, &path);
          if (node && node->kind != AmlObjectKind::EXTERNAL) found = Int(Mask(c));
          if (node && node->kind == AmlObjectKind::OS_DEFINED)
            return NeedsKernel(c, name_at, "CondRefOf " + path + ", which the running OS defines");
        } else {
          UDRV_TRY(ReadTarget(c, f));
          if (!skip) return NeedsKernel(c, name_at, "CondRefOf a local or an argument");
        }
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (!skip && std::get<uint64_t>(found.v) && t.kind != Target::Kind::NONE)
          UDRV_TRY(Write(c, f, t, Value{NameRef{path}}));
        return found;
      }
      case 0x13:
        return CreateField(c, f, at, 0x13);
      case 0x28: case 0x29: {  // FromBCD, ToBCD
        UDRV_TRY_ASSIGN(uint64_t a, IntArg(c, f));
        UDRV_TRY_ASSIGN(Target t, ReadTarget(c, f));
        if (skip) return Value{};
        uint64_t r = 0;
        if (op == 0x28) {
          for (uint64_t scale = 1; a; a >>= 4, scale *= 10) r += (a & 0xF) * scale;
        } else {
          for (int shift = 0; a && shift < 64; a /= 10, shift += 4) r |= (a % 10) << shift;
        }
        UDRV_TRY(Write(c, f, t, Int(r & Mask(c))));
        return Int(r & Mask(c));
      }
      case 0x30:
        return NeedsKernel(c, at, "reads Revision (the kernel's AML interpreter version)");
      case 0x31:
        return NeedsKernel(c, at, "reads Debug");
      case 0x33:
        return NeedsKernel(c, at, "reads Timer");
      case 0x21: return NeedsKernel(c, at, "Stall (the kernel's to do)");
      case 0x22: return NeedsKernel(c, at, "Sleep (the kernel's to do)");
      case 0x23: return NeedsKernel(c, at, "Acquire (a mutex the kernel holds)");
      case 0x24: case 0x25: case 0x26: return NeedsKernel(c, at, "Signal/Wait/Reset of an event");
      case 0x27: return NeedsKernel(c, at, "Release (a mutex the kernel holds)");
      case 0x1F: case 0x20: return NeedsKernel(c, at, "loads a table at run time (Load/LoadTable)");
      case 0x2A: return NeedsKernel(c, at, "Unload");
      case 0x32: return NeedsKernel(c, at, "Fatal");
      default:
        return NeedsKernel(c, at, "an operator the reader does not run (opcode 0x5b " + HexText(op) + ")");
    }
  }

  // --- statements and definitions ---
  // A term that needs the kernel or runs past a bound is stepped over while
  // loading; malformed AML ends the block.
  static bool Recoverable(const Error& error) {
    return error.status == Status::NOT_SUPPORTED || error.status == Status::OUT_OF_RANGE;
  }

  Result<Flow> TermList(Cursor& c, Frame& f) {
    while (c.pos < c.end) {
      const size_t at = c.pos;
      auto flow = Term(c, f);
      if (!flow) {
        // Loading goes on past a term whose operands need the kernel: the
        // term is walked again without effects to find its end.
        if (f.loading && !skip && Recoverable(flow.error())) {
          problems.push_back(flow.error());
          c.pos = at;
          skip = true;
          auto walked = Term(c, f);
          skip = false;
          if (!walked) return std::unexpected(walked.error());
          continue;
        }
        return std::unexpected(flow.error());
      }
      if (*flow != Flow::NORMAL) return *flow;
    }
    return Flow::NORMAL;
  }

  // A nested TermList ending at `end`, in `scope` (Device, Scope...).
  Result<Flow> Body(Cursor& c, Frame& f, size_t end, const std::string& scope) {
    Cursor inner{c.block, c.pos, end};
    const std::string saved = f.scope;
    if (!scope.empty()) f.scope = scope;
    if (++nesting > limits.max_nesting) {
      --nesting;
      return Limit(c, c.pos, "objects nested past the reader's bound of " + std::to_string(limits.max_nesting));
    }
    auto flow = TermList(inner, f);
    --nesting;
    f.scope = saved;
    c.pos = end;
    return flow;
  }

  Result<Flow> Term(Cursor& c, Frame& f) {
    const size_t at = c.pos;
    if (c.pos >= c.end) return Broken(c, at, "the AML breaks off");
    const uint8_t op = Bytes(c)[c.pos];
    switch (op) {
      case 0x08: {  // Name
        ++c.pos;
        UDRV_TRY(Step(c, at));
        UDRV_TRY_ASSIGN(NameString name, ReadName(c));
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        if (skip) return Flow::NORMAL;
        Node node;
        node.kind = AmlObjectKind::NAME;
        node.value = std::move(v);
        UDRV_TRY(Define(c, at, f, name, std::move(node)));
        return Flow::NORMAL;
      }
      case 0x06: {  // Alias
        ++c.pos;
        UDRV_TRY_ASSIGN(NameString source, ReadName(c));
        UDRV_TRY_ASSIGN(NameString alias, ReadName(c));
        if (skip) return Flow::NORMAL;
        Node node;
        node.kind = AmlObjectKind::ALIAS;
        std::string path;
        Lookup(f.scope, source, &path);
        node.target = path.empty() ? Resolve(f.scope, source) : path;
        UDRV_TRY(Define(c, at, f, alias, std::move(node)));
        return Flow::NORMAL;
      }
      case 0x10: {  // Scope
        ++c.pos;
        UDRV_TRY(Step(c, at));
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        UDRV_TRY_ASSIGN(NameString name, ReadName(c));
        std::string path;
        Node* node = Lookup(f.scope, name, &path);
        if (!node) {
          path = Resolve(f.scope, name);
          if (!skip) {
            Node scope;
            scope.block = c.block;
            scope.offset = static_cast<uint32_t>(at);
            nodes.try_emplace(path, std::move(scope));
          }
        }
        return Body(c, f, end, path);
      }
      case 0x14: {  // Method: its body runs when it is called
        ++c.pos;
        UDRV_TRY(Step(c, at));
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        Cursor inner{c.block, c.pos, end};
        UDRV_TRY_ASSIGN(NameString name, ReadName(inner));
        UDRV_TRY_ASSIGN(uint8_t flags, Byte(inner));
        c.pos = end;
        if (skip) return Flow::NORMAL;
        Node node;
        node.kind = AmlObjectKind::METHOD;
        node.arg_count = flags & 7;
        node.body = static_cast<uint32_t>(inner.pos);
        node.end = static_cast<uint32_t>(end);
        UDRV_TRY(Define(c, at, f, name, std::move(node)));
        return Flow::NORMAL;
      }
      case 0x15: {  // External
        ++c.pos;
        UDRV_TRY_ASSIGN(NameString name, ReadName(c));
        UDRV_TRY_ASSIGN(uint8_t type, Byte(c));
        UDRV_TRY_ASSIGN(uint8_t args, Byte(c));
        if (skip) return Flow::NORMAL;
        const std::string path = Resolve(f.scope, name);
        if (!nodes.contains(path)) {
          Node node;
          node.kind = AmlObjectKind::EXTERNAL;
          node.block = c.block;
          node.offset = static_cast<uint32_t>(at);
          node.arg_count = type == 8 ? static_cast<uint8_t>(args & 7) : 0xFF;  // 8: MethodObj
          nodes.emplace(path, std::move(node));
        }
        return Flow::NORMAL;
      }
      case 0xA0: {  // If, and the Else that may follow
        ++c.pos;
        UDRV_TRY(Step(c, at));
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        Cursor inner{c.block, c.pos, end};
        auto predicate = IntArg(inner, f);
        bool taken = false;
        if (!predicate) {
          if (!f.loading || skip || !Recoverable(predicate.error()))
            return std::unexpected(predicate.error());
          // Table-level code whose predicate needs the kernel: neither branch
          // is loaded (a guess either way); say so.
          problems.push_back(Wrap(predicate.error(), "the If at " + Where(c, at) +
                                                         " is not loaded, nor its Else").error());
          c.pos = end;
          UDRV_TRY(SkipElse(c));
          return Flow::NORMAL;
        }
        taken = !skip && *predicate != 0;
        c.pos = inner.pos;
        Flow flow = Flow::NORMAL;
        if (taken || skip) {
          UDRV_TRY_ASSIGN(flow, Body(c, f, end, ""));
        } else if (f.loading) {
          // iasl wraps its External declarations in If (Zero): they name
          // what other tables define (and a method's argument count).
          Cursor externals{c.block, c.pos, end};
          while (externals.pos < end && Bytes(externals)[externals.pos] == 0x15) UDRV_TRY(Term(externals, f));
        }
        c.pos = end;
        if (c.pos < c.end && Bytes(c)[c.pos] == 0xA1) {
          ++c.pos;
          UDRV_TRY_ASSIGN(size_t else_end, PkgEnd(c));
          if (!taken || skip) {
            if (flow != Flow::NORMAL) return flow;
            UDRV_TRY_ASSIGN(flow, Body(c, f, else_end, ""));
          }
          c.pos = else_end;
        }
        return flow;
      }
      case 0xA1:
        return Broken(c, at, "an Else without an If");
      case 0xA2: {  // While
        ++c.pos;
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        const size_t predicate_at = c.pos;
        while (true) {
          UDRV_TRY(Step(c, at));
          Cursor inner{c.block, predicate_at, end};
          UDRV_TRY_ASSIGN(uint64_t predicate, IntArg(inner, f));
          c.pos = inner.pos;
          if (skip) {
            UDRV_TRY(Body(c, f, end, ""));
            return Flow::NORMAL;
          }
          if (!predicate) break;
          UDRV_TRY_ASSIGN(Flow flow, Body(c, f, end, ""));
          if (flow == Flow::BREAK) break;
          if (flow == Flow::RETURN) return flow;
        }
        c.pos = end;
        return Flow::NORMAL;
      }
      case 0xA3:  // Noop
      case 0xCC:  // BreakPoint
        ++c.pos;
        return Flow::NORMAL;
      case 0xA4: {  // Return
        ++c.pos;
        UDRV_TRY_ASSIGN(Value v, TermArg(c, f));
        if (skip) return Flow::NORMAL;
        if (f.loading) return Flow::NORMAL;  // a table-level Return ends nothing the reader loads
        // A returned name is its object (a Name's buffer, not a copy of it).
        f.returned = std::move(v);
        return Flow::RETURN;
      }
      case 0xA5:
        ++c.pos;
        return skip ? Flow::NORMAL : Flow::BREAK;
      case 0x9F:
        ++c.pos;
        return skip ? Flow::NORMAL : Flow::CONTINUE;
      case 0x5B:
        if (c.pos + 1 < c.end) {
          auto ext = ExtTerm(c, f, Bytes(c)[c.pos + 1]);
          if (!ext || *ext) return ext ? Flow::NORMAL : Result<Flow>(std::unexpected(ext.error()));
        }
        break;
      default:
        break;
    }
    UDRV_TRY(TermArg(c, f));
    return Flow::NORMAL;
  }

  Result<void> SkipElse(Cursor& c) {
    if (c.pos < c.end && Bytes(c)[c.pos] == 0xA1) {
      ++c.pos;
      UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
      c.pos = end;
    }
    return {};
  }

  // Field lists: each unit a FIELD node naming the region it reaches.
  Result<void> FieldList(Cursor& c, Frame& f, size_t end, const std::string& region, const std::string& space) {
    Cursor list{c.block, c.pos, end};
    while (list.pos < end) {
      const size_t at = list.pos;
      UDRV_TRY(Step(list, at));
      const uint8_t lead = Bytes(list)[list.pos];
      if (lead == 0x00) {  // ReservedField
        ++list.pos;
        UDRV_TRY(PkgValue(list));
      } else if (lead == 0x01) {  // AccessField
        list.pos += 1;
        UDRV_TRY(Le(list, 2));
      } else if (lead == 0x02) {  // ConnectField
        ++list.pos;
        if (list.pos < end && Bytes(list)[list.pos] == 0x11) {
          const bool saved = skip;
          skip = true;
          auto walked = TermArg(list, f);
          skip = saved;
          UDRV_TRY(walked);
        } else {
          UDRV_TRY(ReadName(list));
        }
      } else if (lead == 0x03) {  // ExtendedAccessField
        list.pos += 1;
        UDRV_TRY(Le(list, 3));
      } else {
        UDRV_TRY_ASSIGN(std::string seg, NameSeg(list));
        UDRV_TRY(PkgValue(list));
        if (skip) continue;
        Node node;
        node.kind = AmlObjectKind::FIELD;
        node.target = region;
        node.space = space;
        NameString name;
        name.segments.push_back(seg);
        UDRV_TRY(Define(list, at, f, name, std::move(node)));
      }
    }
    c.pos = end;
    return {};
  }
  std::string SpaceOf(const std::string& scope, const NameString& name) {
    std::string path;
    Node* node = Lookup(scope, name, &path);
    if (node && (node->kind == AmlObjectKind::OPERATION_REGION || node->kind == AmlObjectKind::FIELD))
      return node->space;
    return "an OperationRegion no table read here defines";
  }

  // Named objects of the ExtOp page; false where `op` is an expression.
  Result<bool> ExtTerm(Cursor& c, Frame& f, uint8_t op) {
    const size_t at = c.pos;
    switch (op) {
      case 0x01: case 0x02: {  // Mutex, Event
        c.pos += 2;
        UDRV_TRY_ASSIGN(NameString name, ReadName(c));
        if (op == 0x01) UDRV_TRY(Byte(c));
        if (skip) return true;
        Node node;
        node.kind = op == 0x01 ? AmlObjectKind::MUTEX : AmlObjectKind::EVENT;
        UDRV_TRY(Define(c, at, f, name, std::move(node)));
        return true;
      }
      case 0x80: case 0x88: {  // OperationRegion, DataTableRegion: their operands are not run
        c.pos += 2;
        UDRV_TRY_ASSIGN(NameString name, ReadName(c));
        std::string space = "DataTableRegion";
        if (op == 0x80) {
          UDRV_TRY_ASSIGN(uint8_t id, Byte(c));
          space = SpaceName(id);
        }
        const bool saved = skip;
        skip = true;
        Result<void> walked;
        for (int i = 0; i < (op == 0x80 ? 2 : 3) && walked; ++i) {
          auto operand = TermArg(c, f);
          if (!operand) walked = std::unexpected(operand.error());
        }
        skip = saved;
        UDRV_TRY(walked);
        if (skip) return true;
        Node node;
        node.kind = AmlObjectKind::OPERATION_REGION;
        node.space = space;
        UDRV_TRY(Define(c, at, f, name, std::move(node)));
        return true;
      }
      case 0x81: {  // Field
        c.pos += 2;
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        Cursor inner{c.block, c.pos, end};
        UDRV_TRY_ASSIGN(NameString region, ReadName(inner));
        UDRV_TRY(Byte(inner));
        c.pos = inner.pos;
        UDRV_TRY(FieldList(c, f, end, Resolve(f.scope, region), SpaceOf(f.scope, region)));
        return true;
      }
      case 0x86: {  // IndexField
        c.pos += 2;
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        Cursor inner{c.block, c.pos, end};
        UDRV_TRY_ASSIGN(NameString index, ReadName(inner));
        UDRV_TRY_ASSIGN(NameString data, ReadName(inner));
        UDRV_TRY(Byte(inner));
        c.pos = inner.pos;
        UDRV_TRY(FieldList(c, f, end, Resolve(f.scope, data), "IndexField through " + Resolve(f.scope, data) +
                                                                   ", " + SpaceOf(f.scope, data)));
        return true;
      }
      case 0x87: {  // BankField
        c.pos += 2;
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        Cursor inner{c.block, c.pos, end};
        UDRV_TRY_ASSIGN(NameString region, ReadName(inner));
        UDRV_TRY(ReadName(inner));
        const bool saved = skip;
        skip = true;
        auto bank = TermArg(inner, f);
        skip = saved;
        UDRV_TRY(bank);
        UDRV_TRY(Byte(inner));
        c.pos = inner.pos;
        UDRV_TRY(FieldList(c, f, end, Resolve(f.scope, region), "BankField, " + SpaceOf(f.scope, region)));
        return true;
      }
      case 0x82: case 0x83: case 0x84: case 0x85: {  // Device, Processor, PowerResource, ThermalZone
        c.pos += 2;
        UDRV_TRY(Step(c, at));
        UDRV_TRY_ASSIGN(size_t end, PkgEnd(c));
        Cursor inner{c.block, c.pos, end};
        UDRV_TRY_ASSIGN(NameString name, ReadName(inner));
        if (op == 0x83) UDRV_TRY(Le(inner, 6));  // ProcID, PblkAddr, PblkLen
        if (op == 0x84) UDRV_TRY(Le(inner, 3));  // SystemLevel, ResourceOrder
        c.pos = inner.pos;
        const std::string path = Resolve(f.scope, name);
        if (!skip) {
          Node node;
          node.kind = op == 0x82   ? AmlObjectKind::DEVICE
                      : op == 0x83 ? AmlObjectKind::PROCESSOR
                      : op == 0x84 ? AmlObjectKind::POWER_RESOURCE
                                   : AmlObjectKind::THERMAL_ZONE;
          UDRV_TRY(Define(c, at, f, name, std::move(node)));
        }
        UDRV_TRY(Body(c, f, end, path));
        return true;
      }
      default:
        return false;
    }
  }

  Result<void> LoadBlock(size_t block) {
    Frame frame;
    frame.scope = "\\";
    frame.loading = true;
    const auto& bytes = blocks[block].bytes;
    Cursor c{block, kTableHeaderSize, bytes.size()};
    while (c.pos < c.end) {
      steps = 0;
      nesting = 0;
      const size_t at = c.pos;
      auto flow = Term(c, frame);
      if (!flow) {
        if (Recoverable(flow.error())) {
          problems.push_back(flow.error());
          c.pos = at;
          skip = true;
          auto walked = Term(c, frame);
          skip = false;
          if (walked) continue;
          return std::unexpected(walked.error());
        }
        return std::unexpected(flow.error());
      }
    }
    return {};
  }
};

namespace {

AmlData Export(const Value& value, int depth = 0) {
  AmlData out;
  if (auto* n = std::get_if<uint64_t>(&value.v)) {
    out.integer = *n;
  } else if (auto* s = std::get_if<std::string>(&value.v)) {
    out.type = AmlData::Type::STRING;
    out.string = *s;
  } else if (auto* b = std::get_if<BufferPtr>(&value.v)) {
    out.type = AmlData::Type::BUFFER;
    out.buffer = **b;
  } else if (auto* p = std::get_if<PackagePtr>(&value.v)) {
    out.type = AmlData::Type::PACKAGE;
    if (depth < 16)
      for (const Value& element : **p) out.package.push_back(Export(element, depth + 1));
  } else if (auto* r = std::get_if<NameRef>(&value.v)) {
    out.type = AmlData::Type::REFERENCE;
    out.string = r->path;
  } else {
    out.type = AmlData::Type::REFERENCE;
  }
  return out;
}

}  // namespace

AmlNamespace::AmlNamespace(std::unique_ptr<State> state) : state_(std::move(state)) {}
AmlNamespace::AmlNamespace(AmlNamespace&&) noexcept = default;
AmlNamespace& AmlNamespace::operator=(AmlNamespace&&) noexcept = default;
AmlNamespace::~AmlNamespace() = default;

AmlNamespace AmlNamespace::Load(const TableSet& tables, AmlLimits limits) {
  auto state = std::make_unique<State>();
  state->limits = limits;
  for (const char* scope : {"\\", "\\_SB_", "\\_GPE", "\\_PR_", "\\_SI_", "\\_TZ_"})
    state->nodes.emplace(scope, Node{});
  // What the OS defines: evaluating these is the kernel's answer.
  for (auto [name, args] : {std::pair{"\\_OSI", 1}, {"\\_OS_", 0xFF}, {"\\_REV", 0xFF}, {"\\_GL_", 0xFF}}) {
    Node node;
    node.kind = AmlObjectKind::OS_DEFINED;
    node.arg_count = static_cast<uint8_t>(args);
    state->nodes.emplace(name, node);
  }
  for (const Table* table : tables.DefinitionBlocks()) {
    Block block;
    block.name = table->name;
    block.bytes = table->bytes;
    if (block.bytes.size() < kTableHeaderSize) {
      state->problems.push_back(Fail(Status::IO_INVALID, table->name + ": shorter than a table header", table->name).error());
      continue;
    }
    // The header's length bounds the AML (a file may hold more).
    const uint32_t length = static_cast<uint32_t>(block.bytes[4] | (block.bytes[5] << 8) | (block.bytes[6] << 16) |
                                                  (static_cast<uint32_t>(block.bytes[7]) << 24));
    if (length < kTableHeaderSize || length > block.bytes.size()) {
      state->problems.push_back(Fail(Status::IO_INVALID,
                                     table->name + " at 0x4: length " + std::to_string(length) + " unlike its " +
                                         std::to_string(block.bytes.size()) + " bytes",
                                     table->name)
                                    .error());
      if (length < kTableHeaderSize) continue;
    } else {
      block.bytes.resize(length);
    }
    if (block.bytes[8] < 2) block.mask = 0xFFFFFFFFu;  // revision 1: 32-bit integers
    state->blocks.push_back(std::move(block));
    state->object = table->name;
    if (auto loaded = state->LoadBlock(state->blocks.size() - 1); !loaded)
      state->problems.push_back(loaded.error());
    state->skip = false;
  }
  state->object.clear();
  return AmlNamespace(std::move(state));
}

const std::vector<AmlNamespace::DeviceEntry>& AmlNamespace::devices() const { return state_->devices; }
const std::vector<Error>& AmlNamespace::problems() const { return state_->problems; }

std::optional<AmlObjectKind> AmlNamespace::KindOf(std::string_view path) const {
  auto it = state_->Follow(CanonicalAmlPath(path));
  if (it == state_->nodes.end()) return std::nullopt;
  return it->second.kind;
}

Result<AmlData> AmlNamespace::Evaluate(std::string_view path, std::span<const uint64_t> args) {
  State& s = *state_;
  auto it = s.Follow(CanonicalAmlPath(path));
  if (it == s.nodes.end()) return Fail(Status::NOT_FOUND, "no such object in the namespace", CanonicalAmlPath(path));
  const std::string canonical = it->first;
  s.object = canonical;
  s.steps = 0;
  s.nesting = 0;
  s.calls = 0;
  s.skip = false;
  Node& node = it->second;
  Cursor where{node.block, node.offset, node.offset};
  Result<Value> value;
  if (node.kind == AmlObjectKind::METHOD) {
    if (args.size() > 7) return Fail(Status::INVALID_ARGS, "more than 7 arguments", canonical);
    std::array<Value, 7> frame_args;
    for (size_t i = 0; i < args.size(); ++i) frame_args[i] = Int(args[i]);
    value = s.Invoke(where, node.offset, canonical, node, std::move(frame_args));
  } else if (s.blocks.empty()) {
    return Fail(Status::NOT_FOUND, "no definition block was loaded", canonical);
  } else {
    value = s.ReadNode(where, node.offset, canonical, node);
  }
  s.object.clear();
  if (!value) return std::unexpected(value.error());
  if (value->empty())
    return Fail(Status::IO_INVALID, s.Where(where, node.offset) + ": " + canonical + " returns no value", canonical);
  // A returned reference to a Name is the Name's value.
  if (auto* ref = std::get_if<NameRef>(&value->v)) {
    auto target = s.nodes.find(ref->path);
    if (target != s.nodes.end() && target->second.kind == AmlObjectKind::NAME) return Export(target->second.value);
  }
  return Export(*value);
}

std::string CanonicalAmlPath(std::string_view path) {
  std::string out = "\\";
  if (path.starts_with('\\')) path.remove_prefix(1);
  bool first = true;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    std::string seg(path.substr(0, dot));
    if (seg.size() < 4) seg.append(4 - seg.size(), '_');
    out += (first ? "" : ".") + seg;
    first = false;
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return out;
}

std::string DecodeEisaId(uint32_t id) {
  const uint32_t swapped = ((id & 0xFF) << 24) | ((id & 0xFF00) << 8) | ((id >> 8) & 0xFF00) | (id >> 24);
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out += static_cast<char>(0x40 + ((swapped >> 26) & 0x1F));
  out += static_cast<char>(0x40 + ((swapped >> 21) & 0x1F));
  out += static_cast<char>(0x40 + ((swapped >> 16) & 0x1F));
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(swapped >> shift) & 0xF];
  return out;
}

}  // namespace udrv::acpi
