// A handle message as a forger sends it: "a paged VMO of `size` bytes named
// `name`" said of whatever `fd` is, with whatever rights. The library never
// sends one like it (SendHandle describes the VMO it holds); tests of the
// receiving side, and the rogue driver host, need exactly that lie.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "udrv/core/rights.h"
#include "udrv/core/transfer.h"
#include "udrv/core/vmo.h"

namespace udrv::testing {

// Sends the forged message on `socket_fd`; false if it did not go.
inline bool SendForgedVmo(int socket_fd, int fd, uint64_t size, Rights rights,
                          std::string_view name = "forged") {
  wire::HandleMessage message;
  message.type = static_cast<uint16_t>(wire::ObjectType::VMO);
  message.rights = rights;
  message.size = size;
  message.vmo_kind = static_cast<uint32_t>(VmoKind::PAGED);
  std::memcpy(message.name, name.data(), std::min(name.size(), wire::kNameSize - 1));
  return SendHandleMessage(socket_fd, message, fd).has_value();
}

}  // namespace udrv::testing
