# What the package tests share: the contract's names (docs/PACKAGING.md)
# and how a test fails, loudly and saying why.

# udrv's public libraries as their files name them (libudrv-X.so, udrv-X.pc).
UDRV_PUBLIC_LIBRARIES=(core mmio mmio-testing dma sysfs vfio bus host net pci devicetree
                       platform acpi-tables acpi-aml acpi usb)
# The same as CMake components (find_package(udrv COMPONENTS ...)).
UDRV_COMPONENTS=("${UDRV_PUBLIC_LIBRARIES[@]//-/_}")
# The directories of include/udrv/: one per top-level library directory of
# the tree (devicetree's headers are under platform/, acpi_*'s under acpi/).
UDRV_HEADER_DIRS=(acpi bus core dma host mmio net pci platform sysfs usb vfio)

fail() {
  local first=$1
  shift
  echo "$(basename "$0"): FAILED: $first" >&2
  local line
  for line in "$@"; do echo "$line" >&2; done
  exit 1
}

pass() { echo "$(basename "$0"): ok: $*"; }

# Fails when `tool` is missing, naming the Debian package that has it.
need_tool() {
  command -v "$1" >/dev/null ||
    fail "no $1 on PATH: install Debian's $2 (tools/setup/bootstrap.sh installs it)"
}

need_package_tree() {
  [ -f "$1/CMakeCache.txt" ] && [ -f "$1/cmake_install.cmake" ] ||
    fail "no built package tree at $1: build the main tree first (cmake --build; UDRV_PACKAGE_TESTS=ON builds it)"
}

# Debian's multiarch triplet (x86_64-linux-gnu), where a /usr tree's LIBDIR is.
multiarch() { gcc -print-multiarch; }
multiarch_libdir() { echo "lib/$(multiarch)"; }
