// VFIO's INFO ioctls with capability chains (VFIO_IOMMU_GET_INFO,
// VFIO_DEVICE_GET_REGION_INFO): the caller passes argsz; when the chain does
// not fit the kernel says how much it needs in argsz and the call is made
// again with a larger buffer. Private to udrv_vfio.
#pragma once

#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::vfio::info {

// The info struct `Info` followed by its capabilities, as the kernel filled it.
template <typename Info>
struct InfoWithCaps {
  Info info{};
  std::vector<std::byte> bytes;  // the whole buffer, info first

  // The capability at `offset` as `Cap`, when it fits in the buffer.
  template <typename Cap>
  bool ReadCap(uint32_t offset, Cap& out) const {
    if (offset > bytes.size() || bytes.size() - offset < sizeof(Cap)) return false;
    std::memcpy(&out, bytes.data() + offset, sizeof(Cap));
    return true;
  }
};

// ioctl(fd, request, buffer) starting from `initial` (argsz and inputs set),
// growing the buffer until the capability chain fits.
template <typename Info>
Result<InfoWithCaps<Info>> Query(int fd, unsigned long request, const Info& initial,
                                 std::string_view call, const std::string& object) {
  std::vector<std::byte> buffer(sizeof(Info));
  std::memcpy(buffer.data(), &initial, sizeof(Info));
  // The chain can only grow between calls if the device changes under us;
  // a few rounds are plenty.
  for (int round = 0; round < 4; ++round) {
    uint32_t argsz = static_cast<uint32_t>(buffer.size());
    std::memcpy(buffer.data(), &argsz, sizeof(argsz));
    if (::ioctl(fd, request, buffer.data()) != 0)
      return FailErrno(errno, std::string(call), object);
    std::memcpy(&argsz, buffer.data(), sizeof(argsz));
    if (argsz <= buffer.size()) {
      InfoWithCaps<Info> result;
      std::memcpy(&result.info, buffer.data(), sizeof(Info));
      buffer.resize(argsz < sizeof(Info) ? sizeof(Info) : argsz);
      result.bytes = std::move(buffer);
      return result;
    }
    // Restore the inputs (the kernel may have written outputs) and retry larger.
    buffer.assign(argsz, std::byte{0});
    std::memcpy(buffer.data(), &initial, sizeof(Info));
  }
  return Fail(Status::IO, std::string(call) + ": the capability chain kept growing", object);
}

// Visits each capability header from `first`: visit(header, offset).
// IO_INVALID for a chain that leaves the buffer or does not move forward
// (offsets must increase, so a loop cannot trap the walk).
template <typename Info, typename Visit>
Result<void> WalkCaps(const InfoWithCaps<Info>& info, uint32_t first, std::string_view what,
                      const std::string& object, Visit visit) {
  uint32_t offset = first;
  uint32_t previous = 0;
  while (offset != 0) {
    vfio_info_cap_header header{};
    if (offset < sizeof(Info) || offset <= previous || !info.ReadCap(offset, header)) {
      return Fail(Status::IO_INVALID,
                  std::string(what) + ": capability at offset " + std::to_string(offset) +
                      " lies outside the " + std::to_string(info.bytes.size()) +
                      "-byte info or before the previous one",
                  object);
    }
    visit(header, offset);
    previous = offset;
    offset = header.next;
  }
  return {};
}

}  // namespace udrv::vfio::info
