// The namespace of recorded firmware against iasl -d, acpiexec and the
// guest kernel that booted on it (aml_oracle.h).
#include <catch2/catch.hpp>

#include "aml_oracle.h"
#include "udrv/acpi/namespace.h"

namespace udrv::acpi {
namespace {

using testing::CheckAgainstOracles;
using testing::DefinitionBlocks;

const std::filesystem::path kFirmware = UDRV_ACPI_FIRMWARE;
const std::filesystem::path kAmlFirmware = UDRV_AML_FIRMWARE;

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The guest kernel's /sys/bus/acpi/devices against the namespace: every
// device the kernel made from a Device() is there, with its _HID and _UID.
size_t CheckAgainstKernel(const Namespace& ns, const std::filesystem::path& devices) {
  std::map<std::string, const NamespaceDevice*> ours;
  for (const NamespaceDevice& device : ns.devices) ours[device.path] = &device;
  size_t compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(devices)) {
    const std::string path = ReadText(entry.path() / "path");
    const std::string hid = ReadText(entry.path() / "hid");
    // The kernel's own objects (LNXSYSTM, LNXSYBUS for \_SB_, LNXCPU for
    // Processor(), LNXPWRBN) are no Device(); every other is one of ours.
    if (hid.starts_with("LNX")) continue;
    INFO(entry.path().filename() << " " << path);
    auto it = ours.find(path);
    REQUIRE(it != ours.end());
    const NamespaceDevice& mine = *it->second;
    if (mine.hid.value) CHECK(*mine.hid.value == hid);
    if (std::filesystem::exists(entry.path() / "uid") && mine.uid.value)
      CHECK(*mine.uid.value == ReadText(entry.path() / "uid"));
    if (std::filesystem::exists(entry.path() / "adr") && mine.adr.value)
      CHECK(*mine.adr.value == std::stoull(ReadText(entry.path() / "adr"), nullptr, 16));
    // modalias: "acpi:HID:CID1:CID2:", the _CID list after the _HID.
    if (std::filesystem::exists(entry.path() / "modalias")) {
      std::vector<std::string> ids;
      std::istringstream modalias(ReadText(entry.path() / "modalias").substr(5));
      for (std::string id; std::getline(modalias, id, ':');) ids.push_back(id);
      REQUIRE(!ids.empty());
      ids.erase(ids.begin());
      CHECK(mine.cid.value.value_or(std::vector<std::string>{}) == ids);
    }
    if (std::filesystem::exists(entry.path() / "status") && mine.sta.value)
      CHECK(*mine.sta.value == std::stoul(ReadText(entry.path() / "status")));
    ++compared;
  }
  return compared;
}

// The guest kernel's PNP resources (what pnpacpi made of each PNP device's
// _CRS) against the namespace's decoded _CRS, line by line as Linux
// writes them: "io 0x3f8-0x3ff", "irq 4", "mem 0xb0000000-0xbfffffff window".
size_t CheckAgainstPnp(const Namespace& ns, const std::filesystem::path& kernel) {
  std::map<std::string, const NamespaceDevice*> ours;
  for (const NamespaceDevice& device : ns.devices) ours[device.path] = &device;
  size_t compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kernel / "sys/bus/pnp/devices")) {
    const std::string link = ReadText(entry.path() / "firmware_node.link");
    const std::string acpi_name = link.substr(link.rfind('/') + 1);
    const std::string path = ReadText(kernel / "sys/bus/acpi/devices" / acpi_name / "path");
    INFO(entry.path().filename() << " " << path);
    auto it = ours.find(path);
    REQUIRE(it != ours.end());
    REQUIRE(it->second->crs.value);
    const auto& resources = it->second->crs.value->resources;
    std::vector<std::string> mine;
    char line[96];
    for (const auto& io : IoRanges(resources)) {
      std::snprintf(line, sizeof(line), "io 0x%llx-0x%llx", static_cast<unsigned long long>(io.base),
                    static_cast<unsigned long long>(io.base + io.size - 1));
      mine.push_back(line);
    }
    for (const auto& memory : MemoryRanges(resources)) {
      std::snprintf(line, sizeof(line), "mem 0x%llx-0x%llx%s", static_cast<unsigned long long>(memory.base),
                    static_cast<unsigned long long>(memory.base + memory.size - 1), memory.producer ? " window" : "");
      mine.push_back(line);
    }
    for (const auto& interrupt : Interrupts(resources)) mine.push_back("irq " + std::to_string(interrupt.gsi));
    std::vector<std::string> linux;
    std::istringstream in(ReadText(entry.path() / "resources"));
    for (std::string text; std::getline(in, text);)
      if (!text.starts_with("state")) linux.push_back(text);
    std::sort(mine.begin(), mine.end());
    std::sort(linux.begin(), linux.end());
    CHECK(mine == linux);
    ++compared;
  }
  return compared;
}

void Report(const std::string& name, const Namespace& ns, const testing::OracleCounts& counts) {
  std::string problems;
  for (const Error& problem : ns.problems) problems += "\n  " + problem.ToString();
  std::string left;
  for (const NamespaceDevice& device : ns.devices)
    for (const auto* value : {&device.hid.detail, &device.cid.detail, &device.uid.detail, &device.adr.detail,
                              &device.sta.detail, &device.crs.detail})
      if (!value->empty()) left += "\n  " + device.path + ": " + *value;
  WARN(name << ": " << counts.devices << " devices; _CRS " << counts.crs_static << " static, "
            << counts.crs_evaluated << " evaluated, " << counts.crs_needs_kernel << " need the kernel, "
            << counts.crs_broken << " broken; " << counts.needs_kernel << " objects need the kernel; "
            << counts.acpiexec_compared << " _CRS equal to acpiexec's bytes; " << counts.acpiexec_only.size()
            << " acpiexec evaluated against its simulated hardware" << "\nproblems:" << problems
            << "\nnot read:" << left);
}

TEST_CASE("q35's namespace agrees with iasl, acpiexec and the guest kernel", "[acpi][aml]") {
  const TableSet set = DefinitionBlocks(kFirmware / "x86_64-q35");
  const Namespace ns = ReadNamespace(set);
  const auto counts = CheckAgainstOracles(set, ns);
  Report("q35", ns, counts);
  CHECK(ns.problems.empty());
  // QEMU's q35: 20 Name(_CRS), 8 Method(_CRS) (the LNKA-LNKH, LNKS
  // interrupt links, which read the LPC bridge's PIRQ routing through a
  // PCI_Config OperationRegion).
  CHECK(counts.crs_static == 20);
  CHECK(counts.crs_needs_kernel == 8);
  CHECK(counts.crs_broken == 0);
  CHECK(CheckAgainstKernel(ns, kFirmware / "x86_64-q35/kernel/sys/bus/acpi/devices") >= 20);
  CHECK(CheckAgainstPnp(ns, kFirmware / "x86_64-q35/kernel") == 6);
}

TEST_CASE("aarch64 virt's namespace agrees with iasl, acpiexec and the guest kernel", "[acpi][aml]") {
  const TableSet set = DefinitionBlocks(kFirmware / "aarch64-virt");
  const Namespace ns = ReadNamespace(set);
  const auto counts = CheckAgainstOracles(set, ns);
  Report("aarch64 virt", ns, counts);
  CHECK(ns.problems.empty());
  CHECK(counts.crs_needs_kernel == 0);
  CHECK(counts.crs_broken == 0);
  CHECK(CheckAgainstKernel(ns, kFirmware / "aarch64-virt/kernel/sys/bus/acpi/devices") >= 30);
}

TEST_CASE("a Firecracker host's namespace agrees with iasl and acpiexec", "[acpi][aml]") {
  const TableSet set = DefinitionBlocks(kAmlFirmware / "firecracker");
  const Namespace ns = ReadNamespace(set);
  const auto counts = CheckAgainstOracles(set, ns);
  Report("firecracker", ns, counts);
  CHECK(ns.problems.empty());
  CHECK(counts.crs_broken == 0);
}

}  // namespace
}  // namespace udrv::acpi
