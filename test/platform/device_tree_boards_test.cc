// The device tree reader on every board DTB of Debian's arm64 kernel (the
// guest testbed's cached linux-image package, $UDRV_GUEST_CACHE): each
// enumerates, enabled nodes have no problems but the DT bugs listed below,
// raw reg and interrupts cells of sampled nodes equal what dtc's fdtget
// ($UDRV_FDTGET) reads, and the Raspberry Pi 3 and 4 trees translate to
// the peripheral addresses Broadcom documents.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "udrv/platform/device_tree.h"

namespace {

namespace fs = std::filesystem;
using udrv::platform::DeviceTree;
using udrv::platform::DtDevice;

std::string Environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') FAIL(name << " is not set (ctest sets it)");
  return value;
}

// <cache>/aarch64/kernel/usr/lib/linux-image-<version>/: the board DTBs.
fs::path BoardDirectory() {
  const fs::path lib = fs::path(Environment("UDRV_GUEST_CACHE")) / "aarch64/kernel/usr/lib";
  std::vector<fs::path> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(lib, error)) {
    if (entry.path().filename().string().starts_with("linux-image-")) found.push_back(entry.path());
  }
  INFO("in " << lib << (error ? ": " + error.message() : ""));
  REQUIRE(found.size() == 1);
  return found[0];
}

std::vector<fs::path> BoardBlobs() {
  std::vector<fs::path> blobs;
  for (const auto& entry : fs::recursive_directory_iterator(BoardDirectory())) {
    if (entry.is_regular_file() && entry.path().extension() == ".dtb") blobs.push_back(entry.path());
  }
  std::sort(blobs.begin(), blobs.end());
  // Debian's 6.1 arm64 kernel ships 577; far fewer means a broken fetch.
  REQUIRE(blobs.size() >= 500);
  return blobs;
}

struct Board {
  DeviceTree tree;
  std::vector<DtDevice> devices;
};

Board Load(const fs::path& blob) {
  auto tree = DeviceTree::FromFile(blob.string());
  INFO(blob << ": " << (tree ? "" : tree.error().ToString()));
  REQUIRE(tree);
  auto devices = tree->Enumerate();
  INFO(blob << ": " << (devices ? "" : devices.error().ToString()));
  REQUIRE(devices);
  return Board{std::move(*tree), std::move(*devices)};
}

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// fdtget -t u for each (node, property): one line of numbers per pair,
// "NONE" where the property is missing.
std::vector<std::vector<uint64_t>> FdtGet(const fs::path& blob,
                                          const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string command = Quote(Environment("UDRV_FDTGET")) + " -t u -d NONE " + Quote(blob.string());
  for (const auto& [node, property] : pairs) command += " " + Quote(node) + " " + Quote(property);
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = ::pclose(pipe);
  INFO(command);
  REQUIRE(status == 0);
  std::vector<std::vector<uint64_t>> values;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::vector<uint64_t> numbers;
    if (line != "NONE") {
      std::istringstream words(line);
      for (uint64_t number; words >> number;) numbers.push_back(number);
    } else {
      numbers.push_back(UINT64_MAX);  // no such property
    }
    values.push_back(std::move(numbers));
  }
  REQUIRE(values.size() == pairs.size());
  return values;
}

bool Missing(const std::vector<uint64_t>& values) {
  return values.size() == 1 && values[0] == UINT64_MAX;
}

// Real DT bugs in Debian's DTBs, and what Linux does with them.
struct KnownQuirk {
  const char* blob;
  const char* path;
  const char* problem;
};
constexpr KnownQuirk kKnownQuirks[] = {
    // The touch controller's `interrupts = <47 0x60 2>` was written for the
    // TLMM pin controller, but the node has no interrupt-parent, so the
    // root's (the GIC) takes it; Linux's gic_irq_domain_translate()
    // refuses type 47 (-EINVAL) and the interrupt is never mapped.
    {"msm8992-msft-lumia-octagon-talkman.dtb", "/soc/i2c@f9963000/ad7147_captouch@2c",
     "interrupt type 47 is none the GIC knows"},
    {"msm8994-msft-lumia-octagon-cityman.dtb", "/soc/i2c@f9963000/ad7147_captouch@2c",
     "interrupt type 49 is none the GIC knows"},
};

bool Known(const fs::path& blob, const DtDevice& device, const udrv::Error& problem) {
  for (const KnownQuirk& quirk : kKnownQuirks) {
    if (blob.filename() == quirk.blob && device.path == quirk.path &&
        problem.what.find(quirk.problem) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Up to `count` devices spread over the list, each satisfying `wanted`.
template <typename Predicate>
std::vector<const DtDevice*> Sample(const std::vector<DtDevice>& devices, size_t count,
                                    Predicate wanted) {
  std::vector<const DtDevice*> candidates;
  for (const DtDevice& device : devices) {
    if (device.enabled && wanted(device)) candidates.push_back(&device);
  }
  std::vector<const DtDevice*> sample;
  for (size_t i = 0; i < count && i < candidates.size(); ++i) {
    sample.push_back(candidates[i * candidates.size() / std::min(count, candidates.size())]);
  }
  return sample;
}

const DtDevice& Device(const std::vector<DtDevice>& devices, const std::string& path) {
  for (const DtDevice& device : devices) {
    if (device.path == path) return device;
  }
  FAIL("no device at " << path);
  throw std::logic_error("unreachable");
}

std::optional<uint64_t> Phys(const std::vector<DtDevice>& devices, const std::string& path,
                             size_t index = 0) {
  const DtDevice& device = Device(devices, path);
  INFO(path);
  REQUIRE(device.problems.empty());
  REQUIRE(device.regs.size() > index);
  return device.regs[index].phys;
}

}  // namespace

TEST_CASE("every Debian arm64 board DTB enumerates, raw cells as fdtget reads them",
          "[devicetree][boards]") {
  size_t blobs = 0, devices_seen = 0, enabled = 0, known = 0;
  size_t regs_compared = 0, interrupts_compared = 0, interrupts_mapped = 0;
  std::vector<std::string> unexpected;
  for (const fs::path& blob : BoardBlobs()) {
    ++blobs;
    const Board board = Load(blob);
    const std::vector<DtDevice>& devices = board.devices;
    for (const DtDevice& device : devices) {
      ++devices_seen;
      if (!device.enabled) continue;
      ++enabled;
      for (const udrv::Error& problem : device.problems) {
        if (Known(blob, device, problem)) {
          ++known;
        } else {
          unexpected.push_back(blob.filename().string() + " " + device.path + ": " +
                               problem.ToString());
        }
      }
    }

    // Four devices with regs and four with interrupts, one fdtget call.
    const auto with_regs = Sample(devices, 4, [](const DtDevice& d) { return !d.regs.empty(); });
    const auto with_interrupts =
        Sample(devices, 4, [](const DtDevice& d) { return !d.interrupts.empty(); });
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const DtDevice* device : with_regs) pairs.emplace_back(device->path, "reg");
    for (const DtDevice* device : with_interrupts) pairs.emplace_back(device->path, "interrupts");
    if (pairs.empty()) continue;
    const auto raw = FdtGet(blob, pairs);
    // Whether any node has an interrupt-map: the name is in the strings block.
    const std::string_view bytes(reinterpret_cast<const char*>(board.tree.blob().data()),
                                 board.tree.blob().size());
    const bool has_maps =
        bytes.find(std::string_view("interrupt-map\0", 14)) != std::string_view::npos;

    for (size_t i = 0; i < with_regs.size(); ++i) {
      const DtDevice& device = *with_regs[i];
      const std::vector<uint64_t>& cells = raw[i];
      INFO(blob.filename().string() << " " << device.path << " reg");
      const size_t entries = device.regs.size();
      REQUIRE(cells.size() % entries == 0);
      const size_t per_entry = cells.size() / entries;
      for (const auto& entry : device.regs) {
        const size_t address_cells = entry.cells.size();
        REQUIRE(per_entry >= address_cells);
        const size_t base = entry.index * per_entry;
        for (size_t c = 0; c < address_cells; ++c) CHECK(entry.cells[c] == cells[base + c]);
        uint64_t size = 0;
        for (size_t c = address_cells; c < per_entry; ++c) size = (size << 32) | cells[base + c];
        CHECK(entry.size == size);
        ++regs_compared;
      }
    }
    for (size_t i = 0; i < with_interrupts.size(); ++i) {
      const DtDevice& device = *with_interrupts[i];
      const std::vector<uint64_t>& cells = raw[with_regs.size() + i];
      if (Missing(cells)) continue;  // interrupts-extended
      std::vector<uint64_t> resolved;
      for (const auto& entry : device.interrupts) {
        resolved.insert(resolved.end(), entry.specifier.begin(), entry.specifier.end());
      }
      if (resolved == cells) {
        ++interrupts_compared;
      } else {
        // Different cells only where a nexus node translated them.
        INFO(blob.filename().string() << " " << device.path << " interrupts");
        CHECK(has_maps);
        ++interrupts_mapped;
      }
    }
  }
  INFO(unexpected.size() << " unexpected problems:\n" << [&] {
    std::string text;
    for (const auto& line : unexpected) text += line + "\n";
    return text;
  }());
  CHECK(unexpected.empty());
  CHECK(known == std::size(kKnownQuirks));
  WARN(blobs << " DTBs, " << devices_seen << " devices (" << enabled << " enabled), "
             << regs_compared << " reg entries and " << interrupts_compared
             << " interrupts lists equal to fdtget's, " << interrupts_mapped
             << " lists translated by interrupt-map nodes, " << known << " known DT bugs");
  CHECK(regs_compared > 1000);
}

TEST_CASE("Raspberry Pi 4 (BCM2711): the documented peripheral addresses", "[devicetree][boards]") {
  const auto devices = Load(BoardDirectory() / "broadcom/bcm2711-rpi-4-b.dtb").devices;
  // /soc maps the VideoCore bus's 0x7e000000 to the ARM's 0xfe000000
  // ("low peripheral" mode), its ARM-local block to 0xff800000.
  CHECK(Phys(devices, "/soc/serial@7e201000") == 0xfe201000u);
  CHECK(Phys(devices, "/soc/gpio@7e200000") == 0xfe200000u);
  CHECK(Phys(devices, "/soc/local_intc@40000000") == 0xff800000u);
  // GIC-400: distributor at 0xff841000, CPU interface at 0xff842000.
  CHECK(Phys(devices, "/soc/interrupt-controller@40041000", 0) == 0xff841000u);
  CHECK(Phys(devices, "/soc/interrupt-controller@40041000", 1) == 0xff842000u);
  // /scb and /emmc2bus have two-cell child addresses.
  CHECK(Phys(devices, "/scb/ethernet@7d580000") == 0xfd580000u);
  CHECK(Phys(devices, "/scb/pcie@7d500000") == 0xfd500000u);
  CHECK(Phys(devices, "/emmc2bus/mmc@7e340000") == 0xfe340000u);
  // The UART's interrupt: GIC SPI 121 (hwirq 153), level high.
  const DtDevice& uart = Device(devices, "/soc/serial@7e201000");
  REQUIRE(uart.interrupts.size() == 1);
  CHECK(uart.interrupts[0].controller == "/soc/interrupt-controller@40041000");
  REQUIRE(uart.interrupts[0].gic);
  CHECK(uart.interrupts[0].gic->hwirq == 153);
  // DMA: bus address 0xc0000000 is ARM address 0, for the first 1 GiB.
  for (const char* path : {"/soc/serial@7e201000", "/emmc2bus/mmc@7e340000"}) {
    INFO(path);
    const DtDevice& device = Device(devices, path);
    REQUIRE(device.dma);
    CHECK(device.dma->offset == -0xc0000000ll);
    CHECK(device.dma->bus_base == 0xc0000000u);
    CHECK(device.dma->limit == 0xffffffffu);
  }
  // /scb has no dma-ranges: its devices' DMA is 1:1.
  CHECK_FALSE(Device(devices, "/scb/ethernet@7d580000").dma);
}

TEST_CASE("Raspberry Pi 3 (BCM2837): the documented peripheral addresses", "[devicetree][boards]") {
  const auto devices = Load(BoardDirectory() / "broadcom/bcm2837-rpi-3-b.dtb").devices;
  // 0x7e000000 is the ARM's 0x3f000000; the ARM-local block stays at 0x40000000.
  CHECK(Phys(devices, "/soc/serial@7e201000") == 0x3f201000u);
  CHECK(Phys(devices, "/soc/gpio@7e200000") == 0x3f200000u);
  CHECK(Phys(devices, "/soc/timer@7e003000") == 0x3f003000u);
  CHECK(Phys(devices, "/soc/local_intc@40000000") == 0x40000000u);
  // DMA: bus 0xc0000000 is ARM 0 for the 0x3f000000 bytes below the peripherals.
  const DtDevice& uart = Device(devices, "/soc/serial@7e201000");
  REQUIRE(uart.dma);
  CHECK(uart.dma->offset == -0xc0000000ll);
  CHECK(uart.dma->bus_base == 0xc0000000u);
  CHECK(uart.dma->limit == 0xfeffffffu);
}
