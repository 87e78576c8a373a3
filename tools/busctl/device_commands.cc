// The commands that work on one device: show, read, write, bind, unbind and
// restore. Their arguments are parsed here, the same for every bus; the
// module whose device DEV names (bus_modules.h) does the rest.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bus_modules.h"
#include "commands.h"
#include "output.h"
#include "udrv/core/text.h"

namespace udrv::busctl {

std::optional<uint64_t> ParseNumber(std::string_view text) {
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const std::string_view digits = hex ? text.substr(2) : text;
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

namespace {

const CLI::Validator kDevice(
    [](std::string& text) -> std::string {
      auto module = ModuleOfDevice(text);
      return module ? "" : module.error().what;
    },
    "DEV");

const CLI::Validator kNumber(
    [](std::string& text) -> std::string {
      return ParseNumber(text) ? "" : "'" + text + "' is not a number (decimal, or hex with 0x)";
    },
    "NUMBER");

constexpr const char* kDeviceHelp =
    "the device: a PCI function ([[domain:]bus:]device.function, pci/...), a device-tree "
    "node's path (/pl031@9010000, platform/...), a USB device (2-1, usb/usb2/2-1, or "
    "002:002 as lsusb -s takes it) or an ACPI device's path (\\_SB_.HPET, acpi/...)";

// The module DEV names (the validator accepted it), or NOT_SUPPORTED when
// its bus has no such command.
template <typename Handler>
Result<Handler> HandlerOf(std::string_view command, const std::string& device,
                          Handler DeviceCommands::*member) {
  const BusModule* module = *ModuleOfDevice(device);
  Handler handler = module->device_commands.*member;
  if (handler == nullptr) {
    return Fail(Status::NOT_SUPPORTED, std::string(command) + " is not a command of the " +
                                           std::string(module->name) + " bus",
                device);
  }
  return handler;
}

// Runs `member` of DEV's module with `arguments`.
template <typename Arguments>
int Dispatch(const GlobalOptions& options, std::string_view command, const std::string& device,
             int (*DeviceCommands::*member)(const GlobalOptions&, const Arguments&),
             const Arguments& arguments) {
  auto handler = HandlerOf(command, device, member);
  if (!handler) return ReportError(options, command, handler.error());
  return (*handler)(options, arguments);
}

int UsageError(std::string_view command, const std::string& what) {
  std::fprintf(stderr, "busctl %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               Printable(what).c_str());
  return kExitUsage;
}

// [REGION] OFFSET, and VALUE after them for write.
struct RegisterOperands {
  std::string device;
  std::vector<std::string> operands;
  uint32_t width = 32;
};

void AddRegisterOperands(CLI::App& command, RegisterOperands& operands, bool value) {
  command.add_option("DEV", operands.device, kDeviceHelp)->required()->check(kDevice);
  command
      .add_option("OPERANDS", operands.operands,
                  value ? "[REGION] OFFSET VALUE: the region (PCI: the BAR index, 0-5; platform: "
                          "the reg index or reg-names name, default 0), the byte offset in it and "
                          "the value (decimal, or hex with 0x)"
                        : "[REGION] OFFSET: the region (PCI: the BAR index, 0-5; platform: the "
                          "reg index or reg-names name, default 0) and the byte offset in it "
                          "(decimal, or hex with 0x)")
      ->required()
      ->expected(value ? 2 : 1, value ? 3 : 2);
  command.add_option("--width", operands.width, "access width in bits (default 32)")
      ->check(CLI::IsMember({8, 16, 32, 64}));
}

// Splits OPERANDS into `target`; a usage error's message otherwise.
std::optional<std::string> ParseOperands(const RegisterOperands& operands, size_t trailing,
                                         RegisterArguments& target) {
  const std::vector<std::string>& list = operands.operands;
  const size_t count = list.size();
  if (count < 1 + trailing) return "OFFSET is required";
  target.device = operands.device;
  target.width = operands.width;
  target.region = count == 2 + trailing ? std::optional(list[0]) : std::nullopt;
  const std::string& offset = list[count - 1 - trailing];
  const std::optional<uint64_t> parsed = ParseNumber(offset);
  if (!parsed) return "OFFSET '" + offset + "' is not a number (decimal, or hex with 0x)";
  target.offset = *parsed;
  return std::nullopt;
}

int RunRead(const GlobalOptions& options, const RegisterOperands& operands) {
  RegisterArguments arguments;
  if (auto bad = ParseOperands(operands, 0, arguments)) return UsageError("read", *bad);
  return Dispatch(options, "read", arguments.device, &DeviceCommands::read, arguments);
}

struct WriteOperands {
  RegisterOperands target;
  bool yes = false;
  bool dry_run = false;
};

int RunWrite(const GlobalOptions& options, const WriteOperands& operands) {
  WriteArguments arguments;
  if (auto bad = ParseOperands(operands.target, 1, arguments.target)) {
    return UsageError("write", *bad);
  }
  const std::string& text = operands.target.operands.back();
  const std::optional<uint64_t> value = ParseNumber(text);
  if (!value) return UsageError("write", "VALUE '" + text + "' is not a number (decimal, or hex with 0x)");
  const uint32_t width = arguments.target.width;
  if (width < 64 && *value >> width != 0) {
    return UsageError("write",
                      "VALUE " + text + " does not fit in " + std::to_string(width) + " bits");
  }
  arguments.value = *value;
  arguments.yes = operands.yes;
  arguments.dry_run = operands.dry_run;
  return Dispatch(options, "write", arguments.target.device, &DeviceCommands::write, arguments);
}

}  // namespace

void AddDeviceCommands(CLI::App& app, GlobalOptions& options, int& status) {
  auto show_arguments = std::make_shared<ShowArguments>();
  auto* show = app.add_subcommand(
      "show",
      "everything about one device: PCI BARs and their routes, interrupts, driver, IOMMU group; "
      "a device-tree node's properties, regions and interrupts");
  show->add_option("DEV", show_arguments->device, kDeviceHelp)->required()->check(kDevice);
  for (const BusModule& module : BusModules()) {
    if (module.add_show_options != nullptr) module.add_show_options(*show, *show_arguments);
  }
  show->callback([&options, &status, show_arguments] {
    status = Dispatch(options, "show", show_arguments->device, &DeviceCommands::show,
                      *show_arguments);
  });

  auto read_operands = std::make_shared<RegisterOperands>();
  auto* read = app.add_subcommand(
      "read",
      "read one register: of a PCI memory BAR (through VFIO when bound to vfio-pci, else the "
      "sysfs resource file), or of a platform device's region (through /dev/mem)");
  AddRegisterOperands(*read, *read_operands, false);
  read->callback([&options, &status, read_operands] { status = RunRead(options, *read_operands); });

  auto write_operands = std::make_shared<WriteOperands>();
  auto* write = app.add_subcommand(
      "write", "write one register of a PCI memory BAR or a platform device's region; asks "
               "first unless --yes");
  AddRegisterOperands(*write, write_operands->target, true);
  write->add_flag("--yes,-y", write_operands->yes, "write without asking");
  write->add_flag("--dry-run", write_operands->dry_run,
                  "say what would be written, and write nothing");
  write->callback(
      [&options, &status, write_operands] { status = RunWrite(options, *write_operands); });

  const std::string state_help =
      "the rollback records (default " + std::string(kDefaultStateFile) + ")";
  auto bind_arguments = std::make_shared<BindArguments>();
  auto* bind = app.add_subcommand(
      "bind",
      "bind a device to a kernel driver (PCI: vfio-pci, uio for uio_pci_generic, or another; "
      "platform: udrv-uio-platform or another); recorded for restore");
  bind->add_option("DEV", bind_arguments->device, kDeviceHelp)->required()->check(kDevice);
  bind->add_option("DRIVER", bind_arguments->driver, "the kernel driver's name")->required();
  bind->add_option("--state-file", bind_arguments->state_file, state_help);
  bind->callback([&options, &status, bind_arguments] {
    status = Dispatch(options, "bind", bind_arguments->device, &DeviceCommands::bind,
                      *bind_arguments);
  });

  auto unbind_arguments = std::make_shared<UnbindArguments>();
  auto* unbind =
      app.add_subcommand("unbind", "take a device from its kernel driver; recorded for restore");
  unbind->add_option("DEV", unbind_arguments->device, kDeviceHelp)->required()->check(kDevice);
  unbind->add_option("--state-file", unbind_arguments->state_file, state_help);
  unbind->callback([&options, &status, unbind_arguments] {
    status = Dispatch(options, "unbind", unbind_arguments->device, &DeviceCommands::unbind,
                      *unbind_arguments);
  });

  auto restore_arguments = std::make_shared<RestoreArguments>();
  auto* restore = app.add_subcommand(
      "restore", "undo what bind and unbind did to a device (or --all), newest first");
  restore->add_option("DEV", restore_arguments->device, kDeviceHelp)->check(kDevice);
  restore->add_flag("--all", restore_arguments->all, "undo every recorded change");
  restore->add_option("--state-file", restore_arguments->state_file, state_help);
  restore->callback([&options, &status, restore_arguments] {
    status = RunRestore(options, *restore_arguments);
  });
}

}  // namespace udrv::busctl
