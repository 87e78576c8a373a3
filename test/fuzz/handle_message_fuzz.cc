// A received handle message (core/src/transfer.cc) as a peer process can
// send it: any bytes, on a stream or a packet socket, in one or two sends,
// with up to three fds of the kinds handles travel as (or that a forger
// attaches instead). ReceiveHandle (or ReceiveFile) must refuse or accept it, and every fd
// that came with it must be closed once the handle is gone.
//
// Input: [shape][fd kinds][wanted rights, 4 bytes LE][message bytes...]
//   shape bit 0: SOCK_SEQPACKET (else SOCK_STREAM); bits 1-2: fd count 0..3;
//   bit 3: receive with the wanted rights (else kRightSameRights);
//   bit 4: send the bytes in two parts, cut in the middle; bit 5: the fds
//   ride on the second part; bits 6-7: receive with ReceiveHandle, or with
//   ReceiveVmo or ReceiveInterrupt, which close what is not theirs, or
//   (3) ReceiveFile, which takes only a plain file.
//   fd kinds, 2 bits per fd: 0 a 4 KiB memfd, 1 the same memfd read-only,
//   2 an eventfd, 3 a pipe's read end.
#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "udrv/core/transfer.h"

namespace {

using udrv::UniqueFd;

void Require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "handle_message_fuzz: %s\n", what);
    std::abort();
  }
}

// Open fds of this process, as /proc lists them (the listing's own fd included).
int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  Require(dir != nullptr, "cannot list /proc/self/fd");
  int count = 0;
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count;
}

UniqueFd MakeFd(uint8_t kind) {
  switch (kind) {
    case 0:
    case 1: {
      UniqueFd memfd(memfd_create("fuzz-vmo", MFD_CLOEXEC));
      Require(memfd.is_valid() && ftruncate(memfd.get(), 4096) == 0, "memfd_create");
      if (kind == 0) return memfd;
      const std::string path = "/proc/self/fd/" + std::to_string(memfd.get());
      UniqueFd read_only(open(path.c_str(), O_RDONLY | O_CLOEXEC));
      Require(read_only.is_valid(), "reopen memfd read-only");
      return read_only;
    }
    case 2: {
      UniqueFd event(eventfd(0, EFD_CLOEXEC));
      Require(event.is_valid(), "eventfd");
      return event;
    }
    default: {
      int ends[2];
      Require(pipe2(ends, O_CLOEXEC) == 0, "pipe2");
      close(ends[1]);
      return UniqueFd(ends[0]);
    }
  }
}

// Sends `bytes` with `fds` attached; false when the kernel refused it (a
// zero-length stream send with fds, for one), which is no finding.
bool Send(int socket_fd, const uint8_t* bytes, size_t size, const std::vector<UniqueFd>& fds) {
  iovec iov{const_cast<uint8_t*>(bytes), size};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * 3)> control{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    for (size_t i = 0; i < fds.size(); ++i) {
      const int fd = fds[i].get();
      std::memcpy(CMSG_DATA(cmsg) + i * sizeof(int), &fd, sizeof(int));
    }
  }
  return sendmsg(socket_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(size);
}

void CheckError(const udrv::Error& error) {
  Require(error.status != udrv::Status::TIMED_OUT, "a message that was all there timed out");
  Require(!error.ToString().empty(), "an error that renders empty");
}

void CheckVmo(const udrv::Vmo& vmo, udrv::Rights wanted) {
  Require(vmo.is_valid(), "an invalid VMO received");
  Require(wanted == udrv::kRightSameRights || vmo.rights() == wanted,
          "a VMO with rights other than asked for");
  if (auto description = vmo.Describe(); description) {
    Require(description->name.size() < udrv::wire::kNameSize, "a name longer than the wire's");
  }
  // What the kernel backs: a file received without WRITE is open read-only.
  struct stat st {};
  if (auto backing = vmo.GetBacking();
      backing && (vmo.rights() & udrv::kRightWrite) == 0 && fstat(backing->fd, &st) == 0 &&
      S_ISREG(st.st_mode)) {
    Require((fcntl(backing->fd, F_GETFL) & O_ACCMODE) == O_RDONLY,
            "a VMO without WRITE backed by a writable file");
  }
}

void CheckInterrupt(const udrv::Interrupt& interrupt, udrv::Rights wanted) {
  Require(interrupt.is_valid(), "an invalid interrupt received");
  Require(wanted == udrv::kRightSameRights || interrupt.rights() == wanted,
          "an interrupt with rights other than asked for");
}

void Receive(int socket_fd, udrv::Rights wanted, uint8_t how) {
  const udrv::Time deadline = udrv::DeadlineAfter(std::chrono::seconds(1));
  if (how == 1) {
    auto vmo = udrv::ReceiveVmo(socket_fd, wanted, deadline);
    if (vmo) {
      CheckVmo(*vmo, wanted);
    } else {
      CheckError(vmo.error());
    }
    return;
  }
  if (how == 2) {
    auto interrupt = udrv::ReceiveInterrupt(socket_fd, wanted, deadline);
    if (interrupt) {
      CheckInterrupt(*interrupt, wanted);
    } else {
      CheckError(interrupt.error());
    }
    return;
  }
  if (how == 3) {
    auto file = udrv::ReceiveFile(socket_fd, deadline);
    if (file) {
      Require(file->fd.is_valid(), "an invalid file received");
      Require(file->name.size() < udrv::wire::kNameSize, "a file name longer than the wire's");
    } else {
      CheckError(file.error());
    }
    return;
  }
  auto handle = udrv::ReceiveHandle(socket_fd, wanted, deadline);
  if (!handle) {
    CheckError(handle.error());
  } else if (auto* vmo = std::get_if<udrv::Vmo>(&*handle)) {
    CheckVmo(*vmo, wanted);
  } else {
    CheckInterrupt(std::get<udrv::Interrupt>(*handle), wanted);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const uint8_t shape = data[0];
  const uint8_t kinds = data[1];
  uint32_t wanted_bits;
  std::memcpy(&wanted_bits, data + 2, sizeof(wanted_bits));
  const uint8_t* message = data + 6;
  const size_t message_size = size - 6;

  const int open_before = CountOpenFds();
  {
    const int type = (shape & 0x1) != 0 ? SOCK_SEQPACKET : SOCK_STREAM;
    int ends[2];
    Require(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, ends) == 0, "socketpair");
    UniqueFd sender(ends[0]);
    UniqueFd receiver(ends[1]);
    std::vector<UniqueFd> fds;
    for (int i = 0; i < ((shape >> 1) & 0x3); ++i) fds.push_back(MakeFd((kinds >> (2 * i)) & 0x3));

    bool sent;
    if ((shape & 0x10) != 0) {
      const size_t first = message_size / 2;
      const std::vector<UniqueFd> none;
      const bool fds_second = (shape & 0x20) != 0;
      sent = Send(sender.get(), message, first, fds_second ? none : fds) &&
             Send(sender.get(), message + first, message_size - first, fds_second ? fds : none);
    } else {
      sent = Send(sender.get(), message, message_size, fds);
    }
    fds.clear();
    sender.reset();  // end of stream: a short message is truncated, not pending
    if (sent) {
      const udrv::Rights wanted = (shape & 0x8) != 0 ? wanted_bits : udrv::kRightSameRights;
      Receive(receiver.get(), wanted, static_cast<uint8_t>(shape >> 6));
    }
  }
  Require(CountOpenFds() == open_before, "an fd leaked");
  return 0;
}
