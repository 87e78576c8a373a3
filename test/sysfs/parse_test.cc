#include "udrv/sysfs/parse.h"

#include <catch2/catch.hpp>

using udrv::sysfs::ParseDecimal;
using udrv::sysfs::ParseHex;
using udrv::sysfs::ParsePrefixedHex;

TEST_CASE("sysfs parse: hex with or without 0x, whole text only, within max", "[sysfs]") {
  CHECK(ParseHex("0x8086") == 0x8086u);
  CHECK(ParseHex("8086") == 0x8086u);
  CHECK(ParseHex("0x020000", 0xffffff) == 0x020000u);
  CHECK(ParseHex("0x1000000", 0xffffff) == std::nullopt);
  CHECK(ParseHex("") == std::nullopt);
  CHECK(ParseHex("0x") == std::nullopt);
  CHECK(ParseHex("0x80 86") == std::nullopt);
  CHECK(ParseHex("0x8086\n") == std::nullopt);
  CHECK(ParseHex("0x10000000000000000") == std::nullopt);  // past 64 bits
  CHECK(ParseHex("-0x1") == std::nullopt);
}

TEST_CASE("sysfs parse: resource lines' hex needs its 0x", "[sysfs]") {
  CHECK(ParsePrefixedHex("0x00000000fe000000") == 0xfe000000u);
  CHECK(ParsePrefixedHex("fe000000") == std::nullopt);
  CHECK(ParsePrefixedHex("0x") == std::nullopt);
}

TEST_CASE("sysfs parse: decimal within [min, max]", "[sysfs]") {
  CHECK(ParseDecimal("11") == 11);
  CHECK(ParseDecimal("-1", -1) == -1);
  CHECK(ParseDecimal("-2", -1) == std::nullopt);
  CHECK(ParseDecimal("4294967296", 0, UINT32_MAX) == std::nullopt);
  CHECK(ParseDecimal("+1") == std::nullopt);
  CHECK(ParseDecimal("1a") == std::nullopt);
  CHECK(ParseDecimal("") == std::nullopt);
}
