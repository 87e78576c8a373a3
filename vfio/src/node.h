// Opening VFIO's and iommufd's character devices. Private to udrv_vfio.
#pragma once

#include <string>
#include <string_view>

#include "udrv/core/result.h"
#include "udrv/core/unique_fd.h"

namespace udrv::vfio::internal {

// O_RDWR; NOT_FOUND with `missing_hint` when there is no such node.
Result<UniqueFd> OpenNode(const std::string& path, std::string_view missing_hint,
                          const std::string& object);

// NO_RESOURCES for a map's ENOMEM (RLIMIT_MEMLOCK), the errno's status otherwise.
std::unexpected<Error> FailMap(int err, const std::string& what, const std::string& object);

}  // namespace udrv::vfio::internal
