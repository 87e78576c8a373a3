// The framing of host messages: what the root bus's server and a host's
// connection accept and refuse before any op sees a body.
#include <catch2/catch.hpp>
#include <cstring>

#include "result_helpers.h"
#include "udrv/host/wire.h"

namespace wire = udrv::host::wire;
using udrv::testing::StatusOf;

TEST_CASE("host wire: a framed request parses back to its op, device and typed body", "[host-wire]") {
  const wire::GetBtiRequest request{.index = 3, .dma_limit = 0x1000};
  const auto bytes = wire::FrameRequest(request, 7);
  auto message = wire::ParseMessage(bytes);
  REQUIRE_OK(message);
  CHECK(message->header.op == wire::GetBtiRequest::kOp);
  CHECK(message->header.device == 7);
  auto decoded = wire::DecodeBody<wire::GetBtiRequest>(message->body, "test");
  REQUIRE_OK(decoded);
  CHECK(decoded->index == 3);
  CHECK(decoded->dma_limit == 0x1000);
  // An empty request has no body bytes at all.
  CHECK(wire::FrameRequest(wire::HelloRequest{}).size() == sizeof(wire::Header));
}

TEST_CASE("host wire: wrong sizes, magic and versions are refused", "[host-wire]") {
  auto bytes = wire::FrameRequest(wire::UnpinRequest{.bti = 1, .pin = 2});
  // A body of another op's size.
  CHECK(StatusOf(wire::DecodeBody<wire::BtiInfoRequest>(wire::ParseMessage(bytes)->body, "test")) ==
        "IO_INVALID");
  // A header whose size is not what follows.
  auto cut = bytes;
  cut.pop_back();
  CHECK(StatusOf(wire::ParseMessage(cut)) == "IO_INVALID");
  CHECK(StatusOf(wire::ParseMessage(std::span(bytes).first(4))) == "IO_INVALID");
  auto old = bytes;
  const uint16_t version = 1;
  std::memcpy(old.data() + offsetof(wire::Header, version), &version, sizeof(version));
  CHECK(StatusOf(wire::ParseMessage(old)) == "IO_INVALID");
}

TEST_CASE("host wire: replies carry a status; an error carries no body", "[host-wire]") {
  const wire::GetBtiReply body{.bti = 5};
  const auto ok = wire::FrameReply(wire::GetBtiRequest::kOp, std::as_bytes(std::span(&body, 1)));
  auto parsed = wire::ParseReply(*wire::ParseMessage(ok), wire::GetBtiRequest::kOp);
  REQUIRE_OK(parsed);
  REQUIRE_OK(wire::StatusResult(parsed->status));
  CHECK(parsed->body.size() == sizeof(body));
  // A reply to another op does not answer the request.
  CHECK(StatusOf(wire::ParseReply(*wire::ParseMessage(ok), wire::BtiInfoRequest::kOp)) == "IO_INVALID");

  const auto error = wire::FrameError(wire::GetBtiRequest::kOp,
                                      udrv::Error{udrv::Status::NO_RESOURCES, "spent", "host", 0});
  auto refused = wire::ParseReply(*wire::ParseMessage(error), wire::GetBtiRequest::kOp);
  REQUIRE_OK(refused);
  auto result = wire::StatusResult(refused->status);
  CHECK(StatusOf(result) == "NO_RESOURCES");
  CHECK(result.error().what == "spent");
}
