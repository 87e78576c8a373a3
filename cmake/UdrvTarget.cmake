# Project code builds with warnings as errors; third-party headers come in as
# SYSTEM includes so their warnings do not stop the build.
set(UDRV_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Werror)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # The fuzz tree's compiler. Linux's uapi structs end in zero-length arrays
  # (vfio_iommu_type1_info_cap_iova_range): gcc lets C++ declare one from a
  # system header, clang's -Wpedantic calls the declaration an extension.
  list(APPEND UDRV_WARNINGS -Wno-zero-length-array)
endif()

# udrv_library(NAME SOURCES... [DEPS ...]): one library per top-level directory,
# public headers under <dir>/include/udrv/<dir>/.
function(udrv_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_compile_options(${name} PRIVATE ${UDRV_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

function(udrv_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${UDRV_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()
