// The oracles of the AML reader's tests, programs nobody here wrote:
// `iasl -d` (its disassembly: Device paths, _HID, the ResourceTemplate
// macros of each static _CRS) and `acpiexec` (the bytes an object
// evaluates to). Each runs on a copy of the tables in a temporary
// directory; what it prints is parsed here.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdio>
#include <optional>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "udrv/acpi/aml.h"
#include "udrv/acpi/namespace.h"
#include "udrv/acpi/resources.h"
#include "udrv/acpi/tables.h"

namespace udrv::acpi::testing {

inline std::vector<uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline Table MakeTable(std::vector<uint8_t> bytes, std::string name) {
  return ParseTable(std::move(bytes), std::move(name), "test");
}

// The DSDT and SSDTs of a firmware directory (sysfs names), as the tables
// library reads them.
inline TableSet DefinitionBlocks(const std::filesystem::path& dir) {
  auto all = ReadTables(dir);
  INFO("reading " << dir << ": " << (all ? "" : all.error().ToString()));
  REQUIRE(all);
  TableSet set;
  for (const Table* table : all->DefinitionBlocks()) set.tables.push_back(*table);
  REQUIRE(!set.tables.empty());
  return set;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char pattern[] = "/tmp/udrv-aml-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

inline std::string Run(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

// Writes the tables into `dir` as name.aml; returns the file names.
inline std::vector<std::string> WriteTables(const TableSet& set, const std::filesystem::path& dir) {
  std::vector<std::string> files;
  for (const Table& table : set.tables) {
    const auto path = dir / (table.name + ".aml");
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(table.bytes.data()),
                                                static_cast<std::streamsize>(table.bytes.size()));
    files.push_back(path);
  }
  return files;
}

inline std::string StripSpace(const std::string& text) {
  std::string out;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

// What iasl -d says of one Device.
struct IaslDevice {
  std::string hid;                // "PNP0A08" (EisaId) or the string; empty if not a Name
  bool static_crs = false;
  bool conditional = false;       // declared inside an If, Else or While: loaded only where its predicate says
  std::vector<std::string> crs;   // each descriptor's macro, whitespace and comments taken out
};

// Removes // and /* */ comments, keeping strings.
inline std::string StripComments(const std::string& line, bool& in_block) {
  std::string out;
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    if (in_block) {
      if (line.compare(i, 2, "*/") == 0) {
        in_block = false;
        ++i;
      }
      continue;
    }
    if (in_string) {
      out += line[i];
      if (line[i] == '\\' && i + 1 < line.size()) out += line[++i];
      else if (line[i] == '"') in_string = false;
      continue;
    }
    if (line[i] == '"') in_string = true;
    if (line.compare(i, 2, "//") == 0) break;
    if (line.compare(i, 2, "/*") == 0) {
      in_block = true;
      ++i;
      continue;
    }
    out += line[i];
  }
  return out;
}

inline std::string JoinPath(const std::string& scope, const std::string& name) {
  std::string path;
  std::string rest = name;
  if (rest.starts_with('\\')) {
    path = "\\";
    rest.erase(0, 1);
  } else {
    path = scope;
    while (rest.starts_with('^')) {
      const size_t dot = path.rfind('.');
      path = dot == std::string::npos ? "\\" : path.substr(0, dot);
      rest.erase(0, 1);
    }
  }
  std::stringstream segments(rest);
  std::string seg;
  while (std::getline(segments, seg, '.')) {
    seg.resize(4, '_');
    path = path == "\\" ? "\\" + seg : path + "." + seg;
  }
  return path;
}

// The Devices of iasl -d's disassembly, by path.
inline std::map<std::string, IaslDevice> ParseIaslDevices(const std::string& dsl) {
  std::map<std::string, IaslDevice> devices;
  struct Open {
    std::string path;  // a scope's path, or empty for any other block
    bool device = false;
  };
  std::vector<Open> stack{{"\\", false}};
  std::optional<Open> pending;
  std::istringstream in(dsl);
  std::string raw;
  bool in_block = false;
  static const std::regex kScope(R"(^\s*(Scope|Device|Processor|ThermalZone|PowerResource)\s*\(([^,)]+))");
  static const std::regex kHid(R"rx(^\s*Name\s*\(_HID,\s*(EisaId\s*\(\s*"([^"]+)"\s*\)|"([^"]*)"))rx");
  static const std::regex kCrs(R"(^\s*Name\s*\(_CRS,\s*ResourceTemplate\s*\(\s*\))");
  static const std::regex kConditional(R"(^\s*(If|Else|ElseIf|While)\b)");
  auto scope = [&] {
    for (auto it = stack.rbegin(); it != stack.rend(); ++it)
      if (!it->path.empty()) return it->path;
    return std::string("\\");
  };
  std::vector<std::string> lines;
  while (std::getline(in, raw)) lines.push_back(StripComments(raw, in_block));
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    std::smatch m;
    const bool in_method = std::any_of(stack.begin(), stack.end(), [](const Open& o) { return o.path == "method"; });
    if (std::regex_search(line, m, kScope)) {
      std::string name = StripSpace(m[2]);
      pending = Open{JoinPath(scope(), name), m[1] == "Device"};
      if (pending->device && !in_method) {
        devices[pending->path].conditional =
            std::any_of(stack.begin(), stack.end(), [](const Open& o) { return o.path == "conditional"; });
      }
    } else if (line.find("Method (") != std::string::npos) {
      pending = Open{"method", false};
    } else if (std::regex_search(line, kConditional)) {
      pending = Open{"conditional", false};
    } else if (std::regex_search(line, m, kHid) && stack.back().device) {
      devices[stack.back().path].hid = m[2].matched ? m[2].str() : m[3].str();
    } else if (std::regex_search(line, kCrs) && stack.back().device) {
      // The template: from the next "{" to its "})".
      IaslDevice& device = devices[stack.back().path];
      device.static_crs = true;
      size_t j = i + 1;
      while (j < lines.size() && StripSpace(lines[j]) != "{") ++j;
      ++j;
      std::string current;
      int parens = 0;
      bool want_list = false;
      int braces = 0;
      for (; j < lines.size(); ++j) {
        const std::string text = StripSpace(lines[j]);
        if (text.empty()) continue;
        if (parens == 0 && braces == 0) {
          if (text == "})") break;
          if (want_list && text.starts_with("{")) {
            braces = 0;
          } else {
            if (!current.empty()) device.crs.push_back(current);
            current.clear();
            want_list = false;
            if (text == "{" || text == "}") continue;  // StartDependentFn's block
          }
        }
        current += text;
        for (char c : text) {
          if (c == '(') ++parens;
          if (c == ')') --parens;
          if (c == '{') ++braces;
          if (c == '}') --braces;
        }
        if (parens == 0 && braces == 0) {
          static const std::regex kListMacro(R"(^(IRQ|IRQNoFlags|DMA|Interrupt|GpioInt|GpioIo|VendorShort|VendorLong)\()");
          want_list = std::regex_search(current, kListMacro) && current.back() == ')';
        }
      }
      if (!current.empty()) device.crs.push_back(current);
      i = j;
      continue;
    }
    for (char c : line) {
      if (c == '{') {
        stack.push_back(pending.value_or(Open{}));
        pending.reset();
      } else if (c == '}' && stack.size() > 1) {
        stack.pop_back();
      }
    }
  }
  return devices;
}

inline std::map<std::string, IaslDevice> IaslDisassemble(const TableSet& set, const std::string& name) {
  TempDir dir;
  WriteTables(set, dir.path);
  // -e: the other tables, for External methods' argument counts.
  std::string others;
  for (const Table& table : set.tables)
    if (table.name != name) others += " " + table.name + ".aml";
  const std::string command = "cd " + dir.path.string() + " && iasl" +
                              (others.empty() ? "" : " -e" + others) + " -d " + name + ".aml";
  const std::string out = Run(command);
  std::ifstream dsl(dir.path / (name + ".dsl"));
  INFO(command << "\n" << out);
  REQUIRE(dsl);
  return ParseIaslDevices({std::istreambuf_iterator<char>(dsl), {}});
}

// What acpiexec says an object evaluates to.
struct AcpiexecResult {
  std::optional<std::vector<uint8_t>> buffer;
  std::optional<uint64_t> integer;
};
inline std::map<std::string, AcpiexecResult> AcpiexecEvaluate(const TableSet& set,
                                                              const std::vector<std::string>& paths) {
  std::map<std::string, AcpiexecResult> results;
  TempDir dir;
  std::string files;
  for (const auto& file : WriteTables(set, dir.path)) files += " " + file;
  for (size_t first = 0; first < paths.size(); first += 40) {
    std::string batch;
    for (size_t i = first; i < std::min(paths.size(), first + 40); ++i)
      batch += (batch.empty() ? "" : "; ") + std::string("execute ") + paths[i];
    const std::string out = Run("timeout 60 acpiexec -b '" + batch + "'" + files);
    std::istringstream in(out);
    std::string line;
    std::string current;
    bool in_buffer = false;
    static const std::regex kHexLine(R"(^\s*(?:\[Buffer\] Length [0-9A-F]+ =\s*)?[0-9A-F]{4}: ((?:[0-9A-F]{2} )+))");
    while (std::getline(in, line)) {
      if (line.starts_with("Evaluating ")) {
        current = line.substr(11);
        results[current];
        in_buffer = false;
        continue;
      }
      if (line.find("[Buffer] Length") != std::string::npos) {
        in_buffer = true;
        results[current].buffer = std::vector<uint8_t>{};
      }
      std::smatch m;
      static const std::regex kInteger(R"(^\s*\[Integer\] = ([0-9A-F]+))");
      if (std::regex_search(line, m, kInteger)) results[current].integer = std::stoull(m[1].str(), nullptr, 16);
      if (in_buffer && std::regex_search(line, m, kHexLine)) {
        std::istringstream bytes(m[1].str());
        std::string byte;
        while (bytes >> byte)
          results[current].buffer->push_back(static_cast<uint8_t>(std::stoul(byte, nullptr, 16)));
      } else if (in_buffer && line.find("[Buffer]") == std::string::npos) {
        in_buffer = false;
      }
    }
  }
  return results;
}

// "\_SB_.PCI0.SF8_.COM1._CRS" as acpiexec takes it: "\_SB.PCI0.SF8.COM1._CRS".
inline std::string AcpiexecPath(const std::string& path) {
  std::string out;
  std::stringstream segments(path.substr(1));
  std::string seg;
  while (std::getline(segments, seg, '.')) {
    while (seg.size() > 1 && seg.back() == '_') seg.pop_back();
    out += "\\" + seg;
  }
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i] == '\\') out[i] = '.';
  return out;
}

}  // namespace udrv::acpi::testing

namespace udrv::acpi::testing {

struct OracleCounts {
  size_t devices = 0;
  size_t crs_static = 0, crs_evaluated = 0, crs_needs_kernel = 0, crs_broken = 0;
  size_t needs_kernel = 0;  // every object of every device left to the kernel
  size_t acpiexec_compared = 0;  // _CRS buffers and evaluated integers (_STA, _ADR) equal to acpiexec's
  size_t iasl_conditional = 0;  // devices iasl shows inside table-level If/Else/While
  std::vector<std::string> acpiexec_only;  // what acpiexec evaluated (against simulated hardware) and udrv left
};

// The namespace of `set` against iasl -d (every Device path, every static
// _HID, every static _CRS descriptor by descriptor) and acpiexec (the
// bytes of every _CRS udrv read or evaluated).
inline OracleCounts CheckAgainstOracles(const TableSet& set, const Namespace& ns) {
  OracleCounts counts;
  std::map<std::string, IaslDevice> iasl;
  for (const Table& table : set.tables) iasl.merge(IaslDisassemble(set, table.name));
  std::map<std::string, const NamespaceDevice*> ours;
  for (const NamespaceDevice& device : ns.devices) ours[device.path] = &device;
  counts.devices = ours.size();

  // Every Device iasl shows is in the namespace, but those table-level
  // code declares, which are there only where their predicate holds.
  std::vector<std::string> iasl_paths, our_paths;
  for (const auto& [path, device] : iasl)
    if (!device.conditional || ours.contains(path)) iasl_paths.push_back(path);
  for (const auto& [path, device] : ours) our_paths.push_back(path);
  CHECK(our_paths == iasl_paths);
  for (const auto& [path, device] : iasl) counts.iasl_conditional += device.conditional;

  for (const auto& [path, device] : iasl) {
    INFO("device " << path);
    auto it = ours.find(path);
    if (it == ours.end()) continue;
    const NamespaceDevice& mine = *it->second;
    if (!device.hid.empty()) {
      CHECK(mine.hid.source == ValueSource::STATIC);
      CHECK(mine.hid.value.value_or("") == device.hid);
    }
    if (device.static_crs) {
      INFO(mine.crs.detail);
      REQUIRE(mine.crs.source == ValueSource::STATIC);
      std::vector<std::string> formatted;
      for (const Resource& resource : mine.crs.value->resources) formatted.push_back(StripSpace(FormatResource(resource)));
      CHECK(formatted == device.crs);
    }
  }

  std::vector<std::string> evaluate;
  for (const NamespaceDevice& device : ns.devices) {
    if (device.sta.source == ValueSource::EVALUATED) evaluate.push_back(AcpiexecPath(device.path + "._STA"));
    if (device.adr.source == ValueSource::EVALUATED) evaluate.push_back(AcpiexecPath(device.path + "._ADR"));
    for (ValueSource source : {device.hid.source, device.cid.source, device.uid.source, device.adr.source,
                               device.sta.source, device.crs.source})
      if (source == ValueSource::NEEDS_KERNEL) ++counts.needs_kernel;
    switch (device.crs.source) {
      case ValueSource::STATIC: ++counts.crs_static; break;
      case ValueSource::EVALUATED: ++counts.crs_evaluated; break;
      case ValueSource::NEEDS_KERNEL: ++counts.crs_needs_kernel; break;
      case ValueSource::BROKEN: ++counts.crs_broken; break;
      default: continue;
    }
    evaluate.push_back(AcpiexecPath(device.path + "._CRS"));
  }
  const auto executed = AcpiexecEvaluate(set, evaluate);
  for (const NamespaceDevice& device : ns.devices) {
    // The integers udrv evaluated (a Method _STA, _ADR), as acpiexec does.
    if (device.sta.source == ValueSource::EVALUATED) {
      INFO(device.path << "._STA");
      CHECK(executed.at(AcpiexecPath(device.path + "._STA")).integer == device.sta.value);
      ++counts.acpiexec_compared;
    }
    if (device.adr.source == ValueSource::EVALUATED) {
      INFO(device.path << "._ADR");
      CHECK(executed.at(AcpiexecPath(device.path + "._ADR")).integer == device.adr.value);
      ++counts.acpiexec_compared;
    }
    if (device.crs.source == ValueSource::ABSENT) continue;
    const std::string path = AcpiexecPath(device.path + "._CRS");
    INFO(path << ": " << device.crs.detail);
    auto it = executed.find(path);
    REQUIRE(it != executed.end());
    if (device.crs.value) {
      REQUIRE(it->second.buffer.has_value());
      CHECK(*it->second.buffer == device.crs.value->bytes);
      ++counts.acpiexec_compared;
    } else if (it->second.buffer) {
      counts.acpiexec_only.push_back(path);
    }
  }
  return counts;
}

}  // namespace udrv::acpi::testing
