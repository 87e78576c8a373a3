#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "udrv/core/handle.h"

namespace udrv {
namespace {

// The smallest object a handle can refer to.
struct CounterObject {
  int value = 0;
};
std::string DescribeObject(const CounterObject&) { return "counter 'c'"; }

class CounterHandle : public Handle<CounterHandle, CounterObject> {
 public:
  CounterHandle() = default;
  static CounterHandle Create(Rights rights) {
    return CounterHandle(std::make_shared<CounterObject>(), rights);
  }
  // Needs WRITE, to exercise Check.
  Result<void> Increment() const {
    auto object = Check(kRightWrite, "increment");
    if (!object) return std::unexpected(object.error());
    ++(*object)->value;
    return {};
  }
  // Needs READ.
  Result<int> Get() const {
    auto object = Check(kRightRead, "get");
    if (!object) return std::unexpected(object.error());
    return (*object)->value;
  }

 private:
  friend class Handle<CounterHandle, CounterObject>;
  CounterHandle(std::shared_ptr<CounterObject> object, Rights rights)
      : Handle(std::move(object), rights) {}
};

constexpr Rights kAll = kRightDuplicate | kRightRead | kRightWrite | kRightTransfer;

TEST_CASE("handle: default handle is invalid and every operation is BAD_HANDLE") {
  CounterHandle handle;
  CHECK_FALSE(handle.is_valid());
  CHECK_FALSE(handle);
  CHECK(handle.rights() == kRightNone);
  CHECK(handle.Get().error().status == Status::BAD_HANDLE);
  CHECK(handle.Duplicate(kRightSameRights).error().status == Status::BAD_HANDLE);
  CHECK(std::move(handle).Replace(kRightSameRights).error().status == Status::BAD_HANDLE);
}

TEST_CASE("handle: Duplicate narrows and shares the object") {
  auto handle = CounterHandle::Create(kAll);
  auto reader = handle.Duplicate(kRightRead);
  REQUIRE(reader);
  CHECK(reader->rights() == kRightRead);
  CHECK(reader->SameObject(handle));
  REQUIRE(handle.Increment());
  CHECK(reader->Get().value() == 1);

  auto same = handle.Duplicate(kRightSameRights);
  REQUIRE(same);
  CHECK(same->rights() == kAll);
}

TEST_CASE("handle: Duplicate cannot add rights") {
  auto reader = CounterHandle::Create(kRightDuplicate | kRightRead);
  auto wider = reader.Duplicate(kRightRead | kRightWrite);
  REQUIRE_FALSE(wider);
  CHECK(wider.error().status == Status::INVALID_ARGS);
  CHECK(wider.error().what.find("WRITE") != std::string::npos);
  CHECK(wider.error().object == "counter 'c'");
}

TEST_CASE("handle: Duplicate needs DUPLICATE") {
  auto handle = CounterHandle::Create(kRightRead);
  auto copy = handle.Duplicate(kRightRead);
  REQUIRE_FALSE(copy);
  CHECK(copy.error().status == Status::ACCESS_DENIED);
  CHECK(copy.error().what.find("DUPLICATE") != std::string::npos);
}

TEST_CASE("handle: missing right is ACCESS_DENIED naming it") {
  auto reader = CounterHandle::Create(kRightRead);
  auto result = reader.Increment();
  REQUIRE_FALSE(result);
  CHECK(result.error().status == Status::ACCESS_DENIED);
  CHECK(result.error().what == "increment: handle lacks WRITE");
  CHECK(result.error().object == "counter 'c'");
}

TEST_CASE("handle: Replace consumes the handle") {
  auto handle = CounterHandle::Create(kAll);
  auto other = handle.Duplicate(kRightRead);
  REQUIRE(other);
  auto replaced = std::move(handle).Replace(kRightRead | kRightWrite);
  REQUIRE(replaced);
  CHECK_FALSE(handle.is_valid());
  CHECK(replaced->rights() == (kRightRead | kRightWrite));
  CHECK(replaced->SameObject(*other));
}

TEST_CASE("handle: Replace with extra rights fails and still consumes") {
  auto handle = CounterHandle::Create(kRightRead);
  auto replaced = std::move(handle).Replace(kRightRead | kRightWrite);
  REQUIRE_FALSE(replaced);
  CHECK(replaced.error().status == Status::INVALID_ARGS);
  CHECK_FALSE(handle.is_valid());
}

TEST_CASE("handle: Replace needs no DUPLICATE") {
  auto handle = CounterHandle::Create(kRightRead);
  auto replaced = std::move(handle).Replace(kRightSameRights);
  REQUIRE(replaced);
  CHECK(replaced->rights() == kRightRead);
}

TEST_CASE("handle: move leaves the source invalid; reset drops the reference") {
  auto handle = CounterHandle::Create(kAll);
  CounterHandle moved = std::move(handle);
  CHECK_FALSE(handle.is_valid());
  CHECK(handle.rights() == kRightNone);
  CHECK(moved.rights() == kAll);
  moved.reset();
  CHECK_FALSE(moved.is_valid());
}

TEST_CASE("handle: SameObject tells objects apart") {
  auto a = CounterHandle::Create(kAll);
  auto b = CounterHandle::Create(kAll);
  CounterHandle invalid;
  CHECK_FALSE(a.SameObject(b));
  CHECK(a.SameObject(a));
  CHECK_FALSE(invalid.SameObject(invalid));
}

}  // namespace
}  // namespace udrv
