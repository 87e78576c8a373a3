#!/usr/bin/env bash
# package.deb: makes the three Debian packages with CPack from the package
# tree and checks them: every installed file in exactly one package and in
# the right one, no busctl (systemd's name) anywhere, the control fields
# (Depends from dpkg-shlibdeps, libudrv0 of this very version), libudrv0's
# shlibs and ldconfig handling; then asks apt, in simulation, whether the
# three install together on this machine and what removing them removes.
#
# Usage: deb.sh PACKAGE_TREE DEB_DIR VERSION
set -euo pipefail
package_tree=$1 debs=$2 version=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

need_package_tree "$package_tree"
need_tool cpack cmake
need_tool dpkg-deb dpkg
need_tool dpkg-shlibdeps dpkg-dev
need_tool file file
need_tool apt-get apt
arch=$(dpkg --print-architecture)
ma=$(multiarch)

rm -rf "$debs"
mkdir -p "$debs"
if ! (cd "$package_tree" && cpack -G DEB -B "$debs") >"$debs/cpack.log" 2>&1; then
  fail "cpack -G DEB in $package_tree failed:" "$(tail -40 "$debs/cpack.log")"
fi
runtime=$debs/libudrv0_${version}_$arch.deb
dev=$debs/libudrv-dev_${version}_$arch.deb
tools=$debs/udrv-tools_${version}_$arch.deb
made=$(cd "$debs" && ls ./*.deb | sort | tr '\n' ' ')
expected_debs=$(printf './%s\n' "$(basename "$dev")" "$(basename "$runtime")" "$(basename "$tools")" | sort | tr '\n' ' ')
[ "$made" = "$expected_debs" ] || fail "cpack made '$made', expected '$expected_debs'"
pass "cpack made $made"

# The files (not directories) of a .deb, as paths without the leading "./";
# a link as "path -> target".
contents() {
  dpkg-deb -c "$1" | awk '$1 !~ /^d/ { $1=$2=$3=$4=$5=""; sub(/^ +/, ""); sub(/^\.\//, ""); print }' | sort
}
paths_of() { sed 's/ -> .*//' <<<"$1"; }

runtime_files=$(contents "$runtime")
dev_files=$(contents "$dev")
tools_files=$(contents "$tools")

# Each package's files must match its patterns, and it must have each
# pattern's files (one per line of `wanted`).
check_package() {  # NAME FILES ALLOWED_REGEX WANTED...
  local name=$1 files=$2 allowed=$3
  shift 3
  local strays
  strays=$(paths_of "$files" | grep -Ev "^($allowed)$" || true)
  [ -z "$strays" ] || fail "$name holds files it should not:" "$strays"
  local wanted
  for wanted in "$@"; do
    grep -Eqx "$wanted" <<<"$files" || fail "$name lacks $wanted" "its files:" "$files"
  done
}
lib=usr/lib/$ma
libs_regex=$(IFS='|'; echo "${UDRV_PUBLIC_LIBRARIES[*]}")
check_package libudrv0 "$runtime_files" \
  "$lib/libudrv-($libs_regex)\.so\.0(\.[0-9]+\.[0-9]+)?|usr/share/doc/libudrv0/(copyright|changelog\.gz)" \
  "$lib/libudrv-core\.so\.$version" "$lib/libudrv-core\.so\.0 -> libudrv-core\.so\.$version" \
  "$lib/libudrv-pci\.so\.$version" "usr/share/doc/libudrv0/copyright" "usr/share/doc/libudrv0/changelog\.gz"
[ "$(paths_of "$runtime_files" | grep -c "\.so\.$version$")" -eq "${#UDRV_PUBLIC_LIBRARIES[@]}" ] ||
  fail "libudrv0 does not hold the ${#UDRV_PUBLIC_LIBRARIES[@]} libraries:" "$runtime_files"
check_package libudrv-dev "$dev_files" \
  "usr/include/udrv/.+\.h|$lib/libudrv-($libs_regex)\.so|$lib/cmake/udrv/udrv[A-Za-z-]*\.cmake|$lib/pkgconfig/udrv-($libs_regex)\.pc|usr/share/doc/libudrv-dev/(copyright|changelog\.gz)" \
  "usr/include/udrv/core/version\.h" "usr/include/udrv/pci/device\.h" \
  "$lib/libudrv-core\.so -> libudrv-core\.so\.0" "$lib/cmake/udrv/udrvConfig\.cmake" \
  "$lib/cmake/udrv/udrvConfigVersion\.cmake" "$lib/cmake/udrv/udrvTargets\.cmake" \
  "$lib/pkgconfig/udrv-pci\.pc" "usr/share/doc/libudrv-dev/copyright"
check_package udrv-tools "$tools_files" \
  "usr/bin/udrv-busctl|usr/sbin/udrv-(driver-manager|driver-host|net)|usr/share/man/man[0-9]/[a-z-]+\.[0-9](\.gz)?|usr/share/bash-completion/completions/udrv-busctl|usr/share/doc/udrv-tools/.+" \
  "usr/bin/udrv-busctl" "usr/sbin/udrv-driver-manager" "usr/sbin/udrv-driver-host" "usr/sbin/udrv-net" \
  "usr/share/man/man8/udrv-busctl\.8(\.gz)?" "usr/share/man/man8/udrv-driver-manager\.8(\.gz)?" \
  "usr/share/man/man8/udrv-driver-host\.8(\.gz)?" "usr/share/bash-completion/completions/udrv-busctl" \
  "usr/share/doc/udrv-tools/copyright"
pass "each package holds what it should: $(wc -l <<<"$runtime_files"), $(wc -l <<<"$dev_files"), $(wc -l <<<"$tools_files") files"

all_paths=$(paths_of "$runtime_files"; paths_of "$dev_files"; paths_of "$tools_files")
twice=$(sort <<<"$all_paths" | uniq -d)
[ -z "$twice" ] || fail "files in two packages:" "$twice"
busctl=$(grep -E '(^|/)busctl(\.[0-9](\.gz)?)?$' <<<"$all_paths" || true)
[ -z "$busctl" ] || fail "a file named busctl, systemd's name:" "$busctl"

# Every file `cmake --install` puts in a prefix is in a package: a file
# installed without a COMPONENT would be in none, silently.
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cmake --install "$package_tree" --prefix "$staging/usr" >/dev/null || fail "cmake --install failed"
installed=$(cd "$staging" && find . ! -type d | sed 's/^\.\///' | sort)
unpackaged=$(comm -23 <(echo "$installed") <(sort <<<"$all_paths"))
[ -z "$unpackaged" ] || fail "installed by cmake --install but in no package:" "$unpackaged"
pass "no file in two packages, none named busctl, every installed file packaged"

# --- control fields.
field() { dpkg-deb -f "$1" "$2"; }
depends_has() {  # DEB DEPENDENCY_REGEX WHY
  local depends
  depends=$(field "$1" Depends)
  grep -Eq "(^|, )($2)(,|$)" <<<"$depends" ||
    fail "$(basename "$1"): Depends '$depends' lacks $2 ($3)"
}
for deb in "$runtime" "$dev" "$tools"; do
  [ "$(field "$deb" Version)" = "$version" ] || fail "$(basename "$deb"): Version $(field "$deb" Version)"
  [ "$(field "$deb" Architecture)" = "$arch" ] || fail "$(basename "$deb"): Architecture $(field "$deb" Architecture)"
  [ "$(field "$deb" Source)" = udrv ] || fail "$(basename "$deb"): Source '$(field "$deb" Source)'"
  maintainer=$(field "$deb" Maintainer)
  [[ $maintainer == *"<"*@*">" ]] || fail "$(basename "$deb"): Maintainer '$maintainer' has no address"
  description=$(field "$deb" Description)
  [ "$(wc -l <<<"$description")" -ge 3 ] || fail "$(basename "$deb"): no long description:" "$description"
  ! grep -qi 'homepage\|example\.com\|TODO' <<<"$description" || fail "$(basename "$deb"): a placeholder in its description"
  [ -z "$(field "$deb" Homepage)" ] || fail "$(basename "$deb"): Homepage $(field "$deb" Homepage): udrv has none"
done
# The two with ELF files (libudrv-dev has none for dpkg-shlibdeps to read).
for deb in "$runtime" "$tools"; do
  depends_has "$deb" 'libc6 \(>= [^)]+\)' "dpkg-shlibdeps"
  depends_has "$deb" 'libstdc\+\+6 \(>= [^)]+\)' "dpkg-shlibdeps"
done
[ "$(field "$runtime" Section)" = libs ] || fail "libudrv0: Section $(field "$runtime" Section)"
[ "$(field "$dev" Section)" = libdevel ] || fail "libudrv-dev: Section $(field "$dev" Section)"
[ "$(field "$tools" Section)" = admin ] || fail "udrv-tools: Section $(field "$tools" Section)"
depends_has "$runtime" 'libpci3 \(>= [^)]+\)' "libudrv-pci links libpci: dpkg-shlibdeps"
depends_has "$runtime" 'libfdt1 \(>= [^)]+\)' "libudrv-devicetree links libfdt: dpkg-shlibdeps"
depends_has "$dev" "libudrv0 \\(= $version\\)" "the .so links point into it"
depends_has "$dev" 'libpci-dev' "udrv-pci.pc's Requires.private: libpci"
depends_has "$tools" "libudrv0 \\(= $version\\)" "the programs link it"
depends_has "$tools" 'libarchive13 \(>= [^)]+\)' "udrv-busctl's snapshots: dpkg-shlibdeps"
! field "$runtime" Depends | grep -q libudrv || fail "libudrv0 depends on itself: $(field "$runtime" Depends)"
pass "control fields: $(basename "$tools") Depends: $(field "$tools" Depends)"

# --- libudrv0's control files: shlibs for packages built against it, and
# ldconfig run after the libraries come and go.
control=$staging/control
mkdir -p "$control"
dpkg-deb -e "$runtime" "$control"
for name in "${UDRV_PUBLIC_LIBRARIES[@]}"; do
  grep -qx "libudrv-$name 0 libudrv0 (= $version)" "$control/shlibs" ||
    fail "libudrv0's shlibs lacks 'libudrv-$name 0 libudrv0 (= $version)':" "$(cat "$control/shlibs")"
done
if [ -f "$control/triggers" ] && grep -qx 'activate-noawait ldconfig' "$control/triggers"; then
  ldconfig_by="the ldconfig trigger"
elif grep -q ldconfig "$control/postinst" 2>/dev/null && grep -q ldconfig "$control/postrm" 2>/dev/null; then
  ldconfig_by="postinst and postrm"
else
  fail "libudrv0 neither activates the ldconfig trigger nor runs ldconfig:" "$(ls "$control")"
fi
for deb in "$runtime" "$dev" "$tools"; do
  rm -rf "$control" && mkdir -p "$control" && dpkg-deb -e "$deb" "$control"
  [ ! -s "$control/conffiles" ] || fail "$(basename "$deb") has conffiles, which removal leaves behind:" "$(cat "$control/conffiles")"
done
pass "libudrv0: shlibs for ${#UDRV_PUBLIC_LIBRARIES[@]} libraries, ldconfig by $ldconfig_by; no conffiles"

# --- apt, in simulation: nothing on this machine changes. (apt-get -s
# needs no root; it does need the package lists, from apt-get update.)
if ! simulated=$(apt-get install -s "$runtime" "$dev" "$tools" 2>&1); then
  fail "apt-get install -s of the three packages failed (stale package lists? apt-get update):" "$simulated"
fi
for package in libudrv0 libudrv-dev udrv-tools; do
  grep -Eq "^Inst $package( |$)|^$package is already the newest version" <<<"$simulated" ||
    fail "apt-get install -s would not install $package:" "$simulated"
done
! grep -q '^Remv ' <<<"$simulated" || fail "installing the packages would remove others:" "$(grep '^Remv ' <<<"$simulated")"
pass "apt-get install -s: $(grep -c '^Inst ' <<<"$simulated") package(s) to install: $(grep '^Inst ' <<<"$simulated" | awk '{print $2}' | tr '\n' ' ')"

# Removal: what purging the three would take along. Where they are not
# installed apt can only say so, and the static checks above (no
# conffiles, nothing outside the package's own files) stand for it.
installed_here=$(dpkg-query -W -f='${Package} ${Status}\n' libudrv0 libudrv-dev udrv-tools 2>/dev/null |
                 awk '$NF == "installed" {print $1}' | tr '\n' ' ' || true)
if [ -n "$installed_here" ]; then
  simulated=$(apt-get purge -s libudrv0 libudrv-dev udrv-tools 2>&1) ||
    fail "apt-get purge -s failed:" "$simulated"
  others=$(grep '^Purg \|^Remv ' <<<"$simulated" | awk '{print $2}' |
           grep -vx 'libudrv0\|libudrv-dev\|udrv-tools' || true)
  [ -z "$others" ] || fail "purging udrv's packages would also remove:" "$others"
  pass "apt-get purge -s removes $installed_here and nothing else"
else
  # apt knows no package of these names until one is installed: it refuses
  # the simulation ("Unable to locate package"), so there is nothing to ask.
  pass "apt-get purge -s: not run, none of the three is installed here (apt cannot simulate removing a package it does not know)"
fi
