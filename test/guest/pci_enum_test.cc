// [enum]: PCI enumeration inside a testbed guest, checked against the guest's
// own lspci (pciutils and pci.ids are in the initramfs): for every function
// the IDs, class, BARs, IRQ, IOMMU group and both capability lists; the
// e1000e's capabilities decoded (x86_64); and the read-only sysfs route
// mapping edu's BAR0 through resource0 to read its ID register — a real BAR
// of an emulated device, which the host tests must never touch.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "result_helpers.h"
#include "udrv/core/vmar.h"
#include "udrv/pci/config.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/sysfs_device.h"

using udrv::CachePolicy;
using udrv::Vmar;
using namespace udrv::pci;

namespace {

struct LspciRegion {
  bool is_io = false;
  uint64_t size = 0;
};

// What lspci -D -n -vv says about one function.
struct LspciFunction {
  std::string ids;    // "8086:10d3"
  std::string klass;  // "0200"
  uint32_t irq = 0;
  std::optional<uint32_t> iommu_group;
  std::map<uint32_t, LspciRegion> regions;
  std::vector<std::pair<uint16_t, uint16_t>> caps;      // offset, ID
  std::vector<std::pair<uint16_t, uint16_t>> ext_caps;  // offset, ID
  std::optional<uint32_t> msi_capable;
  std::optional<uint32_t> msix_count;
};

// lspci's capability names (ls-caps.c, ls-ecaps.c of pciutils 3.9) to IDs.
const std::vector<std::pair<std::string, uint16_t>> kStandardNames = {
    {"Null", 0x00}, {"Power Management version", 0x01}, {"AGP version", 0x02},
    {"Vital Product Data", 0x03}, {"Slot ID", 0x04}, {"MSI:", 0x05},
    {"CompactPCI hot-swap", 0x06}, {"PCI-X", 0x07}, {"HyperTransport", 0x08},
    {"Vendor Specific Information", 0x09}, {"Debug port", 0x0a},
    {"CompactPCI central resource control", 0x0b}, {"Hot-plug capable", 0x0c},
    {"Subsystem:", 0x0d}, {"AGP3", 0x0e}, {"Secure device", 0x0f}, {"Express", 0x10},
    {"MSI-X:", 0x11}, {"SATA HBA", 0x12}, {"PCI Advanced Features", 0x13},
    {"Enhanced Allocation", 0x14}};
const std::vector<std::pair<std::string, uint16_t>> kExtendedNames = {
    {"Null", 0x0000}, {"Advanced Error Reporting", 0x0001}, {"Virtual Channel", 0x0002},
    {"Device Serial Number", 0x0003}, {"Power Budgeting", 0x0004},
    {"Root Complex Link", 0x0005}, {"Vendor Specific Information", 0x000b},
    {"Access Control Services", 0x000d}, {"Alternative Routing-ID Interpretation", 0x000e},
    {"Address Translation Service", 0x000f}, {"Single Root I/O Virtualization", 0x0010},
    {"Page Request Interface", 0x0013}, {"Physical Resizable BAR", 0x0015},
    {"Transaction Processing Hints", 0x0017}, {"Latency Tolerance Reporting", 0x0018},
    {"Secondary PCI Express", 0x0019}, {"Process Address Space ID", 0x001b},
    {"Downstream Port Containment", 0x001d}, {"L1 PM Substates", 0x001e},
    {"Precision Time Measurement", 0x001f}, {"Designated Vendor-Specific", 0x0023},
    {"Data Link Feature", 0x0025}, {"Physical Layer 16.0 GT/s", 0x0026},
    {"Lane Margining at the Receiver", 0x0027}};

uint16_t IdFromName(const std::string& text, bool extended) {
  const std::string numbered = extended ? "Extended Capability ID 0x" : "Capability ID 0x";
  if (text.starts_with(numbered)) {
    return static_cast<uint16_t>(std::stoul(text.substr(numbered.size()), nullptr, 16));
  }
  for (const auto& [name, id] : extended ? kExtendedNames : kStandardNames) {
    if (text.starts_with(name)) return id;
  }
  FAIL("lspci names a capability this test does not know: '" << text << "'");
  return 0xffff;
}

// "512K" -> 524288.
uint64_t ParseSize(const std::string& line) {
  const size_t at = line.find("[size=");
  if (at == std::string::npos) return 0;
  size_t end = 0;
  uint64_t size = std::stoull(line.substr(at + 6), &end);
  switch (line[at + 6 + end]) {
    case 'K': return size << 10;
    case 'M': return size << 20;
    case 'G': return size << 30;
    case 'T': return size << 40;
    default: return size;
  }
}

std::map<std::string, LspciFunction> RunLspci() {
  FILE* pipe = ::popen("lspci -D -n -vv 2>/dev/null", "r");
  REQUIRE(pipe != nullptr);
  std::map<std::string, LspciFunction> functions;
  LspciFunction* current = nullptr;
  char buffer[1024];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    if (line.empty()) continue;
    if (line[0] != '\t') {
      // "0000:00:03.0 0200: 8086:10d3 (rev 02)"
      const std::string address = line.substr(0, line.find(' '));
      current = &functions[address];
      const size_t klass = address.size() + 1;
      current->klass = line.substr(klass, 4);
      current->ids = line.substr(klass + 6, 9);
      continue;
    }
    REQUIRE(current != nullptr);
    if (line.starts_with("\tRegion ")) {
      const uint32_t index = static_cast<uint32_t>(line[8] - '0');
      current->regions[index] = {line.find("I/O ports at") != std::string::npos, ParseSize(line)};
    } else if (line.starts_with("\tInterrupt: pin ")) {
      current->irq = static_cast<uint32_t>(std::stoul(line.substr(line.rfind(' ') + 1)));
    } else if (line.starts_with("\tIOMMU group: ")) {
      current->iommu_group = static_cast<uint32_t>(std::stoul(line.substr(14)));
    } else if (line.starts_with("\tCapabilities: [")) {
      const size_t close = line.find(']');
      const std::string head = line.substr(16, close - 16);
      const std::string text = line.substr(close + 2);
      const auto offset = static_cast<uint16_t>(std::stoul(head, nullptr, 16));
      const bool extended = head.find(" v") != std::string::npos;
      INFO("lspci line: " << line);
      REQUIRE_FALSE(text.starts_with("<"));  // <access denied>, <chain looped>: not from root
      (extended ? current->ext_caps : current->caps).emplace_back(offset, IdFromName(text, extended));
      if (text.starts_with("MSI: ")) {
        const size_t slash = text.find('/');
        current->msi_capable = static_cast<uint32_t>(std::stoul(text.substr(slash + 1)));
      } else if (text.starts_with("MSI-X: ")) {
        current->msix_count = static_cast<uint32_t>(std::stoul(text.substr(text.find("Count=") + 6)));
      }
    }
  }
  REQUIRE(::pclose(pipe) == 0);
  return functions;
}

// "[40] 05, [50] 11" for messages that show both lists.
std::string CapsText(const std::vector<std::pair<uint16_t, uint16_t>>& caps) {
  std::string text;
  for (const auto& [offset, id] : caps) {
    char item[24];
    std::snprintf(item, sizeof(item), "%s[%x] %02x", text.empty() ? "" : ", ", offset, id);
    text += item;
  }
  return text;
}

std::string Hex4(uint32_t value) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04x", value);
  return text;
}

std::optional<Address> FindFunction(uint16_t vendor, uint16_t device) {
  SysfsPci sysfs;
  auto list = sysfs.List();
  REQUIRE_OK(list);
  for (const Address& address : *list) {
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    if (info->vendor_id == vendor && info->device_id == device) return address;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("enum: every function matches the guest's lspci", "[enum]") {
  const auto lspci = RunLspci();
  REQUIRE_FALSE(lspci.empty());
  SysfsPci sysfs;
  auto list = sysfs.List();
  REQUIRE_OK(list);
  REQUIRE(list->size() == lspci.size());

  size_t capabilities = 0;
  for (const Address& address : *list) {
    const std::string name = address.ToString();
    INFO("function " << name);
    REQUIRE(lspci.contains(name));
    const LspciFunction& expected = lspci.at(name);
    auto info = sysfs.Read(address);
    REQUIRE_OK(info);
    CHECK(Hex4(info->vendor_id) + ":" + Hex4(info->device_id) == expected.ids);
    CHECK(Hex4(info->class_code >> 8) == expected.klass);
    CHECK(info->irq == expected.irq);
    CHECK(info->iommu_group.value_or(~0u) == expected.iommu_group.value_or(~0u));
    if (info->iommu_group) {
      bool self = false;
      for (const Address& member : info->iommu_group_members) self |= member == address;
      CHECK(self);
    }

    REQUIRE(info->bars.size() == expected.regions.size());
    for (const BarInfo& bar : info->bars) {
      INFO("BAR " << bar.index);
      REQUIRE(expected.regions.contains(bar.index));
      CHECK(bar.is_io == expected.regions.at(bar.index).is_io);
      CHECK(bar.size == expected.regions.at(bar.index).size);
    }

    // Root reads the whole space: 256 bytes, 4096 for PCIe functions.
    auto config = sysfs.ReadConfig(address);
    REQUIRE_OK(config);
    CHECK(config->size() >= 256);
    auto caps = ListCapabilities(*config);
    REQUIRE_OK(caps);
    std::vector<std::pair<uint16_t, uint16_t>> ours;
    for (const Capability& cap : *caps) ours.emplace_back(cap.offset, cap.id);
    CHECK(CapsText(ours) == CapsText(expected.caps));
    auto ext_caps = ListExtendedCapabilities(*config);
    REQUIRE_OK(ext_caps);
    std::vector<std::pair<uint16_t, uint16_t>> ours_ext;
    for (const Capability& cap : *ext_caps) ours_ext.emplace_back(cap.offset, cap.id);
    CHECK(CapsText(ours_ext) == CapsText(expected.ext_caps));
    capabilities += ours.size() + ours_ext.size();

    // The sysfs route reports the interrupt modes config space declares.
    auto device = OpenSysfsDevice(address);
    REQUIRE_OK(device);
    auto modes = (*device)->GetInterruptModes();
    REQUIRE_OK(modes);
    CHECK(modes->msi_count == expected.msi_capable.value_or(0));
    CHECK(modes->msix_count == expected.msix_count.value_or(0));
  }
  WARN(list->size() << " functions and " << capabilities << " capabilities match lspci");
}

#if defined(__x86_64__)
TEST_CASE("enum: the e1000e shows PM, MSI, PCI Express and MSI-X", "[enum]") {
  auto address = FindFunction(0x8086, 0x10d3);
  REQUIRE(address);
  auto config = SysfsPci().ReadConfig(*address);
  REQUIRE_OK(config);
  REQUIRE(config->size() == 4096);
  auto caps = ListCapabilities(*config);
  REQUIRE_OK(caps);
  std::map<uint16_t, Capability> by_id;
  for (const Capability& cap : *caps) by_id[cap.id] = cap;
  REQUIRE(by_id.contains(kCapPowerManagement));
  REQUIRE(by_id.contains(kCapMsi));
  REQUIRE(by_id.contains(kCapPciExpress));
  REQUIRE(by_id.contains(kCapMsix));

  auto pm = DecodePowerManagement(*config, by_id[kCapPowerManagement]);
  REQUIRE_OK(pm);
  CHECK(pm->version >= 2);
  CHECK(pm->power_state == 0);
  auto msi = DecodeMsi(*config, by_id[kCapMsi]);
  REQUIRE_OK(msi);
  CHECK(msi->is_64bit);
  CHECK(msi->vectors_capable == 1);
  auto pcie = DecodePciExpress(*config, by_id[kCapPciExpress]);
  REQUIRE_OK(pcie);
  // On q35's root bus it is an integrated endpoint; behind a root port, an endpoint.
  CHECK((pcie->port_type == 0 || pcie->port_type == 9));
  CHECK(pcie->max_payload_supported >= 128);
  auto msix = DecodeMsix(*config, by_id[kCapMsix]);
  REQUIRE_OK(msix);
  CHECK(msix->table_size == 5);
  CHECK(msix->table_bar == 3);
  CHECK(msix->pba_bar == 3);
  CHECK(msix->pba_offset == 0x2000);

  auto ext_caps = ListExtendedCapabilities(*config);
  REQUIRE_OK(ext_caps);
  REQUIRE_FALSE(ext_caps->empty());
  CHECK((*ext_caps)[0].id == kExtCapAer);
  auto aer = DecodeAer(*config, (*ext_caps)[0]);
  REQUIRE_OK(aer);
  CHECK(aer->uncorrectable_status == 0);

  auto info = SysfsPci().Read(*address);
  REQUIRE_OK(info);
  const BarInfo* bar0 = info->FindBar(0);
  REQUIRE(bar0 != nullptr);
  CHECK(bar0->size == 128 * 1024);
  CHECK_FALSE(bar0->is_io);
  const BarInfo* bar2 = info->FindBar(2);
  REQUIRE(bar2 != nullptr);
  CHECK(bar2->is_io);
  CHECK(info->FindBar(3) != nullptr);
  CHECK(info->expansion_rom.has_value());
}
#endif

TEST_CASE("enum: the sysfs route maps edu's BAR0 and reads its ID register", "[enum]") {
  auto address = FindFunction(0x1234, 0x11e8);
  REQUIRE(address);
  const std::string enable_path = SysfsPci().DevicePath(*address) + "/enable";
  auto device = OpenSysfsDevice(*address);
  REQUIRE_OK(device);
  // Without firmware (aarch64 -kernel boot) nothing turned memory decoding
  // on; `enable` does, as a driver's pci_enable_device would.
  auto command = (*device)->ReadConfig16(kConfigCommand);
  REQUIRE_OK(command);
  const bool was_enabled = (*command & kCommandMemorySpace) != 0;
  if (!was_enabled) std::ofstream(enable_path) << "1";
  REQUIRE((*(*device)->ReadConfig16(kConfigCommand) & kCommandMemorySpace) != 0);

  {
    auto bar = (*device)->GetBar(0);
    REQUIRE_OK(bar);
    CHECK(bar->size == 1 << 20);
    CHECK(bar->vmo.Describe()->route == udrv::PhysicalRoute::SYSFS_RESOURCE);
    auto vmar = Vmar::Create(2 << 20, "edu");
    REQUIRE_OK(vmar);
    auto mmio = (*device)->MapMmio(0, CachePolicy::UNCACHED_DEVICE, *vmar);
    REQUIRE_OK(mmio);
    CHECK(mmio->Read32(0x00) == 0x010000ed);
    // Read-only where it matters: config writes are refused.
    CHECK(udrv::testing::StatusOf((*device)->WriteConfig32(0x40, 0)) == "ACCESS_DENIED");
  }
  if (!was_enabled) std::ofstream(enable_path) << "0";
}
