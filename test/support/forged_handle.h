// A handle message as a forger sends it: "a paged VMO of `size` bytes named
// `name`" said of whatever `fd` is, with whatever rights. The library never
// sends one like it (transfer.cc describes the VMO it holds); tests of the
// receiving side, and the rogue driver host, need exactly that lie.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "udrv/core/rights.h"
#include "udrv/core/transfer.h"
#include "udrv/core/vmo.h"

namespace udrv::testing {

// Sends the forged message on `socket_fd`; false if sendmsg did not take it.
inline bool SendForgedVmo(int socket_fd, int fd, uint64_t size, Rights rights,
                          std::string_view name = "forged") {
  wire::HandleMessage message;
  message.type = static_cast<uint16_t>(wire::ObjectType::VMO);
  message.rights = rights;
  message.size = size;
  message.vmo_kind = static_cast<uint32_t>(VmoKind::PAGED);
  std::memcpy(message.name, name.data(), name.size() < wire::kNameSize ? name.size() : wire::kNameSize - 1);
  iovec iov{&message, sizeof(message)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  return ::sendmsg(socket_fd, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(message));
}

}  // namespace udrv::testing
