#!/usr/bin/env bash
# Latency on a grown store (issue 26): fills one `stitch serve` to
# EVENTS_MILLIONS million events with unpaced simple traffic (as
# ops/scale-curve.sh), then measures, open loop (steady rates, latency from
# each request's intended send time):
#   1. lookups at 1,000/s during 50,000 beacons/s of ingest (`stitch load
#      --rate 50000 --query-rate 1000`): lookup p50/p99/p99.9, and the acks';
#      while it runs, an outside probe (ops/query-open-loop.py, Python, its
#      own connections) sends another 1,000 lookups/s and reports its own;
#   2. the acks at half the maximum rate (the last unpaced run's acked rate).
# Beside both the probe and the idle server before it, ops/wakeup-lateness.py
# measures how late a thread that does nothing else wakes: the machine's
# floor under any latency measured at the same time. After each phase,
# ops/histogram-share.py prints the server's own side (stitch_query_seconds
# for lookups, stitch_batch_ack_seconds for acks) from /metrics.
#
#   ops/scale-latency.sh [STITCH_BINARY] [EVENTS_MILLIONS] [SECONDS] [-- SERVE_ARGS…]
#   # defaults: .build/release/stitch, 10, 20
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="$(realpath "${1:-.build/release/stitch}")"
target_millions="${2:-10}"
seconds="${3:-20}"
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
work="$(mktemp -d "${SCALE_DIR:-/tmp}/stitch-latency.XXXXXX")"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT
stitch_serve "$stitch" "$work" "$@"
load() { "$stitch" load --port "$(port ingest)" --query-port "$(port query)" --connections 4 --batch 50 "$@"; }
stitch_fill "$stitch" "$target_millions"
seed="$STITCH_FILL_SEED"
max="$STITCH_FILL_RATE"
echo "store: $(metric stitch_events_stored_total) events; the last unpaced run acked $max beacons/s"
echo "== the machine's wakeup floor, server idle, 5 s"
python3 ops/wakeup-lateness.py --rate 1000 --duration 5 --label "server idle"
echo "== lookups at 1,000/s during 50,000 beacons/s, $seconds s (and the outside probe's, for $((seconds - 4)) s of them)"
python="$(ops/python-venv.sh)"
received="$(metric stitch_beacons_received_total)"
(
  # The generator encodes its frames before its clock starts: probe once beacons flow.
  while [ "$(metric stitch_beacons_received_total)" = "$received" ]; do sleep 0.2; done
  sleep 2
  python3 ops/wakeup-lateness.py --rate 1000 --duration $((seconds - 4)) --label "during the lookups" &
  "$python" ops/query-open-loop.py --port "$(port query)" --rate 1000 --duration $((seconds - 4)) 2>/dev/null
  wait
) </dev/null &
probe=$!
scrape() { curl -s "http://127.0.0.1:$(port http)/metrics" >"$work/$1.txt"; }
scrape before
load --duration "$seconds" --seed "$seed" --rate 50000 --query-rate 1000 | grep -E "^acked|^ack latency|^lookups|^queries"
wait "$probe"
scrape after
python3 ops/histogram-share.py "$work/before.txt" "$work/after.txt" stitch_query_seconds --label type=lookup
python3 ops/histogram-share.py "$work/before.txt" "$work/after.txt" stitch_batch_ack_seconds
seed=$((seed + 100))
half=$((max / 2))
echo "== acks at half the maximum, $half beacons/s, $seconds s"
scrape before
load --duration "$seconds" --seed "$seed" --rate "$half" | grep -E "^acked|^ack latency"
scrape after
python3 ops/histogram-share.py "$work/before.txt" "$work/after.txt" stitch_batch_ack_seconds
