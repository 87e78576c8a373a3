#!/usr/bin/env bash
# linux_peer (test/guest/linux_peer.cc) through a real kernel: send and recv
# on the loopback interface of a private network namespace (unshare -n, its
# own sysfs), which touches no device of this machine. Checks the verified
# counts, the JSON document, and that a receive missing frames fails.
# Needs root for the namespace; exits 77 (skipped) without it.
# Usage: linux_peer_lo_test.sh LINUX_PEER
set -euo pipefail
peer=$1
if [ "$(id -u)" -ne 0 ] || ! unshare -n -m true 2>/dev/null; then
  echo "linux_peer_lo: needs root and unshare -n -m; skipped"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

exec unshare -n -m bash -euo pipefail -c '
peer=$1 work=$2
mount -t sysfs sysfs /sys
ip link set lo up

# 3000 frames of four sizes, verified byte for byte on the way back in.
"$peer" --json recv --iface lo --count 3000 --timeout 20 --stream 9 > "$work/recv.json" 2> "$work/recv.err" &
recv=$!
for _ in $(seq 100); do grep -q ready "$work/recv.err" && break; sleep 0.1; done
"$peer" send --iface lo --count 3000 --size 60 --size 1514 --size 61 --size 999 --stream 9 --dst 52:54:00:00:00:02
wait $recv
cat "$work/recv.json"
python3 - "$work/recv.json" <<PY
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] and d["good"] == 3000 and d["frames"] == 3000, d
assert d["bytes"] == 750 * (60 + 1514 + 61 + 999), d
assert d["missing"] == 0 and d["corrupt"] == 0 and d["late"] == 0 and d["duplicates"] == 0, d
assert d["cpu_ns_per_frame"] > 0 and d["frames_per_second"] > 0, d
PY

# One frame short: recv times out and says so.
"$peer" recv --iface lo --count 11 --timeout 2 > "$work/short.out" 2> "$work/short.err" &
recv=$!
for _ in $(seq 100); do grep -q ready "$work/short.err" && break; sleep 0.1; done
"$peer" send --iface lo --count 10
if wait $recv; then echo "recv of 11 with 10 sent passed"; exit 1; fi
cat "$work/short.out" "$work/short.err"
grep -q "10 of 11 test frames (10 good)" "$work/short.out"
grep -q "timed out" "$work/short.out"

# Frames of the wrong stream are refused.
"$peer" recv --iface lo --count 5 --timeout 5 --stream 1 > "$work/stream.out" 2> "$work/stream.err" &
recv=$!
for _ in $(seq 100); do grep -q ready "$work/stream.err" && break; sleep 0.1; done
"$peer" send --iface lo --count 5 --stream 2
if wait $recv; then echo "recv of stream 1 accepted stream 2"; exit 1; fi
grep -q "stream 2, expected 1" "$work/stream.out"
echo "linux_peer over lo: all checks passed"
' linux_peer_lo "$peer" "$work"
