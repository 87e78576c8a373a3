#include "udrv/bus/protocol.h"

namespace udrv::bus {

std::string ProtocolSet::Names() const {
  std::string names;
  for (const Entry& entry : entries_) names += (names.empty() ? "" : ", ") + entry.name;
  return names.empty() ? "none" : names;
}

}  // namespace udrv::bus
