#include "capabilities.h"

#include <cstdio>
#include <string_view>

#include "pci_format.h"

namespace udrv::busctl {

namespace {

// lspci's flag notation: "Enable+" / "Enable-".
std::string Flag(std::string_view name, bool set) { return std::string(name) + (set ? "+" : "-"); }

std::string Format(const char* format, auto... values) {
  char text[160];
  std::snprintf(text, sizeof(text), format, values...);
  return text;
}

// Reads that the walk already bounded by the capture; a short capture reads 0.
uint8_t Byte(const pci::ConfigSpace& config, size_t offset) {
  return offset < config.size() ? config.Read8(static_cast<uint16_t>(offset)).value_or(0) : 0;
}
uint16_t Word(const pci::ConfigSpace& config, size_t offset) {
  return offset + 2 <= config.size() ? config.Read16(static_cast<uint16_t>(offset)).value_or(0) : 0;
}
uint32_t Long(const pci::ConfigSpace& config, size_t offset) {
  return offset + 4 <= config.size() ? config.Read32(static_cast<uint16_t>(offset)).value_or(0) : 0;
}
bool Captured(const pci::ConfigSpace& config, size_t offset, size_t length) {
  return offset + length <= config.size();
}

std::string ExpressPortType(uint16_t flags) {
  const int type = (flags >> 4) & 0xf;
  const bool slot = (flags & 0x0100) != 0;
  switch (type) {
    case 0: return "Endpoint";
    case 1: return "Legacy Endpoint";
    case 4: return "Root Port (" + Flag("Slot", slot) + ")";
    case 5: return "Upstream Port";
    case 6: return "Downstream Port (" + Flag("Slot", slot) + ")";
    case 7: return "PCI-Express to PCI/PCI-X Bridge";
    case 8: return "PCI/PCI-X to PCI-Express Bridge (" + Flag("Slot", slot) + ")";
    case 9: return "Root Complex Integrated Endpoint";
    case 10: return "Root Complex Event Collector";
    default: return "Unknown type " + std::to_string(type);
  }
}

// Decoded fields as JSON; null when udrv has no decoder for the ID or the
// decoder refused the bytes (the line above still says what lspci would).
Json Decode(const pci::ConfigSpace& config, const pci::Capability& cap) {
  Json json = Json::object();
  if (!cap.extended) {
    switch (cap.id) {
      case pci::kCapPowerManagement:
        if (auto pm = pci::DecodePowerManagement(config, cap)) {
          json["version"] = uint32_t{pm->version};
          json["d1_support"] = pm->d1_support;
          json["d2_support"] = pm->d2_support;
          json["pme_support"] = uint32_t{pm->pme_support};
          json["power_state"] = uint32_t{pm->power_state};
          json["no_soft_reset"] = pm->no_soft_reset;
          return json;
        }
        return Json();
      case pci::kCapMsi:
        if (auto msi = pci::DecodeMsi(config, cap)) {
          json["enabled"] = msi->enabled;
          json["is_64bit"] = msi->is_64bit;
          json["per_vector_masking"] = msi->per_vector_masking;
          json["vectors_capable"] = msi->vectors_capable;
          json["vectors_enabled"] = msi->vectors_enabled;
          return json;
        }
        return Json();
      case pci::kCapMsix:
        if (auto msix = pci::DecodeMsix(config, cap)) {
          json["enabled"] = msix->enabled;
          json["function_mask"] = msix->function_mask;
          json["table_size"] = msix->table_size;
          json["table_bar"] = uint32_t{msix->table_bar};
          json["table_offset"] = msix->table_offset;
          json["pba_bar"] = uint32_t{msix->pba_bar};
          json["pba_offset"] = msix->pba_offset;
          return json;
        }
        return Json();
      case pci::kCapPciExpress:
        if (auto express = pci::DecodePciExpress(config, cap)) {
          json["version"] = uint32_t{express->version};
          json["port_type"] = uint32_t{express->port_type};
          json["max_payload_supported"] = express->max_payload_supported;
          json["max_payload"] = express->max_payload;
          json["max_read_request"] = express->max_read_request;
          json["has_link"] = express->has_link;
          json["link_speed_max"] = uint32_t{express->link_speed_max};
          json["link_width_max"] = uint32_t{express->link_width_max};
          json["link_speed"] = uint32_t{express->link_speed};
          json["link_width"] = uint32_t{express->link_width};
          json["flr_capable"] = express->flr_capable;
          return json;
        }
        return Json();
      case pci::kCapVendorSpecific:
        if (auto virtio = pci::DecodeVirtio(config, cap)) {
          json["cfg_type"] = uint32_t{virtio->cfg_type};
          json["bar"] = uint32_t{virtio->bar};
          json["offset"] = virtio->offset;
          json["length"] = virtio->length;
          json["notify_off_multiplier"] = virtio->notify_off_multiplier
                                                ? Json(*virtio->notify_off_multiplier)
                                                : Json();
          return json;
        }
        return Json();
      default:
        return Json();
    }
  }
  switch (cap.id) {
    case pci::kExtCapSriov:
      if (auto sriov = pci::DecodeSriov(config, cap)) {
        json["initial_vfs"] = uint32_t{sriov->initial_vfs};
        json["total_vfs"] = uint32_t{sriov->total_vfs};
        json["num_vfs"] = uint32_t{sriov->num_vfs};
        json["first_vf_offset"] = uint32_t{sriov->first_vf_offset};
        json["vf_stride"] = uint32_t{sriov->vf_stride};
        json["vf_device_id"] = HexId(sriov->vf_device_id, 4);
        json["vf_enable"] = sriov->vf_enable;
        return json;
      }
      return Json();
    case pci::kExtCapAer:
      if (auto aer = pci::DecodeAer(config, cap)) {
        json["uncorrectable_status"] = aer->uncorrectable_status;
        json["uncorrectable_mask"] = aer->uncorrectable_mask;
        json["uncorrectable_severity"] = aer->uncorrectable_severity;
        json["correctable_status"] = aer->correctable_status;
        json["correctable_mask"] = aer->correctable_mask;
        return json;
      }
      return Json();
    case pci::kExtCapAcs:
      if (auto acs = pci::DecodeAcs(config, cap)) {
        json["capability"] = uint32_t{acs->capability};
        json["control"] = uint32_t{acs->control};
        return json;
      }
      return Json();
    default:
      return Json();
  }
}

// The name, line and detail lines lspci -vv (pciutils 3.9) prints for a
// standard capability.
void DescribeStandard(const pci::ConfigSpace& config, const pci::DeviceInfo& info,
                      CapabilityReport& report) {
  const uint16_t where = report.capability.offset;
  const uint16_t flags = Word(config, where + 2);
  auto named = [&](std::string name, std::string line) {
    report.name = std::move(name);
    report.line = std::move(line);
  };
  switch (report.capability.id) {
    case 0x00: named("Null", "Null"); break;
    case 0x01: named("Power Management", Format("Power Management version %d", flags & 7)); break;
    case 0x02: named("AGP", Format("AGP version %x.%x", (flags >> 4) & 0xf, flags & 0xf)); break;
    case 0x03: named("Vital Product Data", "Vital Product Data"); break;
    case 0x04:
      named("Slot ID", Format("Slot ID: %d slots, First%c, chassis %02x", flags & 0x1f,
                              (flags & 0x20) ? '+' : '-', flags >> 8));
      break;
    case 0x05:
      named("MSI", "MSI: " + Flag("Enable", flags & 1) + " Count=" +
                       std::to_string(1 << ((flags & 0x70) >> 4)) + "/" +
                       std::to_string(1 << ((flags & 0x0e) >> 1)) + " " +
                       Flag("Maskable", flags & 0x100) + " " + Flag("64bit", flags & 0x80));
      break;
    case 0x06: named("CompactPCI hot-swap", "CompactPCI hot-swap <?>"); break;
    case 0x07: {
      const uint8_t header = Byte(config, pci::kConfigHeaderType) & 0x7f;
      named("PCI-X", header == 1 ? "PCI-X bridge device" : "PCI-X non-bridge device");
      break;
    }
    case 0x08: named("HyperTransport", "HyperTransport"); break;
    case 0x09: {
      report.name = "Vendor Specific Information";
      const int length = flags & 0xff;
      const bool virtio = info.vendor_id == 0x1af4 && info.device_id >= 0x1000 &&
                          info.device_id <= 0x107f && length >= 16 &&
                          Captured(config, where, static_cast<size_t>(length));
      if (!virtio) {
        report.line = Format("Vendor Specific Information: Len=%02x <?>", length);
        break;
      }
      const int type = flags >> 8;
      const char* type_name = type == 1   ? "CommonCfg"
                              : type == 2 ? "Notify"
                              : type == 3 ? "ISR"
                              : type == 4 ? "DeviceCfg"
                                          : "<unknown>";
      report.line = std::string("Vendor Specific Information: VirtIO: ") + type_name;
      std::string detail = Format("BAR=%d offset=%08x size=%08x", Byte(config, where + 4),
                                  Long(config, where + 8), Long(config, where + 12));
      if (type == 2 && length >= 20) detail += Format(" multiplier=%08x", Long(config, where + 16));
      report.details.push_back(detail);
      break;
    }
    case 0x0a:
      named("Debug port", Format("Debug port: BAR=%d offset=%04x", flags >> 13, flags & 0x1fff));
      break;
    case 0x0b:
      named("CompactPCI central resource control", "CompactPCI central resource control <?>");
      break;
    case 0x0c: named("Hot-plug capable", "Hot-plug capable"); break;
    case 0x0d:
      named("Subsystem", "Subsystem: " + HexId(Word(config, where + 4), 4) + ":" +
                             HexId(Word(config, where + 6), 4));
      break;
    case 0x0e: named("AGP3", "AGP3 <?>"); break;
    case 0x0f: named("Secure device", "Secure device <?>"); break;
    case 0x10:
      named("Express", Format("Express (v%d) ", flags & 0xf) + ExpressPortType(flags) +
                           Format(", MSI %02x", (flags & 0x3e00) >> 9));
      break;
    case 0x11: {
      named("MSI-X", "MSI-X: " + Flag("Enable", flags & 0x8000) +
                         " Count=" + std::to_string((flags & 0x7ff) + 1) + " " +
                         Flag("Masked", flags & 0x4000));
      if (Captured(config, where + 4, 8)) {
        const uint32_t table = Long(config, where + 4);
        const uint32_t pba = Long(config, where + 8);
        report.details.push_back(Format("Vector table: BAR=%d offset=%08x", table & 7, table & ~7u));
        report.details.push_back(Format("PBA: BAR=%d offset=%08x", pba & 7, pba & ~7u));
      }
      break;
    }
    case 0x12: {
      report.name = "SATA HBA";
      report.line = Format("SATA HBA v%d.%d", (flags >> 4) & 0xf, flags & 0xf);
      if (Captured(config, where + 4, 4)) {
        const uint32_t bars = Long(config, where + 4);
        const uint32_t bar = bars & 0xf;
        if (bar >= 4 && bar <= 9) {
          report.line += Format(" BAR%d Offset=%08x", bar - 4, (bars >> 4) & 0xfffff);
        } else if (bar == 15) {
          report.line += " InCfgSpace";
        } else {
          report.line += Format(" BAR??%d", bar);
        }
      }
      break;
    }
    case 0x13: named("PCI Advanced Features", "PCI Advanced Features"); break;
    case 0x14:
      named("Enhanced Allocation", Format("Enhanced Allocation (EA): NumEntries=%u", flags & 0x3f));
      break;
    default:
      named(Format("Capability ID %#02x", report.capability.id),
            Format("Capability ID %#02x [%04x]", report.capability.id, flags));
  }
}

std::string ExtendedName(uint16_t id) {
  switch (id) {
    case 0x00: return "Null";
    case 0x01: return "Advanced Error Reporting";
    case 0x02: case 0x09: return "Virtual Channel";
    case 0x03: return "Device Serial Number";
    case 0x04: return "Power Budgeting <?>";
    case 0x05: return "Root Complex Link";
    case 0x06: return "Root Complex Internal Link <?>";
    case 0x07: return "Root Complex Event Collector Endpoint Association";
    case 0x08: return "Multi-Function Virtual Channel <?>";
    case 0x0a: return "Root Complex Register Block <?>";
    case 0x0b: return "Vendor Specific Information";
    case 0x0d: return "Access Control Services";
    case 0x0e: return "Alternative Routing-ID Interpretation (ARI)";
    case 0x0f: return "Address Translation Service (ATS)";
    case 0x10: return "Single Root I/O Virtualization (SR-IOV)";
    case 0x11: return "Multi-Root I/O Virtualization <?>";
    case 0x12: return "Multicast";
    case 0x13: return "Page Request Interface (PRI)";
    case 0x15: return "Physical Resizable BAR";
    case 0x16: return "Dynamic Power Allocation <?>";
    case 0x17: return "Transaction Processing Hints";
    case 0x18: return "Latency Tolerance Reporting";
    case 0x19: return "Secondary PCI Express";
    case 0x1a: return "Protocol Multiplexing <?>";
    case 0x1b: return "Process Address Space ID (PASID)";
    case 0x1c: return "LN Requester <?>";
    case 0x1d: return "Downstream Port Containment";
    case 0x1e: return "L1 PM Substates";
    case 0x1f: return "Precision Time Measurement";
    case 0x20: return "PCI Express over M_PHY <?>";
    case 0x21: return "FRS Queueing <?>";
    case 0x22: return "Readiness Time Reporting <?>";
    case 0x23: return "Designated Vendor-Specific";
    case 0x24: return "Virtual Resizable BAR";
    case 0x25: return "Data Link Feature <?>";
    case 0x26: return "Physical Layer 16.0 GT/s <?>";
    case 0x27: return "Lane Margining at the Receiver <?>";
    case 0x28: return "Hierarchy ID <?>";
    case 0x29: return "Native PCIe Enclosure Management <?>";
    case 0x2e: return "Data Object Exchange";
    default: return Format("Extended Capability ID %#02x", id);
  }
}

void DescribeExtended(const pci::ConfigSpace& config, CapabilityReport& report) {
  const uint16_t where = report.capability.offset;
  report.line = ExtendedName(report.capability.id);
  report.name = report.line.substr(0, report.line.find(" <?>"));
  if (report.capability.id == 0x03 && Captured(config, where + 4, 8)) {
    const uint32_t low = Long(config, where + 4);
    const uint32_t high = Long(config, where + 8);
    report.line += Format(" %02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x", high >> 24, (high >> 16) & 0xff,
                          (high >> 8) & 0xff, high & 0xff, low >> 24, (low >> 16) & 0xff,
                          (low >> 8) & 0xff, low & 0xff);
  } else if (report.capability.id == 0x0b && Captured(config, where + 4, 4)) {
    const uint32_t header = Long(config, where + 4);
    report.line += Format(": ID=%04x Rev=%d Len=%03x <?>", header & 0xffff, (header >> 16) & 0xf,
                          header >> 20);
  } else if (report.capability.id == 0x23 && Captured(config, where + 4, 6)) {
    const uint32_t header1 = Long(config, where + 4);
    report.line += Format(": Vendor=%04x ID=%04x Rev=%d Len=%d", header1 & 0xffff,
                          Word(config, where + 8), (header1 >> 16) & 0xf, header1 >> 20);
  }
}

}  // namespace

CapabilityWalk WalkCapabilities(const pci::ConfigSpace& config, const pci::DeviceInfo& info) {
  CapabilityWalk walk;
  auto standard = pci::ListCapabilities(config);
  if (!standard) {
    walk.error = standard.error();
    return walk;
  }
  for (const pci::Capability& capability : *standard) {
    CapabilityReport report{capability, {}, {}, {}, Decode(config, capability)};
    DescribeStandard(config, info, report);
    walk.reports.push_back(std::move(report));
  }
  auto extended = pci::ListExtendedCapabilities(config);
  if (!extended) {
    walk.error = extended.error();
    return walk;
  }
  for (const pci::Capability& capability : *extended) {
    CapabilityReport report{capability, {}, {}, {}, Decode(config, capability)};
    DescribeExtended(config, report);
    walk.reports.push_back(std::move(report));
  }
  return walk;
}

}  // namespace udrv::busctl
