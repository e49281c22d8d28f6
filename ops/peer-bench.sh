#!/usr/bin/env bash
# Stitch against the peer a small team might pick instead — union-find in a Redis
# Lua script with AOF fsync every second (ops/peer/redis_union_find.py) — fed the
# same events in the same run, so the README can state the ratio honestly.
#
#   1. a fresh release `stitch serve` (defaults: one shard per core, durability
#      log: each ack after its group log's fsync) takes `stitch load` unpaced
#      over TCP for DURATION seconds (frames encoded before the clock starts;
#      4 sites × 1M visitors);
#   2. the events it stored are exported (`stitch export events`);
#   3. a fresh Debian `redis-server` (appendonly yes, appendfsync everysec, no RDB)
#      takes exactly those events, one EVALSHA per event, pipelined (commands encoded
#      before the clock starts);
#   4. both rates and their ratio.
#
#   With PRELOAD_EVENTS=N both first take about N events of sites 11–14
#   (Stitch from unpaced 30 s runs, Redis those same events, untimed), then the
#   measured run on sites 1–4: the rates on a grown store, where Redis holds
#   everything in RAM and Stitch maps its store from disk.
#
#   ops/peer-bench.sh                 # DURATION=15
#   DURATION=20 SERVE_ARGS="--set shards=1" ops/peer-bench.sh
#   PRELOAD_EVENTS=10000000 ops/peer-bench.sh
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
ops/install-deps.sh
command -v redis-server >/dev/null || { sudo_apt=$( [ "$(id -u)" = 0 ] && echo "" || echo sudo ); $sudo_apt apt-get install -y redis-server >&2; }
swift build -c release --product stitch >&2
stitch="$PWD/.build/release/stitch"
duration="${DURATION:-15}"
work="$(mktemp -d /tmp/stitch-peer.XXXXXX)"
source ops/lib/stop-processes.sh
trap 'stop_processes $(cat "$work"/*.pid 2>/dev/null); rm -rf "$work"' EXIT

# shellcheck disable=SC2086
"$stitch" serve --data-dir "$work/data" --ingest-port 0 --query-port 0 --http-port 0 --intake-port 0 \
  --ready-file "$work/ready.json" ${SERVE_ARGS:-} 2>"$work/serve.log" &
echo $! >"$work/stitch.pid"
for _ in $(seq 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
port() { python3 -c "import json;print(json.load(open('$work/ready.json'))['$1'])"; }
events_stored() { "$stitch" query stats --json --server "127.0.0.1:$(port query)" | python3 -c "import json,sys;print(int(json.load(sys.stdin).get('events', 0)))"; }
preloaded=0
if [ "${PRELOAD_EVENTS:-0}" -gt 0 ]; then
  seed=101
  while [ "$(events_stored)" -lt "$PRELOAD_EVENTS" ]; do
    "$stitch" load --port "$(port ingest)" --persons 1000000 --sites 4 --first-site 11 --duration 30 --seed "$seed" |
      grep '^acked' | sed 's/^/preload: /'
    seed=$((seed + 100))
  done
  preloaded="$(events_stored)"
  echo "preloaded: $preloaded events"
fi
"$stitch" load --port "$(port ingest)" --query-port "$(port query)" --persons 1000000 --duration "$duration" \
  | grep -v '^\[' | tee "$work/stitch.txt"
kill -TERM "$(cat "$work/stitch.pid")"; wait "$(cat "$work/stitch.pid")" || true
stitch_rate=$(awk '/^acked/ {print $5}' "$work/stitch.txt")
if [ "$preloaded" -gt 0 ]; then
  # Each site apart: the preload's (11–14) and the measured run's (1–4).
  for site in 11 12 13 14; do "$stitch" export events --data-dir "$work/data" --site "$site" >>"$work/preload.ndjson"; done
  for site in 1 2 3 4; do "$stitch" export events --data-dir "$work/data" --site "$site" >>"$work/events.ndjson"; done
else
  "$stitch" export events --data-dir "$work/data" -o "$work/events.ndjson"
fi

redis-server --port 6390 --bind 127.0.0.1 --dir "$work" --appendonly yes \
  --appendfsync everysec --save "" --daemonize no >"$work/redis.log" 2>&1 &
echo $! >"$work/redis.pid"
for _ in $(seq 50); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done
if [ "$preloaded" -gt 0 ]; then
  echo "redis preload: $(python3 ops/peer/redis_union_find.py --port 6390 --events "$work/preload.ndjson")"
  rm "$work/preload.ndjson"
fi
peer=$(python3 ops/peer/redis_union_find.py --port 6390 --events "$work/events.ndjson")
echo "redis peer: $peer"
peer_rate=$(python3 -c "import json,sys;print(json.loads(sys.argv[1])['events_per_second'])" "$peer")
kill -TERM "$(cat "$work/redis.pid")"; wait "$(cat "$work/redis.pid")" || true
python3 -c "import sys;s,p=float(sys.argv[1]),float(sys.argv[2]);print(f'stitch {s:,.0f} beacons/s (acked after fsync) vs redis+lua {p:,.0f} events/s (AOF everysec): {s/p:.2f}x')" \
  "$stitch_rate" "$peer_rate"
