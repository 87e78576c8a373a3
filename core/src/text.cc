#include "udrv/core/text.h"

#include <cstdint>

namespace udrv {
namespace {

void AppendByteEscape(std::string& out, unsigned char byte) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += "\\x";
  out += kDigits[byte >> 4];
  out += kDigits[byte & 0xf];
}

// Printable's escapes; with `backslash`, the backslash as \\ too.
std::string Escape(std::string_view text, bool backslash) {
  std::string out;
  out.reserve(text.size());
  for (size_t at = 0; at < text.size();) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte >= 0x20 && byte < 0x7f) {
      if (backslash && byte == '\\') out += '\\';
      out += static_cast<char>(byte);
      ++at;
      continue;
    }
    if (byte < 0x80) {
      switch (byte) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case 0x1b: out += "\\e"; break;
        default: AppendByteEscape(out, byte); break;
      }
      ++at;
      continue;
    }
    uint32_t code_point = 0;
    const size_t length = Utf8SequenceLength(text.substr(at), code_point);
    if (length == 0 || code_point < 0xa0) {
      // Not UTF-8, or a C1 control: each byte shown as itself.
      const size_t bytes = length == 0 ? 1 : length;
      for (size_t i = 0; i < bytes; ++i) AppendByteEscape(out, static_cast<unsigned char>(text[at + i]));
      at += bytes;
      continue;
    }
    out.append(text.substr(at, length));
    at += length;
  }
  return out;
}

}  // namespace

std::string Printable(std::string_view text) { return Escape(text, false); }

std::string EscapeText(std::string_view text) { return Escape(text, true); }

std::string UnescapeText(std::string_view text) {
  auto hex_digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t at = 0; at < text.size(); ++at) {
    const char kind = at + 1 < text.size() && text[at] == '\\' ? text[at + 1] : '\0';
    switch (kind) {
      case '\\': out += '\\'; ++at; continue;
      case 'n': out += '\n'; ++at; continue;
      case 'r': out += '\r'; ++at; continue;
      case 't': out += '\t'; ++at; continue;
      case 'e': out += '\x1b'; ++at; continue;
      case 'x':
        if (at + 3 < text.size() && hex_digit(text[at + 2]) >= 0 && hex_digit(text[at + 3]) >= 0) {
          out += static_cast<char>(hex_digit(text[at + 2]) << 4 | hex_digit(text[at + 3]));
          at += 3;
          continue;
        }
        break;
      default:
        break;
    }
    out += text[at];
  }
  return out;
}

size_t Utf8SequenceLength(std::string_view text, uint32_t& code_point) {
  if (text.empty()) return 0;
  const auto lead = static_cast<unsigned char>(text[0]);
  size_t length;
  uint32_t minimum;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, minimum = 0x80, code_point = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, minimum = 0x800, code_point = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, minimum = 0x10000, code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[i]);
    if ((next & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3f);
  }
  if (code_point < minimum || code_point > 0x10ffff) return 0;
  if (code_point >= 0xd800 && code_point <= 0xdfff) return 0;
  return length;
}

}  // namespace udrv
