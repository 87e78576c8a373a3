# The package tests (docs/PACKAGING.md): udrv as its users get it. Like the
# aarch64 tree (cmake/CrossAarch64.cmake), a second tree of the same source
# is built next to this one, in <build>/package, as a distribution builds
# it: shared libraries, no tests, prefix /usr. The tests, in this tree's
# ctest, install it into a temporary prefix, build examples/ against that
# prefix alone, make the Debian packages and check them.
option(UDRV_PACKAGE_TESTS "Build a packaging tree and test the install, the examples and the .debs" OFF)
if(NOT UDRV_PACKAGE_TESTS)
  return()
endif()

include(ExternalProject)
set(UDRV_PACKAGE_DIR ${CMAKE_BINARY_DIR}/package)
ExternalProject_Add(udrv_package
  SOURCE_DIR ${CMAKE_SOURCE_DIR}
  BINARY_DIR ${UDRV_PACKAGE_DIR}
  CMAKE_ARGS
    -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
    -DCMAKE_INSTALL_PREFIX=/usr
    -DBUILD_SHARED_LIBS=ON
    -DUDRV_BUILD_TESTS=OFF
    -DUDRV_BUILD_BENCHMARKS=OFF
    -DUDRV_CROSS_AARCH64=OFF
    -DUDRV_PACKAGE_TESTS=OFF
  BUILD_COMMAND ${CMAKE_COMMAND} --build ${UDRV_PACKAGE_DIR} -j2
  INSTALL_COMMAND ""
  BUILD_ALWAYS ON
  USES_TERMINAL_BUILD ON
)

# Everything the tests write: the prefix, copies of the examples, the .debs.
set(UDRV_PACKAGE_WORK ${CMAKE_BINARY_DIR}/package-tests)
set(UDRV_PACKAGE_PREFIX ${UDRV_PACKAGE_WORK}/prefix)
set(UDRV_PACKAGE_SCRIPTS ${CMAKE_SOURCE_DIR}/test/package)

# Installs the package tree into the prefix the example tests build against.
add_test(NAME package.install
  COMMAND bash ${UDRV_PACKAGE_SCRIPTS}/install.sh
          ${UDRV_PACKAGE_DIR} ${UDRV_PACKAGE_PREFIX} ${CMAKE_SOURCE_DIR} ${PROJECT_VERSION})
set_tests_properties(package.install PROPERTIES FIXTURES_SETUP udrv_package_prefix)

foreach(way IN ITEMS cmake make)
  add_test(NAME package.example.${way}
    COMMAND bash ${UDRV_PACKAGE_SCRIPTS}/example.sh ${way}
            ${UDRV_PACKAGE_PREFIX} ${CMAKE_SOURCE_DIR} ${UDRV_PACKAGE_DIR}
            ${UDRV_PACKAGE_WORK}/example-${way})
  set_tests_properties(package.example.${way} PROPERTIES FIXTURES_REQUIRED udrv_package_prefix)
endforeach()

# Makes the .debs (cpack) and checks them; lintian reads what it made.
add_test(NAME package.deb
  COMMAND bash ${UDRV_PACKAGE_SCRIPTS}/deb.sh
          ${UDRV_PACKAGE_DIR} ${UDRV_PACKAGE_WORK}/debs ${PROJECT_VERSION})
set_tests_properties(package.deb PROPERTIES FIXTURES_SETUP udrv_debs)
add_test(NAME package.lintian
  COMMAND bash ${UDRV_PACKAGE_SCRIPTS}/lintian.sh
          ${UDRV_PACKAGE_WORK}/debs ${CMAKE_SOURCE_DIR}/docs/PACKAGING.md)
set_tests_properties(package.lintian PROPERTIES FIXTURES_REQUIRED udrv_debs)
set_tests_properties(package.install package.example.cmake package.example.make
                     package.deb package.lintian PROPERTIES LABELS package)
