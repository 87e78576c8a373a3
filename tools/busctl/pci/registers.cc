// `busctl read` and `busctl write`: one register of a memory BAR, accessed
// with a single instruction of exactly the width asked for, through VFIO when
// the function is bound to vfio-pci and through its sysfs resourceN file
// otherwise. Everything that can be checked without touching the device
// (the BAR, alignment, bounds) is checked first from sysfs, which every user
// may read; only then is the device opened.
#include <unistd.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "commands.h"
#include "pci/module.h"
#include "output.h"
#include "pci_format.h"
#include "privilege.h"
#include "register_io.h"
#include "select.h"
#include "udrv/core/text.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/sysfs.h"
#include "udrv/pci/sysfs_device.h"
#include "udrv/pci/vfio.h"

namespace udrv::busctl {

namespace {

// One register access, checked against what sysfs says of the function.
struct RegisterAccess {
  pci::Address address;
  uint32_t bar = 0;
  uint64_t offset = 0;
  uint32_t width = 32;  // bits
  std::string route;    // "vfio" when bound to vfio-pci, else "sysfs"
  std::vector<std::string> warnings;

  uint32_t bytes() const { return width / 8; }
};

std::string DescribeBars(const pci::DeviceInfo& info) {
  if (info.bars.empty()) return "it has no BARs";
  std::string text = "it has";
  for (const pci::BarInfo& bar : info.bars) {
    text += (text == "it has" ? " BAR " : ", BAR ") + std::to_string(bar.index) + " (" +
            (bar.is_io ? "I/O, " : "memory, ") + Hex(bar.size) + " bytes)";
  }
  return text;
}

// Checks `arguments` against the function's sysfs attributes, which every
// user may read, and picks the route.
Result<RegisterAccess> PlanAccess(const GlobalOptions& options, std::string_view op,
                                  const RegisterArguments& arguments, uint32_t bar_index) {
  RegisterAccess access;
  access.address = *ParseDeviceArgument(arguments.device);  // the validator passed it
  access.bar = bar_index;
  access.offset = arguments.offset;
  access.width = arguments.width;
  const std::string object = access.address.ToString();
  const std::string what = std::string(op) + " BAR " + std::to_string(access.bar) + " at " +
                           Hex(access.offset) + " (" + std::to_string(access.width) + "-bit)";

  auto info = ReadDevice(options, access.address);
  if (!info) return Wrap(info.error(), what);
  const pci::BarInfo* bar = info->FindBar(access.bar);
  if (bar == nullptr) {
    return Fail(Status::NOT_FOUND,
                what + ": the function has no BAR " + std::to_string(access.bar) + "; " +
                    DescribeBars(*info),
                object);
  }
  if (bar->is_io) {
    return Fail(Status::NOT_SUPPORTED,
                what + ": BAR " + std::to_string(access.bar) + " is an I/O port BAR (" +
                    Hex(bar->size) + " ports at " + Hex(bar->address) +
                    "); busctl reaches memory BARs only: neither the VFIO nor the sysfs route "
                    "gives it port access",
                object);
  }
  if (access.offset % access.bytes() != 0) {
    return Fail(Status::INVALID_ARGS,
                what + ": offset " + Hex(access.offset) +
                    " is not aligned to the access width (a " + std::to_string(access.width) +
                    "-bit access needs a multiple of " + std::to_string(access.bytes()) + ")",
                object);
  }
  if (access.offset >= bar->size || bar->size - access.offset < access.bytes()) {
    return Fail(Status::OUT_OF_RANGE,
                what + ": " + std::to_string(access.bytes()) + " bytes at " + Hex(access.offset) +
                    " are past the end of BAR " + std::to_string(access.bar) + " (size " +
                    Hex(bar->size) + ")",
                object);
  }
  access.route = info->driver == pci::kVfioPciDriver ? "vfio" : "sysfs";

  // vfio-pci turns memory decoding on when the device is opened; the sysfs
  // route leaves it as it finds it.
  if (access.route == "sysfs") {
    auto config = pci::SysfsPci(options.paths()).ReadConfig(access.address);
    auto command = config ? config->Read16(pci::kConfigCommand) : std::unexpected(config.error());
    if (!command) {
      access.warnings.push_back("cannot tell whether memory decoding is on: " +
                                command.error().ToString());
    } else if ((*command & pci::kCommandMemorySpace) == 0) {
      access.warnings.push_back(
          "memory decoding is off (command register bit 1): the BAR reads as all ones and "
          "drops writes until a driver, or writing 1 to the function's sysfs `enable`, turns it "
          "on");
    }
  }
  return access;
}

// The register mapped. Members go in reverse order: the mapping before the
// device it maps.
struct MappedRegister {
  std::unique_ptr<pci::Device> device;
  Vmar vmar;
  mmio::MmioBuffer buffer;
};

Result<MappedRegister> MapRegister(const GlobalOptions& options, std::string_view op,
                                   const RegisterAccess& access) {
  const std::string what = std::string(op) + " BAR " + std::to_string(access.bar) + " at " +
                           Hex(access.offset) + " through " + access.route;
  auto device = access.route == "vfio" ? pci::OpenVfioDevice(access.address, options.paths())
                                       : pci::OpenSysfsDevice(access.address, options.paths());
  if (!device) return Wrap(device.error(), what);
  auto bar = (*device)->GetBar(access.bar);
  if (!bar) return Wrap(bar.error(), what);
  bool mappable = false;
  std::string ranges;
  for (const auto& [start, size] : bar->mappable) {
    mappable = mappable || (access.offset >= start && access.offset - start < size &&
                            size - (access.offset - start) >= access.bytes());
    ranges += (ranges.empty() ? "" : ", ") + Hex(start) + "-" + Hex(start + size - 1);
  }
  if (!mappable) {
    return Fail(Status::NOT_SUPPORTED,
                what + ": the route cannot map that part of the BAR (mappable: " +
                    (ranges.empty() ? std::string("none") : ranges) + ")",
                access.address.ToString());
  }
  auto vmar = Vmar::Create(PageSize(), "busctl " + std::string(op));
  if (!vmar) return Wrap(vmar.error(), what);
  auto buffer = mmio::MmioBuffer::Create(*vmar, access.offset, access.bytes(), std::move(bar->vmo),
                                         CachePolicy::UNCACHED_DEVICE);
  if (!buffer) return Wrap(buffer.error(), what);
  return MappedRegister{std::move(*device), std::move(*vmar), std::move(*buffer)};
}

// Unprivileged, the route's ACCESS_DENIED becomes the reason in words.
Error ExplainDenied(Error error, std::string_view op) {
  if (error.status == Status::ACCESS_DENIED && !IsRoot()) {
    error.what =
        std::string(op) + " needs root: " + std::string(kBarNeedsRoot) + " (" + error.what + ")";
  }
  return error;
}

Json AccessToJson(std::string_view command, const RegisterAccess& access, uint64_t value) {
  Json document = NewDocument(command);
  document["address"] = access.address.ToString();
  document["bar"] = access.bar;
  document["offset"] = access.offset;
  document["width"] = access.width;
  document["route"] = access.route;
  document["value"] = value;
  document["value_hex"] = FormatRegisterValue(value, access.width);
  SetWarnings(document, access.warnings);
  return document;
}

// "0000:00:02.0 BAR 0 offset 0x4 (32-bit, through vfio)"
std::string DescribeAccess(const RegisterAccess& access) {
  return access.address.ToString() + " BAR " + std::to_string(access.bar) + " offset " +
         Hex(access.offset) + " (" + std::to_string(access.width) + "-bit, through " +
         access.route + ")";
}

// PCI's REGION is the BAR index, and required: a usage error's message, or
// the index.
std::variant<uint32_t, std::string> BarOf(const RegisterArguments& arguments) {
  if (!arguments.region) return std::string("BAR is required: busctl read|write DEV BAR OFFSET");
  const std::optional<uint64_t> bar = ParseNumber(*arguments.region);
  if (!bar || *bar > 5) return "BAR '" + *arguments.region + "' is not a BAR index, 0-5";
  return static_cast<uint32_t>(*bar);
}

int BarUsageError(std::string_view command, const std::string& what) {
  std::fprintf(stderr, "busctl %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               Printable(what).c_str());
  return kExitUsage;
}

}  // namespace

int RunPciRead(const GlobalOptions& options, const RegisterArguments& arguments) {
  const auto bar = BarOf(arguments);
  if (const auto* bad = std::get_if<std::string>(&bar)) return BarUsageError("read", *bad);
  if (auto live = RequireLiveMachine(options, "read"); !live) {
    return ReportError(options, "read", live.error());
  }
  auto access = PlanAccess(options, "read", arguments, std::get<uint32_t>(bar));
  if (!access) return ReportError(options, "read", access.error());
  auto mapped = MapRegister(options, "read", *access);
  if (!mapped) return ReportError(options, "read", ExplainDenied(mapped.error(), "read"));
  const uint64_t value = ReadRegister(mapped->buffer, access->width);
  if (options.json) {
    PrintDocument(AccessToJson("read", *access, value));
  } else {
    PrintWarnings("read", access->warnings);
    std::printf("%s %s\n", FormatRegisterValue(value, access->width).c_str(),
                DescribeAccess(*access).c_str());
  }
  return kExitOk;
}

int RunPciWrite(const GlobalOptions& options, const WriteArguments& arguments) {
  const uint64_t value = arguments.value;
  const uint32_t width = arguments.target.width;
  const auto bar = BarOf(arguments.target);
  if (const auto* bad = std::get_if<std::string>(&bar)) return BarUsageError("write", *bad);
  // A dry run opens and writes nothing: it may check a recorded tree.
  if (!arguments.dry_run) {
    if (auto live = RequireLiveMachine(options, "write"); !live) {
      return ReportError(options, "write", live.error());
    }
    auto root = RequireRoot("write",
                            "it maps the BAR through the root-only sysfs resourceN "
                            "file or a VFIO device file (--dry-run works without root)");
    if (!root) return ReportError(options, "write", root.error());
  }
  auto access = PlanAccess(options, "write", arguments.target, std::get<uint32_t>(bar));
  if (!access) return ReportError(options, "write", access.error());
  const std::string shown = FormatRegisterValue(value, width);

  Json document = AccessToJson("write", *access, value);
  document["dry_run"] = arguments.dry_run;
  if (arguments.dry_run) {
    document["written"] = false;
    if (options.json) {
      PrintDocument(document);
    } else {
      PrintWarnings("write", access->warnings);
      std::printf("dry run: would write %s to %s; nothing written\n", shown.c_str(),
                  DescribeAccess(*access).c_str());
    }
    return kExitOk;
  }
  if (!arguments.yes) {
    if (auto confirmed = ConfirmWrite("write " + shown + " to " + DescribeAccess(*access));
        !confirmed) {
      return ReportError(options, "write", confirmed.error());
    }
  }
  auto mapped = MapRegister(options, "write", *access);
  if (!mapped) return ReportError(options, "write", ExplainDenied(mapped.error(), "write"));
  WriteRegister(mapped->buffer, width, value);
  document["written"] = true;
  if (options.json) {
    PrintDocument(document);
  } else {
    PrintWarnings("write", access->warnings);
    std::printf("wrote %s to %s\n", shown.c_str(), DescribeAccess(*access).c_str());
  }
  return kExitOk;
}

}  // namespace udrv::busctl
