# What `cmake --install` puts where (GNUInstallDirs), in the three
# COMPONENTs the Debian packages are made of:
#   runtime  libudrv0:     the shared libraries (libudrv-X.so.0.2.0 and their
#                          SONAME links libudrv-X.so.0)
#   dev      libudrv-dev:  headers (include/udrv/<dir>/), the libudrv-X.so
#                          links, static libraries in a static tree, the CMake
#                          package (LIBDIR/cmake/udrv/) and the pkg-config
#                          files (LIBDIR/pkgconfig/udrv-X.pc)
#   tools    udrv-tools:   udrv-busctl (BINDIR), udrv-driver-manager,
#                          udrv-driver-host and udrv-net (SBINDIR), the docs
#                          (DOCDIR, share/doc/udrv-tools)
# Man pages and the completion (docs/man/, tools/busctl/completion/) install
# themselves into `tools`.
include(CMakePackageConfigHelpers)

get_property(udrv_public_libraries GLOBAL PROPERTY UDRV_PUBLIC_LIBRARIES)
set(UDRV_CMAKE_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/udrv)
set(UDRV_PKG_CONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# An installed udrv's shared libraries are found by the system's search path
# where LIBDIR is one of the system's (a /usr install: Debian's policy wants
# no RPATH there); in a prefix of one's own, by a RUNPATH relative to the
# program or library ($ORIGIN), so the prefix can move. The prefix is the
# one configured: a tree configured for /usr and installed elsewhere with
# `cmake --install --prefix` gets no RUNPATH, and its programs run with
# LD_LIBRARY_PATH=<prefix>/LIBDIR.
set(udrv_installed_libraries_need_rpath OFF)
if(BUILD_SHARED_LIBS AND NOT CMAKE_INSTALL_FULL_LIBDIR IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES
   AND NOT CMAKE_INSTALL_FULL_LIBDIR IN_LIST CMAKE_PLATFORM_IMPLICIT_LINK_DIRECTORIES)
  set(udrv_installed_libraries_need_rpath ON)
endif()
# The RUNPATH for a file installed in `destination` (relative to the
# prefix), or nothing where none is needed.
function(udrv_install_rpath var destination)
  set(rpath "")
  if(udrv_installed_libraries_need_rpath)
    file(RELATIVE_PATH libdir ${CMAKE_INSTALL_PREFIX}/${destination} ${CMAKE_INSTALL_FULL_LIBDIR})
    set(rpath "$ORIGIN")
    if(libdir)
      string(APPEND rpath "/${libdir}")
    endif()
  endif()
  set(${var} "${rpath}" PARENT_SCOPE)
endfunction()

# The public libraries, exported as udrv::X (EXPORT_NAME, udrv_library).
udrv_install_rpath(library_rpath ${CMAKE_INSTALL_LIBDIR})
set_target_properties(${udrv_public_libraries} PROPERTIES INSTALL_RPATH "${library_rpath}")
install(TARGETS ${udrv_public_libraries} EXPORT udrvTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)

# Their headers: each library directory's include/ tree (a directory with
# several libraries, mmio/ or acpi/, once) and the generated ones
# (udrv/core/version.h). Headers under <dir>/src/ are private.
set(header_dirs)
foreach(library ${udrv_public_libraries})
  get_target_property(include_dir ${library} UDRV_INCLUDE_DIR)
  get_target_property(generated_dir ${library} UDRV_GENERATED_INCLUDE_DIR)
  list(APPEND header_dirs ${include_dir})
  if(generated_dir)
    list(APPEND header_dirs ${generated_dir})
  endif()
endforeach()
list(REMOVE_DUPLICATES header_dirs)
foreach(header_dir ${header_dirs})
  install(DIRECTORY ${header_dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
          FILES_MATCHING PATTERN "*.h")
endforeach()

# The programs. udrv-driver-manager finds udrv-driver-host next to itself.
udrv_install_rpath(sbin_rpath ${CMAKE_INSTALL_SBINDIR})
set(udrv_admin_programs udrv-driver-manager udrv-driver-host udrv-net)
set_target_properties(${udrv_admin_programs} PROPERTIES INSTALL_RPATH "${sbin_rpath}")
install(TARGETS ${udrv_admin_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT tools)

# busctl is installed as udrv-busctl: systemd's D-Bus tool is /usr/bin/busctl
# on every Debian machine. install(TARGETS) cannot rename, so the program is
# copied as a file and its RUNPATH (the build tree's library directories,
# in a shared tree) set here as install(TARGETS) would: removed, or made
# the installed one. That one is shorter than the build tree's, which
# file(RPATH_SET) needs (it edits in place); busctl's build RUNPATH also
# ends with it so that this holds for any build directory.
install(PROGRAMS $<TARGET_FILE:busctl> DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME udrv-busctl
        COMPONENT tools)
if(IS_ABSOLUTE ${CMAKE_INSTALL_BINDIR})
  set(installed_busctl "\$ENV{DESTDIR}${CMAKE_INSTALL_BINDIR}/udrv-busctl")
else()
  set(installed_busctl "\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/udrv-busctl")
endif()
if(BUILD_SHARED_LIBS)
  udrv_install_rpath(busctl_rpath ${CMAKE_INSTALL_BINDIR})
  if(busctl_rpath)
    set_property(TARGET busctl APPEND PROPERTY BUILD_RPATH "${busctl_rpath}")
    install(CODE "file(RPATH_SET FILE \"${installed_busctl}\" NEW_RPATH \"${busctl_rpath}\")"
            COMPONENT tools)
  else()
    install(CODE "file(RPATH_REMOVE FILE \"${installed_busctl}\")" COMPONENT tools)
  endif()
endif()
# Stripped where install(TARGETS) strips its files: `cmake --install --strip`
# and CPack's CPACK_STRIP_FILES set CMAKE_INSTALL_DO_STRIP.
install(CODE "if(CMAKE_INSTALL_DO_STRIP)
  execute_process(COMMAND \"${CMAKE_STRIP}\" \"${installed_busctl}\" COMMAND_ERROR_IS_FATAL ANY)
endif()" COMPONENT tools)

# The docs, with the programs. busctl.md links its JSON schema.
file(GLOB udrv_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${udrv_docs} ${PROJECT_SOURCE_DIR}/docs/busctl.schema.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT tools)

# The CMake package: udrvTargets.cmake (the exported udrv::X), the config
# that checks components and finds what a static udrv needs, and the version
# file. SameMinorVersion: before 1.0 a minor release may change the API, so
# find_package(udrv 0.2) takes 0.2.x and no other.
install(EXPORT udrvTargets NAMESPACE udrv:: DESTINATION ${UDRV_CMAKE_PACKAGE_DIR} COMPONENT dev)

# For the config: each component (a library's export name) and the
# components it needs, public or private (a private one's library is still
# loaded, or linked in a static tree).
set(UDRV_COMPONENTS)
set(UDRV_COMPONENT_DEPENDENCIES)
foreach(library ${udrv_public_libraries})
  get_target_property(component ${library} EXPORT_NAME)
  get_target_property(public_deps ${library} UDRV_PUBLIC_DEPS)
  get_target_property(private_deps ${library} UDRV_PRIVATE_DEPS)
  set(needs)
  foreach(dep ${public_deps} ${private_deps})
    if(dep IN_LIST udrv_public_libraries)
      get_target_property(dep_component ${dep} EXPORT_NAME)
      list(APPEND needs ${dep_component})
    endif()
  endforeach()
  list(APPEND UDRV_COMPONENTS ${component})
  list(JOIN needs " " needs)
  string(APPEND UDRV_COMPONENT_DEPENDENCIES "set(_udrv_component_needs_${component} ${needs})\n")
endforeach()
list(JOIN UDRV_COMPONENTS " " UDRV_COMPONENTS)
if(BUILD_SHARED_LIBS)
  set(UDRV_STATIC OFF)
else()
  set(UDRV_STATIC ON)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/udrvConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/udrvConfig.cmake
  INSTALL_DESTINATION ${UDRV_CMAKE_PACKAGE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/udrvConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/udrvConfig.cmake ${PROJECT_BINARY_DIR}/cmake/udrvConfigVersion.cmake
        DESTINATION ${UDRV_CMAKE_PACKAGE_DIR} COMPONENT dev)

# pkg-config: udrv-X.pc for each public library, from cmake/udrv.pc.in.
# Relocatable: the prefix is found from the file's own directory, however
# deep LIBDIR is (lib, lib/x86_64-linux-gnu).
function(udrv_pkg_config_file library)
  get_target_property(output_name ${library} OUTPUT_NAME)
  get_target_property(description ${library} UDRV_DESCRIPTION)
  get_target_property(public_deps ${library} UDRV_PUBLIC_DEPS)
  get_target_property(private_deps ${library} UDRV_PRIVATE_DEPS)
  set(requires)
  set(requires_private)
  set(libs_private)
  foreach(dep ${public_deps})
    get_target_property(dep_output_name ${dep} OUTPUT_NAME)
    list(APPEND requires ${dep_output_name})
  endforeach()
  foreach(dep ${private_deps})
    if(dep IN_LIST udrv_public_libraries)
      get_target_property(dep_output_name ${dep} OUTPUT_NAME)
      list(APPEND requires_private ${dep_output_name})
    else()
      # A third-party library (udrv_third_party): its own pkg-config
      # module, or the flags that link it.
      get_target_property(module ${dep} UDRV_PKG_CONFIG)
      get_target_property(libs ${dep} UDRV_PKG_CONFIG_LIBS)
      list(APPEND requires_private ${module})
      list(APPEND libs_private ${libs})
    endif()
  endforeach()
  # Requires, Requires.private and Libs.private where they have something.
  set(UDRV_PC_DEPENDENCIES "")
  foreach(field IN ITEMS "Requires;requires;, " "Requires.private;requires_private;, "
                         "Libs.private;libs_private; ")
    list(GET field 0 name)
    list(GET field 1 values)
    list(GET field 2 separator)
    if(${values})
      list(JOIN ${values} "${separator}" joined)
      string(APPEND UDRV_PC_DEPENDENCIES "${name}: ${joined}\n")
    endif()
  endforeach()
  set(UDRV_PC_NAME ${output_name})
  set(UDRV_PC_DESCRIPTION "${description}")
  file(RELATIVE_PATH UDRV_PC_PREFIX_FROM_PCFILEDIR
       ${CMAKE_INSTALL_PREFIX}/${UDRV_PKG_CONFIG_DIR} ${CMAKE_INSTALL_PREFIX})
  string(REGEX REPLACE "/$" "" UDRV_PC_PREFIX_FROM_PCFILEDIR "${UDRV_PC_PREFIX_FROM_PCFILEDIR}")
  foreach(dir LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE ${CMAKE_INSTALL_${dir}})
      set(UDRV_PC_${dir} ${CMAKE_INSTALL_${dir}})
    else()
      set(UDRV_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
    endif()
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/udrv.pc.in
                 ${PROJECT_BINARY_DIR}/pkgconfig/${output_name}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${output_name}.pc
          DESTINATION ${UDRV_PKG_CONFIG_DIR} COMPONENT dev)
endfunction()
foreach(library ${udrv_public_libraries})
  udrv_pkg_config_file(${library})
endforeach()
