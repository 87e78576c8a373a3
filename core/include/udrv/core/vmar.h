// Virtual memory address regions. A root VMAR reserves a range of the
// process's address space (PROT_NONE); sub-VMARs divide it; VMOs are mapped
// at page-aligned offsets inside, with MAP_FIXED over the reservation, so a
// mapping can never land on something the process did not reserve.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "udrv/core/handle.h"
#include "udrv/core/vmo.h"

namespace udrv {

// Option bits with ZX_VM_* values.
using VmOptions = uint32_t;
inline constexpr VmOptions kVmPermRead = 1u << 0;
inline constexpr VmOptions kVmPermWrite = 1u << 1;
inline constexpr VmOptions kVmPermExecute = 1u << 2;
inline constexpr VmOptions kVmCompact = 1u << 3;
inline constexpr VmOptions kVmSpecific = 1u << 4;
inline constexpr VmOptions kVmSpecificOverwrite = 1u << 5;
inline constexpr VmOptions kVmCanMapSpecific = 1u << 6;
inline constexpr VmOptions kVmCanMapRead = 1u << 7;
inline constexpr VmOptions kVmCanMapWrite = 1u << 8;
inline constexpr VmOptions kVmCanMapExecute = 1u << 9;
inline constexpr VmOptions kVmMapRange = 1u << 10;

class VmarObject;
std::string DescribeObject(const VmarObject& object);

class Vmar : public Handle<Vmar, VmarObject> {
 public:
  Vmar() = default;

  // Reserves `size` bytes (rounded up to pages) of this process's address
  // space. Everything mapped through it is unmapped when the last handle and
  // child go (or at Destroy).
  static Result<Vmar> Create(uint64_t size, std::string name = "vmar");

  // A child region (zx_vmar_allocate). `options`: kVmCanMap*, kVmSpecific
  // with `offset`. Returns the child and its base address.
  Result<std::pair<Vmar, uintptr_t>> Allocate(VmOptions options, uint64_t offset,
                                              uint64_t size) const;

  // Maps `len` bytes of `vmo` from `vmo_offset` (zx_vmar_map). kVmPermWrite
  // needs kVmPermRead; kVmSpecific places it at `vmar_offset` (ALREADY_EXISTS
  // on overlap); kVmMapRange populates now. Returns the address.
  Result<uintptr_t> Map(VmOptions options, uint64_t vmar_offset, const Vmo& vmo,
                        uint64_t vmo_offset, uint64_t len) const;

  // Unmaps whole pages of mappings in [addr, addr+len); partial mappings split.
  Result<void> Unmap(uintptr_t addr, uint64_t len) const;

  // Changes the permissions of mapped pages in [addr, addr+len), within what
  // the mapping's VMO handle allowed.
  Result<void> Protect(VmOptions options, uintptr_t addr, uint64_t len) const;

  // Unmaps everything inside and makes the region and its children unusable
  // (BAD_STATE afterwards). Needs DESTROY.
  Result<void> Destroy() const;

  Result<uintptr_t> GetBase() const;
  Result<uint64_t> GetSize() const;

 private:
  friend class Handle<Vmar, VmarObject>;
  Vmar(std::shared_ptr<VmarObject> object, Rights rights) : Handle(std::move(object), rights) {}
};

}  // namespace udrv
