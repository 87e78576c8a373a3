#!/usr/bin/env bash
# `busctl list --tree` on trees with bridges (the recorded trees have none):
# test/tools/make-bridge-tree.py writes a one-domain tree with root ports, a
# switch, a multi-function endpoint and empty buses, a two-domain tree, and
# an Intel VMD tree (a domain below another domain's function). Each drawing,
# selections included, must be the one busctl-tree.golden holds (lspci's,
# from versions that draw each case right); the one-domain tree is then
# checked against the installed lspci with busctl_vs_lspci.sh.
# Usage: busctl_tree_golden.sh BUSCTL
set -euo pipefail
busctl=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for kind in single multi vmd; do
  python3 "$here/make-bridge-tree.py" "$work/$kind" "$kind"
done

status=0
checks=0
# Each "== TREE ARGS" section of the golden file, in turn.
while IFS= read -r header; do
  read -ra words <<< "${header#== }"  # words, never globs: selections hold '*'
  tree=${words[0]}
  args=("${words[@]:1}")
  awk -v header="$header" '$0 == header {on = 1; next} /^== / {on = 0} on' \
    "$here/busctl-tree.golden" > "$work/expected"
  "$busctl" --sysfs-root "$work/$tree" list -t -n "${args[@]}" > "$work/actual"
  checks=$((checks + 1))
  if ! diff -u --label "golden: $header" --label "busctl" "$work/expected" "$work/actual"; then
    echo "FAIL: busctl list -t -n ${args[*]} on the $tree tree"
    status=1
  fi
done < <(grep '^== ' "$here/busctl-tree.golden")
[ $checks -gt 20 ] || { echo "FAIL: only $checks drawings in busctl-tree.golden"; exit 1; }
[ $status -eq 0 ] && echo "busctl draws all $checks golden trees as lspci does"

"$here/busctl_vs_lspci.sh" "$busctl" "$work/single" || status=1
exit $status
