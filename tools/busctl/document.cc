#include "document.h"

namespace udrv::busctl {

std::string DumpJson(const Json& document) {
  return document.dump(2, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace) + "\n";
}

Result<Json> ParseJson(std::string_view text, const std::string& origin) {
  // nlohmann reports a syntax error by exception; it ends here.
  try {
    return Json::parse(text);
  } catch (const Json::exception& error) {
    // what() starts with "[json.exception.parse_error.101] ", which says nothing to a reader.
    std::string_view what = error.what();
    if (const size_t end = what.find("] "); what.starts_with("[json.") && end != what.npos) {
      what.remove_prefix(end + 2);
    }
    return Fail(Status::IO_INVALID, "parse JSON: " + std::string(what), origin);
  }
}

}  // namespace udrv::busctl
