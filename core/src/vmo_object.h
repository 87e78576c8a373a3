// The objects behind Vmo and Vmar handles. Private to udrv_core: vmo.cc,
// vmar.cc and the transfer code share them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmar.h"
#include "udrv/core/vmo.h"

namespace udrv {

class VmoObject {
 public:
  struct Params {
    UniqueFd fd;
    VmoKind kind = VmoKind::PAGED;
    uint64_t size = 0;
    uint64_t fd_offset = 0;  // where VMO byte 0 sits in fd
    PhysicalRoute route = PhysicalRoute::TEST_FILE;
    FdReach reach = FdReach::BEYOND_REGION;
    CachePolicy cache_policy = CachePolicy::CACHED;
    std::string name;
    // Contiguous only: a mapping of the whole huge page that Read and Write
    // copy through, because hugetlbfs files have no write(2). Owned.
    std::byte* copy_window = nullptr;
  };
  explicit VmoObject(Params params);
  ~VmoObject();
  VmoObject(const VmoObject&) = delete;
  VmoObject& operator=(const VmoObject&) = delete;

  std::string Describe() const { return "vmo '" + name_ + "'"; }

  int fd() const { return fd_.get(); }
  VmoKind kind() const { return kind_; }
  uint64_t size() const { return size_; }
  uint64_t fd_offset() const { return fd_offset_; }
  PhysicalRoute route() const { return route_; }
  FdReach reach() const { return reach_; }
  const std::string& name() const { return name_; }
  std::byte* copy_window() const { return copy_window_; }

  // The unit mappings of this VMO are made, split and protected in: the page
  // size, or the huge page size for a contiguous VMO (hugetlb VMAs cannot be
  // split inside a huge page).
  uint64_t map_granule() const;

  // The cache policies the backing can honour: the route's for a physical
  // VMO; only CACHED for memfd-backed ones (Linux maps them cached, always).
  CachePolicySet honoured_policies() const;
  // "route SYSFS_RESOURCE" / "paged memory", for errors about policies.
  std::string BackingName() const;

  CachePolicy cache_policy() const;
  Result<void> SetCachePolicy(CachePolicy policy);

  // Mappings fix the cache policy: SetCachePolicy is BAD_STATE while any exist.
  void AddMapping();
  void RemoveMapping();

 private:
  const UniqueFd fd_;
  const VmoKind kind_;
  const uint64_t size_;
  const uint64_t fd_offset_;
  const PhysicalRoute route_;
  const FdReach reach_;
  const std::string name_;
  std::byte* const copy_window_;

  mutable std::mutex mutex_;
  CachePolicy cache_policy_;  // guarded by mutex_
  size_t mapping_count_ = 0;  // guarded by mutex_
};

// Counts as one mapping of a VMO for as long as it exists and keeps the VMO
// alive; a copy (a mapping split in two) counts again.
class VmoMappingRef {
 public:
  explicit VmoMappingRef(std::shared_ptr<VmoObject> vmo) : vmo_(std::move(vmo)) {
    vmo_->AddMapping();
  }
  VmoMappingRef(const VmoMappingRef& other) : VmoMappingRef(other.vmo_) {}
  VmoMappingRef& operator=(const VmoMappingRef&) = delete;
  ~VmoMappingRef() { vmo_->RemoveMapping(); }

  VmoObject& operator*() const { return *vmo_; }
  VmoObject* operator->() const { return vmo_.get(); }

 private:
  std::shared_ptr<VmoObject> vmo_;
};

struct VmarMapping {
  uint64_t len = 0;
  VmoMappingRef vmo;
  uint64_t vmo_offset = 0;
  VmOptions perms = 0;      // kVmPerm* now in effect
  VmOptions max_perms = 0;  // kVmPerm* the VMO handle's rights allowed at map time
};

// One region of a tree: the root reservation or a sub-VMAR. Everything here
// is guarded by the tree's mutex.
struct VmarRegion {
  uintptr_t base = 0;
  uint64_t size = 0;
  bool can_map_specific = false;  // kVmCanMapSpecific; the other CAN_MAP bits are handle rights
  std::string name;
  VmarRegion* parent = nullptr;  // owns this region; null for the root and once destroyed
  bool destroyed = false;
  std::map<uintptr_t, VmarMapping> mappings;                  // by start address
  std::map<uintptr_t, std::shared_ptr<VmarRegion>> children;  // by base address

  uintptr_t end() const { return base + size; }
};

// The reservation and the lock shared by a root VMAR and all its sub-VMARs.
// It lives while any handle to any region of the tree does; then the whole
// reservation is unmapped.
struct VmarTree {
  VmarTree(uintptr_t reservation_base, uint64_t reservation_size)
      : base(reservation_base), size(reservation_size) {}
  ~VmarTree();
  VmarTree(const VmarTree&) = delete;
  VmarTree& operator=(const VmarTree&) = delete;

  std::mutex mutex;
  const uintptr_t base;
  const uint64_t size;
  std::shared_ptr<VmarRegion> root;
};

// What a Vmar handle refers to: one region, and the tree that keeps it mapped.
class VmarObject {
 public:
  VmarObject(std::shared_ptr<VmarTree> tree, std::shared_ptr<VmarRegion> region)
      : tree_(std::move(tree)), region_(std::move(region)) {}

  // "vmar 'root' @0x7f0000000000" (base and name never change).
  std::string Describe() const;

  VmarTree& tree() const { return *tree_; }
  VmarRegion& region() const { return *region_; }
  const std::shared_ptr<VmarTree>& shared_tree() const { return tree_; }

 private:
  std::shared_ptr<VmarTree> tree_;
  std::shared_ptr<VmarRegion> region_;
};

}  // namespace udrv
