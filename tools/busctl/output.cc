#include "output.h"

#include <cstdio>
#include <string>

#include "udrv/core/text.h"

namespace udrv::busctl {

Json NewDocument(std::string_view command) {
  Json document = Json::object();
  document["schema"] = kJsonSchema;
  document["command"] = command;
  return document;
}

void PrintDocument(const Json& document) {
  const std::string text = DumpJson(document);
  std::fwrite(text.data(), 1, text.size(), stdout);
}

Json ErrorToJson(const Error& error) {
  Json json = Json::object();
  json["status"] = StatusName(error.status);
  json["what"] = error.what;
  json["object"] = error.object;
  json["errno"] = error.err_no;
  return json;
}

std::string NameReplayedFiles(const GlobalOptions& options, std::string text) {
  if (options.replay_directory.empty()) return text;
  const std::string directory = options.replay_directory + "/";
  const std::string name = "snapshot " + options.from + ": member ";
  for (size_t at = text.find(directory); at != std::string::npos;
       at = text.find(directory, at + name.size())) {
    text.replace(at, directory.size(), name);
  }
  return text;
}

Error NameReplayedFiles(const GlobalOptions& options, Error error) {
  error.what = NameReplayedFiles(options, std::move(error.what));
  error.object = NameReplayedFiles(options, std::move(error.object));
  return error;
}

int ReportError(const GlobalOptions& options, std::string_view command, const Error& raw_error,
                Json document) {
  const Error error = NameReplayedFiles(options, raw_error);
  std::fprintf(stderr, "busctl %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               Printable(error.ToString()).c_str());
  if (options.json) {
    if (document.is_null()) document = NewDocument(command);
    document["error"] = ErrorToJson(error);
    PrintDocument(document);
  }
  return kExitFailed;
}

}  // namespace udrv::busctl
