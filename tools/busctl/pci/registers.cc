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
#include <vector>

#include "commands.h"
#include "pci/module.h"
#include "output.h"
#include "pci_format.h"
#include "privilege.h"
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

// Decimal, or hex with 0x: what OFFSET and VALUE accept.
std::optional<uint64_t> ParseNumber(const std::string& text) {
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const std::string digits = hex ? text.substr(2) : text;
  if (digits.empty() || digits.size() > (hex ? 16u : 20u)) return std::nullopt;
  uint64_t value = 0;
  for (const char c : digits) {
    uint64_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      digit = static_cast<uint64_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    const uint64_t base = hex ? 16 : 10;
    if (value > (UINT64_MAX - digit) / base) return std::nullopt;
    value = value * base + digit;
  }
  return value;
}

const CLI::Validator kNumber(
    [](std::string& text) -> std::string {
      return ParseNumber(text) ? "" : "'" + text + "' is not a number (decimal, or hex with 0x)";
    },
    "NUMBER");

// The arguments read and write share.
struct RegisterArguments {
  std::string device;
  uint32_t bar = 0;
  std::string offset;
  uint32_t width = 32;  // bits
};

void AddRegisterArguments(CLI::App& command, RegisterArguments& arguments) {
  command.add_option("DEV", arguments.device, "the function: [[domain:]bus:]device.function")
      ->required()
      ->check(DeviceArgumentValidator());
  command.add_option("BAR", arguments.bar, "the BAR index, 0-5")
      ->required()
      ->check(CLI::Range(0, 5));
  command
      .add_option("OFFSET", arguments.offset, "byte offset in the BAR (decimal, or hex with 0x)")
      ->required()
      ->check(kNumber);
  command.add_option("--width", arguments.width, "access width in bits (default 32)")
      ->check(CLI::IsMember({8, 16, 32, 64}));
}

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

std::string FormatValue(uint64_t value, uint32_t width) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%0*" PRIx64, static_cast<int>(width / 4), value);
  return text;
}

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
                                  const RegisterArguments& arguments) {
  RegisterAccess access;
  access.address = *ParseDeviceArgument(arguments.device);  // the validator passed it
  access.bar = arguments.bar;
  access.offset = *ParseNumber(arguments.offset);
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
  document["value_hex"] = FormatValue(value, access.width);
  if (!access.warnings.empty()) {
    Json warnings = Json::array();
    for (const std::string& warning : access.warnings) warnings.push_back(warning);
    document["warnings"] = std::move(warnings);
  }
  return document;
}

void PrintWarnings(std::string_view command, const RegisterAccess& access) {
  for (const std::string& warning : access.warnings) {
    std::fprintf(stderr, "busctl %.*s: warning: %s\n", static_cast<int>(command.size()),
                 command.data(), Printable(warning).c_str());
  }
}

// "0000:00:02.0 BAR 0 offset 0x4 (32-bit, through vfio)"
std::string DescribeAccess(const RegisterAccess& access) {
  return access.address.ToString() + " BAR " + std::to_string(access.bar) + " offset " +
         Hex(access.offset) + " (" + std::to_string(access.width) + "-bit, through " +
         access.route + ")";
}

int RunRead(const GlobalOptions& options, const RegisterArguments& arguments) {
  if (auto live = RequireLiveMachine(options, "read"); !live) {
    return ReportError(options, "read", live.error());
  }
  auto access = PlanAccess(options, "read", arguments);
  if (!access) return ReportError(options, "read", access.error());
  auto mapped = MapRegister(options, "read", *access);
  if (!mapped) return ReportError(options, "read", ExplainDenied(mapped.error(), "read"));
  const mmio::MmioBuffer& buffer = mapped->buffer;
  uint64_t value = 0;
  switch (access->width) {
    case 8:
      value = buffer.Read8(0);
      break;
    case 16:
      value = buffer.Read16(0);
      break;
    case 32:
      value = buffer.Read32(0);
      break;
    default:
      value = buffer.Read64(0);
      break;
  }
  if (options.json) {
    PrintDocument(AccessToJson("read", *access, value));
  } else {
    PrintWarnings("read", *access);
    std::printf("%s %s\n", FormatValue(value, access->width).c_str(),
                DescribeAccess(*access).c_str());
  }
  return kExitOk;
}

struct WriteArguments {
  RegisterArguments target;
  std::string value;
  bool yes = false;
  bool dry_run = false;
};

// --yes, or a "y" typed at the terminal.
Result<void> Confirm(const RegisterAccess& access, const std::string& value) {
  const std::string what = "write " + value + " to " + DescribeAccess(access);
  if (!::isatty(STDIN_FILENO)) {
    return Fail(Status::CANCELED,
                what + ": not confirmed: pass --yes (stdin is not a terminal to ask on)");
  }
  std::fprintf(stderr, "%s? [y/N] ", what.c_str());
  std::fflush(stderr);
  char line[16] = {};
  std::string answer = std::fgets(line, sizeof(line), stdin) != nullptr ? line : "";
  for (char& c : answer) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (answer != "y\n" && answer != "yes\n") {
    return Fail(Status::CANCELED, what + ": not confirmed at the prompt; nothing written");
  }
  return {};
}

int RunWrite(const GlobalOptions& options, const WriteArguments& arguments) {
  const uint64_t value = *ParseNumber(arguments.value);
  const uint32_t width = arguments.target.width;
  if (width < 64 && value >> width != 0) {
    std::fprintf(stderr, "busctl write: VALUE %s does not fit in %u bits\n",
                 Printable(arguments.value).c_str(), width);
    return kExitUsage;
  }
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
  auto access = PlanAccess(options, "write", arguments.target);
  if (!access) return ReportError(options, "write", access.error());
  const std::string shown = FormatValue(value, width);

  Json document = AccessToJson("write", *access, value);
  document["dry_run"] = arguments.dry_run;
  if (arguments.dry_run) {
    document["written"] = false;
    if (options.json) {
      PrintDocument(document);
    } else {
      PrintWarnings("write", *access);
      std::printf("dry run: would write %s to %s; nothing written\n", shown.c_str(),
                  DescribeAccess(*access).c_str());
    }
    return kExitOk;
  }
  if (!arguments.yes) {
    if (auto confirmed = Confirm(*access, shown); !confirmed) {
      return ReportError(options, "write", confirmed.error());
    }
  }
  auto mapped = MapRegister(options, "write", *access);
  if (!mapped) return ReportError(options, "write", ExplainDenied(mapped.error(), "write"));
  const mmio::MmioBuffer& buffer = mapped->buffer;
  switch (width) {
    case 8:
      buffer.Write8(static_cast<uint8_t>(value), 0);
      break;
    case 16:
      buffer.Write16(static_cast<uint16_t>(value), 0);
      break;
    case 32:
      buffer.Write32(static_cast<uint32_t>(value), 0);
      break;
    default:
      buffer.Write64(value, 0);
      break;
  }
  document["written"] = true;
  if (options.json) {
    PrintDocument(document);
  } else {
    PrintWarnings("write", *access);
    std::printf("wrote %s to %s\n", shown.c_str(), DescribeAccess(*access).c_str());
  }
  return kExitOk;
}

}  // namespace

void AddRegisterCommands(CLI::App& app, GlobalOptions& options, int& status) {
  auto read_arguments = std::make_shared<RegisterArguments>();
  auto* read = app.add_subcommand(
      "read",
      "read one register of a memory BAR (through VFIO when bound to vfio-pci, else "
      "the sysfs resource file)");
  AddRegisterArguments(*read, *read_arguments);
  read->callback(
      [&options, &status, read_arguments] { status = RunRead(options, *read_arguments); });

  auto write_arguments = std::make_shared<WriteArguments>();
  auto* write =
      app.add_subcommand("write", "write one register of a memory BAR; asks first unless --yes");
  AddRegisterArguments(*write, write_arguments->target);
  write->add_option("VALUE", write_arguments->value, "the value (decimal, or hex with 0x)")
      ->required()
      ->check(kNumber);
  write->add_flag("--yes,-y", write_arguments->yes, "write without asking");
  write->add_flag("--dry-run", write_arguments->dry_run,
                  "say what would be written, and write nothing");
  write->callback(
      [&options, &status, write_arguments] { status = RunWrite(options, *write_arguments); });
}

}  // namespace udrv::busctl
