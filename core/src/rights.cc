#include "udrv/core/rights.h"

#include <array>
#include <cstdio>
#include <utility>

namespace udrv {

std::string RightsToString(Rights rights) {
  static constexpr std::array<std::pair<Rights, const char*>, 17> kNames{{
      {kRightDuplicate, "DUPLICATE"},     {kRightTransfer, "TRANSFER"},
      {kRightRead, "READ"},               {kRightWrite, "WRITE"},
      {kRightExecute, "EXECUTE"},         {kRightMap, "MAP"},
      {kRightGetProperty, "GET_PROPERTY"}, {kRightSetProperty, "SET_PROPERTY"},
      {kRightEnumerate, "ENUMERATE"},     {kRightDestroy, "DESTROY"},
      {kRightSetPolicy, "SET_POLICY"},    {kRightGetPolicy, "GET_POLICY"},
      {kRightSignal, "SIGNAL"},           {kRightSignalPeer, "SIGNAL_PEER"},
      {kRightWait, "WAIT"},               {kRightInspect, "INSPECT"},
      {kRightSameRights, "SAME_RIGHTS"},
  }};
  std::string text;
  Rights known = 0;
  for (const auto& [bit, name] : kNames) {
    known |= bit;
    if ((rights & bit) == 0) continue;
    if (!text.empty()) text += '|';
    text += name;
  }
  if ((rights & ~known) != 0) {
    if (!text.empty()) text += '|';
    char hex[16];
    std::snprintf(hex, sizeof(hex), "0x%x", rights & ~known);
    text += hex;
  }
  return text.empty() ? "NONE" : text;
}

}  // namespace udrv
