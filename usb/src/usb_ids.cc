#include "udrv/usb/usb_ids.h"

#include <algorithm>

#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"

namespace udrv::usb {
namespace {

// Keys of classes_: the level (1 class, 2 subclass, 3 protocol) above the codes.
uint32_t ClassKey(uint32_t level, uint8_t code, uint8_t subclass = 0, uint8_t protocol = 0) {
  return level << 24 | static_cast<uint32_t>(code) << 16 | static_cast<uint32_t>(subclass) << 8 | protocol;
}

// "1d6b  Linux Foundation" after the indentation: `digits` hex digits, two
// spaces, a name of printable bytes. nullopt for anything else.
std::optional<std::pair<uint16_t, std::string_view>> Entry(std::string_view line, size_t digits) {
  if (line.size() < digits + 3 || line.substr(digits, 2) != "  ") return std::nullopt;
  const std::string_view code = line.substr(0, digits);
  if (!std::ranges::all_of(code, [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      })) {
    return std::nullopt;
  }
  const auto value = sysfs::ParseHex(code, 0xFFFF);
  std::string_view name = line.substr(digits + 2);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  if (!value || name.empty() ||
      std::ranges::any_of(name, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; })) {
    return std::nullopt;
  }
  return std::pair{static_cast<uint16_t>(*value), name};
}

}  // namespace

Result<UsbIds> UsbIds::Load(const std::string& path) {
  UDRV_TRY_ASSIGN(const sysfs::FileContents contents, sysfs::ReadFile(path, kMaxUsbIdsFileSize + 1));
  if (contents.bytes.size() > kMaxUsbIdsFileSize) {
    return Fail(Status::OUT_OF_RANGE,
                "read " + path + ": more than " + std::to_string(kMaxUsbIdsFileSize) + " bytes, past usb.ids's bound",
                path);
  }
  return Parse(contents.bytes);
}

UsbIds UsbIds::Parse(std::string_view text) {
  UsbIds ids;
  // What indented lines belong to: a vendor's products, a class's
  // subclasses and protocols, or a section udrv does not read (audio
  // terminal types, HID usages, languages...), whose lines are skipped
  // without counting.
  enum class Section : uint8_t { NONE, VENDOR, CLASS, OTHER } section = Section::NONE;
  uint16_t vendor = 0;
  uint8_t code = 0;
  int subclass = -1;  // none yet under this class
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    size_t tabs = 0;
    while (tabs < line.size() && line[tabs] == '\t') ++tabs;
    const std::string_view body = line.substr(tabs);
    bool parsed = false;
    if (tabs == 0) {
      if (body.starts_with("C ")) {
        if (const auto entry = Entry(body.substr(2), 2)) {
          section = Section::CLASS;
          code = static_cast<uint8_t>(entry->first);
          subclass = -1;
          ids.classes_.try_emplace(ClassKey(1, code), entry->second);
          parsed = true;
        }
      } else if (const auto entry = Entry(body, 4)) {
        section = Section::VENDOR;
        vendor = entry->first;
        ids.vendors_.try_emplace(vendor, entry->second);
        parsed = true;
      } else if (const size_t space = body.find(' ');
                 space != std::string_view::npos && space > 0 &&
                 std::ranges::all_of(body.substr(0, space), [](char c) { return c >= 'A' && c <= 'Z'; })) {
        section = Section::OTHER;  // "AT 0100  USB Undefined", "HID 00  ...", "L 0436  ..."
        parsed = true;
      }
    } else if (section == Section::OTHER) {
      parsed = true;
    } else if (section == Section::VENDOR && tabs == 1) {
      if (const auto entry = Entry(body, 4)) {
        ids.products_.try_emplace(std::pair{vendor, entry->first}, entry->second);
        parsed = true;
      }
    } else if (section == Section::VENDOR && tabs == 2) {
      parsed = Entry(body, 2).has_value();  // a product's interface: lsusb shows none
    } else if (section == Section::CLASS && tabs == 1) {
      if (const auto entry = Entry(body, 2)) {
        subclass = entry->first;
        ids.classes_.try_emplace(ClassKey(2, code, static_cast<uint8_t>(subclass)), entry->second);
        parsed = true;
      }
    } else if (section == Section::CLASS && tabs == 2 && subclass >= 0) {
      if (const auto entry = Entry(body, 2)) {
        ids.classes_.try_emplace(ClassKey(3, code, static_cast<uint8_t>(subclass), static_cast<uint8_t>(entry->first)),
                                 entry->second);
        parsed = true;
      }
    }
    if (!parsed) ++ids.skipped_lines_;
  }
  return ids;
}

std::optional<std::string_view> UsbIds::Vendor(uint16_t vendor) const {
  const auto found = vendors_.find(vendor);
  if (found == vendors_.end()) return std::nullopt;
  return found->second;
}

std::optional<std::string_view> UsbIds::Product(uint16_t vendor, uint16_t product) const {
  const auto found = products_.find({vendor, product});
  if (found == products_.end()) return std::nullopt;
  return found->second;
}

std::optional<std::string_view> UsbIds::Class(uint8_t code) const {
  const auto found = classes_.find(ClassKey(1, code));
  if (found == classes_.end()) return std::nullopt;
  return found->second;
}

std::optional<std::string_view> UsbIds::Subclass(uint8_t code, uint8_t subclass) const {
  const auto found = classes_.find(ClassKey(2, code, subclass));
  if (found == classes_.end()) return std::nullopt;
  return found->second;
}

std::optional<std::string_view> UsbIds::Protocol(uint8_t code, uint8_t subclass, uint8_t protocol) const {
  const auto found = classes_.find(ClassKey(3, code, subclass, protocol));
  if (found == classes_.end()) return std::nullopt;
  return found->second;
}

}  // namespace udrv::usb
