#include <catch2/catch.hpp>

#include "udrv/pci/address.h"

using udrv::Status;
using udrv::pci::Address;

TEST_CASE("pci address: parses lspci and sysfs forms", "[pci]") {
  auto full = Address::Parse("0000:00:1f.3");
  REQUIRE(full);
  CHECK(full->domain == 0);
  CHECK(full->bus == 0);
  CHECK(full->device == 0x1f);
  CHECK(full->function == 3);
  CHECK(full->ToString() == "0000:00:1f.3");

  auto short_form = Address::Parse("3b:00.1");
  REQUIRE(short_form);
  CHECK(short_form->ToString() == "0000:3b:00.1");

  auto wide_domain = Address::Parse("10000:e1:00.0");
  REQUIRE(wide_domain);
  CHECK(wide_domain->domain == 0x10000);
  CHECK(wide_domain->ToString() == "10000:e1:00.0");
}

TEST_CASE("pci address: rejects malformed text with the reason", "[pci]") {
  for (const char* bad : {"", "00", "00:1f", "00:20.0", "00:1f.8", "zz:00.0", "0000:100:00.0",
                          "0000:00:00.0.1", "0000:00:00.", ":00:00.0", "0000:00:0x1.0"}) {
    INFO(bad);
    auto parsed = Address::Parse(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().status == Status::INVALID_ARGS);
    CHECK_THAT(parsed.error().what, Catch::Contains("[DDDD:]BB:DD.F"));
  }
}

TEST_CASE("pci address: orders by domain, bus, device, function", "[pci]") {
  CHECK(*Address::Parse("0000:00:02.0") < *Address::Parse("0000:00:02.1"));
  CHECK(*Address::Parse("0000:00:1f.7") < *Address::Parse("0000:01:00.0"));
  CHECK(*Address::Parse("0000:ff:1f.7") < *Address::Parse("0001:00:00.0"));
}
