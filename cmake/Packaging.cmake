# Debian packages of udrv, made by CPack from the install components
# (docs/PACKAGING.md):
#   runtime -> libudrv0      the shared libraries, libudrv-*.so.0
#   dev     -> libudrv-dev   headers, .so links, CMake package, pkg-config files
#   tools   -> udrv-tools    udrv-busctl and the driver manager, host, udrv-net
# Build them in a tree configured for /usr with shared libraries:
#   cmake -S . -B build/package -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_SHARED_LIBS=ON \
#         -DUDRV_BUILD_TESTS=OFF -DUDRV_BUILD_BENCHMARKS=OFF
#   cmake --build build/package -j2 && (cd build/package && cpack -G DEB)
include(GNUInstallDirs)

set(UDRV_DEB_MAINTAINER
    "Seed 48f60ce7 maintainers <maintainers@users.noreply.h-seed-48f60ce7.example>")

# Each package's /usr/share/doc/<package>/: the copyright file Debian policy
# asks of every package, and the changelog (a native package's changelog.gz:
# the version has no Debian revision, as the packaging lives in udrv's own
# tree). EXCLUDE_FROM_ALL: CPack installs components one by one and gets
# them; a plain `cmake --install` into a prefix does not, since doc
# directories named after packages mean nothing there.
set(UDRV_DEB_CHANGELOG ${CMAKE_BINARY_DIR}/packaging/changelog)
configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/changelog.in ${UDRV_DEB_CHANGELOG} @ONLY)
# gzip -9n: maximum compression and no name or time stamp (lintian checks both).
execute_process(COMMAND gzip -9n -c ${UDRV_DEB_CHANGELOG}
                OUTPUT_FILE ${UDRV_DEB_CHANGELOG}.gz
                RESULT_VARIABLE UDRV_DEB_GZIP_RESULT)
if(NOT UDRV_DEB_GZIP_RESULT EQUAL 0)
  message(FATAL_ERROR "Packaging: gzip of ${UDRV_DEB_CHANGELOG} failed: ${UDRV_DEB_GZIP_RESULT}")
endif()
foreach(component_package IN ITEMS runtime:libudrv0 dev:libudrv-dev tools:udrv-tools)
  string(REPLACE ":" ";" component_package ${component_package})
  list(GET component_package 0 component)
  list(GET component_package 1 package)
  install(FILES ${CMAKE_SOURCE_DIR}/packaging/debian/copyright
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package}
          COMPONENT ${component} EXCLUDE_FROM_ALL)
  install(FILES ${UDRV_DEB_CHANGELOG}.gz RENAME changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package}
          COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME udrv)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${UDRV_DEB_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${UDRV_DEB_MAINTAINER})
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPackDeb would put it in front of
# each component's description, whose first line is its own summary.
set(CPACK_DEBIAN_PACKAGE_SOURCE udrv)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# udrv has no public home page yet: no Homepage field rather than a
# placeholder.

set(CPACK_DEB_COMPONENT_INSTALL ON)
# Debian ships stripped programs and libraries (lintian: unstripped-binary-or-object).
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL runtime dev tools)
# <name>_<version>_<arch>.deb, as Debian names them.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Control files 0644, maintainer scripts 0755 (lintian checks both).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libudrv0)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "C++23 framework for Linux userspace device drivers - shared libraries
udrv gives drivers that run as ordinary processes Fuchsia's device model
over Linux's VFIO, UIO, sysfs and /dev/mem: VMOs and VMARs for device
memory, interrupts and ports, BTIs and pinned memory for DMA, typed MMIO
registers, and root buses for PCI, device tree, ACPI and USB devices with
a driver manager that binds drivers to them.
.
This package holds the shared libraries (libudrv-*.so.0) that udrv's
tools and drivers built against libudrv-dev need at run time.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libudrv-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "C++23 framework for Linux userspace device drivers - development files
udrv gives drivers that run as ordinary processes Fuchsia's device model
over Linux's VFIO, UIO, sysfs and /dev/mem.
.
This package holds what a driver written against udrv builds with: the
public headers, the CMake package (find_package(udrv 0.2 COMPONENTS pci))
with imported targets udrv::core, udrv::pci and the others, and one
pkg-config file per library (pkg-config --cflags --libs udrv-pci). It also
holds udrv::mmio_testing, fake and mock register regions for drivers'
unit tests.")
# pkg-config reads udrv-pci.pc's Requires.private (libpci) even for
# --cflags: without libpci.pc, `pkg-config --cflags udrv-pci` fails.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libpci-dev")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME udrv-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION admin)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
    "C++23 framework for Linux userspace device drivers - tools
udrv gives drivers that run as ordinary processes Fuchsia's device model
over Linux's VFIO, UIO, sysfs and /dev/mem.
.
This package holds udrv's programs: udrv-busctl, which lists and inspects
the machine's PCI, device-tree, ACPI and USB devices (named so as not to
collide with systemd's busctl), udrv-driver-manager, which binds udrv's
drivers to devices and runs them, in-process or isolated in
udrv-driver-host processes, and udrv-net. Their manual pages and bash
completion come with them.")

# Depends: each package's libraries as dpkg-shlibdeps finds them (libpci3,
# libfdt1, libstdc++6, ...), and libudrv0 of this very version for the
# other two. Exact: before 1.0 a release may change the libraries' ABI
# under the same SONAME, so nothing else is promised.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_COMPONENT_TOOLS_DEPENDS runtime)
# libudrv0's shlibs file: packages built against it get the same exact
# dependency from their own dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
# The tools link libudrv-*.so.0, which are in no installed package while
# CPack runs: dpkg-shlibdeps finds them in the build tree (libudrv0's
# dependency comes from CPACK_COMPONENT_TOOLS_DEPENDS instead).
get_property(UDRV_DEB_LIBRARIES GLOBAL PROPERTY UDRV_PUBLIC_LIBRARIES)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "")
foreach(library IN LISTS UDRV_DEB_LIBRARIES)
  get_target_property(directory ${library} LIBRARY_OUTPUT_DIRECTORY)
  if(NOT directory)
    get_target_property(directory ${library} BINARY_DIR)
  endif()
  list(APPEND CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${directory})
endforeach()
list(REMOVE_DUPLICATES CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS)

# Refuse at `cpack` time, saying why, a tree that cannot make these
# packages (CPack would otherwise make empty or misplaced ones).
set(UDRV_DEB_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(UDRV_DEB_SHARED ${BUILD_SHARED_LIBS})
configure_file(${CMAKE_CURRENT_LIST_DIR}/PackagingCheck.cmake.in
               ${CMAKE_BINARY_DIR}/packaging/PackagingCheck.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/packaging/PackagingCheck.cmake)

include(CPack)
