// `busctl iommu`: what decides whether VFIO can be used here — the IOMMU
// units and groups the kernel made (members, their drivers, the group's
// domain type, reserved regions and so the IOVA ranges DMA may use), this
// process's locked-memory limit (every pinned DMA page counts against it),
// whether VFIO's no-IOMMU mode is on, and whether the VFIO and iommufd
// device nodes exist.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "iommu_report.h"
#include "pci/module.h"
#include "output.h"
#include "pci_format.h"
#include "privilege.h"
#include "udrv/core/text.h"
#include "udrv/sysfs/file.h"
#include "udrv/sysfs/parse.h"

namespace udrv::busctl {

namespace {

// reserved_regions: "0x00000000fee00000 0x00000000feefffff msi" per line;
// nullopt without the file (kernels before 4.11).
Result<std::optional<std::vector<Region>>> ReadReservedRegions(const std::string& path) {
  auto contents = sysfs::ReadFile(path, 1 << 20);
  if (!contents) {
    if (contents.error().err_no == ENOENT) return std::optional<std::vector<Region>>();
    return std::unexpected(contents.error());
  }
  std::vector<Region> regions;
  std::istringstream file(contents->bytes);
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    std::string start, last, type;
    if (!(fields >> start >> last >> type)) {
      return Fail(Status::IO_INVALID, "unexpected reserved region line '" + line + "'", path);
    }
    const std::optional<uint64_t> first = sysfs::ParseHex(start);
    const std::optional<uint64_t> end = sysfs::ParseHex(last);
    if (!first || !end) {
      return Fail(Status::IO_INVALID, "unexpected reserved region line '" + line + "'", path);
    }
    const Region region{*first, *end, type};
    if (region.last < region.start) {
      return Fail(Status::IO_INVALID, "reserved region ends before it starts: '" + line + "'", path);
    }
    regions.push_back(region);
  }
  return std::optional<std::vector<Region>>(std::move(regions));
}

// The 64-bit IOVA space less the reserved regions, as both VFIO backends cut
// it: direct-relaxable regions (RMRRs of USB and graphics) stay usable. The
// IOMMU's address width (its aperture) is not in sysfs; VFIO cuts that too.
std::vector<std::pair<uint64_t, uint64_t>> UsableRanges(std::vector<Region> regions) {
  std::erase_if(regions, [](const Region& region) { return region.type == "direct-relaxable"; });
  std::sort(regions.begin(), regions.end(),
            [](const Region& a, const Region& b) { return a.start < b.start; });
  std::vector<std::pair<uint64_t, uint64_t>> usable;
  uint64_t next = 0;
  bool done = false;  // the space up to UINT64_MAX is covered
  for (const Region& region : regions) {
    if (done) break;
    if (region.start > next) usable.emplace_back(next, region.start - 1);
    if (region.last >= next) {
      if (region.last == UINT64_MAX) {
        done = true;
      } else {
        next = region.last + 1;
      }
    }
  }
  if (!done) usable.emplace_back(next, UINT64_MAX);
  return usable;
}

std::string Hex64(uint64_t value) { return "0x" + HexId(value, 16); }

Json RangeToJson(uint64_t start, uint64_t last) {
  Json json = Json::object();
  json["start"] = start;
  json["last"] = last;
  return json;
}

Json LimitToJson(rlim_t value) {
  return value == RLIM_INFINITY ? Json() : Json(static_cast<uint64_t>(value));
}

std::string LimitText(rlim_t value) {
  if (value == RLIM_INFINITY) return "unlimited";
  const auto bytes = static_cast<uint64_t>(value);
  std::string text = std::to_string(bytes) + " bytes";
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) text += " (" + std::to_string(bytes >> 20) + " MiB)";
  return text;
}

// Reads the tree once; the device nodes only when it is this machine's.
Result<IommuReport> GatherIommu(const GlobalOptions& options) {
  IommuReport report;
  Skipped& skipped = report.skipped;
  const std::string root = options.sysfs_root;
  if (::access(root.c_str(), X_OK) != 0) {
    return std::unexpected(FailErrno(errno, "read the sysfs tree", root).error());
  }

  // IOMMU units (dmar0, smmu3.0x...): /sys/class/iommu. None: no IOMMU.
  report.units_directory = root + "/class/iommu";
  if (auto names = sysfs::ListDirectory(report.units_directory)) report.units = std::move(*names);

  std::vector<Group>& groups = report.groups;
  const std::string groups_dir = root + "/kernel/iommu_groups";
  if (auto names = sysfs::ListDirectory(groups_dir)) {
    for (const std::string& name : *names) {
      const std::optional<int64_t> number = sysfs::ParseDecimal(name, 0, UINT32_MAX);
      if (!number) continue;  // not a group directory
      Group group;
      group.number = static_cast<uint32_t>(*number);
      const std::string dir = groups_dir + "/" + name;
      group.type = ReadOptionalAttribute(dir + "/type", skipped);
      if (auto members = sysfs::ListDirectory(dir + "/devices")) {
        for (const std::string& member : *members) {
          group.members.push_back(
              Member{member, sysfs::ReadLinkName(dir + "/devices/" + member + "/driver")});
        }
      }
      auto regions = ReadReservedRegions(dir + "/reserved_regions");
      if (!regions) return std::unexpected(regions.error());
      if (*regions) {
        group.usable = UsableRanges(**regions);
        group.reserved = std::move(*regions);
      }
      groups.push_back(std::move(group));
    }
    std::sort(groups.begin(), groups.end(),
              [](const Group& a, const Group& b) { return a.number < b.number; });
  }

  ::getrlimit(RLIMIT_MEMLOCK, &report.memlock);

  // "Y"/"N". A loaded vfio without the parameter was built without
  // CONFIG_VFIO_NOIOMMU: the mode is off for good.
  report.vfio_module = root + "/module/vfio";
  const std::string noiommu_file = report.vfio_module + "/parameters/enable_unsafe_noiommu_mode";
  const std::optional<std::string> parameter = ReadOptionalAttribute(noiommu_file, skipped);
  report.vfio_loaded = ::access(report.vfio_module.c_str(), F_OK) == 0;
  report.noiommu_parameter = parameter.has_value();
  if (parameter) {
    report.noiommu = *parameter == "Y";
  } else if (report.vfio_loaded) {
    report.noiommu = false;
  }

  // Device nodes are the running machine's: only meaningful for its own /sys.
  if (options.sysfs_root == "/sys") {
    report.vfio_node = ::access("/dev/vfio/vfio", F_OK) == 0;
    report.iommufd_node = ::access("/dev/iommu", F_OK) == 0;
  } else {
    skipped.Add("/dev/vfio/vfio and /dev/iommu",
                options.from.empty() ? "the sysfs tree read (" + root + ") is not this machine's /sys"
                                     : "replaying the snapshot " + options.from);
  }
  return report;
}

void RenderIommuJson(const GlobalOptions& options, const IommuReport& report) {
  Json document = NewDocument("iommu");
  Json unit_list = Json::array();
  for (const std::string& unit : report.units) unit_list.push_back(unit);
  document["iommus"] = std::move(unit_list);
  Json group_list = Json::array();
  for (const Group& group : report.groups) {
    Json json = Json::object();
    json["group"] = group.number;
    json["type"] = group.type ? Json(*group.type) : Json();
    Json members = Json::array();
    for (const Member& member : group.members) {
      Json entry = Json::object();
      // arm64 groups hold platform devices too.
      entry["bus"] = pci::Address::Parse(member.name) ? pci::kBusName : "platform";
      entry["device"] = member.name;
      entry["driver"] = member.driver ? Json(*member.driver) : Json();
      members.push_back(std::move(entry));
    }
    json["members"] = std::move(members);
    if (group.reserved) {
      Json reserved = Json::array();
      for (const Region& region : *group.reserved) {
        Json entry = RangeToJson(region.start, region.last);
        entry["type"] = region.type;
        reserved.push_back(std::move(entry));
      }
      json["reserved_regions"] = std::move(reserved);
      Json usable = Json::array();
      for (const auto& [start, last] : group.usable) usable.push_back(RangeToJson(start, last));
      json["usable_iova"] = std::move(usable);
    } else {
      json["reserved_regions"] = Json();
      json["usable_iova"] = Json();
    }
    group_list.push_back(std::move(json));
  }
  document["groups"] = std::move(group_list);
  Json limit = Json::object();
  limit["soft"] = LimitToJson(report.memlock.rlim_cur);
  limit["hard"] = LimitToJson(report.memlock.rlim_max);
  document["memlock"] = std::move(limit);
  document["noiommu_mode"] = report.noiommu ? Json(*report.noiommu) : Json();
  document["dev_vfio_vfio"] = report.vfio_node ? Json(*report.vfio_node) : Json();
  document["dev_iommu"] = report.iommufd_node ? Json(*report.iommufd_node) : Json();
  document["skipped"] = report.skipped.ToJson(options);
  PrintDocument(document);
}


void RenderIommuText(const GlobalOptions& options, const IommuReport& report) {
  std::string text = "IOMMU units: ";
  if (report.units.empty()) {
    text += "none (" + Printable(NameReplayedFiles(options, report.units_directory)) +
            " is empty or missing: no IOMMU, or it is off)\n";
  } else {
    for (size_t i = 0; i < report.units.size(); ++i) {
      text += (i ? ", " : "") + Printable(report.units[i]);
    }
    text += "\n";
  }
  text += "IOMMU groups: " + std::to_string(report.groups.size()) + "\n";
  for (const Group& group : report.groups) {
    text += "group " + std::to_string(group.number) + " (" +
            Printable(group.type.value_or("type unknown")) + "):";
    for (const Member& member : group.members) {
      text += " " + Printable(member.name) + " " +
              (member.driver ? Printable(*member.driver) : "(no driver)") +
              (&member != &group.members.back() ? "," : "");
    }
    text += "\n";
    if (!group.reserved) {
      text += "\treserved regions: unknown (no reserved_regions file)\n";
      continue;
    }
    for (const Region& region : *group.reserved) {
      text += "\treserved " + Hex64(region.start) + "-" + Hex64(region.last) + " " +
              Printable(region.type) + "\n";
    }
    for (const auto& [start, last] : group.usable) {
      text += "\tusable IOVA " + Hex64(start) + "-" + Hex64(last) + "\n";
    }
  }
  text += "RLIMIT_MEMLOCK: soft " + LimitText(report.memlock.rlim_cur) + ", hard " +
          LimitText(report.memlock.rlim_max) + "\n";
  text += "VFIO no-IOMMU mode: ";
  if (report.noiommu_parameter) {
    text += *report.noiommu ? "on (enable_unsafe_noiommu_mode=Y)\n" : "off\n";
  } else if (report.vfio_loaded) {
    text += "off (vfio was built without CONFIG_VFIO_NOIOMMU)\n";
  } else {
    text += "unknown (vfio is not loaded: no " +
            Printable(NameReplayedFiles(options, report.vfio_module)) + ")\n";
  }
  if (report.vfio_node) {
    text += std::string("/dev/vfio/vfio: ") + (*report.vfio_node ? "present" : "absent") + "\n";
    text += std::string("/dev/iommu: ") + (*report.iommufd_node ? "present" : "absent") + "\n";
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  report.skipped.Print("iommu", options);
}


int RunIommu(const GlobalOptions& options) {
  auto report = GatherIommu(options);
  if (!report) return ReportError(options, "iommu", report.error());
  if (options.json) {
    RenderIommuJson(options, *report);
  } else {
    RenderIommuText(options, *report);
  }
  return kExitOk;
}

}  // namespace

void AddIommuCommand(CLI::App& app, GlobalOptions& options, int& status) {
  auto* command = app.add_subcommand(
      "iommu", "IOMMU groups and their IOVA ranges, the memlock limit, VFIO's no-IOMMU mode");
  command->callback([&options, &status] { status = RunIommu(options); });
}

}  // namespace udrv::busctl
