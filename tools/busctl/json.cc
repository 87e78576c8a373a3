#include "json.h"

#include <cstdio>
#include <cstdlib>

#include "udrv/core/text.h"

namespace udrv::busctl {

Json& Json::Push(Json value) {
  auto* array = std::get_if<Array>(&value_);
  if (array == nullptr) std::abort();
  array->push_back(std::move(value));
  return array->back();
}

Json& Json::Set(std::string key, Json value) {
  auto* object = std::get_if<Object>(&value_);
  if (object == nullptr) std::abort();
  for (auto& [existing, slot] : *object) {
    if (existing == key) {
      slot = std::move(value);
      return slot;
    }
  }
  object->emplace_back(std::move(key), std::move(value));
  return object->back().second;
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  auto escape = [&out](uint32_t code) {
    char escaped[8];
    std::snprintf(escaped, sizeof(escaped), "\\u%04x", code);
    out += escaped;
  };
  for (size_t at = 0; at < text.size();) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte < 0x80) {
      switch (byte) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          // Controls and DEL as \u escapes: the value stays, and a document
          // printed on a terminal cannot steer it.
          if (byte < 0x20 || byte == 0x7f) {
            escape(byte);
          } else {
            out += static_cast<char>(byte);
          }
      }
      ++at;
      continue;
    }
    uint32_t code = 0;
    const size_t length = Utf8SequenceLength(text.substr(at), code);
    if (length == 0) {
      // JSON text is UTF-8: a byte that is none becomes U+FFFD.
      escape(0xfffd);
      ++at;
    } else if (code < 0xa0) {
      escape(code);  // a C1 control (U+009B is CSI to some terminals)
      at += length;
    } else {
      out.append(text.substr(at, length));
      at += length;
    }
  }
  return out + "\"";
}

void Json::DumpTo(std::string& out, int depth) const {
  const std::string indent(static_cast<size_t>(depth + 1) * 2, ' ');
  const std::string closing(static_cast<size_t>(depth) * 2, ' ');
  if (std::holds_alternative<std::monostate>(value_)) {
    out += "null";
  } else if (const bool* b = std::get_if<bool>(&value_)) {
    out += *b ? "true" : "false";
  } else if (const int64_t* i = std::get_if<int64_t>(&value_)) {
    out += std::to_string(*i);
  } else if (const uint64_t* u = std::get_if<uint64_t>(&value_)) {
    out += std::to_string(*u);
  } else if (const std::string* s = std::get_if<std::string>(&value_)) {
    out += JsonQuote(*s);
  } else if (const Array* array = std::get_if<Array>(&value_)) {
    if (array->empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t n = 0; n < array->size(); ++n) {
      out += indent;
      (*array)[n].DumpTo(out, depth + 1);
      out += n + 1 < array->size() ? ",\n" : "\n";
    }
    out += closing + "]";
  } else if (const Object* object = std::get_if<Object>(&value_)) {
    if (object->empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    for (size_t n = 0; n < object->size(); ++n) {
      out += indent + JsonQuote((*object)[n].first) + ": ";
      (*object)[n].second.DumpTo(out, depth + 1);
      out += n + 1 < object->size() ? ",\n" : "\n";
    }
    out += closing + "}";
  }
}

std::string Json::Dump() const {
  std::string out;
  DumpTo(out, 0);
  return out + "\n";
}

}  // namespace udrv::busctl
