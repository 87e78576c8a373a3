#include "udrv/pci/config.h"

#include <array>
#include <bitset>
#include <cstdio>

namespace udrv::pci {
namespace {

// The capability pointer of a CardBus bridge (header type 2) sits at 0x14.
constexpr uint16_t kCardbusCapabilitiesPointer = 0x14;
constexpr uint8_t kHeaderTypeCardbus = 2;
constexpr uint16_t kVendorVirtio = 0x1af4;

bool IsAllOnesHeader(const ConfigSpace& config) {
  auto vendor = config.Read16(kConfigVendorId);
  return vendor && *vendor == 0xffff;
}

// The checks both walks start with: a header to read, from a device that is there.
Result<void> CheckHeader(const ConfigSpace& config) {
  if (config.size() < kConfigHeaderSize) {
    return Fail(Status::IO_INVALID,
                "config space holds " + std::to_string(config.size()) +
                    " bytes, less than the 64-byte header",
                config.origin());
  }
  if (IsAllOnesHeader(config)) {
    return Fail(Status::IO_NOT_PRESENT,
                "config space reads all ones (vendor 0xffff): the device is gone or not responding",
                config.origin());
  }
  return {};
}

// Every decoder starts here: the right capability, and `length` bytes of it captured.
Result<void> CheckCapability(const ConfigSpace& config, const Capability& capability,
                             uint16_t id, bool extended, size_t length, std::string_view what) {
  if (capability.id != id || capability.extended != extended) {
    return Fail(Status::WRONG_TYPE,
                "decode " + std::string(what) + ": the capability at " + Hex(capability.offset) +
                    " is " + CapabilityName(capability),
                config.origin());
  }
  if (capability.offset + length > config.size()) {
    return Fail(Status::OUT_OF_RANGE,
                "decode " + std::string(what) + " at " + Hex(capability.offset) + ": its " +
                    std::to_string(length) + " bytes run past the " +
                    std::to_string(config.size()) + " bytes captured",
                config.origin());
  }
  return {};
}

// Values a ConfigSpace read cannot fail to give after CheckCapability.
// Offsets come from a capability offset plus a field offset, checked first.
uint8_t At8(const ConfigSpace& config, size_t offset) {
  return config.Read8(static_cast<uint16_t>(offset)).value_or(0);
}
uint16_t At16(const ConfigSpace& config, size_t offset) {
  return config.Read16(static_cast<uint16_t>(offset)).value_or(0);
}
uint32_t At32(const ConfigSpace& config, size_t offset) {
  return config.Read32(static_cast<uint16_t>(offset)).value_or(0);
}

// PCIe's 3-bit payload and read request encodings: 128 << n, n up to 5 (4096 bytes).
Result<uint32_t> PayloadBytes(uint32_t encoding, std::string_view field, const ConfigSpace& config,
                              uint16_t offset) {
  if (encoding > 5) {
    return Fail(Status::IO_INVALID,
                "decode PCI Express at " + Hex(offset) + ": reserved " + std::string(field) +
                    " encoding " + std::to_string(encoding),
                config.origin());
  }
  return 128u << encoding;
}

}  // namespace

ConfigSpace::ConfigSpace(std::vector<uint8_t> bytes, std::string origin)
    : bytes_(std::move(bytes)), origin_(std::move(origin)) {
  // A function's config space ends at 4 KiB, and offsets are 16-bit: bytes
  // past it are no registers, and would alias low offsets past 64 KiB.
  if (bytes_.size() > kExtendedConfigSize) bytes_.resize(kExtendedConfigSize);
}

Result<uint8_t> ConfigSpace::Read8(uint16_t offset) const {
  if (size_t{offset} + 1 > bytes_.size()) {
    return Fail(Status::OUT_OF_RANGE,
                "read8 at " + Hex(offset) + ": past the " + std::to_string(bytes_.size()) +
                    " bytes captured",
                origin_);
  }
  return bytes_[offset];
}

Result<uint16_t> ConfigSpace::Read16(uint16_t offset) const {
  if (size_t{offset} + 2 > bytes_.size()) {
    return Fail(Status::OUT_OF_RANGE,
                "read16 at " + Hex(offset) + ": past the " + std::to_string(bytes_.size()) +
                    " bytes captured",
                origin_);
  }
  return static_cast<uint16_t>(bytes_[offset] | bytes_[offset + 1u] << 8);
}

Result<uint32_t> ConfigSpace::Read32(uint16_t offset) const {
  if (size_t{offset} + 4 > bytes_.size()) {
    return Fail(Status::OUT_OF_RANGE,
                "read32 at " + Hex(offset) + ": past the " + std::to_string(bytes_.size()) +
                    " bytes captured",
                origin_);
  }
  return uint32_t{bytes_[offset]} | uint32_t{bytes_[offset + 1u]} << 8 |
         uint32_t{bytes_[offset + 2u]} << 16 | uint32_t{bytes_[offset + 3u]} << 24;
}

Result<std::vector<Capability>> ListCapabilities(const ConfigSpace& config) {
  if (auto header = CheckHeader(config); !header) return std::unexpected(header.error());
  std::vector<Capability> capabilities;
  if ((At16(config, kConfigStatus) & kStatusCapabilitiesList) == 0) return capabilities;

  const bool cardbus = (At8(config, kConfigHeaderType) & 0x7f) == kHeaderTypeCardbus;
  uint16_t from = cardbus ? kCardbusCapabilitiesPointer : kConfigCapabilitiesPointer;
  // The two low bits of every pointer are reserved (PCI 3.0, 6.7).
  uint16_t offset = At8(config, from) & 0xfc;
  // A pointer is one byte, so the list lives in 0x40..0xff; each dword is
  // visited once at most, which bounds the walk.
  std::bitset<kConfigSize / 4> visited;
  while (offset != 0) {
    if (offset < kConfigHeaderSize) {
      return Fail(Status::IO_INVALID,
                  "capability pointer at " + Hex(from) + " points into the header (" +
                      Hex(offset) + " < 0x40)",
                  config.origin());
    }
    if (offset + 2u > config.size()) {
      return Fail(Status::OUT_OF_RANGE,
                  "capability pointer at " + Hex(from) + " leads to " + Hex(offset) +
                      ", past the " + std::to_string(config.size()) +
                      " bytes captured (unprivileged readers get 64)",
                  config.origin());
    }
    if (visited[offset / 4]) {
      return Fail(Status::IO_INVALID,
                  "capability list loops: the pointer at " + Hex(from) + " leads back to " +
                      Hex(offset),
                  config.origin());
    }
    visited[offset / 4] = true;
    const uint8_t id = At8(config, offset);
    if (id == 0xff) {
      return Fail(Status::IO_INVALID,
                  "capability at " + Hex(offset) + " has ID 0xff: the chain is broken",
                  config.origin());
    }
    capabilities.push_back(Capability{.id = id, .offset = offset});
    from = static_cast<uint16_t>(offset + 1);
    offset = At8(config, from) & 0xfc;
  }
  return capabilities;
}

Result<std::vector<Capability>> ListExtendedCapabilities(const ConfigSpace& config) {
  if (auto header = CheckHeader(config); !header) return std::unexpected(header.error());
  std::vector<Capability> capabilities;
  if (config.size() < kConfigSize + 4u) return capabilities;

  uint16_t offset = kConfigSize;
  uint16_t from = 0;  // where the pointer to `offset` was; 0 for the list head
  std::bitset<kExtendedConfigSize / 4> visited;
  while (true) {
    const uint32_t header = At32(config, offset);
    // 0 at the head: no extended capabilities; all ones: conventional PCI
    // behind a PCIe bridge, or a device gone. lspci ends the list on both.
    if (header == 0 || header == 0xffffffff) break;
    visited[offset / 4] = true;
    capabilities.push_back(Capability{.id = static_cast<uint16_t>(header & 0xffff),
                                      .offset = offset,
                                      .extended = true,
                                      .version = static_cast<uint8_t>((header >> 16) & 0xf)});
    const auto next = static_cast<uint16_t>((header >> 20) & 0xffc);
    if (next == 0) break;
    from = offset;
    if (next < kConfigSize) {
      return Fail(Status::IO_INVALID,
                  "extended capability at " + Hex(from) + " points below 0x100, to " + Hex(next),
                  config.origin());
    }
    if (next + 4u > config.size()) {
      return Fail(Status::OUT_OF_RANGE,
                  "extended capability at " + Hex(from) + " points to " + Hex(next) +
                      ", past the " + std::to_string(config.size()) + " bytes captured",
                  config.origin());
    }
    if (visited[next / 4]) {
      return Fail(Status::IO_INVALID,
                  "extended capability list loops: " + Hex(from) + " leads back to " + Hex(next),
                  config.origin());
    }
    offset = next;
  }
  return capabilities;
}

Result<std::optional<Capability>> FindCapability(const ConfigSpace& config, uint16_t id,
                                                 bool extended) {
  auto list = extended ? ListExtendedCapabilities(config) : ListCapabilities(config);
  if (!list) return std::unexpected(list.error());
  for (const Capability& capability : *list) {
    if (capability.id == id) return capability;
  }
  return std::nullopt;
}

std::string CapabilityName(const Capability& capability) {
  if (!capability.extended) {
    switch (capability.id) {
      case 0x00: return "Null";
      case kCapPowerManagement: return "Power Management";
      case 0x02: return "AGP";
      case 0x03: return "Vital Product Data";
      case 0x04: return "Slot ID";
      case kCapMsi: return "MSI";
      case 0x06: return "CompactPCI hot-swap";
      case 0x07: return "PCI-X";
      case 0x08: return "HyperTransport";
      case kCapVendorSpecific: return "Vendor Specific";
      case 0x0a: return "Debug port";
      case 0x0b: return "CompactPCI central resource control";
      case 0x0c: return "Hot-plug";
      case 0x0d: return "Bridge subsystem ID";
      case 0x0e: return "AGP 8x";
      case 0x0f: return "Secure device";
      case kCapPciExpress: return "PCI Express";
      case kCapMsix: return "MSI-X";
      case 0x12: return "SATA HBA";
      case 0x13: return "PCI Advanced Features";
      case 0x14: return "Enhanced Allocation";
      case 0x15: return "Flattening Portal Bridge";
      default: break;
    }
    char text[32];
    std::snprintf(text, sizeof(text), "capability 0x%02x", capability.id);
    return text;
  }
  switch (capability.id) {
    case 0x0000: return "Null";
    case kExtCapAer: return "Advanced Error Reporting";
    case 0x0002: return "Virtual Channel";
    case 0x0003: return "Device Serial Number";
    case 0x0004: return "Power Budgeting";
    case 0x0005: return "Root Complex Link Declaration";
    case 0x0006: return "Root Complex Internal Link Control";
    case 0x0007: return "Root Complex Event Collector Endpoint Association";
    case 0x0008: return "Multi-Function Virtual Channel";
    case 0x0009: return "Virtual Channel (MFVC)";
    case 0x000a: return "Root Complex Register Block";
    case 0x000b: return "Vendor Specific";
    case kExtCapAcs: return "Access Control Services";
    case 0x000e: return "Alternative Routing-ID Interpretation";
    case 0x000f: return "Address Translation Services";
    case kExtCapSriov: return "SR-IOV";
    case 0x0011: return "MR-IOV";
    case 0x0012: return "Multicast";
    case 0x0013: return "Page Request Interface";
    case 0x0015: return "Resizable BAR";
    case 0x0016: return "Dynamic Power Allocation";
    case 0x0017: return "TPH Requester";
    case 0x0018: return "Latency Tolerance Reporting";
    case 0x0019: return "Secondary PCI Express";
    case 0x001a: return "Protocol Multiplexing";
    case 0x001b: return "Process Address Space ID";
    case 0x001d: return "Downstream Port Containment";
    case 0x001e: return "L1 PM Substates";
    case 0x001f: return "Precision Time Measurement";
    case 0x0023: return "Designated Vendor-Specific";
    case 0x0024: return "VF Resizable BAR";
    case 0x0025: return "Data Link Feature";
    case 0x0026: return "Physical Layer 16.0 GT/s";
    case 0x0027: return "Lane Margining at the Receiver";
    case 0x002e: return "Data Object Exchange";
    default: break;
  }
  char text[40];
  std::snprintf(text, sizeof(text), "extended capability 0x%04x", capability.id);
  return text;
}

Result<PowerManagementCapability> DecodePowerManagement(const ConfigSpace& config,
                                                        const Capability& capability) {
  if (auto ok = CheckCapability(config, capability, kCapPowerManagement, false, 8,
                                "Power Management");
      !ok) {
    return std::unexpected(ok.error());
  }
  const uint16_t pmc = At16(config, capability.offset + 2);
  const uint16_t pmcsr = At16(config, capability.offset + 4);
  return PowerManagementCapability{
      .version = static_cast<uint8_t>(pmc & 0x7),
      .d1_support = (pmc & (1u << 9)) != 0,
      .d2_support = (pmc & (1u << 10)) != 0,
      .pme_support = static_cast<uint8_t>(pmc >> 11),
      .power_state = static_cast<uint8_t>(pmcsr & 0x3),
      .no_soft_reset = (pmcsr & (1u << 3)) != 0,
  };
}

Result<MsiCapability> DecodeMsi(const ConfigSpace& config, const Capability& capability) {
  // The smallest layout (32-bit address, no masking) is 10 bytes.
  if (auto ok = CheckCapability(config, capability, kCapMsi, false, 10, "MSI"); !ok) {
    return std::unexpected(ok.error());
  }
  const uint16_t control = At16(config, capability.offset + 2);
  MsiCapability msi{
      .enabled = (control & 0x1) != 0,
      .is_64bit = (control & (1u << 7)) != 0,
      .per_vector_masking = (control & (1u << 8)) != 0,
  };
  const uint32_t capable = (control >> 1) & 0x7;
  const uint32_t enabled = (control >> 4) & 0x7;
  if (capable > 5 || enabled > 5) {
    return Fail(Status::IO_INVALID,
                "decode MSI at " + Hex(capability.offset) + ": reserved vector count encoding in "
                    "message control " + Hex(control),
                config.origin());
  }
  msi.vectors_capable = 1u << capable;
  msi.vectors_enabled = 1u << enabled;
  // The whole structure: address (+4), upper address (64-bit), data, then mask and pending.
  const size_t length = (msi.is_64bit ? 14u : 10u) + (msi.per_vector_masking ? 10u : 0u);
  if (auto ok = CheckCapability(config, capability, kCapMsi, false, length, "MSI"); !ok) {
    return std::unexpected(ok.error());
  }
  return msi;
}

Result<MsixCapability> DecodeMsix(const ConfigSpace& config, const Capability& capability) {
  if (auto ok = CheckCapability(config, capability, kCapMsix, false, 12, "MSI-X"); !ok) {
    return std::unexpected(ok.error());
  }
  const uint16_t control = At16(config, capability.offset + 2);
  const uint32_t table = At32(config, capability.offset + 4);
  const uint32_t pba = At32(config, capability.offset + 8);
  MsixCapability msix{
      .enabled = (control & (1u << 15)) != 0,
      .function_mask = (control & (1u << 14)) != 0,
      .table_size = (control & 0x7ffu) + 1,
      .table_bar = static_cast<uint8_t>(table & 0x7),
      .table_offset = table & ~uint32_t{0x7},
      .pba_bar = static_cast<uint8_t>(pba & 0x7),
      .pba_offset = pba & ~uint32_t{0x7},
  };
  if (msix.table_bar > 5 || msix.pba_bar > 5) {
    return Fail(Status::IO_INVALID,
                "decode MSI-X at " + Hex(capability.offset) + ": table BAR " +
                    std::to_string(msix.table_bar) + " / PBA BAR " + std::to_string(msix.pba_bar) +
                    " (BARs are 0..5)",
                config.origin());
  }
  return msix;
}

Result<PciExpressCapability> DecodePciExpress(const ConfigSpace& config,
                                              const Capability& capability) {
  // Capabilities, device capabilities/control/status: 12 bytes; the link
  // registers (capabilities at +0x0c, status at +0x12) make it 20.
  if (auto ok = CheckCapability(config, capability, kCapPciExpress, false, 12, "PCI Express");
      !ok) {
    return std::unexpected(ok.error());
  }
  const uint16_t offset = capability.offset;
  const uint16_t flags = At16(config, offset + 2);
  const uint32_t device_capabilities = At32(config, offset + 4);
  const uint16_t device_control = At16(config, offset + 8);
  PciExpressCapability pcie{
      .version = static_cast<uint8_t>(flags & 0xf),
      .port_type = static_cast<uint8_t>((flags >> 4) & 0xf),
      .flr_capable = (device_capabilities & (1u << 28)) != 0,
  };
  auto supported = PayloadBytes(device_capabilities & 0x7, "max payload supported", config, offset);
  if (!supported) return std::unexpected(supported.error());
  auto payload = PayloadBytes((device_control >> 5) & 0x7, "max payload", config, offset);
  if (!payload) return std::unexpected(payload.error());
  auto read_request = PayloadBytes((device_control >> 12) & 0x7, "max read request", config, offset);
  if (!read_request) return std::unexpected(read_request.error());
  pcie.max_payload_supported = *supported;
  pcie.max_payload = *payload;
  pcie.max_read_request = *read_request;
  // Root complex integrated endpoints (9) and event collectors (10) have no link.
  pcie.has_link = pcie.port_type != 9 && pcie.port_type != 10;
  if (pcie.has_link) {
    if (auto ok = CheckCapability(config, capability, kCapPciExpress, false, 20, "PCI Express link");
        !ok) {
      return std::unexpected(ok.error());
    }
    const uint32_t link_capabilities = At32(config, offset + 0x0c);
    const uint16_t link_status = At16(config, offset + 0x12);
    pcie.link_speed_max = static_cast<uint8_t>(link_capabilities & 0xf);
    pcie.link_width_max = static_cast<uint8_t>((link_capabilities >> 4) & 0x3f);
    pcie.link_speed = static_cast<uint8_t>(link_status & 0xf);
    pcie.link_width = static_cast<uint8_t>((link_status >> 4) & 0x3f);
  }
  return pcie;
}

Result<VirtioCapability> DecodeVirtio(const ConfigSpace& config, const Capability& capability) {
  if (auto ok = CheckCapability(config, capability, kCapVendorSpecific, false, 16, "VirtIO"); !ok) {
    return std::unexpected(ok.error());
  }
  const uint16_t vendor = At16(config, kConfigVendorId);
  const uint16_t device = At16(config, kConfigDeviceId);
  if (vendor != kVendorVirtio || device < 0x1000 || device > 0x107f) {
    return Fail(Status::WRONG_TYPE,
                "decode VirtIO at " + Hex(capability.offset) + ": device " + Hex(vendor) + ":" +
                    Hex(device) + " is no VirtIO device (1af4:1000..107f); its vendor-specific "
                    "capability means something else",
                config.origin());
  }
  const uint16_t offset = capability.offset;
  const uint8_t length = At8(config, offset + 2);
  VirtioCapability virtio{
      .cfg_type = At8(config, offset + 3),
      .bar = At8(config, offset + 4),
      .offset = At32(config, offset + 8),
      .length = At32(config, offset + 12),
      .notify_off_multiplier = std::nullopt,
  };
  if (length < 16) {
    return Fail(Status::IO_INVALID,
                "decode VirtIO at " + Hex(offset) + ": capability length " +
                    std::to_string(length) + " < 16",
                config.origin());
  }
  // The notify capability carries the queue notify multiplier after the common part.
  constexpr uint8_t kVirtioNotify = 2;
  if (virtio.cfg_type == kVirtioNotify) {
    if (length < 20) {
      return Fail(Status::IO_INVALID,
                  "decode VirtIO notify at " + Hex(offset) + ": capability length " +
                      std::to_string(length) + " < 20",
                  config.origin());
    }
    if (auto ok = CheckCapability(config, capability, kCapVendorSpecific, false, 20, "VirtIO notify");
        !ok) {
      return std::unexpected(ok.error());
    }
    virtio.notify_off_multiplier = At32(config, offset + 16);
  }
  return virtio;
}

Result<SriovCapability> DecodeSriov(const ConfigSpace& config, const Capability& capability) {
  if (auto ok = CheckCapability(config, capability, kExtCapSriov, true, 0x40, "SR-IOV"); !ok) {
    return std::unexpected(ok.error());
  }
  const uint16_t offset = capability.offset;
  return SriovCapability{
      .initial_vfs = At16(config, offset + 0x0c),
      .total_vfs = At16(config, offset + 0x0e),
      .num_vfs = At16(config, offset + 0x10),
      .first_vf_offset = At16(config, offset + 0x14),
      .vf_stride = At16(config, offset + 0x16),
      .vf_device_id = At16(config, offset + 0x1a),
      .vf_enable = (At16(config, offset + 0x08) & 0x1) != 0,
  };
}

Result<AerCapability> DecodeAer(const ConfigSpace& config, const Capability& capability) {
  if (auto ok = CheckCapability(config, capability, kExtCapAer, true, 0x18,
                                "Advanced Error Reporting");
      !ok) {
    return std::unexpected(ok.error());
  }
  const uint16_t offset = capability.offset;
  return AerCapability{
      .uncorrectable_status = At32(config, offset + 0x04),
      .uncorrectable_mask = At32(config, offset + 0x08),
      .uncorrectable_severity = At32(config, offset + 0x0c),
      .correctable_status = At32(config, offset + 0x10),
      .correctable_mask = At32(config, offset + 0x14),
  };
}

Result<AcsCapability> DecodeAcs(const ConfigSpace& config, const Capability& capability) {
  if (auto ok = CheckCapability(config, capability, kExtCapAcs, true, 8,
                                "Access Control Services");
      !ok) {
    return std::unexpected(ok.error());
  }
  return AcsCapability{
      .capability = At16(config, capability.offset + 4),
      .control = At16(config, capability.offset + 6),
  };
}

}  // namespace udrv::pci
