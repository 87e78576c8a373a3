// What a rogue driver host tried and what the root bus let it do: each
// attempt prints "PREFIX: NAME: refused (...)" or "PREFIX: NAME: ALLOWED
// (...)", each control "works" or "FAILED"; the verdict is BAD_STATE
// naming everything allowed. Shared by the PCI and platform rogue hosts.
#pragma once

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::testing {

class AttemptLog {
 public:
  explicit AttemptLog(std::string prefix) : prefix_(std::move(prefix)) {}

  void Say(const std::string& line) const {
    std::printf("%s: %s\n", prefix_.c_str(), line.c_str());
    std::fflush(stdout);
  }

  // An attempt the root bus must refuse, `detail` saying what was seen.
  void Check(const std::string& name, bool refused, const std::string& detail) {
    ++checks_;
    if (!refused) allowed_.push_back(name);
    Say(name + (refused ? ": refused (" : ": ALLOWED (") + detail + ")");
  }
  // One that must fail with `expected`.
  template <typename T>
  void Expect(const std::string& name, const Result<T>& result, Status expected) {
    const bool refused = !result && result.error().status == expected;
    Check(name, refused, result ? std::string("it worked") : result.error().ToString());
  }
  // A system call that must fail (`failed`) with `expected_errno`; `err` is its errno.
  void ExpectErrno(const std::string& name, bool failed, int err, int expected_errno) {
    Check(name, failed && err == expected_errno,
          failed ? "errno " + std::to_string(err) + ": " + std::strerror(err) : std::string("it worked"));
  }
  // What must work for the attempts to mean anything.
  void Control(const std::string& name, bool ok, const std::string& detail) {
    ++checks_;
    if (!ok) allowed_.push_back(name + " (control failed)");
    Say(name + ": " + (ok ? "works" : "FAILED") + " (" + detail + ")");
  }

  // Says how many attempts were allowed; BAD_STATE naming them when any was.
  Result<void> Verdict() const {
    Say(std::to_string(checks_) + " attempt(s), " + std::to_string(allowed_.size()) + " allowed");
    if (allowed_.empty()) return {};
    std::string names;
    for (const std::string& name : allowed_) names += (names.empty() ? "" : ", ") + name;
    return Fail(Status::BAD_STATE, "the root bus let the rogue host do: " + names);
  }

 private:
  std::string prefix_;
  std::vector<std::string> allowed_;
  int checks_ = 0;
};

}  // namespace udrv::testing
