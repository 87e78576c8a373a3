// host::HostServer's generic half with a service of the test's own: what a
// service's reply carries after its body (a plain file, a VMO) reaches the
// host's Connection through its receive_more, in order. Bus services (PCI's
// in test/pci/isolation_test.cc) are tested with their buses.
#include "udrv/host/server.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "result_helpers.h"
#include "udrv/core/transfer.h"
#include "udrv/host/connection.h"
#include "udrv/host/wire.h"

namespace {

using namespace std::chrono_literals;
using udrv::Fail;
using udrv::Result;
using udrv::Status;
using udrv::UniqueFd;
using udrv::testing::StatusOf;
namespace host = udrv::host;

// The test service's one op: a file (and, when asked, a VMO before it).
struct FileReply {
  uint64_t size = 0;
};
struct FileRequest {
  static constexpr uint16_t kOp = host::wire::kFirstServiceOp;
  using Reply = FileReply;
  uint32_t with_vmo = 0;
  uint32_t reserved = 0;
};

UniqueFd FileWith(const std::string& text) {
  UniqueFd file(::memfd_create("served", MFD_CLOEXEC));
  REQUIRE(file);
  REQUIRE(::write(file.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  return file;
}

std::string ReadAll(int fd) {
  char bytes[64] = {};
  const ssize_t n = ::pread(fd, bytes, sizeof(bytes), 0);
  REQUIRE(n >= 0);
  return std::string(bytes, static_cast<size_t>(n));
}

class FileService final : public host::HostService {
 public:
  std::string DeviceName() const override { return "file-device"; }
  std::string Route() const override { return "test"; }
  std::optional<size_t> RequestSize(uint16_t op) const override {
    if (op == FileRequest::kOp) return host::wire::kBodySize<FileRequest>;
    return std::nullopt;
  }
  std::string OpName(uint16_t) const override { return "get file"; }
  Result<host::ServiceReply> Handle(uint16_t, std::span<const std::byte> body) override {
    UDRV_TRY_ASSIGN(const auto request, host::wire::DecodeBody<FileRequest>(body, "get file"));
    host::ServiceReply reply = host::ServiceReply::Of(FileReply{.size = 5});
    reply.file = FileWith("usbfs");
    reply.file_name = "/dev/bus/usb/002/002";
    if (request.with_vmo != 0) {
      UDRV_TRY_ASSIGN(reply.vmo, udrv::Vmo::Create(udrv::PageSize(), "before the file"));
      reply.vmo_rights = udrv::kRightRead | udrv::kRightMap | udrv::kRightInspect;
    }
    return reply;
  }
  Result<udrv::Interrupt> MapInterrupt(uint32_t) override {
    return Fail(Status::NOT_SUPPORTED, "no interrupts");
  }
  Result<udrv::dma::Bti> GetBti(uint32_t, uint64_t) override {
    return Fail(Status::NOT_SUPPORTED, "no BTI");
  }
  bool Quiesce(udrv::bus::ReleaseReport&) override { return true; }
};

struct Served {
  FileService service;
  std::unique_ptr<host::HostServer> server;
  std::shared_ptr<host::Connection> connection;
  std::thread thread;
  Result<void> served;

  Served() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0);
    udrv::bus::DeviceNode node;
    node.bus = "test";
    node.id = "test/file-device";
    server = std::make_unique<host::HostServer>(service, node, UniqueFd(fds[0]),
                                                host::HostServerOptions{});
    connection = host::Connection::Create(UniqueFd(fds[1]));
    thread = std::thread([this] { served = server->Serve(); });
  }
  ~Served() {
    connection.reset();  // the host goes away: Serve ends
    thread.join();
  }
};

TEST_CASE("host server: a file a service sends after its reply reaches receive_more", "[host-server]") {
  Served served;
  REQUIRE_OK(served.connection->Hello());
  for (const bool with_vmo : {false, true}) {
    udrv::ReceivedFile file;
    udrv::Vmo vmo;
    auto reply = served.connection->Call(
        FileRequest{.with_vmo = with_vmo ? 1u : 0u}, {},
        [&](int fd, const FileReply&) -> Result<void> {
          if (with_vmo) {
            UDRV_TRY_ASSIGN(vmo, udrv::ReceiveVmo(fd));
          }
          UDRV_TRY_ASSIGN(file, udrv::ReceiveFile(fd, udrv::DeadlineAfter(5s)));
          return {};
        });
    REQUIRE_OK(reply);
    CHECK(reply->size == 5);
    CHECK(file.name == "/dev/bus/usb/002/002");
    CHECK(ReadAll(file.fd.get()) == "usbfs");
    CHECK(static_cast<bool>(vmo) == with_vmo);
    if (with_vmo) CHECK((vmo.rights() & udrv::kRightWrite) == 0);
  }
}

TEST_CASE("host server: a host that takes the file for a handle is refused, and the file closed",
          "[host-server]") {
  Served served;
  REQUIRE_OK(served.connection->Hello());
  auto reply = served.connection->Call(FileRequest{}, {},
                                       [](int fd, const FileReply&) -> Result<void> {
                                         UDRV_TRY(udrv::ReceiveVmo(fd));
                                         return {};
                                       });
  CHECK(StatusOf(reply) == "WRONG_TYPE");
}

}  // namespace
