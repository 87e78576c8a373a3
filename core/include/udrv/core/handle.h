// A handle is a reference to an object plus a rights mask, like a Zircon
// handle. Handles are move-only; Duplicate makes a second one with the same
// or fewer rights, Replace trades one for another with fewer rights.
//
// Objects are shared (std::shared_ptr): an object lives while any handle,
// mapping or pin refers to it, as a kernel object does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "udrv/core/result.h"
#include "udrv/core/rights.h"

namespace udrv {

// Derived is the public handle type (Vmo, Vmar, ...); Object the shared state,
// defined privately. Each object type declares
// `std::string DescribeObject(const Object&)` beside its handle class; errors
// name the object with it ("vmo 'bar0'").
template <typename Derived, typename Object>
class Handle {
 public:
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept
      : object_(std::move(other.object_)), rights_(std::exchange(other.rights_, kRightNone)) {}
  Handle& operator=(Handle&& other) noexcept {
    object_ = std::move(other.object_);
    rights_ = std::exchange(other.rights_, kRightNone);
    return *this;
  }

  bool is_valid() const { return object_ != nullptr; }
  explicit operator bool() const { return is_valid(); }
  Rights rights() const { return rights_; }
  void reset() {
    object_.reset();
    rights_ = kRightNone;
  }

  // Needs DUPLICATE. `rights` must be a subset of this handle's rights, or
  // kRightSameRights; anything more is INVALID_ARGS, as in zx_handle_duplicate.
  Result<Derived> Duplicate(Rights rights) const {
    auto obj = Check(kRightDuplicate, "duplicate");
    if (!obj) return std::unexpected(obj.error());
    auto narrowed = Narrow(rights, "duplicate");
    if (!narrowed) return std::unexpected(narrowed.error());
    return Derived(object_, *narrowed);
  }

  // Consumes this handle (even on failure, as zx_handle_replace does) and
  // returns one with `rights`, which must be a subset or kRightSameRights.
  Result<Derived> Replace(Rights rights) && {
    if (!is_valid()) return Fail(Status::BAD_HANDLE, "replace: invalid handle");
    auto narrowed = Narrow(rights, "replace");
    auto object = std::move(object_);
    rights_ = kRightNone;
    if (!narrowed) return std::unexpected(narrowed.error());
    return Derived(std::move(object), *narrowed);
  }

  // Two handles refer to the same object (zx_object_get_info KOID compare).
  bool SameObject(const Handle& other) const { return object_ && object_ == other.object_; }

 protected:
  Handle(std::shared_ptr<Object> object, Rights rights)
      : object_(std::move(object)), rights_(rights) {}

  // The object if this handle is valid and holds every right in `needed`:
  // BAD_HANDLE or ACCESS_DENIED (naming the missing rights) otherwise.
  Result<Object*> Check(Rights needed, std::string_view op) const {
    if (!object_) return Fail(Status::BAD_HANDLE, std::string(op) + ": invalid handle");
    if ((rights_ & needed) != needed) {
      return Fail(Status::ACCESS_DENIED,
                  std::string(op) + ": handle lacks " + RightsToString(needed & ~rights_),
                  DescribeObject(*object_));
    }
    return object_.get();
  }

  const std::shared_ptr<Object>& object() const { return object_; }

 private:
  Result<Rights> Narrow(Rights rights, std::string_view op) const {
    if (rights == kRightSameRights) return rights_;
    if ((rights & ~rights_) != 0) {
      return Fail(Status::INVALID_ARGS,
                  std::string(op) + ": cannot add rights " + RightsToString(rights & ~rights_),
                  DescribeObject(*object_));
    }
    return rights;
  }

  std::shared_ptr<Object> object_;
  Rights rights_ = kRightNone;
};

}  // namespace udrv
