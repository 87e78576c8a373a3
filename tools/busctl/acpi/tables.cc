// `busctl acpi tables`: the ACPI tables as `acpidump -s` summarizes them,
// each checked; `busctl acpi tables show NAME`: one table decoded field by
// field, laid out as `iasl -d` prints it, so that iasl is the oracle.
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "acpi/module.h"
#include "output.h"
#include "udrv/acpi/tables.h"
#include "udrv/core/text.h"

namespace udrv::busctl {

namespace {

__attribute__((format(printf, 1, 2))) std::string Format(const char* format, ...) {
  char buffer[256];
  va_list arguments;
  va_start(arguments, format);
  std::vsnprintf(buffer, sizeof(buffer), format, arguments);
  va_end(arguments);
  return buffer;
}

// "(v06 FIRECK FCVMFADT 00000000 FCAT 20240119)": acpidump -s's part.
std::string HeaderSummary(const acpi::TableHeader& header) {
  return Format("%06X (v%02X %-6s %-8s %08X %-4s %08X)", header.length, header.revision,
                Printable(header.oem_id).c_str(), Printable(header.oem_table_id).c_str(),
                header.oem_revision, Printable(header.creator_id).c_str(),
                header.creator_revision);
}

Json TableToJson(const acpi::Table& table) {
  const acpi::TableHeader& header = table.header;
  Json json = Json::object();
  json["name"] = table.name;
  json["signature"] = header.signature;
  json["length"] = header.length;
  json["bytes"] = table.bytes.size();
  json["revision"] = header.revision;
  json["checksum"] = header.checksum;
  json["oem_id"] = header.oem_id;
  json["oem_table_id"] = header.oem_table_id;
  json["oem_revision"] = header.oem_revision;
  json["creator_id"] = header.creator_id;
  json["creator_revision"] = header.creator_revision;
  json["source"] = table.source;
  json["decoder"] = acpi::HasDecoder(header.signature);
  Json problems = Json::array();
  for (const Error& problem : table.problems) problems.push_back(ErrorToJson(problem));
  json["problems"] = std::move(problems);
  return json;
}

int RunTables(const GlobalOptions& options) {
  Json document = NewDocument("acpi tables");
  auto tables = ReadAcpiTables(options);
  if (!tables) return ReportError(options, "acpi tables", tables.error(), std::move(document));
  if (options.json) {
    document["source"] = AcpiTablesSource(options);
    Json list = Json::array();
    for (const acpi::Table& table : tables->tables) list.push_back(TableToJson(table));
    document["tables"] = std::move(list);
    PrintDocument(document);
    return kExitOk;
  }
  std::string text;
  for (const acpi::Table& table : tables->tables) {
    text += Format("%-6s %-4s ", Printable(table.name).c_str(),
                   Printable(table.header.signature).c_str()) +
            HeaderSummary(table.header);
    if (table.problems.empty()) {
      text += " checksum ok";
    } else {
      for (const Error& problem : table.problems) text += "; " + Printable(problem.ToString());
    }
    text += "\n";
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

// One field as iasl -d prints it: "[024h 0036   4]" (hex and decimal
// offset, length), the name right-aligned to column 44, the value. A flags
// word's bits follow it without the bracket, as iasl's "(decoded below)"; a
// structure's fields (a Generic Address Structure) follow its line; a
// subtable is no line of its own: a blank line, then its fields, as iasl
// separates subtables.
void RenderField(const acpi::Field& field, bool bit, std::string& text) {
  const bool group = !field.number && field.text.empty() && !field.children.empty();
  if (group) {
    text += "\n";
    for (const acpi::Field& child : field.children) RenderField(child, false, text);
    return;
  }
  const std::string name = Printable(field.name);
  if (bit) {
    text += Format("%44s : ", name.c_str());
  } else {
    text += Format("[%03Xh %04u %3u] %28s : ", field.offset, field.offset, field.length,
                   name.c_str());
  }
  text += Printable(field.text) + "\n";
  const bool flags = field.number.has_value();
  for (const acpi::Field& child : field.children) RenderField(child, flags, text);
}

Json FieldToJson(const acpi::Field& field) {
  Json json = Json::object();
  json["name"] = field.name;
  json["offset"] = field.offset;
  json["length"] = field.length;
  json["value"] = field.number ? Json(*field.number) : Json();
  json["text"] = field.text;
  Json children = Json::array();
  for (const acpi::Field& child : field.children) children.push_back(FieldToJson(child));
  json["children"] = std::move(children);
  return json;
}

int RunTableShow(const GlobalOptions& options, const std::string& name) {
  Json document = NewDocument("acpi tables show");
  auto tables = ReadAcpiTables(options);
  if (!tables) return ReportError(options, "acpi tables show", tables.error(), std::move(document));
  const acpi::Table* table = tables->Find(name);
  if (table == nullptr) {
    std::string names;
    for (const acpi::Table& each : tables->tables) names += (names.empty() ? "" : ", ") + each.name;
    return ReportError(options, "acpi tables show",
                       Error{Status::NOT_FOUND,
                             "no table " + name + " in " + AcpiTablesSource(options) +
                                 " (it has " + (names.empty() ? "none" : names) + ")",
                             name, 0},
                       std::move(document));
  }
  auto decoded = acpi::DecodeTable(*table);
  // A table without a decoder, or one that breaks off, is still shown: its
  // header, and why no more.
  std::optional<Error> why_not;
  std::string description;
  std::vector<acpi::Field> fields;
  if (decoded) {
    description = decoded->description;
    fields = std::move(decoded->fields);
  } else {
    why_not = decoded.error();
    fields = acpi::DecodeHeader(*table);
  }
  if (options.json) {
    document["table"] = TableToJson(*table);
    document["description"] = description.empty() ? Json() : Json(description);
    document["decoded"] = !why_not.has_value();
    document["why_not"] = why_not ? ErrorToJson(*why_not) : Json();
    Json list = Json::array();
    for (const acpi::Field& field : fields) list.push_back(FieldToJson(field));
    document["fields"] = std::move(list);
    PrintDocument(document);
    return kExitOk;
  }
  std::string text = Printable(table->name) +
                     (description.empty() ? "" : ": " + Printable(description)) + " (" +
                     Printable(table->source) + ")\n";
  for (const Error& problem : table->problems) {
    text += "Problem: " + Printable(problem.ToString()) + "\n";
  }
  text += "\n";
  for (const acpi::Field& field : fields) RenderField(field, false, text);
  if (why_not) {
    const std::string& signature = table->header.signature;
    text += "\n" + std::string(why_not->status == Status::NOT_SUPPORTED
                                   ? "No decoder: "
                                   : "Decoding stopped: ") +
            Printable(why_not->ToString()) + "\n";
    if (signature == "DSDT" || signature == "SSDT") {
      text += "(AML: the devices it declares are busctl list's and show's)\n";
    }
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace

void AddAcpiCommands(CLI::App& app, GlobalOptions& options, int& status) {
  auto* acpi = app.add_subcommand("acpi", "the ACPI firmware: its tables");
  acpi->require_subcommand(1);
  acpi->fallthrough();
  auto* tables = acpi->add_subcommand(
      "tables",
      "every ACPI table as acpidump -s lists it (name, signature, length, revision, OEM, "
      "creator), each checked (length, checksum); `show NAME` decodes one as iasl -d does");
  tables->fallthrough();
  tables->require_subcommand(0, 1);
  auto* show = tables->add_subcommand("show", "one table, field by field, as iasl -d prints it");
  show->fallthrough();
  auto name = std::make_shared<std::string>();
  show->add_option("NAME", *name, "the table: DSDT, SSDT2, FACP (a signature: its first table)")
      ->required();
  show->callback([&options, &status, name] { status = RunTableShow(options, *name); });
  tables->callback([&options, &status, show] {
    if (!show->parsed()) status = RunTables(options);
  });
}

}  // namespace udrv::busctl
