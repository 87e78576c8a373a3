#include "udrv/core/result.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace udrv {

std::string Error::ToString() const {
  std::string text(StatusName(status));
  text += ": ";
  text += what;
  if (!object.empty()) text += " [" + object + "]";
  if (err_no != 0) {
    text += " (errno " + std::to_string(err_no) + ": " + std::strerror(err_no) + ")";
  }
  return text;
}

std::unexpected<Error> FailErrno(int err, std::string what, std::string object) {
  return Fail(StatusFromErrno(err), std::move(what), std::move(object), err);
}

std::string Hex(uint64_t value, int min_digits) {
  char text[24];
  // A uint64_t has at most 16 digits: more padding is not a value.
  std::snprintf(text, sizeof(text), "0x%0*llx", std::clamp(min_digits, 1, 16),
                static_cast<unsigned long long>(value));
  return text;
}

}  // namespace udrv
