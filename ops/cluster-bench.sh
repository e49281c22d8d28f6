#!/usr/bin/env bash
# The cluster's figures (docs/cluster.md), side by side in one run on this
# machine, release build:
#   1. acked beacons/s, unpaced (`stitch load`, TCP, 4 connections, 50-beacon
#      batches): a single node, then a cluster of 3 NATS servers (streams R3)
#      and 2 stitch nodes, loaded through s1 — both nodes apply everything;
#   2. at half the cluster's rate: ack p99 (from the intended send time), apply
#      lag p99 on the replica s2 (publish → applied, stitch_log_apply_lag_seconds),
#      and lookup p99 on s2 during that ingest (open loop, 1,000 lookups/s);
#   3. catch-up: s2 stopped while s1 takes DURATION seconds of beacons, then
#      restarted; the rate it applies the backlog at.
#
#   ops/cluster-bench.sh [DURATION_SECONDS]     # default 10
#
# On one 2-core machine every process shares the same cores, so the cluster
# figures are what the log costs, not what a cluster of machines does.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
ops/install-deps.sh --tests >/dev/null
swift build -c release --product stitch >&2
stitch=$PWD/.build/release/stitch
work=$(mktemp -d /tmp/stitch-cluster-bench.XXXXXX)
source ops/lib/stop-processes.sh
trap 'ops/cluster.sh down "$work/c" 2>/dev/null || true; stop_processes $(cat "$work"/*.pid 2>/dev/null); rm -rf "$work"' EXIT
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }
load() { "$stitch" load --duration "$duration" --sites 4 "$@" 2>/dev/null; }
acked_rate() { sed -n 's/^acked .*= \([0-9]*\) beacons\/s.*/\1/p'; }

echo "== single node" >&2
"$stitch" serve --data-dir "$work/single" --ingest-port 0 --query-port 0 --http-port 0 --intake-port 0 \
  --set shards=2 --ready-file "$work/single.json" 2>"$work/single.log" &
echo $! >"$work/single.pid"
for _ in $(seq 100); do [ -s "$work/single.json" ] && break; sleep 0.1; done
single=$(cat "$work/single.json")
single_out=$(load --port "$(field "$single" ingest)" --query-port "$(field "$single" query)")
single_rate=$(echo "$single_out" | acked_rate)
stop_processes "$(cat "$work/single.pid")"; rm -f "$work/single.pid"

echo "== cluster: 3 NATS (R3), 2 stitch nodes" >&2
ops/cluster.sh up "$work/c" --nodes 2 --shards 2 --replicas 3 --stitch "$stitch" >"$work/c.jsonl"
s1=$(grep '"s1"' "$work/c.jsonl"); s2=$(grep '"s2"' "$work/c.jsonl")
cluster_out=$(load --port "$(field "$s1" ingest)" --query-port "$(field "$s1" query)" --seed 101)
cluster_rate=$(echo "$cluster_out" | acked_rate)
half=$((cluster_rate / 2))

echo "== half load ($half beacons/s) through s1, lookups on s2" >&2
lag_before=$(curl -s "http://127.0.0.1:$(field "$s2" http)/metrics" | grep '^stitch_log_apply_lag_seconds_bucket' || true)
half_out=$(load --port "$(field "$s1" ingest)" --query-port "$(field "$s2" query)" --rate "$half" --query-rate 1000 --seed 201)
lag_after=$(curl -s "http://127.0.0.1:$(field "$s2" http)/metrics" | grep '^stitch_log_apply_lag_seconds_bucket')
apply_p99=$(python3 - "$lag_before" "$lag_after" <<'EOF'
import re, sys
def buckets(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r'.*le="([^"]+)".* ([0-9.e+]+)$', line)
        if m: out[m.group(1)] = float(m.group(2))
    return out
before, after = buckets(sys.argv[1]), buckets(sys.argv[2])
counts = sorted(((float("inf") if k == "+Inf" else float(k)), after[k] - before.get(k, 0)) for k in after)
total = counts[-1][1]
print(next((f"{le * 1000:g} ms" for le, c in counts if c >= 0.99 * total), "?") if total else "no samples")
EOF
)
ack_p99=$(echo "$half_out" | sed -n 's/^ack latency.* p99 \([0-9.]*\) .*/\1 ms/p')
lookup_p99=$(echo "$half_out" | sed -n 's/^lookups .* p99 \([0-9.]*\) .*/\1 ms/p' | head -1)

echo "== catch-up: s2 away while s1 takes ${duration} s of beacons" >&2
ops/cluster.sh kill "$work/c" s2 TERM
away_out=$(load --port "$(field "$s1" ingest)" --query-port "$(field "$s1" query)" --seed 301)
away_beacons=$(echo "$away_out" | sed -n 's/^acked *\([0-9]*\) beacons.*/\1/p')
started=$(date +%s.%N)
s2=$(ops/cluster.sh start "$work/c" s2)
# Caught up: s2 has applied every partition as far as s1 has.
python3 - "$(field "$s1" http)" "$(field "$s2" http)" <<'EOF'
import re, sys, time, urllib.request
def applied(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'^stitch_log_applied_sequence\{partition="(\d+)"\} ([0-9.e+]+)', text, re.M)}
target = applied(sys.argv[1])
while True:
    now = applied(sys.argv[2])
    if now and all(now.get(p, 0) >= v for p, v in target.items()):
        break
    time.sleep(0.1)
EOF
caught=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
catch_rate=$(python3 -c "print(int($away_beacons / $caught))")

cat <<EOF

| figure (this machine, release build, one run) | single node | cluster (3 NATS R3, 2 stitch nodes) |
|---|---|---|
| acked beacons/s, unpaced, TCP 4 connections | $single_rate | $cluster_rate |
| ack p99 at half the cluster's rate ($half/s) | | $ack_p99 |
| apply lag p99 on the replica s2 at that rate | | $apply_p99 |
| lookup p99 on the replica s2 during that ingest (1,000/s open loop) | | $lookup_p99 |
| catch-up of s2 after ${duration} s away ($away_beacons beacons, restart included) | | $caught s = $catch_rate beacons/s |
EOF
