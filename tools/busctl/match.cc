// busctl match ID: which registered driver's bind rules hold on one root-bus
// node, and why the others' do not. It asks the driver manager itself
// (DriverManager::Match with drivers::AllDrivers()), so busctl and
// `udrv-driver-manager --list` cannot disagree; the text is --list's block
// for the node.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "bus_modules.h"
#include "commands.h"
#include "match_report.h"
#include "output.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/bus/root_bus.h"
#include "udrv/core/text.h"
#include "udrv/drivers/registry.h"

namespace udrv::busctl {
namespace {

struct MatchArguments {
  std::string id;
};

// The node `id` names: its full id ("pci/0000:00:1c.0/0000:03:00.0"), or
// its bus and the last component of its path ("pci/0000:03:00.0").
const bus::NodeMatch* FindNode(const std::vector<bus::NodeMatch>& matches, const std::string& id) {
  for (const bus::NodeMatch& match : matches) {
    if (match.node.id == id) return &match;
  }
  for (const bus::NodeMatch& match : matches) {
    const std::string& node = match.node.id;
    if (id == match.node.bus + "/" + node.substr(node.rfind('/') + 1)) return &match;
  }
  return nullptr;
}

Result<std::vector<bus::NodeMatch>> MatchEveryNode(const GlobalOptions& options) {
  bus::RootBus root;
  for (const BusModule& module : BusModules()) {
    UDRV_TRY_ASSIGN(auto bus, module.create_bus(options, [](std::string_view line) {
      std::fprintf(stderr, "busctl match: %s\n", Printable(line).c_str());
    }));
    if (bus) UDRV_TRY(root.AddBus(std::move(bus)));
  }
  bus::DriverManager manager(root, bus::DriverManagerOptions{});
  for (const bus::Driver& driver : drivers::AllDrivers()) UDRV_TRY(manager.Register(driver));
  return manager.Match();
}

std::string RulesOf(const std::string& driver) {
  for (const bus::Driver& registered : drivers::AllDrivers()) {
    if (registered.name == driver) return bus::FormatBindRules(registered.rules);
  }
  return {};
}

// Asks the driver manager once and keeps what both renderers print.
Result<MatchReport> GatherMatch(const GlobalOptions& options, const MatchArguments& arguments) {
  UDRV_TRY_ASSIGN(auto matches, MatchEveryNode(options));
  const bus::NodeMatch* match = FindNode(matches, arguments.id);
  if (match == nullptr) {
    return Fail(Status::NOT_FOUND, "no such node on the root bus", arguments.id);
  }
  const bus::DeviceNode& node = match->node;
  MatchReport report{node.id, node.bus, node.parent, {}, match->driver, {}};
  for (const auto& [key, value] : node.properties.entries()) {
    report.properties.emplace_back(key, bus::FormatPropertyValue(value));
  }
  for (const bus::DriverMatch& candidate : match->candidates) {
    report.candidates.push_back(MatchCandidate{candidate.driver, candidate.evaluation.matched,
                                               match->driver == candidate.driver,
                                               RulesOf(candidate.driver),
                                               bus::ExplainDriverMatch(*match, candidate)});
  }
  return report;
}

void RenderMatchJson(const MatchReport& report) {
  Json document = NewDocument("match");
  Json properties = Json::object();
  for (const auto& [key, value] : report.properties) properties[key] = value;
  document["node"] = {{"id", report.id},
                      {"bus", report.bus},
                      {"parent", report.parent.empty() ? Json() : Json(report.parent)},
                      {"properties", std::move(properties)}};
  document["driver"] = report.driver ? Json(*report.driver) : Json();
  Json candidates = Json::array();
  for (const MatchCandidate& candidate : report.candidates) {
    candidates.push_back({{"driver", candidate.driver},
                          {"matched", candidate.matched},
                          {"binds", candidate.binds},
                          {"rules", candidate.rules},
                          {"verdict", candidate.verdict}});
  }
  document["candidates"] = std::move(candidates);
  PrintDocument(document);
}

void RenderMatchText(const MatchReport& report) {
  std::printf("node %s (bus %s, parent %s)\n", Printable(report.id).c_str(),
              Printable(report.bus).c_str(),
              report.parent.empty() ? "none" : Printable(report.parent).c_str());
  for (const auto& [key, value] : report.properties) {
    std::printf("  %s = %s\n", Printable(key).c_str(), Printable(value).c_str());
  }
  for (const MatchCandidate& candidate : report.candidates) {
    std::printf("  driver %s: %s\n", candidate.driver.c_str(),
                Printable(candidate.verdict).c_str());
  }
  if (!report.driver) std::printf("  no driver binds\n");
}

int RunMatch(const GlobalOptions& options, const MatchArguments& arguments) {
  auto report = GatherMatch(options, arguments);
  if (!report) return ReportError(options, "match", report.error());
  if (options.json) {
    RenderMatchJson(*report);
  } else {
    RenderMatchText(*report);
  }
  return kExitOk;
}

}  // namespace

void AddMatchCommand(CLI::App& app, GlobalOptions& options, int& status) {
  auto* command = app.add_subcommand(
      "match", "which registered driver binds a root-bus node, and why the others do not");
  auto arguments = std::make_shared<MatchArguments>();
  command->add_option("ID", arguments->id, "the node: pci/0000:00:02.0")
      ->required();
  command->callback([&options, &status, arguments] { status = RunMatch(options, *arguments); });
}

}  // namespace udrv::busctl
