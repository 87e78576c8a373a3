#include "udrv/core/status.h"

#include <cerrno>

namespace udrv {

std::string_view StatusName(Status status) {
  switch (status) {
#define UDRV_STATUS_NAME(name) \
  case Status::name:           \
    return #name;
    UDRV_STATUS_NAME(OK)
    UDRV_STATUS_NAME(INTERNAL)
    UDRV_STATUS_NAME(NOT_SUPPORTED)
    UDRV_STATUS_NAME(NO_RESOURCES)
    UDRV_STATUS_NAME(NO_MEMORY)
    UDRV_STATUS_NAME(INTERNAL_INTR_RETRY)
    UDRV_STATUS_NAME(INVALID_ARGS)
    UDRV_STATUS_NAME(BAD_HANDLE)
    UDRV_STATUS_NAME(WRONG_TYPE)
    UDRV_STATUS_NAME(BAD_SYSCALL)
    UDRV_STATUS_NAME(OUT_OF_RANGE)
    UDRV_STATUS_NAME(BUFFER_TOO_SMALL)
    UDRV_STATUS_NAME(BAD_STATE)
    UDRV_STATUS_NAME(TIMED_OUT)
    UDRV_STATUS_NAME(SHOULD_WAIT)
    UDRV_STATUS_NAME(CANCELED)
    UDRV_STATUS_NAME(PEER_CLOSED)
    UDRV_STATUS_NAME(NOT_FOUND)
    UDRV_STATUS_NAME(ALREADY_EXISTS)
    UDRV_STATUS_NAME(ALREADY_BOUND)
    UDRV_STATUS_NAME(UNAVAILABLE)
    UDRV_STATUS_NAME(ACCESS_DENIED)
    UDRV_STATUS_NAME(IO)
    UDRV_STATUS_NAME(IO_REFUSED)
    UDRV_STATUS_NAME(IO_DATA_INTEGRITY)
    UDRV_STATUS_NAME(IO_DATA_LOSS)
    UDRV_STATUS_NAME(IO_NOT_PRESENT)
    UDRV_STATUS_NAME(IO_OVERRUN)
    UDRV_STATUS_NAME(IO_MISSED_DEADLINE)
    UDRV_STATUS_NAME(IO_INVALID)
    UDRV_STATUS_NAME(BAD_PATH)
    UDRV_STATUS_NAME(NOT_DIR)
    UDRV_STATUS_NAME(NOT_FILE)
    UDRV_STATUS_NAME(FILE_BIG)
    UDRV_STATUS_NAME(NO_SPACE)
    UDRV_STATUS_NAME(NOT_EMPTY)
    UDRV_STATUS_NAME(STOP)
    UDRV_STATUS_NAME(NEXT)
    UDRV_STATUS_NAME(ASYNC)
    UDRV_STATUS_NAME(PROTOCOL_NOT_SUPPORTED)
    UDRV_STATUS_NAME(ADDRESS_UNREACHABLE)
    UDRV_STATUS_NAME(ADDRESS_IN_USE)
    UDRV_STATUS_NAME(NOT_CONNECTED)
    UDRV_STATUS_NAME(CONNECTION_REFUSED)
    UDRV_STATUS_NAME(CONNECTION_RESET)
    UDRV_STATUS_NAME(CONNECTION_ABORTED)
#undef UDRV_STATUS_NAME
  }
  return "UNKNOWN_STATUS";
}

Status StatusFromErrno(int err) {
  switch (err) {
    case 0:
      return Status::OK;
    case EPERM:
    case EACCES:
    case EROFS:
      return Status::ACCESS_DENIED;
    case ENOENT:
    case ENXIO:
    case ESRCH:
      return Status::NOT_FOUND;
    case ENODEV:
      return Status::IO_NOT_PRESENT;
    case EINVAL:
    case EFAULT:
      return Status::INVALID_ARGS;
    case EBADF:
      return Status::BAD_HANDLE;
    case ENOMEM:
      return Status::NO_MEMORY;
    case ENOSPC:
    case EMFILE:
    case ENFILE:
      return Status::NO_RESOURCES;
    case EEXIST:
      return Status::ALREADY_EXISTS;
    case EBUSY:
      return Status::UNAVAILABLE;
    case EAGAIN:
      return Status::SHOULD_WAIT;
    case ETIMEDOUT:
      return Status::TIMED_OUT;
    case ENOTSUP:
    case ENOSYS:
    case ENOTTY:
      return Status::NOT_SUPPORTED;
    case ENOTDIR:
      return Status::NOT_DIR;
    case EISDIR:
      return Status::NOT_FILE;
    case EFBIG:
    case EOVERFLOW:
      return Status::FILE_BIG;
    case ERANGE:
      return Status::OUT_OF_RANGE;
    case EPIPE:
    case ECONNRESET:
      return Status::PEER_CLOSED;
    case ECONNREFUSED:
      return Status::CONNECTION_REFUSED;
    case EINTR:
      return Status::INTERNAL_INTR_RETRY;
    case ECANCELED:
      return Status::CANCELED;
    case EIO:
      return Status::IO;
    default:
      return Status::INTERNAL;
  }
}

}  // namespace udrv
