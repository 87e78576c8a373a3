// Config space as a device, a recorded tree or a snapshot gives it: both
// capability walks, FindCapability, and every decoder on every capability
// found and on one at an offset the input picks.
//
// Input: [mode][offset lo][offset hi][config bytes...]. mode % 3 picks the
// space: 0 a 256-byte one, 1 a 4 KiB one (the bytes zero-padded or cut), 2
// the bytes as they are (64 bytes, truncated captures, odd sizes). The
// offset is where the reads and the forged capabilities go.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "udrv/pci/config.h"

namespace {

using udrv::Error;
using udrv::pci::Capability;
using udrv::pci::ConfigSpace;

void Require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "pci_config_fuzz: %s\n", what);
    std::abort();
  }
}

// A failure says what happened; rendering it must not trip on anything.
void CheckError(const Error& error) {
  Require(!error.what.empty(), "an error without a message");
  Require(!error.ToString().empty(), "an error that renders empty");
}

template <typename T>
void Check(const udrv::Result<T>& result) {
  if (!result) CheckError(result.error());
}

void DecodeAll(const ConfigSpace& config, const Capability& capability) {
  Require(!udrv::pci::CapabilityName(capability).empty(), "a capability without a name");
  Check(udrv::pci::DecodePowerManagement(config, capability));
  if (auto msi = udrv::pci::DecodeMsi(config, capability); msi) {
    Require(msi->vectors_capable >= 1 && msi->vectors_capable <= 32 &&
                (msi->vectors_capable & (msi->vectors_capable - 1)) == 0,
            "MSI vectors capable is not a power of two in 1..32");
    Require(msi->vectors_enabled >= 1 && msi->vectors_enabled <= 32,
            "MSI vectors enabled outside 1..32");
  } else {
    CheckError(msi.error());
  }
  if (auto msix = udrv::pci::DecodeMsix(config, capability); msix) {
    Require(msix->table_bar <= 5 && msix->pba_bar <= 5, "MSI-X BAR outside 0..5");
    Require(msix->table_size >= 1 && msix->table_size <= 2048, "MSI-X table size outside 1..2048");
  } else {
    CheckError(msix.error());
  }
  if (auto pcie = udrv::pci::DecodePciExpress(config, capability); pcie) {
    for (uint32_t bytes : {pcie->max_payload_supported, pcie->max_payload, pcie->max_read_request}) {
      Require(bytes >= 128 && bytes <= 4096, "PCIe payload size outside 128..4096");
    }
  } else {
    CheckError(pcie.error());
  }
  Check(udrv::pci::DecodeVirtio(config, capability));
  Check(udrv::pci::DecodeSriov(config, capability));
  Check(udrv::pci::DecodeAer(config, capability));
  Check(udrv::pci::DecodeAcs(config, capability));
}

void CheckList(const ConfigSpace& config, const udrv::Result<std::vector<Capability>>& list,
               bool extended) {
  if (!list) {
    CheckError(list.error());
    return;
  }
  std::vector<bool> seen(config.size() / 4 + 1);
  for (const Capability& capability : *list) {
    Require(capability.extended == extended, "a capability from the wrong list");
    Require(capability.offset >= (extended ? 0x100u : 0x40u), "a capability below its list");
    Require(capability.offset + (extended ? 4u : 2u) <= config.size(),
            "a capability past the bytes captured");
    Require(!seen[capability.offset / 4], "a capability listed twice");
    seen[capability.offset / 4] = true;
    auto found = udrv::pci::FindCapability(config, capability.id, extended);
    Require(found && found->has_value() && (*found)->id == capability.id,
            "FindCapability misses a listed capability");
    DecodeAll(config, capability);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t mode = data[0] % 3;
  const auto forged_offset = static_cast<uint16_t>(data[1] | data[2] << 8);
  std::vector<uint8_t> bytes(data + 3, data + size);
  if (mode == 0) bytes.resize(udrv::pci::kConfigSize);
  if (mode == 1) bytes.resize(udrv::pci::kExtendedConfigSize);
  const ConfigSpace config(std::move(bytes), "fuzz config");

  CheckList(config, udrv::pci::ListCapabilities(config), /*extended=*/false);
  CheckList(config, udrv::pci::ListExtendedCapabilities(config), /*extended=*/true);

  // Reads succeed exactly when they fit in the bytes captured.
  Require(config.Read8(forged_offset).has_value() == (forged_offset + 1u <= config.size()),
          "Read8 disagrees with the size");
  Require(config.Read16(forged_offset).has_value() == (forged_offset + 2u <= config.size()),
          "Read16 disagrees with the size");
  Require(config.Read32(forged_offset).has_value() == (forged_offset + 4u <= config.size()),
          "Read32 disagrees with the size");

  // Decoders also get capabilities no walk found (a caller may keep offsets).
  for (uint16_t id : {udrv::pci::kCapPowerManagement, udrv::pci::kCapMsi,
                      udrv::pci::kCapVendorSpecific, udrv::pci::kCapPciExpress,
                      udrv::pci::kCapMsix}) {
    DecodeAll(config, Capability{.id = id, .offset = forged_offset});
  }
  for (uint16_t id : {udrv::pci::kExtCapAer, udrv::pci::kExtCapAcs, udrv::pci::kExtCapSriov}) {
    DecodeAll(config, Capability{.id = id, .offset = forged_offset, .extended = true});
  }
  return 0;
}
