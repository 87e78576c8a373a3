// `busctl list`: every bus's devices in one listing. Each module gathers its
// own (bus_modules.h) and prints its block of lines; --json puts their
// entries in one "devices" array, bus by bus; --ids prints their node ids
// alone, one a line (what the shell completion offers for DEV and ID).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bus_modules.h"
#include "commands.h"
#include "output.h"
#include "udrv/core/text.h"

namespace udrv::busctl {

namespace {

struct ListedModule {
  const BusModule* module;
  ListContribution contribution;
};

int RunList(const GlobalOptions& options, const std::string& bus, bool ids_only,
            const std::vector<ListedModule>& modules) {
  bool narrowed = false;
  for (const ListedModule& listed : modules) narrowed |= listed.contribution.narrows();
  Json document = NewDocument("list");
  Json devices = Json::array();
  std::string text;
  std::string ids;
  Skipped skipped;
  Companions companions = GatherCompanions(options, skipped);
  int status = kExitOk;
  for (const ListedModule& listed : modules) {
    if (!bus.empty() && bus != listed.module->name) continue;
    if (bus.empty() && narrowed && !listed.contribution.narrows()) continue;
    auto block = listed.contribution.gather(companions);
    if (!block) return ReportError(options, "list", block.error());
    for (Json& device : block->devices) devices.push_back(std::move(device));
    text += block->text;
    for (const std::string& id : block->ids) ids += Printable(id) + "\n";
    for (const Skipped::Item& item : block->skipped.items()) skipped.Add(item.what, item.why);
    status = std::max(status, block->status);
  }
  if (ids_only) {
    std::fwrite(ids.data(), 1, ids.size(), stdout);
    skipped.Print("list", options);
  } else if (options.json) {
    document["devices"] = std::move(devices);
    if (!skipped.empty()) document["skipped"] = skipped.ToJson(options);
    PrintDocument(document);
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
    skipped.Print("list", options);
  }
  return status;
}

}  // namespace

void AddListCommand(CLI::App& app, GlobalOptions& options, int& status) {
  auto* list = app.add_subcommand(
      "list",
      "list every bus's devices: PCI functions as lspci -Dnn does, with their kernel driver "
      "(--tree as lspci -tvnn), then the device tree's platform devices, then the USB "
      "devices as lsusb does (--bus usb --tree as lsusb -t), then the ACPI devices no other "
      "bus's entry describes");
  auto modules = std::make_shared<std::vector<ListedModule>>();
  std::vector<std::string> names;
  for (const BusModule& module : BusModules()) {
    modules->push_back(ListedModule{&module, module.add_list_options(*list, options)});
    names.emplace_back(module.name);
  }
  auto bus = std::make_shared<std::string>();
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  list->add_option("--bus", *bus, "only the devices of bus NAME (" + joined + ")")
      ->check(CLI::IsMember(names));
  auto ids_only = std::make_shared<bool>(false);
  CLI::Option* ids = list->add_flag(
      "--ids", *ids_only,
      "print only each device's node id, one a line (pci/0000:00:02.0; usb/usb2/2-1, then its "
      "interfaces' usb/usb2/2-1/2-1:1.0): a DEV the commands on one device take");
  // --tree draws instead of listing; PCI's module adds it.
  if (CLI::Option* tree = list->get_option_no_throw("--tree")) ids->excludes(tree);
  list->callback([&options, &status, bus, ids_only, modules] {
    // A document and a list of ids are two outputs: the user picks one.
    if (*ids_only && options.json) throw CLI::ValidationError("--ids", "excludes --json");
    status = RunList(options, *bus, *ids_only, *modules);
  });
}

}  // namespace udrv::busctl
