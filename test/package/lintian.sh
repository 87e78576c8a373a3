#!/usr/bin/env bash
# package.lintian: runs lintian on the three .debs package.deb made and
# compares its findings with those recorded in docs/PACKAGING.md (the
# block after <!-- lintian-findings -->). Prints every finding; fails on an
# error (E:) that is not recorded there. Warnings and notes not recorded
# are printed as new, and recorded findings lintian no longer makes as
# gone, so the record can be brought up to date.
#
# Usage: lintian.sh DEB_DIR PACKAGING_MD
set -euo pipefail
debs=$1 record=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

need_tool lintian lintian
ls "$debs"/*.deb >/dev/null 2>&1 || fail "no .debs in $debs: package.deb makes them"

# --info: the I: findings too. Exit status 1 only means errors were found;
# the comparison below decides.
findings=$(lintian --info --no-tag-display-limit "$debs"/*.deb 2>&1 | grep -E '^[EWIPX]: ' | sort -u || true)
lintian --version >/dev/null || fail "lintian does not run"
recorded=$(awk '/<!-- lintian-findings -->/ {armed=1; next}
                armed && /^```/ {if (inside) exit; inside=1; next}
                inside {print}' "$record" | sort -u)
[ -n "$recorded" ] || fail "no recorded findings in $record (a \`\`\` block after <!-- lintian-findings -->)"

echo "lintian $(lintian --version | awk '{print $2}') on $(cd "$debs" && ls ./*.deb | tr '\n' ' '):"
echo "${findings:-(no findings)}"
new=$(comm -23 <(echo "$findings") <(echo "$recorded") | sed '/^$/d')
gone=$(comm -13 <(echo "$findings") <(echo "$recorded") | sed '/^$/d')
[ -z "$gone" ] || { echo "recorded in ${record##*/} but no longer found:"; echo "$gone"; }
[ -z "$new" ] || { echo "not recorded in ${record##*/}:"; echo "$new"; }
new_errors=$(grep '^E: ' <<<"$new" || true)
[ -z "$new_errors" ] || fail "lintian errors not recorded in $record:" "$new_errors"
pass "no lintian error beyond the $(grep -c '^E: ' <<<"$recorded" || true) recorded"
