#!/usr/bin/env bash
# End-to-end load scenarios of the service issue, each against a fresh
# release server (default settings: log durability) in a temporary folder,
# with the load generator on the same machine:
#
#   1. TCP ingest, unpaced (as fast as acks come back), 20 s
#   2. UDP ingest at 100k beacons/s, 20 s, with the loss rate
#   3. lookups at 20k/s alone, then during TCP ingest at 50k beacons/s
#   4. the default world with ground truth, --verify (precision, recall, history),
#      also with the office phone undeclared, with anonymous devices, and with the
#      shared-identifier rule off and the office phone declared after ingest, and with 10% of
#      persons repeat customers on weekly-reset cookies (with and without the office phone declared)
#   5. lease requests at 5k/s with light ingest, then during TCP ingest at 50k beacons/s
#   6. what call matching costs: a world of 4 × 8,000 persons (about 1M events
#      with number_shown and calls) sent unpaced, call_matching off/on twice,
#      interleaved (this VM's run-to-run noise is about 10%), with the
#      writer's busy time (apply + commit) beside the throughput
#   7. what the shared-identifier rule costs: the world of scenario 6 (office phone undeclared) unpaced,
#      hub_links_max=0 (off) and 4 (default) interleaved twice
#   8. what exactly-once costs: a store prefilled with about 6M events (40 s unpaced, with
#      event ids), then 15 s unpaced with and without --no-event-ids, interleaved
#      (with, without, without, with) twice; every run its own seed, so no run
#      finds another's sessions already stored
#
#   9. what the shared-device rule costs: the world of scenario 6 with 1% kiosk visitors and 2%
#      salesperson e-mails, office phone undeclared, unpaced, device_links_max=0 (off) and 3
#      (default) interleaved twice
#
#   ops/load-scenarios.sh            # all, about 5 minutes after the build
#   DURATION=10 ops/load-scenarios.sh
#   ONLY="5 6" ops/load-scenarios.sh # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
swift build -c release --product stitch >&2
stitch="$PWD/.build/release/stitch"
duration="${DURATION:-20}"
work="$(mktemp -d /tmp/stitch-load.XXXXXX)"
source ops/lib/stop-processes.sh
trap 'stop_processes $(cat "$work/pid" 2>/dev/null); rm -rf "$work"' EXIT

only="${ONLY:-1 2 3 4 5 6 7 8 9}"
wanted() { [[ " $only " == *" $1 "* ]]; }

start_server() {
  rm -rf "$work/data" "$work/ready.json"
  "$stitch" serve --data-dir "$work/data" --ingest-port 0 --query-port 0 --http-port 0 --intake-port 0 \
    --ready-file "$work/ready.json" "$@" 2>"$work/serve.log" &
  echo $! >"$work/pid"
  for _ in $(seq 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
  ingest=$(python3 -c "import json;print(json.load(open('$work/ready.json'))['ingest'])")
  query=$(python3 -c "import json;print(json.load(open('$work/ready.json'))['query'])")
}

stop_server() {
  # Peak resident memory of the server over its life (the LMDB map's pages
  # it touched count too: they are file-backed and the kernel may drop them).
  echo "server peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$(cat "$work/pid")/status")"
  kill -TERM "$(cat "$work/pid")"
  wait "$(cat "$work/pid")" 2>/dev/null || true
}

run() {
  echo
  echo "== $1"
  shift
  "$stitch" load --port "$ingest" --query-port "$query" --persons 1000000 --duration "$duration" "$@" | grep -v '^\['
}

if wanted 1; then
  start_server
  run "TCP ingest, unpaced, acked after each group commit (sync)" --transport tcp
  stop_server
fi

if wanted 2; then
  start_server
  run "UDP ingest at 100k beacons/s" --transport udp --rate 100000 --batch 20
  stop_server
fi

if wanted 3; then
  start_server
  run "lookups at 20k/s, light ingest" --transport tcp --rate 1000 --query-rate 20000
  run "lookups at 20k/s during TCP ingest at 50k beacons/s" --transport tcp --rate 50000 --query-rate 20000
  stop_server
fi

# The default world with ground truth; `stitch load` declares each site's
# number pool (dynamic numbers, fallback, office phone) as an operator would.
# Then the same world with the office phone left undeclared (the guards'
# case), and with 30% of multi-device persons' devices anonymous.
if wanted 4; then
  for variant in "" "--no-pools" "--anonymous-devices 30" "--weekly-cookies 10" "--no-pools --weekly-cookies 10"; do
    start_server
    echo
    echo "== the default world (4 sites × 2,000 persons), --verify ${variant}"
    # shellcheck disable=SC2086
    "$stitch" load --port "$ingest" --query-port "$query" --verify --sites 4 $variant | grep -v '^\['
    stop_server
  done
  # The office phone undeclared with the shared-identifier rule off (the
  # blobs form), then declared after ingest: one repair per site.
  start_server --set hub_links_max=0
  echo
  echo "== the default world, --no-pools, hub_links_max=0, then the office phones declared (--declare-after)"
  "$stitch" load --port "$ingest" --query-port "$query" --verify --sites 4 --no-pools --declare-after | grep -v '^\['
  stop_server
fi

if wanted 5; then
  start_server
  run "lease requests at 5k/s, light ingest" --transport tcp --rate 1000 --query-rate 5000 --query-kind lease
  run "lease requests at 5k/s during TCP ingest at 50k beacons/s" --transport tcp --rate 50000 \
    --query-rate 5000 --query-kind lease
  stop_server
fi

# The world of 4 × 8,000 persons (about 1M events), unpaced; extra load flags follow.
big_world() {
  "$stitch" load --port "$ingest" --query-port "$query" --traffic world --world-persons 8000 --sites 4 "$@" \
    | grep -E '^(world|acked)'
}

# The running server's /metrics through an awk program (the one argument).
server_metrics() {
  http=$(python3 -c "import json;print(json.load(open('$work/ready.json'))['http'])")
  curl -s "http://127.0.0.1:$http/metrics" | awk "$1"
}

if wanted 6; then
  for matching in off on off on; do
    start_server --set "call_matching=$matching"
    echo
    echo "== a world of 4 × 8,000 persons, unpaced, call_matching=$matching"
    big_world
    server_metrics '
      /^stitch_commit_seconds_sum/ {busy=$2}
      /^stitch_calls_total\{match="session"\}/ {s=$2}
      /^stitch_calls_matched_late_total/ {l=$2}
      END {printf "writer busy %.2f s (apply + commit); calls matched %d at arrival, %d late\n", busy, s, l}'
    stop_server
  done
fi

if wanted 7; then
  for links in 0 4 0 4; do
    start_server --set "hub_links_max=$links"
    echo
    echo "== a world of 4 × 8,000 persons, office phone undeclared, unpaced, hub_links_max=$links"
    big_world --no-pools
    server_metrics '
      /^stitch_commit_seconds_sum/ {busy=$2}
      /^stitch_quarantines_total\{source="automatic"\}/ {q=$2}
      /^stitch_persons_split_total/ {p=$2}
      END {printf "writer busy %.2f s (apply + commit); %d identifiers quarantined automatically, %d persons split off\n", busy, q, p}'
    stop_server
  done
fi

if wanted 8; then
  start_server
  echo
  echo "== exactly-once cost: prefill 40 s unpaced with event ids"
  "$stitch" load --port "$ingest" --query-port "$query" --duration 40 --seed 1 | grep -E '^(acked|server)'
  seed=100
  for ids in with without without with with without without with; do
    flag=""
    [ "$ids" = without ] && flag="--no-event-ids"
    echo "-- $ids event ids, seed $seed"
    # shellcheck disable=SC2086
    "$stitch" load --port "$ingest" --query-port "$query" --duration 15 --seed "$seed" $flag | grep -E '^(acked|server)'
    seed=$((seed + 100))
  done
  stop_server
fi

if wanted 9; then
  for links in 0 3 0 3; do
    start_server --set "device_links_max=$links"
    echo
    echo "== a world of 4 × 8,000 persons, kiosks 1%, salesperson e-mails 2%, office phone undeclared, unpaced, device_links_max=$links"
    big_world --no-pools --kiosks 1 --salesperson-emails 2
    server_metrics '
      /^stitch_commit_seconds_sum/ {busy=$2}
      /^stitch_quarantines_total\{source="automatic"\}/ {q=$2}
      END {printf "writer busy %.2f s (apply + commit); %d identifiers quarantined automatically\n", busy, q}'
    stop_server
  done
fi
