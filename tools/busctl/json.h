// A small JSON document model for busctl's --json output: values keep the
// order they were added in, so output is stable and diffable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::busctl {

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(bool value) : value_(value) {}
  Json(int value) : value_(static_cast<int64_t>(value)) {}
  Json(int64_t value) : value_(value) {}
  Json(uint32_t value) : value_(static_cast<uint64_t>(value)) {}
  Json(uint64_t value) : value_(value) {}
  Json(const char* value) : value_(std::string(value)) {}
  Json(std::string value) : value_(std::move(value)) {}
  Json(std::string_view value) : value_(std::string(value)) {}
  Json(Array value) : value_(std::move(value)) {}
  Json(Object value) : value_(std::move(value)) {}

  static Json MakeArray() { return Json(Array{}); }
  static Json MakeObject() { return Json(Object{}); }

  // Appends to an array / sets a key of an object (replacing an existing
  // one). Calling them on the other kinds is a programming error (aborts).
  Json& Push(Json value);
  Json& Set(std::string key, Json value);

  bool is_null() const { return std::holds_alternative<std::monostate>(value_); }

  // Two-space indented, keys in insertion order, newline at the end.
  std::string Dump() const;

  // Reads JSON text back (json_parse.cc): integers only, no fractions.
  // IO_INVALID saying what is wrong at which byte.
  static Result<Json> Parse(std::string_view text);
  // The member `key` of an object / the string / the array; nullptr when
  // this value is of another kind or has no such member.
  const Json* Find(std::string_view key) const;
  const std::string* AsString() const;
  const Array* AsArray() const;

 private:
  void DumpTo(std::string& out, int depth) const;
  std::variant<std::monostate, bool, int64_t, uint64_t, std::string, Array, Object> value_;
};

// JSON string escaping (RFC 8259) of `text`, quotes included. Controls, DEL
// and C1 controls are \u escapes; bytes that are not UTF-8 become U+FFFD.
std::string JsonQuote(std::string_view text);

}  // namespace udrv::busctl
