// usb.ids names: Debian's installed file (the one lsusb reads) for the
// testbed's devices, and hand-written text for every kind of line, the
// sections udrv does not read, and malformed lines.
#include "udrv/usb/usb_ids.h"

#include <catch2/catch.hpp>
#include <string>

#include "../sysfs/temp_tree.h"

namespace udrv::usb {
namespace {

TEST_CASE("the installed usb.ids names the testbed's devices and classes", "[usb-ids]") {
  const auto ids = UsbIds::Load();
  REQUIRE(ids.has_value());  // bootstrap.sh installs Debian's usb.ids
  CHECK(ids->skipped_lines() == 0);
  CHECK(ids->Vendor(0x1d6b) == "Linux Foundation");
  CHECK(ids->Product(0x1d6b, 0x0002) == "2.0 root hub");
  CHECK(ids->Product(0x1d6b, 0x0003) == "3.0 root hub");
  CHECK(ids->Vendor(0x46f4) == "QEMU");
  CHECK(ids->Vendor(0x0627) == "Adomax Technology Co., Ltd");
  CHECK(ids->Class(0x08) == "Mass Storage");
  CHECK(ids->Subclass(0x08, 0x06) == "SCSI");
  CHECK(ids->Protocol(0x08, 0x06, 0x50) == "Bulk-Only");
  CHECK(ids->Class(0x09) == "Hub");
  CHECK(ids->Protocol(0x03, 0x01, 0x01) == "Keyboard");
  CHECK_FALSE(ids->Class(0x42).has_value());
}

TEST_CASE("usb.ids lines: vendors, products, classes at their levels, other sections skipped", "[usb-ids]") {
  const UsbIds ids = UsbIds::Parse(
      "# comment\n"
      "\n"
      "1234  Acme Corp  \n"
      "\t5678  Widget\r\n"
      "\t\t01  interface line\n"
      "abCD  Upper Hex\n"
      "\tef01  Gadget\n"
      "C 02  Communications\n"
      "\t02  Abstract (modem)\n"
      "\t\t01  AT-commands (v.25ter)\n"
      "C 03  Human Interface Device\n"
      "\t\t01  protocol before any subclass\n"
      "AT 0100  USB Undefined\n"
      "\t0101  should not be a product\n"
      "HID 22  Report\n"
      "L 0409  English\n"
      "\t01  US\n"
      "1234  Duplicate Acme\n"
      "\t5678  Duplicate Widget\n");
  CHECK(ids.Vendor(0x1234) == "Acme Corp");  // the first entry holds
  CHECK(ids.Product(0x1234, 0x5678) == "Widget");
  CHECK(ids.Vendor(0xabcd) == "Upper Hex");
  CHECK(ids.Product(0xabcd, 0xef01) == "Gadget");
  CHECK(ids.Class(0x02) == "Communications");
  CHECK(ids.Subclass(0x02, 0x02) == "Abstract (modem)");
  CHECK(ids.Protocol(0x02, 0x02, 0x01) == "AT-commands (v.25ter)");
  CHECK_FALSE(ids.Subclass(0x02, 0x00).has_value());
  CHECK(ids.Class(0x03) == "Human Interface Device");
  CHECK_FALSE(ids.Protocol(0x03, 0x00, 0x01).has_value());
  CHECK_FALSE(ids.Product(0xabcd, 0x0101).has_value());
  CHECK_FALSE(ids.Product(0x0101, 0x0101).has_value());
  CHECK(ids.skipped_lines() == 1);  // the protocol without its subclass
}

TEST_CASE("malformed usb.ids lines are skipped and counted", "[usb-ids]") {
  const UsbIds ids = UsbIds::Parse(
      "\t5678  product before any vendor\n"
      "12345  five digits\n"
      "12g4  not hex\n"
      "1234 one space\n"
      "1234  \n"
      "1235  control \x01 byte\n"
      "C 0x  bad class\n"
      "C 04\n"
      "1236  Good\n"
      "\t\t\t01  three tabs\n"
      "\t56  short product\n"
      "lowercase words\n"
      "C 05  Physical\n"
      "\t\t\t00  three tabs\n"
      "\tzz  bad subclass\n");
  CHECK(ids.Vendor(0x1236) == "Good");
  CHECK(ids.Class(0x05) == "Physical");
  CHECK_FALSE(ids.Vendor(0x1234).has_value());
  CHECK_FALSE(ids.Vendor(0x1235).has_value());
  CHECK(ids.skipped_lines() == 13);
  const UsbIds empty;
  CHECK_FALSE(empty.Vendor(0x1236).has_value());
  CHECK(empty.skipped_lines() == 0);
}

TEST_CASE("loading usb.ids: absent is NOT_FOUND, past the bound OUT_OF_RANGE", "[usb-ids]") {
  sysfs::testing::TempTree tree;
  const auto absent = UsbIds::Load((tree.root / "usb.ids").string());
  REQUIRE_FALSE(absent.has_value());
  CHECK(absent.error().status == Status::NOT_FOUND);
  const std::string big = (tree.root / "big.ids").string();
  sysfs::testing::TempTree::Write(big, std::string(kMaxUsbIdsFileSize + 1, '#'));
  const auto too_big = UsbIds::Load(big);
  REQUIRE_FALSE(too_big.has_value());
  CHECK(too_big.error().status == Status::OUT_OF_RANGE);
  sysfs::testing::TempTree::Write(tree.root / "small.ids", "46f4  QEMU\n\t0001  QEMU HARDDRIVE\n");
  const auto small = UsbIds::Load((tree.root / "small.ids").string());
  REQUIRE(small.has_value());
  CHECK(small->Product(0x46f4, 0x0001) == "QEMU HARDDRIVE");
}

}  // namespace
}  // namespace udrv::usb
