#!/usr/bin/env bash
# Moves a stopped Stitch store into a new one with another shard count: the
# documented migration behind "the store was created with N shards" refusals.
#
#   ops/reshard.sh OLD_DIR NEW_DIR SHARDS      (the server must be stopped)
#
# How: a temporary `stitch serve --set shards=SHARDS` on NEW_DIR (loopback, OS-chosen
# ports), every stored event exported from OLD_DIR (`stitch export events`, shard by
# shard) and put back through that server's collector (`stitch import`), so every
# event is prepared, deduplicated (event ids) and stitched again as on first arrival;
# then the totals of both stores are compared and `stitch verify` runs on the new one.
# Number pools set with pool_set (pools.json) and the audit log (audit/) are copied. Before the import, `stitch carry`
# sets what the events do not hold: manual quarantines, identifiers released from a
# quarantine, and the suppression list of erased identifiers (with its erasure records),
# so the events arrive to the state OLD_DIR was in. Quarantines of the automatic rule and
# of declared junk are made again by the import and the configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 3 ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
old="$1" new="$2" shards="$3"
[ -f "$old/shards.json" ] || [ -f "$old/data.mdb" ] || { echo "no Stitch store in $old" >&2; exit 1; }
if [ -e "$new" ] && [ -n "$(ls -A "$new")" ]; then echo "$new exists and is not empty" >&2; exit 1; fi
ops/install-deps.sh
swift build -c release --product stitch >&2
stitch="$PWD/.build/release/stitch"
work="$(mktemp -d /tmp/stitch-reshard.XXXXXX)"
source ops/lib/stop-processes.sh
trap 'stop_processes $(cat "$work/pid" 2>/dev/null); rm -rf "$work"' EXIT

mkdir -p "$new"
[ -f "$old/pools.json" ] && cp "$old/pools.json" "$new/pools.json"
# The server is stopped, so the audit log's LMDB files are copied as they are.
[ -d "$old/audit" ] && cp -r "$old/audit" "$new/audit"
start_server() {
  rm -f "$work/ready.json"
  "$stitch" serve --data-dir "$new" --set "shards=$shards" --ingest-port 0 --query-port 0 --http-port 0 \
    --intake-port 0 --ready-file "$work/ready.json" 2>>"$work/serve.log" &
  echo $! >"$work/pid"
  for _ in $(seq 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
  [ -s "$work/ready.json" ] || { cat "$work/serve.log" >&2; exit 1; }
}
stop_server() { kill -TERM "$(cat "$work/pid")"; wait "$(cat "$work/pid")" || true; }
port() { python3 -c "import json;print(json.load(open('$work/ready.json'))['$1'])"; }

# A first start records the new layout; the state is carried while no server runs.
start_server
stop_server
"$stitch" carry --from "$old" --to "$new"
start_server
"$stitch" export events --data-dir "$old" | "$stitch" import - --server "127.0.0.1:$(port ingest)"
stats() { "$stitch" query stats --server "127.0.0.1:$(port query)" | awk '$1 == "events" {print $2}'; }
imported="$(stats)"
stop_server
exported="$("$stitch" export events --data-dir "$old" 2>/dev/null | wc -l)"
echo "events: $exported in $old, $imported in $new"
[ "$exported" = "$imported" ] || { echo "the counts differ: keep $old and look at $work/serve.log" >&2; exit 1; }
"$stitch" verify --data-dir "$new" | tail -1
echo "done: start the server on $new (its layout is recorded in $new/shards.json); remove $old when satisfied"
