// `busctl config DEV`: the function's config space as lspci -x dumps it (64
// bytes; --all: everything readable, as -xxx/-xxxx) and its capabilities in
// lspci -vv's words, with udrv's decodings in the JSON.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "capabilities.h"
#include "commands.h"
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

int RunConfig(const GlobalOptions& options, const ConfigArguments& arguments) {
  const pci::Address address = *ParseDeviceArgument(arguments.device);  // validated
  Json document = NewDocument("config");
  document["device"] = address.ToString();
  pci::SysfsPci sysfs(options.sysfs_root);
  auto info = sysfs.Read(address);
  if (!info) return ReportError(options, "config", info.error(), std::move(document));
  Skipped skipped;
  auto config = ReadConfigNoting(sysfs, address, skipped);
  if (!config) return ReportError(options, "config", config.error(), std::move(document));
  CapabilityWalk walk = WalkCapabilities(*config, *info);
  // A capability pointer past the 64 bytes an unprivileged reader gets is
  // what `skipped` already says, not a defect of the device.
  if (walk.error && walk.error->status == Status::OUT_OF_RANGE && !skipped.empty()) {
    walk.error.reset();
  }

  if (options.json) {
    document["size"] = uint64_t{config->size()};
    std::string bytes;
    for (const uint8_t byte : config->bytes()) bytes += HexId(byte, 2);
    document["bytes"] = std::move(bytes);
    Json capabilities = Json::array();
    for (const CapabilityReport& report : walk.reports) capabilities.push_back(CapabilityToJson(report));
    document["capabilities"] = std::move(capabilities);
    document["capability_error"] = walk.error ? ErrorToJson(*walk.error) : Json();
    document["skipped"] = skipped.ToJson(options);
    PrintDocument(document);
    return kExitOk;
  }

  auto names = pci::Names::Create(options.pci_ids);
  if (!names) return ReportError(options, "config", names.error());
  // lspci -x shows the standard header: 64 bytes, 128 for a CardBus bridge.
  const size_t header = (config->Read8(pci::kConfigHeaderType).value_or(0) & 0x7f) == 2 ? 128 : 64;
  const size_t length = arguments.all ? config->size() : std::min(header, config->size());
  std::string text = SummaryLine(*info, *names, arguments.numeric) + "\n" +
                     HexDump(*config, length) + "\n";
  for (const CapabilityReport& report : walk.reports) text += CapabilityText(report);
  if (walk.error) text += "\tCapabilities: <" + Printable(walk.error->ToString()) + ">\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
  skipped.Print("config", options);
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
