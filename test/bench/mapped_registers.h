// One page of a paged VMO mapped through MmioBuffer::Create: the memory both
// the raw volatile accesses and the MmioBuffer accessors use in the
// benchmarks, so the only difference measured is the access path.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "udrv/mmio/mmio_buffer.h"

namespace udrv::mmio::bench {

// 16 registers, cycled through so no access is a loop invariant.
inline constexpr uint64_t kRegisterMask = 0x3c;

struct MappedRegisters {
  Vmar vmar;
  std::optional<MmioBuffer> mmio;

  MappedRegisters() {
    auto root = Vmar::Create(4 * PageSize(), "mmio-bench");
    auto vmo = Vmo::Create(PageSize(), "mmio-bench");
    if (!root || !vmo) Die(root ? vmo.error() : root.error());
    vmar = std::move(*root);
    auto buffer = MmioBuffer::Create(vmar, 0, PageSize(), std::move(*vmo), CachePolicy::CACHED);
    if (!buffer) Die(buffer.error());
    mmio.emplace(std::move(*buffer));
  }

  volatile uint32_t* raw() const { return static_cast<volatile uint32_t*>(mmio->get()); }

  [[noreturn]] static void Die(const Error& error) {
    std::fprintf(stderr, "mmio bench setup: %s\n", error.ToString().c_str());
    std::exit(1);
  }
};

}  // namespace udrv::mmio::bench
