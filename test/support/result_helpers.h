// What every suite needs to check Results: Catch prints a failed Status by
// name and a failed Result as its whole error; StatusOf turns a Result into a
// comparable name; REQUIRE_OK stops a test with the error's text.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "udrv/core/result.h"

namespace Catch {
template <>
struct StringMaker<udrv::Status> {
  static std::string convert(udrv::Status status) { return std::string(udrv::StatusName(status)); }
};
template <typename T>
struct StringMaker<udrv::Result<T>> {
  static std::string convert(const udrv::Result<T>& result) {
    return result ? "OK" : result.error().ToString();
  }
};
}  // namespace Catch

namespace udrv::testing {

template <typename T>
std::string_view StatusOf(const Result<T>& result) {
  return result ? "OK" : StatusName(result.error().status);
}

}  // namespace udrv::testing

#define REQUIRE_OK(expr)                                              \
  do {                                                                \
    const auto& result_ = (expr);                                     \
    INFO((result_ ? std::string("OK") : result_.error().ToString())); \
    REQUIRE(result_.has_value());                                     \
  } while (0)
