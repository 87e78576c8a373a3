// busctl's JSON documents (--json output, the binding state file) as
// nlohmann-json values. ordered_json keeps members in the order they were
// added, so output is stable and diffable.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "udrv/core/result.h"

namespace udrv::busctl {

using Json = nlohmann::ordered_json;

// Two-space indented, newline at the end. Everything outside printable ASCII
// is a \u escape (controls, DEL, C1 controls: a document printed on a
// terminal cannot steer it), and a byte that is not UTF-8 becomes U+FFFD.
std::string DumpJson(const Json& document);

// Reads JSON text; IO_INVALID saying what is wrong at which byte, `origin`
// as the object.
Result<Json> ParseJson(std::string_view text, const std::string& origin);

}  // namespace udrv::busctl
