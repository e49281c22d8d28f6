#!/usr/bin/env bash
# Where the CPU goes during paced ingest (issue 26): a fresh copy of the store
# BASE_DATA_DIR (a stopped server's data directory), `stitch serve
# [SERVE_ARGS…]` on it, `stitch load` at RATE beacons/s for SECONDS; over 15 s
# in the middle, for each thread group of the server and of the load
# generator: the share of a core it ran (/proc/…/task/*/stat) and the share of
# the time it was runnable but waiting for a core (/proc/…/task/*/schedstat).
# A waiting share near the running share means the cores are contended.
#
#   ops/thread-cpu.sh BASE_DATA_DIR RATE [SECONDS] [-- SERVE_ARGS…]
#   # e.g. ops/thread-cpu.sh /tmp/s10-base 64000 25 -- --durability log
#   # STITCH=path/to/stitch (default .build/release/stitch)
set -euo pipefail
if [ $# -lt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
base="$(realpath "$1")"
rate="$2"
seconds="${3:-25}"
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
[ "$seconds" -ge 22 ] || { echo "SECONDS must be at least 22 (5 s settle, 15 s sampled)" >&2; exit 1; }
stitch="$(realpath "${STITCH:-.build/release/stitch}")"
[ -f "$base/data.mdb" ] || { echo "$base holds no store (data.mdb)" >&2; exit 1; }
work="$(mktemp -d "${COMPARE_DIR:-/tmp}/stitch-thread-cpu.XXXXXX")"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT
stitch_serve_copy "$stitch" "$work" "$base" "$@"
sleep 2
server="$(cat "$work/stitch.pid")"
# One line per thread: name, CPU ticks (user + system), ns runnable but waiting.
snapshot() {
  for task in /proc/"$1"/task/*; do
    echo "$(tr ' ' _ < "$task/comm") $(awk '{print $14 + $15}' "$task/stat") $(awk '{print $2}' "$task/schedstat")"
  done
}
"$stitch" load --port "$(port ingest)" --connections 4 --batch 50 --duration "$seconds" --seed 9001 --rate "$rate" \
  > "$work/load.txt" &
load=$!
sleep 5
snapshot "$server" > "$work/server.0"; snapshot "$load" > "$work/load.0"; start=$(date +%s.%N)
sleep 15
snapshot "$server" > "$work/server.1"; snapshot "$load" > "$work/load.1"; end=$(date +%s.%N)
wait "$load"
grep -E "^acked|^ack latency" "$work/load.txt"
python3 - "$work" "$start" "$end" "$(getconf CLK_TCK)" <<'PY'
import collections, re, sys
work, start, end, ticks = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
seconds = end - start
def read(path):
    cpu, waiting = collections.Counter(), collections.Counter()
    for line in open(path):
        name, ran, waited = line.split()
        group = re.sub(r"[-#0-9]+$", "", name)  # stitch-shard-1, NIO-ELT-1-#2 → their group
        cpu[group] += int(ran)
        waiting[group] += int(waited)
    return cpu, waiting
print(f"{'process':<10} {'threads':<20} {'ran, % of a core':>17} {'runnable, waiting':>18}")
for process, prefix in (("server", "server"), ("generator", "load")):
    (cpu0, wait0), (cpu1, wait1) = read(f"{work}/{prefix}.0"), read(f"{work}/{prefix}.1")
    total = 0.0
    for group in sorted(cpu1, key=lambda g: cpu0[g] - cpu1[g]):
        ran = (cpu1[group] - cpu0[group]) / ticks / seconds * 100
        waited = (wait1[group] - wait0[group]) / 1e9 / seconds * 100
        total += ran
        if ran >= 0.5:
            print(f"{process:<10} {group:<20} {ran:16.1f}% {waited:17.1f}%")
    print(f"{process:<10} {'all':<20} {total:16.1f}%")
PY
