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
// are not valid UTF-8 as \xNN. Valid printable UTF-8, the backslash
// included, passes unchanged: so Printable(Printable(t)) == Printable(t),
// and text escaped where it enters (a driver host's words) stays readable
// when a log sink escapes its lines again. A literal "\n" in the input
// looks like an escape, but is two printable characters: it cannot break a
// line or reach the terminal as a control.
std::string Printable(std::string_view text);

// For files that keep outside text in escaped form and read it back
// (busctl's snapshot manifest): Printable's escapes, and the backslash as
// \\, so that UnescapeText(EscapeText(t)) == t for any bytes. (Printable
// leaves the backslash alone, which makes it idempotent but not reversible.)
std::string EscapeText(std::string_view text);
// EscapeText's inverse: \\, \n, \r, \t, \e and \xNN become the bytes they
// stand for; anything else, a backslash that starts no escape too, stays.
std::string UnescapeText(std::string_view text);

// The length of the valid UTF-8 sequence that starts `text` (shortest form,
// no surrogates, at most U+10FFFF) and its code point; 0 when `text` is
// empty or starts with none. For writers of other escapes (JSON).
size_t Utf8SequenceLength(std::string_view text, uint32_t& code_point);

}  // namespace udrv
