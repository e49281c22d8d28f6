#!/usr/bin/env bash
# The scale target of issue 26 side by side: the unpaced acked rate on a grown
# store as a share of the empty store's, measured in one run. Each round
# serves an empty store and a fresh copy of BASE_DATA_DIR (a stopped server's
# data directory, e.g. one stitch_fill grew to 12M events), a fresh
# `stitch serve` each, and drives each with the same unpaced `stitch load`
# (TCP, 4 connections, 50-beacon zlib batches, simple traffic, seed 9101, new
# to a store filled by stitch_fill). Even rounds run the grown store first
# (A B, B A, …), so neither always runs first: use an even number of rounds.
# A row per run: acked beacons/s, ack p99, the writer's pages per 1,000
# beacons; then each round's ratio and their mean.
#
#   ops/scale-ratio.sh BASE_DATA_DIR [ROUNDS] [SECONDS] [-- SERVE_ARGS…]
#   ops/scale-ratio.sh /tmp/s12 4 10 -- --durability log
#
# A grown store: `stitch serve --data-dir /tmp/s12`, unpaced `stitch load`
# runs (a new --seed each, below 9101) until `stitch query stats` counts 12M
# events, then stop the server (stitch_fill in ops/lib/stitch-serve.sh does the runs).
#
# Defaults: 4 rounds of 10 s. STITCH=path/to/stitch (default
# .build/release/stitch) serves and loads.
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
base="$(realpath "$1")"
rounds="${2:-4}"
seconds="${3:-10}"
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
stitch="$(realpath "${STITCH:-.build/release/stitch}")"
[ -f "$base/data.mdb" ] || { echo "$base holds no store (data.mdb)" >&2; exit 1; }
work="$(mktemp -d "${SCALE_DIR:-/tmp}/stitch-ratio.XXXXXX")"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT
mkdir -p "$work/empty"

STITCH_SERVE_WORK="$work"  # so the exit trap stops a server a run left

# run STORE_DIR [SERVE_ARGS…]: one fresh server on a copy of the store, one
# unpaced load; writes "acked p99 pages_per_1000 events_before" to $work/row.
run() {
  local dir="$1"
  shift
  stitch_serve_copy "$stitch" "$work" "$dir" "$@"
  sleep 2
  local events pages
  events="$(metric stitch_events_stored_total)"
  pages="$(metric stitch_pages_written_total)"
  local stored_before
  stored_before="$("$stitch" query stats --server "127.0.0.1:$(port query)" | awk '$1 == "events" {print $2}')"
  "$stitch" load --port "$(port ingest)" --connections 4 --batch 50 --duration "$seconds" --seed 9101 >"$work/load.txt"
  local stored=$(( $(metric stitch_events_stored_total) - events ))
  pages=$(( $(metric stitch_pages_written_total) - pages ))
  awk -v e="$stored_before" -v p="$pages" -v s="$stored" '
    /^acked/ {acked = $5}
    /^ack latency/ {p99 = $8}
    END {printf "%s %s %.0f %d\n", acked, p99, 1000 * p / (s > 0 ? s : 1), e}' "$work/load.txt" >"$work/row"
  stitch_stop
  wait "$(cat "$work/stitch.pid")" 2>/dev/null || true
  sleep 3
}

echo "grown store: $base ($(du -sh "$base" | cut -f1)); $seconds s unpaced per run; $rounds rounds; serve args: ${*:-none}"
printf '| round | store | events before | acked beacons/s | ack p99, ms | pages per 1,000 beacons |\n|---|---|---|---|---|---|\n'
ratios=()
for round in $(seq "$rounds"); do
  order=(empty grown)
  [ $((round % 2)) -eq 0 ] && order=(grown empty)
  declare -A acked=()
  for store in "${order[@]}"; do
    dir="$work/empty"
    [ "$store" = grown ] && dir="$base"
    run "$dir" "$@"
    read -r rate p99 pages events <"$work/row"
    acked[$store]="$rate"
    awk -v r="$round" -v s="$store" -v e="$events" -v a="$rate" -v p="$p99" -v g="$pages" \
      'BEGIN {printf "| %s | %s | %.1fM | %.1fk | %s | %s |\n", r, s, e / 1e6, a / 1e3, p, g}'
  done
  ratios+=("$(awk -v g="${acked[grown]}" -v e="${acked[empty]}" 'BEGIN {printf "%.4f", g / e}')")
  unset acked
done
printf '%s\n' "${ratios[@]}" | awk '{printf "%s%.1f%%", (NR == 1 ? "grown / empty per round: " : " "), 100 * $1; s += $1}
  END {printf "; mean %.1f%%\n", 100 * s / NR}'
