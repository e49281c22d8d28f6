#!/usr/bin/env bash
# What open pages cost the server: renewals (GET /v1/lease?renew=1) at a
# steady rate against one release server, and the server's CPU for them.
#
#   ops/renewal-bench.sh                    # 500 renewals/s for 20 s
#   RATE=1000 DURATION=30 ops/renewal-bench.sh
#   STITCH=/path/to/stitch ops/renewal-bench.sh
#
# Setup: a pool of 500 numbers on site 1, 500 sessions each leased one and
# shown it (a `number_shown` beacon each), so every renewal also extends a
# stored lease in the writer. Then the renewals, open loop (latency from the
# intended send time), cycling over the 500 sessions. The server's CPU time is
# read from /proc before and after, less what it spends idle for as long.
# A visible tab renews every third of the hold: with the default 15-minute hold,
# 10,000 visible tabs send 10,000 / 300 s = 33 renewals per second.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
command -v node >/dev/null || apt-get install -y -qq nodejs >/dev/null
if [ -z "${STITCH:-}" ]; then swift build -c release --product stitch >&2; fi
stitch="${STITCH:-$PWD/.build/release/stitch}"
rate="${RATE:-500}"
duration="${DURATION:-20}"
work="$(mktemp -d /tmp/stitch-renewal.XXXXXX)"
source ops/lib/stop-processes.sh
trap 'stop_processes $(cat "$work/pid" 2>/dev/null); rm -rf "$work"' EXIT

numbers=$(python3 -c 'import json; print(json.dumps(["+7495%07d" % n for n in range(500)]))')
"$stitch" serve --data-dir "$work/data" --ingest-port 0 --query-port 0 --http-port 0 --intake-port 0 \
  --ready-file "$work/ready.json" --set intake_requests_per_second_max=1000000 --set 'cors_origins=1=*' \
  --set "number_pools={\"1\": {\"dynamic_numbers\": $numbers}}" 2>"$work/serve.log" &
echo $! >"$work/pid"
for _ in $(seq 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
intake=$(python3 -c "import json;print(json.load(open('$work/ready.json'))['intake'])")

# 500 sessions, each leased a number, then shown it.
python3 - "$intake" "$work" <<'PY'
import json, sys, urllib.request
port, work = sys.argv[1], sys.argv[2]
shown = []
for n in range(500):
    session = "renewbench%05d" % n
    lease = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/lease?site=1&session={session}"))
    shown.append([session, lease["tracking_number"]])
json.dump(shown, open(f"{work}/shown.json", "w"))
open(f"{work}/paths.txt", "w").write("\n".join(f"/v1/lease?site=1&session={s}&renew=1" for s, _ in shown))
PY
node -e '
const w = require("./tracker/stitch.js");
const shown = JSON.parse(require("fs").readFileSync(process.argv[1] + "/shown.json"));
const beacons = shown.map(([session, number], i) => ({ site: 1, timeMs: Date.now(), eventId: BigInt(i + 1),
  identifiers: [[w.KIND.session, session]], type: "numberShown", body: { trackingNumber: number } }));
const raw = w.encodeBatch(beacons);
require("fs").writeFileSync(process.argv[1] + "/shown.bin", w.frame(raw, 1, raw.length));' "$work"
curl -sf -o /dev/null --data-binary @"$work/shown.bin" -H 'Content-Type: text/plain' "http://127.0.0.1:$intake/v1/frames"

cpu() { awk '{print $14 + $15}' "/proc/$(cat "$work/pid")/stat"; }   # utime + stime, clock ticks
ticks=$(getconf CLK_TCK)
idle_start=$(cpu); sleep "$duration"; idle=$(( $(cpu) - idle_start ))
echo "== renewals: GET /v1/lease?renew=1 at $rate/s for $duration s over 500 sessions"
busy_start=$(cpu)
python3 ops/http-open-loop.py --port "$intake" --get-paths "$work/paths.txt" --rate "$rate" --duration "$duration" --connections 16
busy=$(( $(cpu) - busy_start ))
applied=$(curl -s "http://127.0.0.1:$(python3 -c "import json;print(json.load(open('$work/ready.json'))['http'])")/metrics" \
  | awk '/^stitch_lease_renewals_applied_total/ {print $2}')
python3 - "$rate" "$duration" "$busy" "$idle" "$ticks" "$applied" <<'PY'
import sys
rate, duration, busy, idle, ticks, applied = (float(v) for v in sys.argv[1:])
cpu_s = max(0.0, busy - idle) / ticks
per_renewal_us = cpu_s / (rate * duration) * 1e6
tabs_rate = 10_000 / 300
print(f"server CPU for renewals: {cpu_s:.2f} s over {duration:.0f} s ({cpu_s / duration * 100:.1f}% of one core at {rate:.0f}/s), "
      f"{per_renewal_us:.0f} µs per renewal; stored leases extended by the writer: {applied:.0f}")
print(f"10,000 visible tabs (15-minute hold, a renewal every 5 min) = {tabs_rate:.1f} renewals/s "
      f"≈ {tabs_rate * per_renewal_us / 1e4:.2f}% of one core")
PY
