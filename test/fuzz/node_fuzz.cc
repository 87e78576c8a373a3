// Serialized device nodes (bus::ParseNode): what a driver host reads from
// the node VMO the root bus sends it. Any input either fails cleanly or
// parses to a node that SerializeNode writes back and ParseNode reads
// again as the same node.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "udrv/bus/node.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto node = udrv::bus::ParseNode(text);
  if (!node) return 0;
  auto again = udrv::bus::ParseNode(udrv::bus::SerializeNode(*node));
  if (!again || !(*again == *node)) std::abort();
  return 0;
}
