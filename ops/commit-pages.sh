#!/usr/bin/env bash
# Which tables' pages the writer's commits write (issue 26). Fills a
# throwaway store to EVENTS_MILLIONS million events with unpaced simple
# traffic (as ops/scale-curve.sh), then sends RATE beacons/s for 20 s, traces
# the server's page writes for its last 6 s (strace: pwrite64, writev, lseek,
# fdatasync), stops the server and breaks each shard's last traced commits
# down by table with ops/commit-pages.py, reading the pages back from the
# stopped store. strace slows the writer, so traced commits carry more
# beacons than untraced ones: read the shares, not the totals.
#
#   ops/commit-pages.sh [STITCH_BINARY] [EVENTS_MILLIONS] [RATE] [-- SERVE_ARGS…]
#   # defaults: .build/release/stitch, 10, 50000; needs strace (apt-get install -y strace)
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
command -v strace >/dev/null || { echo "commit-pages: needs strace (apt-get install -y strace)" >&2; exit 1; }
stitch="$(realpath "${1:-.build/release/stitch}")"
target_millions="${2:-10}"
rate="${3:-50000}"
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
work="$(mktemp -d "${SCALE_DIR:-/tmp}/stitch-pages.XXXXXX")"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT
stitch_serve "$stitch" "$work" "$@"
load() { "$stitch" load --port "$(port ingest)" --connections 4 --batch 50 "$@"; }
stitch_fill "$stitch" "$target_millions"
seed="$STITCH_FILL_SEED"
pid="$(cat "$work/stitch.pid")"
# Each shard's data file and the descriptor LMDB writes its pages on: the
# read-write one (meta pages go through a second, write-only descriptor).
data_fds=()
for link in /proc/"$pid"/fd/*; do
  case "$(readlink "$link")" in
    */data.mdb) [ "$(stat -c %A "$link")" = "lrwx------" ] && data_fds+=("${link##*/}=$(readlink "$link")") ;;
  esac
done
echo "store: $(metric stitch_events_stored_total) events; $rate beacons/s for 20 s, the last 6 s traced"
load --duration 20 --seed "$seed" --rate "$rate" | grep -E "^ack latency" &
generator=$!
sleep 14
strace -f -qq -e trace=pwrite64,writev,lseek,fdatasync -p "$pid" -o "$work/strace.txt" &
tracer=$!
wait "$generator"
stitch_stop
wait "$tracer" || true
for entry in "${data_fds[@]}"; do
  fd="${entry%%=*}"
  data="${entry#*=}"
  [ "$data" = "$work/data/audit/data.mdb" ] && continue
  echo "== ${data#"$work"/}: its last two traced commits"
  python3 ops/commit-pages.py --trace "$work/strace.txt" --fd "$fd" --commits 2 "$data" || true
done
