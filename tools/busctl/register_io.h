// What read and write share on every bus: the access itself (one
// instruction of exactly the width asked for), the value as text, the
// confirmation a write asks for, and the warnings printed with the result.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "document.h"
#include "udrv/core/result.h"
#include "udrv/mmio/mmio_buffer.h"

namespace udrv::busctl {

// "0x0000abcd": hex, zero padded to the width (bits).
std::string FormatRegisterValue(uint64_t value, uint32_t width);

// One access of `width` bits (8, 16, 32, 64) at the buffer's start.
uint64_t ReadRegister(const mmio::MmioBuffer& buffer, uint32_t width);
void WriteRegister(const mmio::MmioBuffer& buffer, uint32_t width, uint64_t value);

// A "y" typed at the terminal for `what` ("write 0x1 to ..."); CANCELED when
// stdin is no terminal or the answer is not yes.
Result<void> ConfirmWrite(const std::string& what);

// "busctl COMMAND: warning: ..." on stderr, each.
void PrintWarnings(std::string_view command, const std::vector<std::string>& warnings);
// The document's "warnings" member, set only when there are any.
void SetWarnings(Json& document, const std::vector<std::string>& warnings);

}  // namespace udrv::busctl
