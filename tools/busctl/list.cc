// `busctl list`: every bus's devices in one listing. Each module gathers its
// own (bus_modules.h) and prints its block of lines; --json puts their
// entries in one "devices" array, bus by bus.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bus_modules.h"
#include "commands.h"
#include "output.h"

namespace udrv::busctl {

namespace {

struct ListedModule {
  const BusModule* module;
  ListContribution contribution;
};

int RunList(const GlobalOptions& options, const std::string& bus,
            const std::vector<ListedModule>& modules) {
  bool narrowed = false;
  for (const ListedModule& listed : modules) narrowed |= listed.contribution.narrows();
  Json document = NewDocument("list");
  Json devices = Json::array();
  std::string text;
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
    for (const Skipped::Item& item : block->skipped.items()) skipped.Add(item.what, item.why);
    status = std::max(status, block->status);
  }
  if (options.json) {
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
  list->callback([&options, &status, bus, modules] { status = RunList(options, *bus, *modules); });
}

}  // namespace udrv::busctl
