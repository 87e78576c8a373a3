# Project code builds with warnings as errors; third-party headers come in as
# SYSTEM includes so their warnings do not stop the build.
set(UDRV_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Werror)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # The fuzz tree's compiler. Linux's uapi structs end in zero-length arrays
  # (vfio_iommu_type1_info_cap_iova_range): gcc lets C++ declare one from a
  # system header, clang's -Wpedantic calls the declaration an extension.
  list(APPEND UDRV_WARNINGS -Wno-zero-length-array)
endif()

# udrv_library(NAME [DESCRIPTION text] SOURCES... [DEPS ...] [PRIVATE_DEPS ...] [INTERNAL]):
# one library per top-level directory, public headers under
# <dir>/include/udrv/<dir>/.
#
# A public library (udrv_X) is what driver writers link: shared or static
# as BUILD_SHARED_LIBS says, built as libudrv-X.so.0 (X's underscores as
# dashes), installed with its headers and exported as udrv::X
# (cmake/Install.cmake), DESCRIPTION being its pkg-config file's. DEPS are
# public: its headers include theirs, and its pkg-config file and CMake
# component require them.
#
# An INTERNAL library (the drivers, their registry) is only linked into
# udrv's own programs: always static, never installed. Its objects are
# position-independent so that it links into PIE programs and, should it
# ever be needed, into a shared library.
function(udrv_library name)
  cmake_parse_arguments(ARG "INTERNAL" "DESCRIPTION" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  if(ARG_INTERNAL)
    add_library(${name} STATIC ${ARG_SOURCES})
    set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  else()
    if(NOT name MATCHES "^udrv_(.+)$")
      message(FATAL_ERROR "udrv_library: public library ${name} is not named udrv_<name>")
    endif()
    if(NOT ARG_DESCRIPTION)
      message(FATAL_ERROR "udrv_library: public library ${name} has no DESCRIPTION")
    endif()
    set(export_name ${CMAKE_MATCH_1})
    string(REPLACE "_" "-" file_name ${export_name})
    add_library(${name} ${ARG_SOURCES})
    set_target_properties(${name} PROPERTIES
      OUTPUT_NAME udrv-${file_name}
      EXPORT_NAME ${export_name}
      VERSION ${PROJECT_VERSION}
      SOVERSION ${PROJECT_VERSION_MAJOR}
      # What cmake/Install.cmake installs and writes pkg-config files and
      # CMake components from.
      UDRV_DESCRIPTION "${ARG_DESCRIPTION}"
      UDRV_INCLUDE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/include
      UDRV_PUBLIC_DEPS "${ARG_DEPS}"
      UDRV_PRIVATE_DEPS "${ARG_PRIVATE_DEPS}")
    # The build tree's headers while building, the installed ones
    # (<prefix>/include) in the exported targets.
    target_include_directories(${name} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    # udrv's headers are C++23 (std::expected): a user's program is
    # compiled as C++23 at least.
    target_compile_features(${name} PUBLIC cxx_std_23)
    set_property(GLOBAL APPEND PROPERTY UDRV_PUBLIC_LIBRARIES ${name})
  endif()
  target_compile_options(${name} PRIVATE ${UDRV_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# udrv_third_party(TARGET LOCATION path [INCLUDE dir] [PKG_CONFIG module | LIBS flags...]):
# a library found outside udrv (libpci, libfdt) as the imported target
# udrv::TARGET, which udrv's libraries link PRIVATE. A shared libudrv-X
# hides it from its users; a static one passes it on, so the exported
# static targets name udrv::TARGET and udrvConfig.cmake defines it again on
# the user's machine (cmake/udrvConfig.cmake.in). PKG_CONFIG is its own
# pkg-config module (udrv-X.pc's Requires.private), LIBS what to link
# where it has none (Libs.private).
function(udrv_third_party name)
  cmake_parse_arguments(ARG "" "LOCATION;INCLUDE;PKG_CONFIG" "LIBS" ${ARGN})
  add_library(udrv::${name} UNKNOWN IMPORTED GLOBAL)
  set_target_properties(udrv::${name} PROPERTIES
    IMPORTED_LOCATION ${ARG_LOCATION}
    UDRV_PKG_CONFIG "${ARG_PKG_CONFIG}"
    UDRV_PKG_CONFIG_LIBS "${ARG_LIBS}")
  if(ARG_INCLUDE)
    # Imported targets' include directories are SYSTEM: their warnings do
    # not stop udrv's build.
    set_target_properties(udrv::${name} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${ARG_INCLUDE})
  endif()
endfunction()

# udrv_executable(NAME SOURCES... DEPS ...): a program; where it is
# installed, cmake/Install.cmake says.
function(udrv_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${UDRV_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()
