// Errors are values: a status plus the context a user needs to act on it
// (what was attempted, on which object, and the errno where Linux said no).
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <utility>

#include "udrv/core/status.h"

namespace udrv {

struct Error {
  Status status = Status::INTERNAL;
  std::string what;    // the operation and why it failed, in words
  std::string object;  // the object or device it concerns ("vmo 'bar0'", "0000:00:02.0"); may be empty
  int err_no = 0;      // errno from the failed Linux call, 0 if none

  // "INVALID_ARGS: map: WRITE without READ [vmar 'root'] (errno 22: Invalid argument)"
  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;

// Builds the unexpected value: `return Fail(Status::BAD_STATE, "vmo is mapped", name);`
inline std::unexpected<Error> Fail(Status status, std::string what, std::string object = {},
                                   int err_no = 0) {
  return std::unexpected<Error>(Error{status, std::move(what), std::move(object), err_no});
}

// A failed Linux call: the status follows errno. `what` names the call and its argument.
std::unexpected<Error> FailErrno(int err, std::string what, std::string object = {});

// "0x1f": how addresses, offsets and sizes appear in error messages; with
// at least `min_digits` digits, zero-padded ("0x01" for a byte field).
std::string Hex(uint64_t value, int min_digits = 1);

// Adds context as an error travels up: "open BAR 0: <inner what>".
inline std::unexpected<Error> Wrap(Error inner, std::string_view context) {
  inner.what = std::string(context) + ": " + inner.what;
  return std::unexpected<Error>(std::move(inner));
}

}  // namespace udrv

// Early return of a failure, instead of `if (!x) return std::unexpected(x.error());`
// at every call. Standard C++ (no statement expressions: -Wpedantic):
//   UDRV_TRY(vmo.Write(data, 0));                  // a Result<void> (or any Result)
//   UDRV_TRY_ASSIGN(auto fd, OpenFile(path));       // declares `fd` from the value
//   UDRV_TRY_ASSIGN(existing, ReadAttribute(...));  // or assigns to a variable
#define UDRV_TRY(expression)                                                   \
  do {                                                                         \
    if (auto udrv_try_result_ = (expression); !udrv_try_result_)               \
      return std::unexpected(std::move(udrv_try_result_).error());             \
  } while (false)

#define UDRV_TRY_CONCAT_INNER_(a, b) a##b
#define UDRV_TRY_CONCAT_(a, b) UDRV_TRY_CONCAT_INNER_(a, b)
#define UDRV_TRY_ASSIGN(target, expression) \
  UDRV_TRY_ASSIGN_IMPL_(UDRV_TRY_CONCAT_(udrv_try_value_, __LINE__), target, expression)
#define UDRV_TRY_ASSIGN_IMPL_(temporary, target, expression)        \
  auto temporary = (expression);                                    \
  if (!temporary) return std::unexpected(std::move(temporary).error()); \
  target = std::move(*temporary)
