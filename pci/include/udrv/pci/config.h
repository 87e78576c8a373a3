// PCI configuration space: register offsets, a bounds-checked snapshot, the
// capability walks, and decoders for the capabilities drivers and busctl use.
//
// Config space comes from places that can lie: a device mid-removal reads as
// all ones, a broken or malicious device can point its capability list in a
// loop or past the end, a recorded tree can be truncated. Every walk and
// decoder checks what it reads and says where it went wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::pci {

// Type 0/1 header registers.
inline constexpr uint16_t kConfigVendorId = 0x00;
inline constexpr uint16_t kConfigDeviceId = 0x02;
inline constexpr uint16_t kConfigCommand = 0x04;
inline constexpr uint16_t kConfigStatus = 0x06;
inline constexpr uint16_t kConfigRevisionId = 0x08;
inline constexpr uint16_t kConfigClassCode = 0x09;  // 3 bytes: prog-if, subclass, base
inline constexpr uint16_t kConfigHeaderType = 0x0e;
inline constexpr uint16_t kConfigBar0 = 0x10;
inline constexpr uint16_t kConfigSubsystemVendorId = 0x2c;
inline constexpr uint16_t kConfigSubsystemId = 0x2e;
inline constexpr uint16_t kConfigExpansionRom = 0x30;
inline constexpr uint16_t kConfigCapabilitiesPointer = 0x34;
inline constexpr uint16_t kConfigInterruptLine = 0x3c;
inline constexpr uint16_t kConfigInterruptPin = 0x3d;
inline constexpr uint16_t kConfigHeaderSize = 0x40;  // writes below are refused to drivers
inline constexpr uint16_t kConfigSize = 0x100;
inline constexpr uint16_t kExtendedConfigSize = 0x1000;

// Command register bits.
inline constexpr uint16_t kCommandIoSpace = 1u << 0;
inline constexpr uint16_t kCommandMemorySpace = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandInterruptDisable = 1u << 10;
// Status register bits.
inline constexpr uint16_t kStatusInterrupt = 1u << 3;
inline constexpr uint16_t kStatusCapabilitiesList = 1u << 4;

// Capability IDs (PCI_CAP_ID_*, PCI_EXT_CAP_ID_*).
inline constexpr uint16_t kCapPowerManagement = 0x01;
inline constexpr uint16_t kCapMsi = 0x05;
inline constexpr uint16_t kCapVendorSpecific = 0x09;
inline constexpr uint16_t kCapPciExpress = 0x10;
inline constexpr uint16_t kCapMsix = 0x11;
inline constexpr uint16_t kExtCapAer = 0x0001;
inline constexpr uint16_t kExtCapAcs = 0x000d;
inline constexpr uint16_t kExtCapSriov = 0x0010;

// A copy of (part of) a function's config space: 64, 256 or 4096 bytes as
// the source allowed. Reads past what was captured are OUT_OF_RANGE.
class ConfigSpace {
 public:
  ConfigSpace() = default;
  // `origin` names the source in errors ("0000:00:02.0 config"). Bytes
  // past 4 KiB (kExtendedConfigSize) are dropped.
  ConfigSpace(std::vector<uint8_t> bytes, std::string origin);

  Result<uint8_t> Read8(uint16_t offset) const;
  Result<uint16_t> Read16(uint16_t offset) const;  // little endian
  Result<uint32_t> Read32(uint16_t offset) const;
  size_t size() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }
  const std::string& origin() const { return origin_; }

 private:
  std::vector<uint8_t> bytes_;
  std::string origin_;
};

struct Capability {
  uint16_t id = 0;
  uint16_t offset = 0;
  bool extended = false;
  uint8_t version = 0;  // extended capabilities only
};

// The standard list from the capabilities pointer (empty when the status
// register has no list), in list order. IO_INVALID naming the offset for a
// pointer into the header (below 0x40), a capability ID 0xff (a broken
// chain) or a loop; OUT_OF_RANGE for a pointer past the bytes captured (64
// bytes is all an unprivileged reader gets); an all-ones header (a device
// that went away) is IO_NOT_PRESENT; IO_INVALID for less than a header.
// Walks are bounded by the space, so they end on any input.
Result<std::vector<Capability>> ListCapabilities(const ConfigSpace& config);
// The extended list from 0x100 (empty when only 256 bytes were captured or
// the device has none: a header of 0 or all ones at 0x100 ends it, as lspci
// reads it). IO_INVALID for a next pointer below 0x100 or into a loop,
// OUT_OF_RANGE past the capture; IO_NOT_PRESENT as above.
Result<std::vector<Capability>> ListExtendedCapabilities(const ConfigSpace& config);

// The first standard (or, with `extended`, extended) capability with `id`;
// nullopt when the device has none. The walk's errors pass through.
Result<std::optional<Capability>> FindCapability(const ConfigSpace& config, uint16_t id,
                                                 bool extended = false);

// "MSI-X", "Power Management", "Advanced Error Reporting", ...; for an
// unknown ID, "capability 0xNN".
std::string CapabilityName(const Capability& capability);

struct PowerManagementCapability {
  uint8_t version = 0;
  bool d1_support = false;
  bool d2_support = false;
  uint8_t pme_support = 0;  // bit n: PME# from Dn (D3cold is bit 4)
  uint8_t power_state = 0;  // 0..3 for D0..D3hot
  bool no_soft_reset = false;
};
struct MsiCapability {
  bool enabled = false;
  bool is_64bit = false;
  bool per_vector_masking = false;
  uint32_t vectors_capable = 1;  // 1, 2, 4 .. 32
  uint32_t vectors_enabled = 1;
};
struct MsixCapability {
  bool enabled = false;
  bool function_mask = false;
  uint32_t table_size = 0;  // entries
  uint8_t table_bar = 0;
  uint32_t table_offset = 0;
  uint8_t pba_bar = 0;
  uint32_t pba_offset = 0;
};
struct PciExpressCapability {
  uint8_t version = 0;
  uint8_t port_type = 0;  // 0 endpoint, 1 legacy endpoint, 4 root port, 9 RC integrated endpoint, ...
  uint32_t max_payload_supported = 0;  // bytes
  uint32_t max_payload = 0;            // bytes
  uint32_t max_read_request = 0;       // bytes
  bool has_link = false;               // link registers are meaningful for this port type
  uint8_t link_speed_max = 0;          // 1: 2.5 GT/s, 2: 5, 3: 8, 4: 16, 5: 32
  uint8_t link_width_max = 0;
  uint8_t link_speed = 0;
  uint8_t link_width = 0;
  bool flr_capable = false;
};
// VirtIO's vendor-specific capability (virtio 1.x, "struct virtio_pci_cap").
// Only a VirtIO function (vendor 0x1af4, device 0x1000..0x107f) has these;
// another vendor's capability 0x09 is WRONG_TYPE.
struct VirtioCapability {
  uint8_t cfg_type = 0;  // 1 common, 2 notify, 3 ISR, 4 device, 5 PCI config, 8 shared memory
  uint8_t bar = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  std::optional<uint32_t> notify_off_multiplier;  // cfg_type 2
};
struct SriovCapability {
  uint16_t initial_vfs = 0;
  uint16_t total_vfs = 0;
  uint16_t num_vfs = 0;
  uint16_t first_vf_offset = 0;
  uint16_t vf_stride = 0;
  uint16_t vf_device_id = 0;
  bool vf_enable = false;
};
struct AerCapability {
  uint32_t uncorrectable_status = 0;
  uint32_t uncorrectable_mask = 0;
  uint32_t uncorrectable_severity = 0;
  uint32_t correctable_status = 0;
  uint32_t correctable_mask = 0;
};
struct AcsCapability {
  uint16_t capability = 0;  // SV TB RR CR UF EC DT bits
  uint16_t control = 0;
};

// Each decoder reads the capability at `capability.offset`; WRONG_TYPE when
// the ID is another, IO_INVALID/OUT_OF_RANGE when it does not fit.
Result<PowerManagementCapability> DecodePowerManagement(const ConfigSpace&, const Capability&);
Result<MsiCapability> DecodeMsi(const ConfigSpace&, const Capability&);
Result<MsixCapability> DecodeMsix(const ConfigSpace&, const Capability&);
Result<PciExpressCapability> DecodePciExpress(const ConfigSpace&, const Capability&);
Result<VirtioCapability> DecodeVirtio(const ConfigSpace&, const Capability&);
Result<SriovCapability> DecodeSriov(const ConfigSpace&, const Capability&);
Result<AerCapability> DecodeAer(const ConfigSpace&, const Capability&);
Result<AcsCapability> DecodeAcs(const ConfigSpace&, const Capability&);

}  // namespace udrv::pci
