#!/usr/bin/env bash
# Runs one libFuzzer target as a test: every regression input and every seed
# once, then SECONDS of fuzzing on a fresh copy of the seeds (the corpus in
# git is never written). Any crash, leak, UB report, timeout or memory blowup
# fails it; the input that did it is left in WORK/artifacts/.
# Usage: run-fuzz-target.sh BINARY REGRESSIONS CORPUS WORK SECONDS [libFuzzer flags...]
set -euo pipefail
if [ $# -lt 5 ]; then
  echo "usage: $0 BINARY REGRESSIONS CORPUS WORK SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
binary=$1 regressions=$2 corpus=$3 work=$4 seconds=$5
shift 5
name=$(basename "$corpus")

if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
  echo "fuzz $name: no seed corpus in $corpus" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$corpus"/* "$work/corpus/"

# One process per target, bounded in time, memory and per input.
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -artifact_prefix="$work/artifacts/")

inputs=("$corpus"/*)
if [ -d "$regressions" ]; then
  for input in "$regressions"/*; do [ -f "$input" ] && inputs+=("$input"); done
fi
echo "fuzz $name: ${#inputs[@]} regression and seed inputs"
if ! "$binary" "${limits[@]}" "$@" "${inputs[@]}" >"$work/replay.log" 2>&1; then
  cat "$work/replay.log"
  echo "fuzz $name: a regression or seed input fails (log above)" >&2
  exit 1
fi

echo "fuzz $name: fuzzing for ${seconds}s"
if ! "$binary" "${limits[@]}" -max_total_time="$seconds" -print_final_stats=1 "$@" \
    "$work/corpus" >"$work/fuzz.log" 2>&1; then
  tail -n 80 "$work/fuzz.log"
  echo "fuzz $name: found a defect; the input is in $work/artifacts/ -" \
       "fix it and keep the input in test/fuzz/regressions/$name/" >&2
  exit 1
fi
grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$work/fuzz.log" || true
