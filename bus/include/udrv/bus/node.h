// A device node: one device as a bus enumerated it, described by typed
// properties that bind rules (bind_rules.h) match, as in Fuchsia's driver
// framework. Nodes are plain values: a bus makes them, the driver manager
// matches them, and they can be printed, compared and (later) sent to
// another process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::bus {

// A property's value: a number (IDs, class codes), a string (addresses,
// driver names), or a list of either, in the order the bus gave it (a device
// tree `compatible` list, most specific first; ACPI `_CID`s).
using NumberList = std::vector<uint32_t>;
using StringList = std::vector<std::string>;
using PropertyValue = std::variant<uint32_t, std::string, NumberList, StringList>;

// What a list may hold: entries, and bytes of its strings together. Set and
// ParseNode refuse more (OUT_OF_RANGE, IO_INVALID), so a node's text stays
// small whoever made it.
inline constexpr size_t kMaxListEntries = 256;
inline constexpr size_t kMaxListStringBytes = 16 * 1024;

// "0x11e8" for a number, "\"qemu,edu\"" for a string (Printable: a value
// read from sysfs can hold anything), "[\"acme,uart2\", \"ns16550a\"]" or
// "[0x1, 0x2]" for a list: how values appear in rules, explanations and
// listings.
std::string FormatPropertyValue(const PropertyValue& value);

// Whether `value` is a NumberList or a StringList.
bool IsList(const PropertyValue& value);
// The entries a bind rule tries, in order: a list's, or the value itself.
std::vector<PropertyValue> PropertyEntries(const PropertyValue& value);

// Keys are dotted, named after the bus that defines them: "pci.vendor",
// later "fdt.compatible", "acpi.cid", "usb.vid". Each key holds one value.
class Properties {
 public:
  // Sets `key`, replacing an earlier value of it.
  void Set(std::string key, uint32_t value);
  void Set(std::string key, std::string value);
  // OUT_OF_RANGE naming the key for a list past kMaxListEntries or
  // kMaxListStringBytes; the property is left as it was.
  Result<void> SetList(std::string key, NumberList values);
  Result<void> SetList(std::string key, StringList values);

  // The value of `key`, or nullptr when the node has no such property.
  const PropertyValue* Find(std::string_view key) const;
  // A single value of that type; nullopt for another type or a list.
  std::optional<uint32_t> FindNumber(std::string_view key) const;
  std::optional<std::string> FindString(std::string_view key) const;

  // In the order they were first set.
  const std::vector<std::pair<std::string, PropertyValue>>& entries() const { return entries_; }

  bool operator==(const Properties&) const = default;

 private:
  void SetValue(std::string key, PropertyValue value);

  std::vector<std::pair<std::string, PropertyValue>> entries_;
};

struct DeviceNode {
  // The bus that enumerated the node and opens it ("pci").
  std::string bus;
  // Stable across runs on the same machine and topological: the bus name,
  // then the path from the bus's root down to the node, as
  // "pci/0000:00:1c.0/0000:03:00.0" (a function behind a bridge).
  std::string id;
  // The parent node's id; empty for a node at the root of its bus.
  std::string parent;
  Properties properties;

  bool operator==(const DeviceNode&) const = default;
};

// A node as text, for a driver host that receives its node from the root
// bus (pci/isolation.h): a "udrv.node/1" line, then one "KEY VALUE" line
// each for bus, id and parent, then in order "property KEY number 0xN",
// "property KEY string TEXT", "property KEY numbers COUNT 0xN ..." or
// "property KEY strings COUNT TEXT ...". Backslashes and newlines in keys
// and values are escaped (\\, \n), and spaces in keys and list entries (\s).
std::string SerializeNode(const DeviceNode& node);
// IO_INVALID naming the line for anything SerializeNode would not write.
Result<DeviceNode> ParseNode(std::string_view text);

}  // namespace udrv::bus
