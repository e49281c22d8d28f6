#!/usr/bin/env bash
# The durability modes side by side (issue 26): for each round and each mode,
# a fresh copy of the store BASE_DATA_DIR (a stopped server's data
# directory, e.g. one ops/scale-latency.sh or stitch_fill grew), a fresh
# `stitch serve --durability MODE` on it, then
#   1. RATE beacons/s for SECONDS, open loop: ack p50/p90/p99/p99.9, the
#      mean periodic checkpoint (nosync, log) and group-log append (log);
#   2. 12 s unpaced: the mode's maximum acked rate.
# Modes alternate within a round, so the machine's drift hits each alike, and
# even rounds run them in reverse order (A B, B A, …), so no mode is always
# the one that runs first after the copy: use an even number of rounds.
#
#   ops/durability-compare.sh BASE_DATA_DIR [RATE] [ROUNDS] [SECONDS] [MODES…]
#   # defaults: 50000, 2, 25, sync log nosync
#   # a mode may carry settings: log,ingest_priority=normal
#   # and a build of its own, to compare builds: log,stitch=/tmp/stitch-before log
#   # (the load generator is always STITCH, so both builds meet the same one)
#   # STITCH=path/to/stitch (default .build/release/stitch)
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
base="$(realpath "$1")"
rate="${2:-50000}"
rounds="${3:-2}"
seconds="${4:-25}"
shift $(( $# < 4 ? $# : 4 ))
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(sync log nosync)
stitch="$(realpath "${STITCH:-.build/release/stitch}")"
[ -f "$base/data.mdb" ] || { echo "$base holds no store (data.mdb)" >&2; exit 1; }
work="$(mktemp -d "${COMPARE_DIR:-/tmp}/stitch-durability.XXXXXX")"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT
mean() {  # mean of a histogram from /metrics, in ms
  curl -s "http://127.0.0.1:$(port http)/metrics" |
    awk -v n="$1" '$1==n"_sum"{s=$2} $1==n"_count"{c=$2} END{if (c>0) printf "%.1f ms (%d)", s/c*1000, c; else printf "-"}'
}
echo "store: $base ($(du -sh "$base" | cut -f1)); $rate beacons/s for $seconds s, then 12 s unpaced; $rounds rounds"
printf "%-7s %-30s %9s %8s %8s %8s %8s  %-18s %-16s %10s\n" round mode acked/s p50 p90 p99 p99.9 "checkpoint mean" "log append mean" "unpaced/s"
for round in $(seq "$rounds"); do
  order=("${modes[@]}")
  if [ $((round % 2)) -eq 0 ]; then
    order=()
    for ((i = ${#modes[@]} - 1; i >= 0; i--)); do order+=("${modes[$i]}"); done
  fi
  for mode in "${order[@]}"; do
    IFS=, read -r -a setting <<< "$mode"
    args=(--durability "${setting[0]}")
    build="$stitch"
    for extra in "${setting[@]:1}"; do
      case "$extra" in
        stitch=*) build="$(realpath "${extra#stitch=}")" ;;
        *) args+=(--set "$extra") ;;
      esac
    done
    stitch_serve_copy "$build" "$work" "$base" "${args[@]}"
    sleep 2
    paced="$("$stitch" load --port "$(port ingest)" --connections 4 --batch 50 --duration "$seconds" --seed 9001 --rate "$rate")"
    checkpoint="$(mean stitch_sync_seconds)"
    append="$(mean stitch_group_log_append_seconds)"
    unpaced="$("$stitch" load --port "$(port ingest)" --connections 4 --batch 50 --duration 12 --seed 9101 | awk '/^acked/ {print $5}')"
    echo "$paced" | awk -v r="$round" -v m="$mode" -v c="$checkpoint" -v a="$append" -v u="$unpaced" '
      /^acked/ {acked = $5}
      /^ack latency/ {p50 = $4; p90 = $6; p99 = $8; p999 = $10}
      END {printf "%-7s %-30s %9s %8s %8s %8s %8s  %-18s %-16s %10s\n", r, m, acked, p50, p90, p99, p999, c, a, u}'
    stitch_stop
    wait "$(cat "$work/stitch.pid")" 2>/dev/null || true
    sleep 3
  done
done
