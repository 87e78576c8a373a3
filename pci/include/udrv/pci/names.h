// Vendor, device and class names from the pci.ids database, through libpci
// (pciutils) — the same names lspci prints.
#pragma once

#include <memory>
#include <string>

#include "udrv/core/result.h"

namespace udrv::pci {

class Names {
 public:
  // `ids_file` empty: libpci's default (/usr/share/misc/pci.ids).
  static Result<Names> Create(std::string ids_file = {});
  Names(Names&&) noexcept;
  Names& operator=(Names&&) noexcept;
  ~Names();

  // Empty when the database has no entry; the caller prints numbers then.
  std::string Vendor(uint16_t vendor_id) const;
  std::string Device(uint16_t vendor_id, uint16_t device_id) const;
  std::string Class(uint8_t base_class, uint8_t sub_class) const;
  std::string ProgIf(uint8_t base_class, uint8_t sub_class, uint8_t prog_if) const;

  // Names with their numbers, exactly as `lspci -nn` writes them:
  // "Ethernet controller [0200]", "Intel Corporation 82574L ... [8086:10d3]";
  // unknown IDs read "Device [8086:0d57]", as lspci's do.
  std::string ClassLabel(uint8_t base_class, uint8_t sub_class) const;
  std::string DeviceLabel(uint16_t vendor_id, uint16_t device_id) const;

 private:
  struct Access;
  explicit Names(std::unique_ptr<Access> access);
  std::unique_ptr<Access> access_;
};

}  // namespace udrv::pci
