// Text that came from outside udrv (a sysfs value, a snapshot member, a
// driver host's message) made safe to print on a terminal or in a log line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace udrv {

// `text` with every byte that could steer a terminal or forge a line
// escaped: C0 controls and DEL as \n, \r, \t, \e or \xNN, C1 controls
// (U+0080..U+009F, which some terminals take as CSI and OSC) and bytes that
// are not valid UTF-8 as \xNN, and the backslash as \\ so that an escape
// cannot be forged. Valid printable UTF-8 passes unchanged.
std::string Printable(std::string_view text);

// Printable's inverse, for files that keep text in its form (busctl's
// snapshot manifest): \\, \n, \r, \t, \e and \xNN become the bytes they
// stand for; anything else, a backslash without an escape too, stays.
std::string ParsePrintable(std::string_view text);

// The length of the valid UTF-8 sequence that starts `text` (shortest form,
// no surrogates, at most U+10FFFF) and its code point; 0 when `text` is
// empty or starts with none. For writers of other escapes (JSON).
size_t Utf8SequenceLength(std::string_view text, uint32_t& code_point);

}  // namespace udrv
