#include "udrv/core/version.h"

namespace udrv {

// Compiled here, into libudrv-core: the library's own version, whichever
// version the program that calls it was compiled against.
std::string_view Version() { return UDRV_VERSION; }

}  // namespace udrv
