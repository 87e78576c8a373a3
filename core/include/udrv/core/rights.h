// Rights with Fuchsia's bit values (zircon/rights.h).
#pragma once

#include <cstdint>
#include <string>

namespace udrv {

using Rights = uint32_t;

inline constexpr Rights kRightNone = 0;
inline constexpr Rights kRightDuplicate = 1u << 0;
inline constexpr Rights kRightTransfer = 1u << 1;
inline constexpr Rights kRightRead = 1u << 2;
inline constexpr Rights kRightWrite = 1u << 3;
inline constexpr Rights kRightExecute = 1u << 4;
inline constexpr Rights kRightMap = 1u << 5;
inline constexpr Rights kRightGetProperty = 1u << 6;
inline constexpr Rights kRightSetProperty = 1u << 7;
inline constexpr Rights kRightEnumerate = 1u << 8;
inline constexpr Rights kRightDestroy = 1u << 9;
inline constexpr Rights kRightSetPolicy = 1u << 10;
inline constexpr Rights kRightGetPolicy = 1u << 11;
inline constexpr Rights kRightSignal = 1u << 12;
inline constexpr Rights kRightSignalPeer = 1u << 13;
inline constexpr Rights kRightWait = 1u << 14;
inline constexpr Rights kRightInspect = 1u << 15;
inline constexpr Rights kRightSameRights = 1u << 31;

inline constexpr Rights kRightsBasic = kRightTransfer | kRightDuplicate | kRightWait | kRightInspect;
inline constexpr Rights kRightsIo = kRightRead | kRightWrite;
inline constexpr Rights kRightsProperty = kRightGetProperty | kRightSetProperty;

inline constexpr Rights kDefaultVmoRights =
    kRightsBasic | kRightsIo | kRightsProperty | kRightMap | kRightSignal;
inline constexpr Rights kDefaultVmarRights =
    kRightsBasic | kRightsIo | kRightExecute | kRightMap | kRightsProperty | kRightDestroy;
inline constexpr Rights kDefaultInterruptRights =
    kRightsBasic | kRightsIo | kRightSignal;
inline constexpr Rights kDefaultPortRights = kRightsBasic | kRightsIo;
// Zircon's ZX_DEFAULT_BTI_RIGHTS and ZX_DEFAULT_PMT_RIGHTS (dma/bti.h).
inline constexpr Rights kDefaultBtiRights =
    (kRightsBasic & ~kRightWait) | kRightsIo | kRightMap;
inline constexpr Rights kDefaultPmtRights = kRightInspect;

// "READ|WRITE|MAP", for error messages and busctl.
std::string RightsToString(Rights rights);

}  // namespace udrv
