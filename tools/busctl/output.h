// How every busctl command prints its result and its errors (docs/busctl.md):
// text by default; with --json one document on stdout,
// {"schema": "udrv.busctl/2", "command": NAME, ...}, an "error" member in it
// when the command failed.
#pragma once

#include <string_view>

#include "commands.h"
#include "document.h"
#include "udrv/core/result.h"

namespace udrv::busctl {

// The version of the documents' layout: docs/busctl.schema.json's $id.
inline constexpr std::string_view kJsonSchema = "udrv.busctl/2";

// {"schema": kJsonSchema, "command": `command`}, for the command's fields.
Json NewDocument(std::string_view command);

// Prints `document` on stdout.
void PrintDocument(const Json& document);

// {"status": "NOT_FOUND", "what": ..., "object": ..., "errno": N}
Json ErrorToJson(const Error& error);

// With --from, `text` with the private directory the snapshot was unpacked
// into named as the snapshot: ".../busctl-snapshot.Ab12Cd/sys/bus/..."
// becomes "snapshot host.snap: member sys/bus/...", which a reader can find
// (the directory is gone once busctl exits). Otherwise `text` as it is.
std::string NameReplayedFiles(const GlobalOptions& options, std::string text);
// The same for an error's what and object.
Error NameReplayedFiles(const GlobalOptions& options, Error error);

// Reports that `command` failed: "busctl COMMAND: <error>" on stderr and, with
// --json, `document` (NewDocument(command) when null) with "error" set on
// stdout, files named by NameReplayedFiles. Returns kExitFailed, for the
// command's status.
int ReportError(const GlobalOptions& options, std::string_view command, const Error& error,
                Json document = Json());

}  // namespace udrv::busctl
