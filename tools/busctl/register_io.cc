#include "register_io.h"

#include <unistd.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>

#include "udrv/core/text.h"

namespace udrv::busctl {

std::string FormatRegisterValue(uint64_t value, uint32_t width) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%0*" PRIx64, static_cast<int>(width / 4), value);
  return text;
}

uint64_t ReadRegister(const mmio::MmioBuffer& buffer, uint32_t width) {
  switch (width) {
    case 8:
      return buffer.Read8(0);
    case 16:
      return buffer.Read16(0);
    case 32:
      return buffer.Read32(0);
    default:
      return buffer.Read64(0);
  }
}

void WriteRegister(const mmio::MmioBuffer& buffer, uint32_t width, uint64_t value) {
  switch (width) {
    case 8:
      buffer.Write8(static_cast<uint8_t>(value), 0);
      break;
    case 16:
      buffer.Write16(static_cast<uint16_t>(value), 0);
      break;
    case 32:
      buffer.Write32(static_cast<uint32_t>(value), 0);
      break;
    default:
      buffer.Write64(value, 0);
      break;
  }
}

Result<void> ConfirmWrite(const std::string& what) {
  if (!::isatty(STDIN_FILENO)) {
    return Fail(Status::CANCELED,
                what + ": not confirmed: pass --yes (stdin is not a terminal to ask on)");
  }
  std::fprintf(stderr, "%s? [y/N] ", what.c_str());
  std::fflush(stderr);
  char line[16] = {};
  std::string answer = std::fgets(line, sizeof(line), stdin) != nullptr ? line : "";
  for (char& c : answer) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (answer != "y\n" && answer != "yes\n") {
    return Fail(Status::CANCELED, what + ": not confirmed at the prompt; nothing written");
  }
  return {};
}

void PrintWarnings(std::string_view command, const std::vector<std::string>& warnings) {
  for (const std::string& warning : warnings) {
    std::fprintf(stderr, "busctl %.*s: warning: %s\n", static_cast<int>(command.size()),
                 command.data(), Printable(warning).c_str());
  }
}

void SetWarnings(Json& document, const std::vector<std::string>& warnings) {
  if (warnings.empty()) return;
  Json list = Json::array();
  for (const std::string& warning : warnings) list.push_back(warning);
  document["warnings"] = std::move(list);
}

}  // namespace udrv::busctl
