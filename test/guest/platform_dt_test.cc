// The device tree reader against the kernel that booted from the same tree
// ("[dt-kernel]", on every aarch64 machine: virt, the nested variant,
// raspi3b). Linux makes a platform or AMBA device for each node it
// populates, names it after the node's first translated `reg`
// (of_device_make_bus_id), links it to its node (of_node), gives AMBA
// devices a `resource` file, lists the regions drivers claim in /proc/iomem
// and maps each interrupt to its controller's hwirq (/sys/kernel/irq). Each
// of those must agree with what the reader makes of /sys/firmware/fdt.
#include <strings.h>

#include <catch2/catch.hpp>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/platform/device_tree.h"
#include "udrv/platform/kernel_devices.h"
#include "udrv/sysfs/file.h"
#include "udrv/sysfs/paths.h"

using udrv::platform::DeviceTree;
using udrv::platform::DtDevice;
using udrv::platform::KernelDevice;

namespace {

// The live tree as the kernel unflattened it: one directory per node, one
// file per property.
constexpr std::string_view kNodeDir = "/sys/firmware/devicetree/base";

using ByPath = std::map<std::string, const DtDevice*, std::less<>>;
using KernelByPath = std::map<std::string, KernelDevice, std::less<>>;

std::string Hex(uint64_t value) {
  char text[17];
  const auto end = std::to_chars(text, text + sizeof(text), value, 16).ptr;
  return std::string(text, end);
}

std::optional<uint64_t> ParseHex(std::string_view text) {
  if (text.starts_with("0x")) text.remove_prefix(2);
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string ParentPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? "/" : std::string(path.substr(0, slash));
}

std::string_view BaseName(std::string_view path) { return path.substr(path.rfind('/') + 1); }

bool HasProperty(std::string_view path, std::string_view property) {
  std::ifstream file(std::string(kNodeDir) + std::string(path) + "/" + std::string(property));
  return file.good();
}

// A one-cell property of the live tree's node, big-endian as the blob holds it.
std::optional<uint32_t> ReadCell(std::string_view path, std::string_view property) {
  std::ifstream file(std::string(kNodeDir) + std::string(path) + "/" + std::string(property),
                     std::ios::binary);
  unsigned char bytes[4];
  if (!file.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) return std::nullopt;
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | bytes[3];
}

bool IsCompatible(const DtDevice& device, std::string_view compatible) {
  for (const std::string& entry : device.compatible) {
    if (entry == compatible) return true;
  }
  return false;
}

std::optional<uint64_t> FirstPhys(const DtDevice& device) {
  if (device.regs.empty()) return std::nullopt;
  return device.regs.front().phys;
}

// The name Linux 6.1's of_device_make_bus_id gives the node at `path`: the
// first translated `reg` and the node's name without its unit address
// ("9010000.pl031"; with a `mask` property the mask's lowest bit between
// them); a node without one is named by its full name, prefixed by its
// parents' names, joined with ':', up to the first that has one.
std::string ExpectedKernelName(const std::string& path, const ByPath& reader) {
  std::string name;
  for (std::string node = path; node != "/"; node = ParentPath(node)) {
    const std::string_view base = BaseName(node);
    const auto found = reader.find(node);
    // Nodes without `compatible` are no reader devices; none of the trees
    // here gives such a node a `reg` its device children would be named by.
    if (found != reader.end()) {
      if (const std::optional<uint64_t> phys = FirstPhys(*found->second)) {
        std::string prefix = Hex(*phys) + ".";
        if (const std::optional<uint32_t> mask = ReadCell(node, "mask")) {
          prefix += Hex(static_cast<uint64_t>(ffs(static_cast<int>(*mask)) - 1)) + ".";
        }
        prefix += std::string(base.substr(0, base.find('@')));
        return name.empty() ? prefix : prefix + ":" + name;
      }
    }
    name = name.empty() ? std::string(base) : std::string(base) + ":" + name;
  }
  return name;
}

// Whether Linux's default population (of_platform_default_populate: the
// root's children, recursively through simple-bus, simple-mfd, isa and
// arm,amba-bus nodes) reaches the node at `path`.
bool PopulatedByDefault(const DtDevice& device, const ByPath& reader) {
  if (!device.enabled || IsCompatible(device, "operating-points-v2")) return false;
  for (std::string parent = ParentPath(device.path); parent != "/"; parent = ParentPath(parent)) {
    const auto found = reader.find(parent);
    if (found == reader.end()) return false;
    const DtDevice& bus = *found->second;
    if (!bus.enabled || IsCompatible(bus, "arm,primecell")) return false;
    if (!IsCompatible(bus, "simple-bus") && !IsCompatible(bus, "simple-mfd") &&
        !IsCompatible(bus, "isa") && !IsCompatible(bus, "arm,amba-bus")) {
      return false;
    }
  }
  return true;
}

struct IomemEntry {
  uint64_t start = 0, end = 0;
  std::string name;
};

std::vector<IomemEntry> ReadIomem() {
  auto contents = udrv::sysfs::ReadFile("/proc/iomem", 1 << 20);
  REQUIRE(contents);
  std::vector<IomemEntry> entries;
  std::istringstream lines(contents->bytes);
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find_first_not_of(' ');
    const size_t dash = line.find('-', first);
    const size_t colon = line.find(" : ", dash);
    REQUIRE(first != std::string::npos);
    REQUIRE(colon != std::string::npos);
    const auto start = ParseHex(std::string_view(line).substr(first, dash - first));
    const auto end = ParseHex(std::string_view(line).substr(dash + 1, colon - dash - 1));
    INFO("/proc/iomem: " << line);
    REQUIRE(start);
    REQUIRE(end);
    entries.push_back({*start, *end, line.substr(colon + 3)});
  }
  return entries;
}

struct Guest {
  std::vector<DtDevice> devices;
  ByPath reader;
  KernelByPath kernel;
  std::map<std::string, const DtDevice*, std::less<>> reader_by_kernel_name;
};

Guest ReadGuest() {
  Guest guest;
  auto tree = DeviceTree::FromFile("/sys/firmware/fdt");
  INFO((tree ? "" : tree.error().ToString()));
  REQUIRE(tree);
  auto devices = tree->Enumerate();
  INFO((devices ? "" : devices.error().ToString()));
  REQUIRE(devices);
  guest.devices = std::move(*devices);
  for (const DtDevice& device : guest.devices) guest.reader.emplace(device.path, &device);

  auto kernel = udrv::platform::KernelDevicesByNodePath(udrv::sysfs::LinuxPaths{});
  INFO((kernel ? "" : kernel.error().ToString()));
  REQUIRE(kernel);
  guest.kernel = std::move(*kernel);
  REQUIRE(!guest.kernel.empty());
  for (const auto& [path, device] : guest.kernel) {
    const auto found = guest.reader.find(path);
    if (found != guest.reader.end()) guest.reader_by_kernel_name.emplace(device.name, found->second);
  }
  return guest;
}

// Bound devices by their name and by their driver's name: drivers name what
// they claim (regions, interrupt actions) after either, as they like.
std::map<std::string, std::vector<const KernelDevice*>, std::less<>> BoundByName(const Guest& guest) {
  std::map<std::string, std::vector<const KernelDevice*>, std::less<>> bound;
  for (const auto& [path, kernel] : guest.kernel) {
    if (!kernel.driver) continue;
    bound[kernel.name].push_back(&kernel);
    if (*kernel.driver != kernel.name) bound[*kernel.driver].push_back(&kernel);
  }
  return bound;
}

// The reader's device of the one bound kernel device `name` names; nullptr
// when none or several do, or the reader has no device for it (the first
// test case fails for that).
const DtDevice* ClaimedBy(const Guest& guest,
                          const std::map<std::string, std::vector<const KernelDevice*>, std::less<>>& bound,
                          std::string_view name) {
  const auto found = bound.find(name);
  if (found == bound.end() || found->second.size() != 1) return nullptr;
  const auto device = guest.reader_by_kernel_name.find(found->second.front()->name);
  return device == guest.reader_by_kernel_name.end() ? nullptr : device->second;
}

}  // namespace

TEST_CASE("every kernel device of the tree is the reader's device at the address the reader translates",
          "[dt-kernel]") {
  const Guest guest = ReadGuest();
  size_t translated = 0;
  for (const auto& [path, kernel] : guest.kernel) {
    INFO(kernel.bus << " device " << kernel.name << ", node " << path);
    const auto found = guest.reader.find(path);
    REQUIRE(found != guest.reader.end());
    const DtDevice& device = *found->second;
    CHECK(device.enabled);
    for (const udrv::Error& problem : device.problems) FAIL_CHECK("reader: " << problem.ToString());
    CHECK(kernel.bus == (IsCompatible(device, "arm,primecell") ? "amba" : "platform"));
    CHECK(kernel.name == ExpectedKernelName(path, guest.reader));
    if (FirstPhys(device)) ++translated;

    if (kernel.bus == "amba") {
      // "\t<start>\t<end>\t<flags>": the device's one region, reg 0.
      auto resource = udrv::sysfs::ReadAttribute("/sys/bus/amba/devices/" + kernel.name + "/resource");
      REQUIRE(resource);
      std::istringstream fields(*resource);
      std::string start, end;
      fields >> start >> end;
      REQUIRE(FirstPhys(device));
      CHECK(ParseHex(start) == FirstPhys(device));
      CHECK(ParseHex(end) == *FirstPhys(device) + device.regs.front().size - 1);
    }
  }
  // Names carrying a translated address are what this test is about.
  CHECK(translated >= 3);
}

TEST_CASE("every device the kernel populates from the tree is there", "[dt-kernel]") {
  const Guest guest = ReadGuest();
  size_t expected = 0;
  for (const DtDevice& device : guest.devices) {
    if (device.path == "/" || !FirstPhys(device) || !PopulatedByDefault(device, guest.reader)) continue;
    INFO("node " << device.path << " at 0x" << Hex(*FirstPhys(device)));
    if (!guest.kernel.contains(device.path)) {
      // Interrupt controllers and clocks the kernel sets up before devices
      // exist (IRQCHIP_DECLARE, CLK_OF_DECLARE) are marked populated and get
      // no device: the GIC on virt, the ARM control block on bcm2837.
      if (HasProperty(device.path, "interrupt-controller") || HasProperty(device.path, "#clock-cells")) {
        WARN("no kernel device for " << device.path << ": initialised early, as its properties say");
        continue;
      }
      FAIL_CHECK("the kernel made no device for it");
    }
    ++expected;
  }
  CHECK(expected >= 3);
}

TEST_CASE("regions drivers claim lie in the reader's regions of their device", "[dt-kernel]") {
  const Guest guest = ReadGuest();
  const auto bound = BoundByName(guest);
  size_t claimed = 0;
  for (const IomemEntry& entry : ReadIomem()) {
    // A claim is named after the device ("9050000.smmuv3"), often with the
    // region's name after it ("3f100000.watchdog asb"), or after the driver
    // ("rtc-pl031").
    const DtDevice* found = ClaimedBy(guest, bound, entry.name.substr(0, entry.name.find(' ')));
    if (!found) continue;
    const DtDevice& device = *found;
    INFO("/proc/iomem " << Hex(entry.start) << "-" << Hex(entry.end) << " : " << entry.name << ", node "
                        << device.path);
    bool inside = false;
    for (const udrv::platform::RegEntry& reg : device.regs) {
      if (reg.phys && entry.start >= *reg.phys && reg.size > 0 && entry.end <= *reg.phys + reg.size - 1) {
        inside = true;
      }
    }
    CHECK(inside);
    ++claimed;
  }
  CHECK(claimed >= 1);
}

TEST_CASE("interrupts drivers requested are the GIC interrupts the reader resolves", "[dt-kernel]") {
  const Guest guest = ReadGuest();
  const auto bound = BoundByName(guest);
  auto irqs = udrv::sysfs::ListDirectory("/sys/kernel/irq");
  REQUIRE(irqs);
  size_t gic_lines = 0, compared = 0;
  for (const std::string& irq : *irqs) {
    const std::string dir = "/sys/kernel/irq/" + irq;
    auto chip = udrv::sysfs::ReadAttribute(dir + "/chip_name");
    auto hwirq = udrv::sysfs::ReadAttribute(dir + "/hwirq");
    auto actions = udrv::sysfs::ReadAttribute(dir + "/actions");
    REQUIRE(chip);
    REQUIRE(hwirq);
    REQUIRE(actions);
    if (!chip->starts_with("GIC")) continue;
    ++gic_lines;
    std::istringstream names(*actions);
    for (std::string action; std::getline(names, action, ',');) {
      const DtDevice* device = ClaimedBy(guest, bound, action);
      if (!device) continue;
      INFO("irq " << irq << ": " << *chip << " hwirq " << *hwirq << ", action " << action << ", node "
                  << device->path);
      bool listed = false;
      for (const udrv::platform::InterruptEntry& interrupt : device->interrupts) {
        if (interrupt.gic && std::to_string(interrupt.gic->hwirq) == *hwirq) listed = true;
      }
      CHECK(listed);
      ++compared;
    }
  }
  // bcm2837 has no GIC; where there is one, rtc-pl031 and uart-pl011 hold lines.
  if (gic_lines > 0) CHECK(compared >= 1);
}
