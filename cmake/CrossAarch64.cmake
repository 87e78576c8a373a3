# Builds the same tree for aarch64 in <build>/aarch64 and folds its tests into
# this build's ctest, so one `ctest` runs every suite on both architectures.
include(ExternalProject)
set(UDRV_AARCH64_DIR ${CMAKE_BINARY_DIR}/aarch64)
ExternalProject_Add(udrv_aarch64
  SOURCE_DIR ${CMAKE_SOURCE_DIR}
  BINARY_DIR ${UDRV_AARCH64_DIR}
  CMAKE_ARGS
    -DCMAKE_TOOLCHAIN_FILE=${CMAKE_SOURCE_DIR}/cmake/toolchain-aarch64-linux-gnu.cmake
    -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
    -DUDRV_BUILD_BENCHMARKS=OFF
    -DUDRV_CROSS_AARCH64=OFF
    # Static like the test tree: the aarch64 guests copy self-contained programs.
    -DBUILD_SHARED_LIBS=OFF
  BUILD_COMMAND ${CMAKE_COMMAND} --build ${UDRV_AARCH64_DIR} -j2
  INSTALL_COMMAND ""
  BUILD_ALWAYS ON
  USES_TERMINAL_BUILD ON
)
file(WRITE ${CMAKE_BINARY_DIR}/aarch64-tests.cmake
  "if(EXISTS \"${UDRV_AARCH64_DIR}/CTestTestfile.cmake\")\n"
  "  subdirs(\"${UDRV_AARCH64_DIR}\")\n"
  "else()\n"
  "  add_test(aarch64.build-missing /bin/false)\n"
  "endif()\n")
set_property(DIRECTORY ${CMAKE_SOURCE_DIR} APPEND PROPERTY TEST_INCLUDE_FILES
  ${CMAKE_BINARY_DIR}/aarch64-tests.cmake)
