// `busctl config DEV`: the function's config space as lspci -x dumps it (64
// bytes; --all: everything readable, as -xxx/-xxxx) and its capabilities in
// lspci -vv's words, with udrv's decodings in the JSON.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "capabilities.h"
#include "commands.h"
#include "config_report.h"
#include "pci/module.h"
#include "output.h"
#include "pci_format.h"
#include "privilege.h"
#include "select.h"
#include "udrv/core/text.h"
#include "udrv/pci/names.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

namespace {

struct ConfigArguments {
  std::string device;
  bool all = false;
  bool numeric = false;
};

// lspci's dump: "%02x:" every 16 bytes, then " %02x" per byte.
std::string HexDump(const pci::ConfigSpace& config, size_t length) {
  std::string out;
  for (size_t i = 0; i < length; ++i) {
    if (i % 16 == 0) out += HexId(i, 2) + ":";
    out += " " + HexId(config.bytes()[i], 2);
    if (i % 16 == 15) out += "\n";
  }
  return out;
}

Json CapabilityToJson(const CapabilityReport& report) {
  Json json = Json::object();
  json["offset"] = uint32_t{report.capability.offset};
  json["id"] = uint32_t{report.capability.id};
  json["extended"] = report.capability.extended;
  json["version"] = report.capability.extended ? Json(uint32_t{report.capability.version}) : Json();
  json["name"] = report.name;
  json["description"] = report.line;
  Json details = Json::array();
  for (const std::string& detail : report.details) details.push_back(detail);
  json["details"] = std::move(details);
  json["decoded"] = report.decoded;
  return json;
}

// "\tCapabilities: [40] MSI-X: ..." as lspci -vv prints it ("[100 v1]" for
// extended ones), then its detail lines.
std::string CapabilityText(const CapabilityReport& report) {
  const pci::Capability& cap = report.capability;
  std::string text = "\tCapabilities: [" +
                     (cap.extended ? HexId(cap.offset, 3) + " v" + std::to_string(cap.version)
                                   : HexId(cap.offset, 2)) +
                     "] " + report.line + "\n";
  for (const std::string& detail : report.details) text += "\t\t" + detail + "\n";
  return text;
}

// Reads the function and its config space once and walks its capabilities;
// the pci.ids lookup only when `with_names` (text).
Result<ConfigReport> GatherConfig(const GlobalOptions& options, const pci::Address& address,
                                  bool with_names) {
  pci::SysfsPci sysfs(options.paths());
  auto info = sysfs.Read(address);
  if (!info) return std::unexpected(info.error());
  Skipped skipped;
  auto config = ReadConfigNoting(sysfs, address, skipped);
  if (!config) return std::unexpected(config.error());
  CapabilityWalk walk = WalkCapabilities(*config, *info);
  // A capability pointer past the 64 bytes an unprivileged reader gets is
  // what `skipped` already says, not a defect of the device.
  if (walk.error && walk.error->status == Status::OUT_OF_RANGE && !skipped.empty()) {
    walk.error.reset();
  }
  std::optional<pci::Names> names;
  if (with_names) {
    auto created = pci::Names::Create(options.pci_ids);
    if (!created) return std::unexpected(created.error());
    names = std::move(*created);
  }
  return ConfigReport{std::move(*info), std::move(*config), std::move(walk), std::move(skipped),
                      std::move(names)};
}

Json ConfigDocument(const pci::Address& address) {
  Json document = NewDocument("config");
  document["device"] = address.ToString();
  return document;
}

void RenderConfigJson(const GlobalOptions& options, const pci::Address& address,
                      const ConfigReport& report) {
  Json document = ConfigDocument(address);
  document["size"] = uint64_t{report.config.size()};
  std::string bytes;
  for (const uint8_t byte : report.config.bytes()) bytes += HexId(byte, 2);
  document["bytes"] = std::move(bytes);
  Json capabilities = Json::array();
  for (const CapabilityReport& capability : report.walk.reports) {
    capabilities.push_back(CapabilityToJson(capability));
  }
  document["capabilities"] = std::move(capabilities);
  document["capability_error"] = report.walk.error ? ErrorToJson(*report.walk.error) : Json();
  document["skipped"] = report.skipped.ToJson(options);
  PrintDocument(document);
}

void RenderConfigText(const GlobalOptions& options, const ConfigArguments& arguments,
                      const ConfigReport& report) {
  const pci::ConfigSpace& config = report.config;
  // lspci -x shows the standard header: 64 bytes, 128 for a CardBus bridge.
  const size_t header = (config.Read8(pci::kConfigHeaderType).value_or(0) & 0x7f) == 2 ? 128 : 64;
  const size_t length = arguments.all ? config.size() : std::min(header, config.size());
  std::string text = SummaryLine(report.info, *report.names, arguments.numeric) + "\n" +
                     HexDump(config, length) + "\n";
  for (const CapabilityReport& capability : report.walk.reports) text += CapabilityText(capability);
  if (report.walk.error) {
    text += "\tCapabilities: <" + Printable(report.walk.error->ToString()) + ">\n";
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  report.skipped.Print("config", options);
}

int RunConfig(const GlobalOptions& options, const ConfigArguments& arguments) {
  const pci::Address address = *ParseDeviceArgument(arguments.device);  // validated
  auto report = GatherConfig(options, address, !options.json);
  if (!report) return ReportError(options, "config", report.error(), ConfigDocument(address));
  if (options.json) {
    RenderConfigJson(options, address, *report);
  } else {
    RenderConfigText(options, arguments, *report);
  }
  return kExitOk;
}

}  // namespace

void AddConfigCommand(CLI::App& app, GlobalOptions& options, int& status) {
  auto* command = app.add_subcommand(
      "config", "dump a function's config space as lspci -x does, and its capabilities");
  auto arguments = std::make_shared<ConfigArguments>();
  command->add_option("DEV", arguments->device, "the function: [[domain:]bus:]device.function")
      ->required()
      ->check(DeviceArgumentValidator());
  command->add_flag("-a,--all", arguments->all,
                    "dump all of config space that can be read (256 or 4096 bytes, as lspci "
                    "-xxx/-xxxx; 64 unprivileged)");
  command->add_flag("-n,--numeric", arguments->numeric, "numbers only in the summary line");
  command->callback([&options, &status, arguments] { status = RunConfig(options, *arguments); });
}

}  // namespace udrv::busctl
