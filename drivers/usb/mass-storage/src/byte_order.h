// Fixed-width fields at byte offsets: BOT's wrappers are little endian,
// SCSI's command blocks and data big endian. Callers check the span's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace udrv::drivers::usb_mass_storage {

template <typename T>
T LoadBig(std::span<const std::byte> bytes, size_t offset) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i)
    value = static_cast<T>((value << 8) | static_cast<uint8_t>(bytes[offset + i]));
  return value;
}

template <typename T>
void StoreBig(std::span<std::byte> bytes, size_t offset, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    bytes[offset + i] = static_cast<std::byte>(static_cast<uint8_t>(value >> (8 * (sizeof(T) - 1 - i))));
  }
}

inline uint32_t LoadLe32(std::span<const std::byte> bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value |= uint32_t{static_cast<uint8_t>(bytes[offset + i])} << (8 * i);
  return value;
}

inline void StoreLe32(std::span<std::byte> bytes, size_t offset, uint32_t value) {
  for (size_t i = 0; i < 4; ++i)
    bytes[offset + i] = static_cast<std::byte>(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace udrv::drivers::usb_mass_storage
