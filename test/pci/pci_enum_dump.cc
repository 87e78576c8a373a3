// pci_enum_dump [SYSFS_ROOT]: udrv's view of every PCI function, one fact per
// line, for pci_enum_vs_lspci.sh to compare with what lspci -vv says about
// the same tree. Values are printed in lspci's notation (hex without 0x,
// sizes as 512K) so the script compares facts, not formatting; every value
// here comes from SysfsPci and the config decoders, none from libpci.
#include <cstdio>
#include <string>

#include "udrv/pci/config.h"
#include "udrv/pci/sysfs.h"

namespace {

using udrv::pci::Address;
using udrv::pci::Capability;
using udrv::pci::ConfigSpace;
using udrv::pci::DeviceInfo;

// lspci's show_size: the largest of K, M, G, T that divides the size.
std::string Size(uint64_t size) {
  static const char* const kSuffix[] = {"", "K", "M", "G", "T"};
  size_t i = 0;
  while (i < 4 && size % 1024 == 0) {
    size /= 1024;
    ++i;
  }
  return std::to_string(size) + kSuffix[i];
}

std::string Hex(uint64_t value, int width = 0) {
  char text[24];
  std::snprintf(text, sizeof(text), "%0*llx", width, static_cast<unsigned long long>(value));
  return text;
}

const char* Flag(bool value) { return value ? "+" : "-"; }

// lspci's names for the PCIe port types it knows.
std::string PortType(uint8_t type) {
  switch (type) {
    case 0: return "Endpoint";
    case 1: return "Legacy Endpoint";
    case 4: return "Root Port";
    case 5: return "Upstream Port";
    case 6: return "Downstream Port";
    case 7: return "PCI-Express to PCI/PCI-X Bridge";
    case 8: return "PCI/PCI-X to PCI-Express Bridge";
    case 9: return "Root Complex Integrated Endpoint";
    case 10: return "Root Complex Event Collector";
    default: return "Unknown type " + std::to_string(type);
  }
}

std::string VirtioType(uint8_t type) {
  switch (type) {
    case 1: return "CommonCfg";
    case 2: return "Notify";
    case 3: return "ISR";
    case 4: return "DeviceCfg";
    default: return "<unknown>";
  }
}

void Print(const std::string& address, const std::string& fact) {
  std::printf("%s %s\n", address.c_str(), fact.c_str());
}

void DumpCapability(const std::string& a, const ConfigSpace& config, const Capability& cap) {
  const std::string at = Hex(cap.offset, 2);
  Print(a, "cap " + at + " " + Hex(cap.id, 2));
  using namespace udrv::pci;
  switch (cap.id) {
    case kCapPowerManagement:
      if (auto pm = DecodePowerManagement(config, cap)) {
        Print(a, "pm " + at + " version " + std::to_string(pm->version));
      }
      break;
    case kCapMsi:
      if (auto msi = DecodeMsi(config, cap)) {
        Print(a, "msi " + at + " enable" + Flag(msi->enabled) + " count=" +
                     std::to_string(msi->vectors_enabled) + "/" +
                     std::to_string(msi->vectors_capable) + " maskable" +
                     Flag(msi->per_vector_masking) + " 64bit" + Flag(msi->is_64bit));
      }
      break;
    case kCapMsix:
      if (auto msix = DecodeMsix(config, cap)) {
        Print(a, "msix " + at + " enable" + Flag(msix->enabled) + " count=" +
                     std::to_string(msix->table_size) + " masked" + Flag(msix->function_mask));
        Print(a, "msix-table " + at + " bar=" + std::to_string(msix->table_bar) + " offset=" +
                     Hex(msix->table_offset, 8));
        Print(a, "msix-pba " + at + " bar=" + std::to_string(msix->pba_bar) + " offset=" +
                     Hex(msix->pba_offset, 8));
      }
      break;
    case kCapPciExpress:
      if (auto pcie = DecodePciExpress(config, cap)) {
        Print(a, "express " + at + " v" + std::to_string(pcie->version) + " " +
                     PortType(pcie->port_type));
      }
      break;
    case kCapVendorSpecific:
      // Not a VirtIO device: lspci prints no decoding either.
      if (auto virtio = DecodeVirtio(config, cap)) {
        Print(a, "virtio " + at + " " + VirtioType(virtio->cfg_type));
        std::string region = "virtio-region " + at + " bar=" + std::to_string(virtio->bar) +
                             " offset=" + Hex(virtio->offset, 8) + " size=" +
                             Hex(virtio->length, 8);
        if (virtio->notify_off_multiplier) {
          region += " multiplier=" + Hex(*virtio->notify_off_multiplier, 8);
        }
        Print(a, region);
      }
      break;
    default:
      break;
  }
}

int Dump(const udrv::pci::SysfsPci& sysfs, const Address& address) {
  const std::string a = address.ToString();
  auto info = sysfs.Read(address);
  if (!info) {
    std::fprintf(stderr, "pci_enum_dump: %s\n", info.error().ToString().c_str());
    return 1;
  }
  Print(a, "id " + Hex(info->vendor_id, 4) + ":" + Hex(info->device_id, 4) + " class " +
               Hex(info->class_code >> 8, 4) + " progif " + Hex(info->prog_if(), 2) + " rev " +
               Hex(info->revision, 2));
  for (const udrv::pci::BarInfo& bar : info->bars) {
    std::string line = "region " + std::to_string(bar.index) + " ";
    if (bar.is_io) {
      line += "io " + Hex(bar.address);
    } else {
      line += std::string("mem ") + Hex(bar.address) + (bar.is_64bit ? " 64-bit" : " 32-bit") +
              (bar.is_prefetchable ? " prefetchable" : " non-prefetchable");
    }
    Print(a, line + " " + Size(bar.size));
  }
  if (info->expansion_rom) {
    Print(a, "rom " + Hex(info->expansion_rom->address) + " " + Size(info->expansion_rom->size));
  }
  if (info->numa_node != -1) Print(a, "numa " + std::to_string(info->numa_node));
  if (info->iommu_group) Print(a, "iommu-group " + std::to_string(*info->iommu_group));
  if (info->driver) Print(a, "driver " + *info->driver);
  if (info->parent_bridge) Print(a, "parent " + info->parent_bridge->ToString());

  auto config = sysfs.ReadConfig(address);
  if (!config) {
    std::fprintf(stderr, "pci_enum_dump: %s\n", config.error().ToString().c_str());
    return 1;
  }
  const uint8_t pin = config->Read8(udrv::pci::kConfigInterruptPin).value_or(0);
  if (pin != 0 || info->irq != 0) {
    const char pin_name = pin != 0 ? static_cast<char>('A' + pin - 1) : '?';
    Print(a, std::string("interrupt pin ") + pin_name + " irq " + std::to_string(info->irq));
  }
  auto caps = udrv::pci::ListCapabilities(*config);
  if (!caps) {
    Print(a, caps.error().status == udrv::Status::OUT_OF_RANGE ? "caps unreadable" : "caps broken");
    return 0;
  }
  for (const Capability& cap : *caps) DumpCapability(a, *config, cap);
  auto extended = udrv::pci::ListExtendedCapabilities(*config);
  if (!extended) {
    Print(a, "caps broken");
    return 0;
  }
  for (const Capability& cap : *extended) {
    Print(a, "ecap " + Hex(cap.offset, 3) + " " + Hex(cap.id, 4) + " v" +
                 std::to_string(cap.version));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::fprintf(stderr, "usage: pci_enum_dump [SYSFS_ROOT]\n");
    return 2;
  }
  udrv::pci::SysfsPci sysfs(udrv::sysfs::LinuxPaths{.sys = argc == 2 ? argv[1] : "/sys"});
  auto addresses = sysfs.List();
  if (!addresses) {
    std::fprintf(stderr, "pci_enum_dump: %s\n", addresses.error().ToString().c_str());
    return 1;
  }
  int status = 0;
  for (const Address& address : *addresses) status |= Dump(sysfs, address);
  return status;
}
