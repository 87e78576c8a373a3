#!/usr/bin/env bash
# package.example.cmake, package.example.make: builds each example of
# examples/ as its users would, out of tree against the prefix
# package.install made (and nothing else of udrv), and runs its unit test.
# Each example is copied to a directory of its own under /tmp first, outside
# udrv's trees, so that no path relative to it reaches them; its compile and
# link lines are then checked for any path into udrv's source or build trees.
#
# Usage: example.sh cmake|make PREFIX SOURCE_DIR PACKAGE_TREE WORK_DIR
set -euo pipefail
way=$1 prefix=$2 source_dir=$3 package_tree=$4 work=$5
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ -f "$prefix/include/udrv/core/version.h" ] ||
  fail "no udrv installed at $prefix: package.install makes it (ctest -R package runs it first)"
libdir=$prefix/$(multiarch_libdir)
case $way in
  cmake) need_tool cmake cmake ;;
  make) need_tool make make; need_tool pkg-config pkg-config ;;
  *) fail "unknown way '$way' (cmake or make)" ;;
esac

examples=$(cd "$source_dir/examples" && ls)
[ -n "$examples" ] || fail "no examples under $source_dir/examples"
rm -rf "$work"
mkdir -p "$work"
scratch=$(mktemp -d /tmp/udrv-example.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for example in $examples; do
  copy=$scratch/$example
  cp -r "$source_dir/examples/$example" "$copy"
  # Only the prefix's libraries, found without an installed libudrv0: the
  # loader needs LD_LIBRARY_PATH for a prefix outside its own directories.
  export LD_LIBRARY_PATH=$libdir
  log=$work/$example.log
  case $way in
    cmake)
      # CMAKE_PREFIX_PATH is the one place udrv is looked for; the user
      # package registry is off so no other udrv can be found.
      if ! { cmake -S "$copy" -B "$copy/build" -DCMAKE_PREFIX_PATH="$prefix" \
               -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
               -DCMAKE_EXPORT_COMPILE_COMMANDS=ON &&
             cmake --build "$copy/build" -j2 -- VERBOSE=1 &&
             ctest --test-dir "$copy/build" -V; } >"$log" 2>&1; then
        fail "examples/$example, built with CMake against $prefix:" "$(tail -60 "$log")"
      fi
      grep -q '"command"' "$copy/build/compile_commands.json" ||
        fail "examples/$example: no compile commands in $copy/build/compile_commands.json"
      # The compile lines, and the link lines (VERBOSE=1) in the log.
      commands=("$copy/build/compile_commands.json" "$log")
      ;;
    make)
      # PKG_CONFIG_LIBDIR replaces pkg-config's default search path: only
      # the prefix's .pc files and the system's (libpci's) are seen.
      if ! { PKG_CONFIG_LIBDIR=$libdir/pkgconfig:/usr/lib/$(multiarch)/pkgconfig:/usr/share/pkgconfig \
               make -C "$copy" all check; } >"$log" 2>&1; then
        fail "examples/$example, built with make and pkg-config against $prefix:" "$(tail -60 "$log")"
      fi
      commands=("$log")
      ;;
  esac
  # The compile and link lines may name the prefix and the copy, never udrv's
  # source or build trees.
  # (The prefix itself lies in the build tree: its paths are the allowed ones.)
  leaks=$(grep -oh -e "$source_dir[^ \"']*" -e "$package_tree[^ \"']*" "${commands[@]}" |
          grep -v -e "^$prefix" -e "^$work" | sort -u || true)
  [ -z "$leaks" ] || fail "examples/$example: its build names udrv's source or build tree:" "$leaks"
  # The prefix's include directory, however spelt (pkg-config's relocatable
  # files give <prefix>/lib/<multiarch>/pkgconfig/../../../include).
  include_paths=$(grep -ohE -- '(-I|-isystem )[^ "]+' "${commands[@]}" | sed -E 's/^(-I|-isystem )//' |
                  xargs -r -n1 realpath -m | sort -u)
  grep -qx "$(realpath "$prefix/include")" <<<"$include_paths" ||
    fail "examples/$example: no -I$prefix/include in its compile lines" "$(head -20 "${commands[@]}")"
  # Every example's unit test ends with "N checks, 0 failed".
  result=$(grep -o '[0-9]* checks, 0 failed' "$log" | tail -1 || true)
  [ -n "$result" ] || fail "examples/$example: its unit test did not report passing" "$(tail -20 "$log")"
  pass "examples/$example built with $way against $prefix alone; its unit test: $result"
done
