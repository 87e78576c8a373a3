# The fuzz tree (-DUDRV_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-19): every
# object carries libFuzzer's coverage and ASan+UBSan, any finding aborts;
# only the targets of test/fuzz/ and the libraries they link are built.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "UDRV_FUZZ needs clang (libFuzzer): configure with "
                      "-DCMAKE_CXX_COMPILER=clang++-19, not ${CMAKE_CXX_COMPILER_ID}")
endif()
if(UDRV_CROSS_AARCH64)
  message(FATAL_ERROR "UDRV_FUZZ builds for this machine only; leave UDRV_CROSS_AARCH64 off")
endif()
# Static libraries whatever BUILD_SHARED_LIBS says: each fuzz target is one
# self-contained program, every object of it instrumented.
set(BUILD_SHARED_LIBS OFF)
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)

# Called after every library directory was added: their programs and
# test doubles leave `all`, the fuzz targets (and through them the
# libraries they link) are what `cmake --build` makes.
macro(udrv_fuzz_only_targets)
  get_property(udrv_subdirectories DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY SUBDIRECTORIES)
  foreach(subdirectory ${udrv_subdirectories})
    set_property(DIRECTORY ${subdirectory} PROPERTY EXCLUDE_FROM_ALL ON)
  endforeach()
  add_subdirectory(test/fuzz)
endmacro()
