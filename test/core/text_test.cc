#include "udrv/core/text.h"

#include <catch2/catch.hpp>

#include <string>

using udrv::Printable;

TEST_CASE("Printable passes printable ASCII and UTF-8 unchanged", "[text]") {
  CHECK(Printable("0000:00:02.0 edu") == "0000:00:02.0 edu");
  CHECK(Printable("Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(Printable("").empty());
}

TEST_CASE("Printable escapes what steers a terminal or forges a line", "[text]") {
  // A window title (OSC 0), a screen clear (CSI 2J) and a forged log line.
  CHECK(Printable("\x1b]0;owned\x07") == "\\e]0;owned\\x07");
  CHECK(Printable("x\x1b[2Jy") == "x\\e[2Jy");
  CHECK(Printable("ok\nudrv: forged line\r") == "ok\\nudrv: forged line\\r");
  CHECK(Printable(std::string("a\0b", 3)) == "a\\x00b");
  CHECK(Printable("\t\x7f") == "\\t\\x7f");
  // C1 controls as UTF-8 (U+009B is CSI) and as raw bytes.
  CHECK(Printable("\xc2\x9b" "2J") == "\\xc2\\x9b2J");
  CHECK(Printable("\x9b" "2J") == "\\x9b2J");
}

TEST_CASE("Printable is idempotent: escaping twice changes nothing", "[text]") {
  for (const std::string text : {"\x1b]0;owned\x07", "a\\nb\n", "\xc2\x9b\xff plain"}) {
    const std::string once = Printable(text);
    CHECK(Printable(once) == once);
  }
  CHECK(Printable("C:\\path") == "C:\\path");
}

TEST_CASE("Printable escapes malformed UTF-8 byte by byte", "[text]") {
  CHECK(Printable("\xc3") == "\\xc3");                      // truncated
  CHECK(Printable("\xc0\xaf") == "\\xc0\\xaf");             // overlong
  CHECK(Printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");    // surrogate
  CHECK(Printable("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  CHECK(Printable("\xe2\x82" "A") == "\\xe2\\x82A");        // cut by ASCII
}

TEST_CASE("Utf8SequenceLength measures one valid sequence and its code point", "[text]") {
  uint32_t code = 0;
  CHECK(udrv::Utf8SequenceLength("\xc3\xa9x", code) == 2);
  CHECK(code == 0xe9);
  CHECK(udrv::Utf8SequenceLength("\xf0\x9f\x98\x80", code) == 4);
  CHECK(code == 0x1f600);
  CHECK(udrv::Utf8SequenceLength("\xc2\x9b", code) == 2);
  CHECK(code == 0x9b);
  CHECK(udrv::Utf8SequenceLength("\xc0\xaf", code) == 0);  // overlong
  CHECK(udrv::Utf8SequenceLength("\xff", code) == 0);
  CHECK(udrv::Utf8SequenceLength("", code) == 0);
}

TEST_CASE("UnescapeText gives back what EscapeText escaped", "[text]") {
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte) every_byte += static_cast<char>(byte);
  const std::string samples[] = {every_byte, "\\e[2J is no escape", "x\x1b]0;t\x07\n\t\\",
                                 "Gr\xc3\xbc\xc3\x9f" "e \xc2\x9b \xff", ""};
  for (const std::string& text : samples) {
    CHECK(udrv::UnescapeText(udrv::EscapeText(text)) == text);
    // The same escapes as Printable's, the backslash apart.
    CHECK(udrv::EscapeText(text).find_first_of("\n\x1b\x07") == std::string::npos);
  }
  // A backslash that starts no escape stays (text written before it was escaped).
  CHECK(udrv::UnescapeText("C:\\dir\\q \\x4 \\") == "C:\\dir\\q \\x4 \\");
  CHECK(udrv::EscapeText("a\\nb\x1b") == "a\\\\nb\\e");
}
