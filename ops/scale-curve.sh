#!/usr/bin/env bash
# Throughput as the store grows (issue 26): one `stitch serve`, then unpaced
# `stitch load` runs (TCP, 4 connections, 50-beacon zlib batches, simple
# traffic, a new seed each run so no beacon repeats) until the store holds
# EVENTS_MILLIONS million events. One row per run: the events stored before it,
# the acked rate, the ack p99, and the writer's page writes (metrics
# stitch_pages_written_total and stitch_group_commits_total): pages per commit
# and per 1,000 beacons, which explain the curve.
#
#   ops/scale-curve.sh [STITCH_BINARY] [EVENTS_MILLIONS] [SECONDS_PER_RUN] [-- SERVE_ARGS…]
#   ops/scale-curve.sh .build/release/stitch 12 10
#
# Defaults: .build/release/stitch, 12, 10. The store lives in a temporary
# directory under $SCALE_DIR (default /tmp), removed at the end. LOAD_ARGS
# adds `stitch load` flags, e.g. LOAD_ARGS=--random-session-ids (the
# tracker's session ids, whose ident entries land on random leaves).
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="$(realpath "${1:-.build/release/stitch}")"
target_millions="${2:-12}"
seconds="${3:-10}"
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
work="$(mktemp -d "${SCALE_DIR:-/tmp}/stitch-scale.XXXXXX")"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT

stitch_serve "$stitch" "$work" "$@"
printf '| events in store before the run | acked beacons/s | ack p99, ms | pages per commit | pages per 1,000 beacons | store GB |\n'
printf '|---|---|---|---|---|---|\n'
seed=1
while true; do
  events="$(metric stitch_events_stored_total)"
  python3 -c "import sys; sys.exit(0 if $events >= $target_millions * 1e6 else 1)" && break
  pages_before="$(metric stitch_pages_written_total)"
  commits_before="$(metric stitch_group_commits_total)"
  "$stitch" load --port "$(port ingest)" --query-port "$(port query)" --duration "$seconds" --connections 4 \
    --batch 50 --seed "$seed" ${LOAD_ARGS:-} >"$work/load.txt"
  acked="$(awk '/^acked/ {print $5}' "$work/load.txt")"
  p99="$(sed -n 's/^ack latency .* p99 \([0-9.]*\) .*/\1/p' "$work/load.txt")"
  stored="$(( $(metric stitch_events_stored_total) - events ))"
  pages="$(( $(metric stitch_pages_written_total) - pages_before ))"
  commits="$(( $(metric stitch_group_commits_total) - commits_before ))"
  store_gb="$(du -sb "$work/data" | awk '{printf "%.2f", $1 / 1e9}')"
  python3 -c "
events, acked, p99, pages, commits, stored = $events, $acked, '$p99', $pages, $commits, $stored
print(f'| {events / 1e6:.1f}M | {acked / 1000:.1f}k | {p99} | {pages / max(1, commits):.0f} | {1000 * pages / max(1, stored):.0f} | $store_gb |')"
  seed=$((seed + 100))
done
