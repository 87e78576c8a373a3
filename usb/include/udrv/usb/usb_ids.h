// Names from usb.ids (the Linux USB ID repository, Debian's usb.ids
// package: /usr/share/misc/usb.ids), as lsusb names vendors, products and
// classes. The file is outside bytes: a line that does not parse is
// skipped and counted, never trusted; the file is read once and bounded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "udrv/core/result.h"

namespace udrv::usb {

inline constexpr std::string_view kDefaultUsbIdsPath = "/usr/share/misc/usb.ids";
inline constexpr size_t kMaxUsbIdsFileSize = 16u << 20;

class UsbIds {
 public:
  // No names: every lookup misses (what busctl shows without the file).
  UsbIds() = default;

  // Reads `path`. NOT_FOUND when it is absent (callers then go without
  // names), OUT_OF_RANGE past kMaxUsbIdsFileSize.
  static Result<UsbIds> Load(const std::string& path = std::string(kDefaultUsbIdsPath));
  // Parses the text of a usb.ids file.
  static UsbIds Parse(std::string_view text);

  std::optional<std::string_view> Vendor(uint16_t vendor) const;
  std::optional<std::string_view> Product(uint16_t vendor, uint16_t product) const;
  std::optional<std::string_view> Class(uint8_t code) const;
  std::optional<std::string_view> Subclass(uint8_t code, uint8_t subclass) const;
  std::optional<std::string_view> Protocol(uint8_t code, uint8_t subclass, uint8_t protocol) const;

  // Lines Parse skipped as malformed.
  size_t skipped_lines() const { return skipped_lines_; }

 private:
  std::map<uint16_t, std::string> vendors_;
  std::map<std::pair<uint16_t, uint16_t>, std::string> products_;
  std::map<uint32_t, std::string> classes_;  // class << 16 | subclass << 8 | protocol, with levels
  size_t skipped_lines_ = 0;
};

}  // namespace udrv::usb
