// Status codes with Fuchsia's names and values (zircon/errors.h), so a
// driver ported from the DDK keeps its error handling.
#pragma once

#include <cstdint>
#include <string_view>

namespace udrv {

enum class Status : int32_t {
  OK = 0,
  INTERNAL = -1,
  NOT_SUPPORTED = -2,
  NO_RESOURCES = -3,
  NO_MEMORY = -4,
  INTERNAL_INTR_RETRY = -6,
  INVALID_ARGS = -10,
  BAD_HANDLE = -11,
  WRONG_TYPE = -12,
  BAD_SYSCALL = -13,
  OUT_OF_RANGE = -14,
  BUFFER_TOO_SMALL = -15,
  BAD_STATE = -20,
  TIMED_OUT = -21,
  SHOULD_WAIT = -22,
  CANCELED = -23,
  PEER_CLOSED = -24,
  NOT_FOUND = -25,
  ALREADY_EXISTS = -26,
  ALREADY_BOUND = -27,
  UNAVAILABLE = -28,
  ACCESS_DENIED = -30,
  IO = -40,
  IO_REFUSED = -41,
  IO_DATA_INTEGRITY = -42,
  IO_DATA_LOSS = -43,
  IO_NOT_PRESENT = -44,
  IO_OVERRUN = -45,
  IO_MISSED_DEADLINE = -46,
  IO_INVALID = -47,
  BAD_PATH = -50,
  NOT_DIR = -51,
  NOT_FILE = -52,
  FILE_BIG = -53,
  NO_SPACE = -54,
  NOT_EMPTY = -55,
  STOP = -60,
  NEXT = -61,
  ASYNC = -62,
  PROTOCOL_NOT_SUPPORTED = -70,
  ADDRESS_UNREACHABLE = -71,
  ADDRESS_IN_USE = -72,
  NOT_CONNECTED = -73,
  CONNECTION_REFUSED = -74,
  CONNECTION_RESET = -75,
  CONNECTION_ABORTED = -76,
};

// "ZX_ERR_INVALID_ARGS"-style name without the prefix: "INVALID_ARGS".
std::string_view StatusName(Status status);

// The closest status for an errno value from a failed Linux call.
Status StatusFromErrno(int err);

}  // namespace udrv
