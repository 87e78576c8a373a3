#include "udrv/pci/device.h"

#include <cstdio>

namespace udrv::pci {
std::string_view InterruptModeName(InterruptMode mode) {
  switch (mode) {
    case InterruptMode::DISABLED:
      return "disabled";
    case InterruptMode::LEGACY:
      return "legacy";
    case InterruptMode::MSI:
      return "MSI";
    case InterruptMode::MSI_X:
      return "MSI-X";
  }
  return "unknown";
}

std::string Device::Describe() const {
  return address_.ToString() + " (" + std::string(route()) + ")";
}

Result<void> Device::CheckConfigAccess(uint16_t offset, size_t width, std::string_view op) const {
  if (offset % width != 0) {
    return Fail(Status::INVALID_ARGS,
                std::string(op) + " at " + Hex(offset) + ": not aligned to its width", Describe());
  }
  if (offset + width > ConfigSize()) {
    return Fail(Status::OUT_OF_RANGE,
                std::string(op) + " at " + Hex(offset) + ": past the " + Hex(ConfigSize()) +
                    " bytes of config space this route reaches",
                Describe());
  }
  return {};
}

Result<uint32_t> Device::CheckedRead(uint16_t offset, size_t width, std::string_view op) const {
  if (auto checked = CheckConfigAccess(offset, width, op); !checked) {
    return std::unexpected(checked.error());
  }
  return DoReadConfig(offset, width);
}

Result<void> Device::CheckedWrite(uint16_t offset, size_t width, uint32_t value,
                                  std::string_view op) {
  if (offset < kConfigHeaderSize) {
    return Fail(Status::ACCESS_DENIED,
                std::string(op) + " at " + Hex(offset) +
                    ": the config header (below 0x40) belongs to the root bus; use "
                    "SetBusMastering, SetInterruptMode or GetBar",
                Describe());
  }
  if (auto checked = CheckConfigAccess(offset, width, op); !checked) return checked;
  return DoWriteConfig(offset, width, value);
}

Result<uint8_t> Device::ReadConfig8(uint16_t offset) const {
  auto value = CheckedRead(offset, 1, "ReadConfig8");
  if (!value) return std::unexpected(value.error());
  return static_cast<uint8_t>(*value);
}

Result<uint16_t> Device::ReadConfig16(uint16_t offset) const {
  auto value = CheckedRead(offset, 2, "ReadConfig16");
  if (!value) return std::unexpected(value.error());
  return static_cast<uint16_t>(*value);
}

Result<uint32_t> Device::ReadConfig32(uint16_t offset) const {
  return CheckedRead(offset, 4, "ReadConfig32");
}

Result<void> Device::WriteConfig8(uint16_t offset, uint8_t value) {
  return CheckedWrite(offset, 1, value, "WriteConfig8");
}

Result<void> Device::WriteConfig16(uint16_t offset, uint16_t value) {
  return CheckedWrite(offset, 2, value, "WriteConfig16");
}

Result<void> Device::WriteConfig32(uint16_t offset, uint32_t value) {
  return CheckedWrite(offset, 4, value, "WriteConfig32");
}

Result<ConfigSpace> Device::ReadConfigSpace() const {
  std::vector<uint8_t> bytes(ConfigSize());
  for (uint16_t offset = 0; offset < bytes.size(); offset += 4) {
    auto dword = DoReadConfig(offset, 4);
    if (!dword) return Wrap(dword.error(), "read config space");
    for (size_t i = 0; i < 4; ++i) bytes[offset + i] = static_cast<uint8_t>(*dword >> (8 * i));
  }
  return ConfigSpace(std::move(bytes), address_.ToString() + " config");
}

Result<void> Device::SetBusMastering(bool enable) {
  auto command = DoReadConfig(kConfigCommand, 2);
  if (!command) return Wrap(command.error(), "set bus mastering");
  const uint32_t updated = enable ? (*command | kCommandBusMaster) : (*command & ~uint32_t{kCommandBusMaster});
  if (updated == *command) return {};
  return DoWriteConfig(kConfigCommand, 2, updated);
}

Result<Bar> Device::GetBarForPolicy(uint32_t index, CachePolicy) { return GetBar(index); }

Result<mmio::MmioBuffer> Device::MapMmio(uint32_t index, CachePolicy policy, const Vmar& vmar) {
  auto bar = GetBarForPolicy(index, policy);
  if (!bar) return std::unexpected(bar.error());
  if (bar->is_io) {
    return Fail(Status::WRONG_TYPE, "map BAR " + std::to_string(index) + ": an I/O port BAR",
                Describe());
  }
  const bool whole = bar->mappable.size() == 1 && bar->mappable[0].first == 0 &&
                     bar->mappable[0].second == bar->size;
  if (bar->mappable.empty()) {
    return Fail(Status::NOT_SUPPORTED,
                "map BAR " + std::to_string(index) + ": the route cannot map any of it",
                Describe());
  }
  if (!whole) {
    std::string ranges;
    for (const auto& [offset, size] : bar->mappable) {
      ranges += (ranges.empty() ? "" : ", ") + Hex(offset) + "+" + Hex(size);
    }
    return Fail(Status::NOT_SUPPORTED,
                "map BAR " + std::to_string(index) +
                    ": only part can be mapped (the MSI-X table is not mappable on this kernel); "
                    "mappable ranges: " + ranges,
                Describe());
  }
  auto buffer = mmio::MmioBuffer::Create(vmar, 0, bar->size, std::move(bar->vmo), policy);
  if (!buffer) return Wrap(buffer.error(), "map BAR " + std::to_string(index));
  return buffer;
}

Result<InterruptMode> Device::SetInterruptModeWithFallback(uint32_t count) {
  std::string refusals;
  for (InterruptMode mode : {InterruptMode::MSI_X, InterruptMode::MSI, InterruptMode::LEGACY}) {
    if (mode == InterruptMode::LEGACY && count > 1) {
      refusals += "; legacy: one interrupt only";
      continue;
    }
    auto set = SetInterruptMode(mode, count);
    if (set) return mode;
    refusals += std::string(refusals.empty() ? "" : "; ") + std::string(InterruptModeName(mode)) +
                ": " + set.error().what;
  }
  return Fail(Status::NOT_SUPPORTED,
              "no interrupt mode gives " + std::to_string(count) + " vector(s): " + refusals,
              Describe());
}

Result<dma::Bti> Device::GetBti(uint32_t index, uint64_t /*dma_limit*/) {
  return Fail(Status::NOT_SUPPORTED,
              "get BTI " + std::to_string(index) + ": the " + std::string(route()) +
                  " route does no DMA (bind vfio-pci, or uio with the physical-DMA opt-in)",
              Describe());
}

}  // namespace udrv::pci
