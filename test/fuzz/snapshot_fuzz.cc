// busctl snapshot files (DecodeSnapshot): someone else's tar archive, read
// through libarchive and checked member by member. Any input either fails
// cleanly or decodes to a snapshot that encodes and decodes again to the
// same members, and unpacks (libarchive's secure extraction) into a private
// directory that is removed again.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "snapshot_file.h"

namespace {

bool SameMembers(const udrv::busctl::Snapshot& a, const udrv::busctl::Snapshot& b) {
  if (a.tree.size() != b.tree.size()) return false;
  for (size_t n = 0; n < a.tree.size(); ++n) {
    const auto& x = a.tree[n];
    const auto& y = b.tree[n];
    if (x.kind != y.kind || x.path != y.path || x.data != y.data || x.target != y.target) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace udrv::busctl;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto snapshot = DecodeSnapshot(bytes, "fuzz");
  if (!snapshot) {
    if (snapshot.error().what.empty()) std::abort();
    return 0;
  }
  auto encoded = EncodeSnapshot(*snapshot);
  if (!encoded) std::abort();
  auto again = DecodeSnapshot(*encoded, "fuzz");
  if (!again || !SameMembers(*snapshot, *again)) std::abort();
  const char* parent = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string directory;
  {
    auto replay = SnapshotReplay::Unpack(*snapshot, parent, "fuzz");
    if (replay) directory = replay->directory();
  }
  if (!directory.empty() && ::access(directory.c_str(), F_OK) == 0) std::abort();  // not removed
  return 0;
}
