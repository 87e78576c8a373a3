#!/usr/bin/env bash
# package.install: installs the package tree (built for /usr, shared) into a
# temporary prefix and checks what a user of udrv finds there: the
# libraries with their SONAMEs, headers that compile on their own against
# the prefix alone, the CMake package and its version rule, the pkg-config
# files, the programs (udrv-busctl --version), man pages and completion,
# and the first driver of docs/PACKAGING.md compiled and linked.
#
# Usage: install.sh PACKAGE_TREE PREFIX SOURCE_DIR VERSION
set -euo pipefail
package_tree=$1 prefix=$2 source_dir=$3 version=$4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

need_package_tree "$package_tree"
need_tool readelf binutils
need_tool pkg-config pkg-config
need_tool g++ g++

rm -rf "$prefix"
mkdir -p "$prefix"
cmake --install "$package_tree" --prefix "$prefix" >/dev/null ||
  fail "cmake --install $package_tree --prefix $prefix failed"
libdir=$prefix/$(multiarch_libdir)
[ -d "$libdir" ] || fail "no $libdir: the package tree's LIBDIR is not Debian's multiarch directory"

# --- libraries: exactly the public ones, each libudrv-X.so.VERSION with its
# .so.0 (the SONAME) and .so (the link name) links.
installed_libraries=$(cd "$libdir" && ls libudrv-*.so.* 2>/dev/null | grep -v '\.so\.0$' | sort || true)
expected_libraries=$(for name in "${UDRV_PUBLIC_LIBRARIES[@]}"; do
                       echo "libudrv-$name.so.$version"; done | sort)
[ "$installed_libraries" = "$expected_libraries" ] ||
  fail "the installed libraries are not udrv's public ones:" \
       "$(diff <(echo "$expected_libraries") <(echo "$installed_libraries") || true)"
for name in "${UDRV_PUBLIC_LIBRARIES[@]}"; do
  library=$libdir/libudrv-$name.so.$version
  soname=$(readelf -d "$library" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ "$soname" = "libudrv-$name.so.0" ] || fail "$library: SONAME '$soname', not libudrv-$name.so.0"
  [ "$(readlink "$libdir/libudrv-$name.so.0")" = "libudrv-$name.so.$version" ] ||
    fail "$libdir/libudrv-$name.so.0 is not a link to libudrv-$name.so.$version"
  [ "$(readlink "$libdir/libudrv-$name.so")" = "libudrv-$name.so.0" ] ||
    fail "$libdir/libudrv-$name.so is not a link to libudrv-$name.so.0"
done
# A tree built for /usr puts nothing in RUNPATH: the loader finds the
# libraries in the multiarch directory on a real install (here,
# LD_LIBRARY_PATH stands in for it), and lintian refuses a RUNPATH there.
for file in "$libdir"/libudrv-*.so."$version" "$prefix"/bin/* "$prefix"/sbin/*; do
  if readelf -d "$file" | grep -Eq '\((RPATH|RUNPATH)\)'; then
    fail "$file has a search path: $(readelf -d "$file" | grep -E '\((RPATH|RUNPATH)\)')"
  fi
done
pass "libraries: ${#UDRV_PUBLIC_LIBRARIES[@]}, each with SONAME .so.0, no RUNPATH"

# --- nothing that points back into the source or build trees.
leaks=$(grep -rIl -e "$source_dir" -e "$package_tree" "$prefix" 2>/dev/null || true)
[ -z "$leaks" ] || fail "installed files name the source or build tree:" "$leaks"
pass "no installed text file names $source_dir or $package_tree"

# --- headers: only udrv's public directories, and each compiles alone
# against the prefix (so none needs a private header or the source tree).
include_dirs=$(cd "$prefix/include/udrv" && ls | sort | tr '\n' ' ')
[ "$include_dirs" = "$(printf '%s\n' "${UDRV_HEADER_DIRS[@]}" | sort | tr '\n' ' ')" ] ||
  fail "include/udrv holds '$include_dirs', expected '${UDRV_HEADER_DIRS[*]}' (drivers/ is internal)"
[ -f "$prefix/include/udrv/core/version.h" ] || fail "no include/udrv/core/version.h"
headers=$(cd "$prefix/include" && find udrv -name '*.h' | sort)
header_count=$(echo "$headers" | wc -l)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The prefix is the only include path besides the compiler's own (and the
# system's /usr/include). Warnings as errors: a user's strict flags must
# not break on udrv's headers.
compile_header() {  # PREFIX HEADER
  local output
  # -H lists every header read: one of udrv's from anywhere but the prefix
  # (an installed libudrv-dev, the source tree) would hide a missing one.
  if ! output=$(printf '#include <%s>\n' "$2" |
        g++ -std=c++23 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -H -I"$1/include" -x c++ - 2>&1); then
    grep -v '^\.' <<<"$output"
    echo "FAILED: $2"
  elif grep -E '^\.+ ' <<<"$output" | grep '/udrv/' | grep -v "^\.* $1/include/udrv/"; then
    echo "FAILED: $2 reads udrv headers from outside the prefix (above)"
  fi
}
export -f compile_header
header_output=$(echo "$headers" | xargs -P2 -I{} bash -c 'compile_header "$0" "{}"' "$prefix")
if grep -q '^FAILED: ' <<<"$header_output"; then
  fail "headers that do not compile on their own against $prefix/include:" \
       "$(grep '^FAILED: ' <<<"$header_output")" "first errors:" "$(head -40 <<<"$header_output")"
fi
pass "headers: $header_count, each compiles alone with -I$prefix/include"

# --- the version, in the header and from the library.
grep -q "\"$version\"" "$prefix/include/udrv/core/version.h" ||
  fail "include/udrv/core/version.h does not say \"$version\""

# --- the CMake package and its version rule (SameMinorVersion).
cmake_dir=$libdir/cmake/udrv
for file in udrvConfig.cmake udrvConfigVersion.cmake udrvTargets.cmake; do
  [ -f "$cmake_dir/$file" ] || fail "no $cmake_dir/$file"
done
mkdir -p "$scratch/find"
cat >"$scratch/find/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(find_udrv LANGUAGES CXX)
find_package(udrv ${WANTED} CONFIG REQUIRED COMPONENTS ${COMPONENTS})
message(STATUS "found udrv ${udrv_VERSION}")
EOF
find_udrv() {  # WANTED COMPONENTS
  rm -rf "$scratch/find/build"
  cmake -S "$scratch/find" -B "$scratch/find/build" -DCMAKE_PREFIX_PATH="$prefix" \
        -DWANTED="$1" -DCOMPONENTS="$2" >"$scratch/find/log" 2>&1
}
IFS=. read -r major minor patch <<<"$version"
find_udrv "$major.$minor" "pci;mmio_testing" ||
  fail "find_package(udrv $major.$minor COMPONENTS pci mmio_testing) failed:" "$(cat "$scratch/find/log")"
grep -q "found udrv $version" "$scratch/find/log" || fail "find_package found another version:" "$(cat "$scratch/find/log")"
find_udrv "$major.$minor" "$(IFS=';'; echo "${UDRV_COMPONENTS[*]}")" ||
  fail "find_package(udrv COMPONENTS <all>) failed:" "$(cat "$scratch/find/log")"
for refused in "$major.$((minor + 1))" "$((major + 1)).0" "$major.$minor.$((patch + 1))"; do
  ! find_udrv "$refused" core || fail "find_package(udrv $refused) accepted udrv $version"
done
if [ "$minor" -gt 0 ]; then
  ! find_udrv "$major.$((minor - 1))" core ||
    fail "find_package(udrv $major.$((minor - 1))) accepted $version (SameMinorVersion refuses it)"
fi
! find_udrv "$major.$minor" "core;no_such_component" ||
  fail "find_package(udrv COMPONENTS no_such_component) succeeded"
pass "CMake package: $major.$minor finds $version, other minors and majors are refused, components checked"

# --- pkg-config: one relocatable file per library.
export PKG_CONFIG_PATH=$libdir/pkgconfig
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig:/usr/lib/$(multiarch)/pkgconfig:/usr/share/pkgconfig
for name in "${UDRV_PUBLIC_LIBRARIES[@]}"; do
  [ -f "$libdir/pkgconfig/udrv-$name.pc" ] || fail "no $libdir/pkgconfig/udrv-$name.pc"
  pc_version=$(pkg-config --modversion "udrv-$name") || fail "pkg-config --modversion udrv-$name failed"
  [ "$pc_version" = "$version" ] || fail "udrv-$name.pc says version $pc_version"
  cflags=$(pkg-config --cflags "udrv-$name") || fail "pkg-config --cflags udrv-$name failed"
  libs=$(pkg-config --libs "udrv-$name") || fail "pkg-config --libs udrv-$name failed"
  includedir=$(realpath -m "$(pkg-config --variable=includedir "udrv-$name")")
  [ "$includedir" = "$(realpath "$prefix/include")" ] ||
    fail "udrv-$name.pc: includedir is $includedir, not $prefix/include (not relocatable)"
  case " $libs " in *" -ludrv-$name "*) ;; *) fail "pkg-config --libs udrv-$name: '$libs' lacks -ludrv-$name" ;; esac
done
pass "pkg-config: ${#UDRV_PUBLIC_LIBRARIES[@]} files, relocatable, version $version"

# --- programs: udrv-busctl in bin (never busctl: systemd's), the rest in sbin.
[ "$(cd "$prefix/bin" && ls | tr '\n' ' ')" = "udrv-busctl " ] ||
  fail "bin holds '$(ls "$prefix/bin" | tr '\n' ' ')', expected udrv-busctl alone"
[ "$(cd "$prefix/sbin" && ls | sort | tr '\n' ' ')" = "udrv-driver-host udrv-driver-manager udrv-net " ] ||
  fail "sbin holds '$(ls "$prefix/sbin" | tr '\n' ' ')'"
# The loader must take the prefix's libraries, not an installed libudrv0's.
resolved=$(LD_LIBRARY_PATH=$libdir ldd "$prefix/bin/udrv-busctl" | awk '/libudrv-core/ {print $3}')
[ "$resolved" = "$libdir/libudrv-core.so.0" ] || fail "udrv-busctl loads libudrv-core from '$resolved'"
busctl_version=$(LD_LIBRARY_PATH=$libdir "$prefix/bin/udrv-busctl" --version) ||
  fail "udrv-busctl --version failed: $busctl_version"
[ "$busctl_version" = "udrv-busctl $version (libudrv-core $version)" ] ||
  fail "udrv-busctl --version says '$busctl_version', expected 'udrv-busctl $version (libudrv-core $version)'"
pass "programs: udrv-busctl --version: $busctl_version"

# --- man pages and completion.
for page in udrv-busctl udrv-driver-manager udrv-driver-host; do
  ls "$prefix/share/man/man8/$page.8"* >/dev/null 2>&1 || fail "no share/man/man8/$page.8"
done
completion=$prefix/share/bash-completion/completions/udrv-busctl
[ -f "$completion" ] || fail "no $completion"
[ ! -e "$prefix/share/bash-completion/completions/busctl" ] || fail "a completion named busctl (systemd's)"
if grep -E '^[[:space:]]*complete\b' "$completion" | grep -Eq '[[:space:]]busctl([[:space:]]|$)'; then
  fail "$completion registers a completion for busctl, which is systemd's"
fi
pass "man pages and the udrv-busctl completion"

# --- the first driver of docs/PACKAGING.md (and of README.md once the
# section is pasted there), compiled and linked against the prefix.
snippets=0
for document in "$source_dir/docs/PACKAGING.md" "$source_dir/README.md"; do
  [ -f "$document" ] || continue
  # The ```cpp block after the <!-- first-driver ... --> marker.
  awk '/<!-- first-driver/ {armed=1; next}
       armed && /^```cpp/ {inside=1; next}
       inside && /^```/ {exit}
       inside {print}' "$document" >"$scratch/first_driver.cc"
  [ -s "$scratch/first_driver.cc" ] || continue
  snippets=$((snippets + 1))
  lines=$(wc -l <"$scratch/first_driver.cc")
  # shellcheck disable=SC2046  # pkg-config's flags are words
  g++ -std=c++23 -Wall -Wextra -Werror -o "$scratch/first_driver" "$scratch/first_driver.cc" \
      $(pkg-config --cflags --libs udrv-pci) 2>&1 ||
    fail "the first driver of $document does not build against $prefix"
  pass "first driver of ${document#"$source_dir/"} ($lines lines) builds against the prefix"
done
[ "$snippets" -gt 0 ] || fail "no <!-- first-driver --> cpp block in docs/PACKAGING.md or README.md"
