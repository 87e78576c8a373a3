#include <cerrno>
#include <cstring>

#include <catch2/catch.hpp>

#include "udrv/core/result.h"
#include "udrv/core/rights.h"
#include "udrv/core/status.h"
#include "udrv/core/time.h"

namespace udrv {
namespace {

Result<int> Half(int value) {
  if (value % 2 != 0) return Fail(Status::INVALID_ARGS, "odd", std::to_string(value));
  return value / 2;
}

Result<int> Quarter(int value) {
  UDRV_TRY_ASSIGN(int half, Half(value));
  UDRV_TRY_ASSIGN(const int quarter, Half(half));
  return quarter;
}

Result<void> CheckEven(int value) {
  UDRV_TRY(Half(value));
  return {};
}

TEST_CASE("result: UDRV_TRY returns the first failure, passes values on") {
  CHECK(Quarter(12).value() == 3);
  auto odd = Quarter(6);
  REQUIRE_FALSE(odd);
  CHECK(odd.error().object == "3");
  CHECK(CheckEven(4));
  REQUIRE_FALSE(CheckEven(5));
  CHECK(CheckEven(5).error().status == Status::INVALID_ARGS);
}

TEST_CASE("status: values are Fuchsia's") {
  CHECK(static_cast<int32_t>(Status::OK) == 0);
  CHECK(static_cast<int32_t>(Status::INTERNAL) == -1);
  CHECK(static_cast<int32_t>(Status::NOT_SUPPORTED) == -2);
  CHECK(static_cast<int32_t>(Status::NO_RESOURCES) == -3);
  CHECK(static_cast<int32_t>(Status::NO_MEMORY) == -4);
  CHECK(static_cast<int32_t>(Status::INVALID_ARGS) == -10);
  CHECK(static_cast<int32_t>(Status::BAD_HANDLE) == -11);
  CHECK(static_cast<int32_t>(Status::OUT_OF_RANGE) == -14);
  CHECK(static_cast<int32_t>(Status::BAD_STATE) == -20);
  CHECK(static_cast<int32_t>(Status::TIMED_OUT) == -21);
  CHECK(static_cast<int32_t>(Status::NOT_FOUND) == -25);
  CHECK(static_cast<int32_t>(Status::ALREADY_EXISTS) == -26);
  CHECK(static_cast<int32_t>(Status::ACCESS_DENIED) == -30);
  CHECK(static_cast<int32_t>(Status::IO) == -40);
  CHECK(static_cast<int32_t>(Status::IO_NOT_PRESENT) == -44);
  CHECK(static_cast<int32_t>(Status::BAD_PATH) == -50);
  CHECK(static_cast<int32_t>(Status::STOP) == -60);
  CHECK(static_cast<int32_t>(Status::PROTOCOL_NOT_SUPPORTED) == -70);
  CHECK(static_cast<int32_t>(Status::CONNECTION_ABORTED) == -76);
}

TEST_CASE("status: names without the ZX_ERR_ prefix") {
  CHECK(StatusName(Status::OK) == "OK");
  CHECK(StatusName(Status::INVALID_ARGS) == "INVALID_ARGS");
  CHECK(StatusName(Status::ACCESS_DENIED) == "ACCESS_DENIED");
  CHECK(StatusName(Status::IO_MISSED_DEADLINE) == "IO_MISSED_DEADLINE");
  CHECK(StatusName(Status::CONNECTION_ABORTED) == "CONNECTION_ABORTED");
  CHECK(StatusName(static_cast<Status>(-999)) == "UNKNOWN_STATUS");
}

TEST_CASE("status: errno maps to the closest status") {
  CHECK(StatusFromErrno(0) == Status::OK);
  CHECK(StatusFromErrno(EPERM) == Status::ACCESS_DENIED);
  CHECK(StatusFromErrno(EACCES) == Status::ACCESS_DENIED);
  CHECK(StatusFromErrno(ENOENT) == Status::NOT_FOUND);
  CHECK(StatusFromErrno(EINVAL) == Status::INVALID_ARGS);
  CHECK(StatusFromErrno(EBADF) == Status::BAD_HANDLE);
  CHECK(StatusFromErrno(ENOMEM) == Status::NO_MEMORY);
  CHECK(StatusFromErrno(ENOSPC) == Status::NO_RESOURCES);
  CHECK(StatusFromErrno(EEXIST) == Status::ALREADY_EXISTS);
  CHECK(StatusFromErrno(EBUSY) == Status::UNAVAILABLE);
  CHECK(StatusFromErrno(EAGAIN) == Status::SHOULD_WAIT);
  CHECK(StatusFromErrno(ETIMEDOUT) == Status::TIMED_OUT);
  CHECK(StatusFromErrno(ENODEV) == Status::IO_NOT_PRESENT);
  CHECK(StatusFromErrno(EIO) == Status::IO);
  CHECK(StatusFromErrno(EXDEV) == Status::INTERNAL);
}

TEST_CASE("status: Error::ToString carries status, what, object and errno") {
  const Error error{Status::INVALID_ARGS, "map: WRITE without READ", "vmar 'root'", EINVAL};
  CHECK(error.ToString() ==
        std::string("INVALID_ARGS: map: WRITE without READ [vmar 'root'] (errno ") +
            std::to_string(EINVAL) + ": " + std::strerror(EINVAL) + ")");
  CHECK(Error{Status::BAD_STATE, "vmo is mapped", "", 0}.ToString() == "BAD_STATE: vmo is mapped");
}

TEST_CASE("status: Fail, FailErrno and Wrap build errors") {
  Result<int> failed = Fail(Status::NOT_FOUND, "no such BAR", "0000:00:02.0");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().status == Status::NOT_FOUND);
  CHECK(failed.error().object == "0000:00:02.0");
  CHECK(failed.error().err_no == 0);

  Result<void> from_errno = FailErrno(ENOENT, "open(/dev/vfio/7)", "group 7");
  REQUIRE_FALSE(from_errno);
  CHECK(from_errno.error().status == Status::NOT_FOUND);
  CHECK(from_errno.error().err_no == ENOENT);
  CHECK(from_errno.error().what == "open(/dev/vfio/7)");

  Result<void> wrapped = Wrap(from_errno.error(), "open BAR 0");
  REQUIRE_FALSE(wrapped);
  CHECK(wrapped.error().what == "open BAR 0: open(/dev/vfio/7)");
  CHECK(wrapped.error().status == Status::NOT_FOUND);
  CHECK(wrapped.error().object == "group 7");
}

TEST_CASE("status: Hex, and Hex with a minimum of digits") {
  CHECK(Hex(0) == "0x0");
  CHECK(Hex(0x1f) == "0x1f");
  CHECK(Hex(0x1, 2) == "0x01");
  CHECK(Hex(0x81, 2) == "0x81");
  CHECK(Hex(0x1234, 2) == "0x1234");  // a minimum, not a width
  CHECK(Hex(0x2, 4) == "0x0002");
  CHECK(Hex(UINT64_MAX, 20) == "0xffffffffffffffff");
}

TEST_CASE("status: RightsToString names each right") {
  CHECK(RightsToString(kRightNone) == "NONE");
  CHECK(RightsToString(kRightRead | kRightWrite | kRightMap) == "READ|WRITE|MAP");
  CHECK(RightsToString(kRightDuplicate | kRightInspect) == "DUPLICATE|INSPECT");
  CHECK(RightsToString(kRightSameRights) == "SAME_RIGHTS");
  CHECK(RightsToString(kRightRead | (1u << 20)) == "READ|0x100000");
}

TEST_CASE("status: rights bits are Fuchsia's") {
  CHECK(kRightDuplicate == 0x1);
  CHECK(kRightRead == 0x4);
  CHECK(kRightWrite == 0x8);
  CHECK(kRightMap == 0x20);
  CHECK(kRightInspect == 0x8000);
  CHECK(kRightSameRights == 0x80000000u);
  CHECK((kDefaultVmoRights & kRightDestroy) == 0);
  CHECK((kDefaultVmarRights & kRightDestroy) == kRightDestroy);
}

}  // namespace
}  // namespace udrv

TEST_CASE("time: deadlines and poll timeouts") {
  using namespace udrv;
  CHECK(TimeoutMsUntil(kInfinite) == -1);
  CHECK(TimeoutMsUntil(kInfinitePast) == 0);
  CHECK(TimeoutMsUntil(Now() - 1'000'000) == 0);
  const int ms = TimeoutMsUntil(DeadlineAfter(int64_t{1'500'000'000}));
  CHECK(ms > 1000);
  CHECK(ms <= 1500);
  CHECK(DeadlineAfter(kInfinite) == kInfinite);
  CHECK(Now() > 0);
}
