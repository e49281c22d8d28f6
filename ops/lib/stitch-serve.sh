# Sourced by the ops scripts that run a throwaway `stitch serve` (all ports
# chosen by the OS) and talk to it:
#
#   source ops/lib/stitch-serve.sh
#   stitch_serve "$stitch" "$work" [SERVE_ARGS…]   # data in $work/data; stopped on exit
#   stitch_serve_copy "$stitch" "$work" BASE [SERVE_ARGS…]  # the same on a fresh copy of store BASE, once healthy
#   port ingest|query|http|intake                   # a bound port
#   metric NAME                                     # the sum of a metric's series on /metrics
#   stitch_fill "$stitch" MILLIONS                  # unpaced simple traffic until the store holds that many events
#
# The caller owns $work (a temporary directory) and removes it; the server's
# log is $work/serve.log.

source "$(dirname "${BASH_SOURCE[0]}")/stop-processes.sh"

stitch_serve() {
  local stitch="$1"
  STITCH_SERVE_WORK="$2"
  shift 2
  # A ready file left by an earlier run in a reused directory would name its ports.
  rm -f "$STITCH_SERVE_WORK/ready.json"
  "$stitch" serve --data-dir "$STITCH_SERVE_WORK/data" --ingest-port 0 --query-port 0 --http-port 0 \
    --intake-port 0 --ready-file "$STITCH_SERVE_WORK/ready.json" "$@" 2>"$STITCH_SERVE_WORK/serve.log" &
  echo $! >"$STITCH_SERVE_WORK/stitch.pid"
  for _ in $(seq 100); do [ -s "$STITCH_SERVE_WORK/ready.json" ] && break; sleep 0.1; done
  if [ ! -s "$STITCH_SERVE_WORK/ready.json" ]; then
    cat "$STITCH_SERVE_WORK/serve.log" >&2
    echo "stitch serve did not start" >&2
    return 1
  fi
}

# Serves a fresh copy of the stopped server's data directory BASE (replacing
# $work/data) and returns once /healthz answers: a store that restores a
# checkpoint or replays a group log answers later than its ready file.
stitch_serve_copy() {
  local stitch="$1" work="$2" base="$3"
  shift 3
  rm -rf "$work/data"
  cp -r "$base" "$work/data"
  sync
  stitch_serve "$stitch" "$work" "$@" || return 1
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$(port http)/healthz" >/dev/null && break; sleep 0.1; done
}

# Stops the server and waits until it has exited (`stop_processes`).
stitch_stop() {
  local pid
  pid="$(cat "$STITCH_SERVE_WORK/stitch.pid" 2>/dev/null)" || return 0
  stop_processes "$pid"
}

port() {
  python3 -c "import json; print(json.load(open('$STITCH_SERVE_WORK/ready.json'))['$1'])"
}

metric() {
  curl -s "http://127.0.0.1:$(port http)/metrics" |
    awk -v name="$1" '$1 == name || index($1, name "{") == 1 {sum += $2} END {printf "%d", sum}'
}

# Fills the served store with unpaced `stitch load` runs of 10 s (simple
# traffic, 4 connections, 50-beacon batches, seeds 1, 101, 201, … so no
# beacon repeats) until it holds MILLIONS million events. Leaves the next
# unused seed in STITCH_FILL_SEED and the last run's acked beacons/s in
# STITCH_FILL_RATE (0 if no run was needed).
stitch_fill() {
  local stitch="$1" millions="$2"
  STITCH_FILL_SEED=1
  STITCH_FILL_RATE=0
  while python3 -c "import sys; sys.exit(0 if $(metric stitch_events_stored_total) < $millions * 1e6 else 1)"; do
    STITCH_FILL_RATE="$("$stitch" load --port "$(port ingest)" --connections 4 --batch 50 --duration 10 \
      --seed "$STITCH_FILL_SEED" | awk '/^acked/ {print $5}')"
    STITCH_FILL_SEED=$((STITCH_FILL_SEED + 100))
  done
}
