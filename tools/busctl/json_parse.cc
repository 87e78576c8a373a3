// Json::Parse and the accessors busctl uses to read its own files back (the
// binding state file). RFC 8259, except that numbers must be integers:
// nothing busctl writes has fractions.
#include <cstdlib>
#include <limits>

#include "json.h"

namespace udrv::busctl {

namespace {

// Nested arrays and objects deeper than this are refused rather than
// recursed into: busctl's files are a few levels deep.
constexpr int kMaxDepth = 64;

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Json> ParseDocument() {
    auto value = ParseValue(0);
    if (!value) return value;
    SkipWhitespace();
    if (pos_ != text_.size()) return Error("text after the JSON value");
    return value;
  }

 private:
  std::unexpected<udrv::Error> Error(std::string_view what) const {
    return Fail(Status::IO_INVALID,
                "parse JSON: " + std::string(what) + " at byte " + std::to_string(pos_));
  }

  void SkipWhitespace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(std::string_view token) {
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }

  Result<Json> ParseValue(int depth) {
    if (depth > kMaxDepth) return Error("nesting deeper than " + std::to_string(kMaxDepth));
    SkipWhitespace();
    if (pos_ >= text_.size()) return Error("unexpected end of text");
    const char c = text_[pos_];
    if (c == '{') return ParseObject(depth);
    if (c == '[') return ParseArray(depth);
    if (c == '"') {
      auto text = ParseString();
      if (!text) return std::unexpected(text.error());
      return Json(std::move(*text));
    }
    if (Consume("true")) return Json(true);
    if (Consume("false")) return Json(false);
    if (Consume("null")) return Json();
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
    return Error(std::string("unexpected character '") + c + "'");
  }

  Result<Json> ParseObject(int depth) {
    ++pos_;  // '{'
    Json object = Json::MakeObject();
    SkipWhitespace();
    if (Consume("}")) return object;
    while (true) {
      SkipWhitespace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return Error("expected a string key");
      auto key = ParseString();
      if (!key) return std::unexpected(key.error());
      SkipWhitespace();
      if (!Consume(":")) return Error("expected ':'");
      auto value = ParseValue(depth + 1);
      if (!value) return value;
      object.Set(std::move(*key), std::move(*value));
      SkipWhitespace();
      if (Consume("}")) return object;
      if (!Consume(",")) return Error("expected ',' or '}'");
    }
  }

  Result<Json> ParseArray(int depth) {
    ++pos_;  // '['
    Json array = Json::MakeArray();
    SkipWhitespace();
    if (Consume("]")) return array;
    while (true) {
      auto value = ParseValue(depth + 1);
      if (!value) return value;
      array.Push(std::move(*value));
      SkipWhitespace();
      if (Consume("]")) return array;
      if (!Consume(",")) return Error("expected ',' or ']'");
    }
  }

  Result<uint32_t> ParseHex4() {
    if (text_.size() - pos_ < 4) return Error("short \\u escape");
    uint32_t code = 0;
    for (int n = 0; n < 4; ++n) {
      const char c = text_[pos_++];
      code <<= 4;
      if (c >= '0' && c <= '9') {
        code |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        code |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        code |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Error("bad hex digit in \\u escape");
      }
    }
    return code;
  }

  static void AppendUtf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xe0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }

  Result<std::string> ParseString() {
    ++pos_;  // '"'
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) return Error("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) return Error("unterminated escape");
      const char escaped = text_[pos_++];
      switch (escaped) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          auto code = ParseHex4();
          if (!code) return std::unexpected(code.error());
          if (*code >= 0xd800 && *code < 0xdc00) {
            if (!Consume("\\u")) return Error("lone high surrogate");
            auto low = ParseHex4();
            if (!low) return std::unexpected(low.error());
            if (*low < 0xdc00 || *low >= 0xe000) return Error("bad low surrogate");
            *code = 0x10000 + ((*code - 0xd800) << 10) + (*low - 0xdc00);
          } else if (*code >= 0xdc00 && *code < 0xe000) {
            return Error("lone low surrogate");
          }
          AppendUtf8(out, *code);
          break;
        }
        default:
          return Error(std::string("bad escape '\\") + escaped + "'");
      }
    }
  }

  Result<Json> ParseNumber() {
    const size_t start = pos_;
    const bool negative = text_[pos_] == '-';
    if (negative) ++pos_;
    const size_t digits = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == digits) return Error("a number without digits");
    if (text_[digits] == '0' && pos_ - digits > 1) return Error("a number with a leading zero");
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      return Error("a number that is not an integer");
    }
    uint64_t magnitude = 0;
    for (size_t n = digits; n < pos_; ++n) {
      const auto digit = static_cast<uint64_t>(text_[n] - '0');
      if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
        pos_ = start;
        return Error("an integer past 64 bits");
      }
      magnitude = magnitude * 10 + digit;
    }
    if (!negative) return Json(magnitude);
    if (magnitude > uint64_t{1} << 63) {
      pos_ = start;
      return Error("an integer past 64 bits");
    }
    return Json(static_cast<int64_t>(0 - magnitude));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<Json> Json::Parse(std::string_view text) { return Parser(text).ParseDocument(); }

const Json* Json::Find(std::string_view key) const {
  const Object* object = std::get_if<Object>(&value_);
  if (object == nullptr) return nullptr;
  for (const auto& [name, value] : *object) {
    if (name == key) return &value;
  }
  return nullptr;
}

const std::string* Json::AsString() const { return std::get_if<std::string>(&value_); }

const Json::Array* Json::AsArray() const { return std::get_if<Array>(&value_); }

}  // namespace udrv::busctl
