#!/usr/bin/env bash
# HTTP intake throughput beside the TCP collector's, one release server, one
# run: wrk POSTs a 50-beacon compressed frame (built by the tracker's own wire
# code in Node, no event ids, so every copy is stored) to /v1/frames and to
# /v1/beacon; then `stitch load` sends TCP batches of 50, unpaced, with acks.
# Each request is answered after the group commit that holds it.
#
#   ops/http-intake-bench.sh            # 10 s each
#   DURATION=20 CONNECTIONS=32 RATE=400 ops/http-intake-bench.sh
#   STITCH=/path/to/stitch ops/http-intake-bench.sh   # another build, side by side
#
# Then an open-loop run (ops/http-open-loop.py): /v1/beacon at a steady RATE
# of requests per second, latency from each request's intended send time.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v node >/dev/null || apt-get install -y -qq nodejs >/dev/null
if [ -z "${STITCH:-}" ]; then swift build -c release --product stitch >&2; fi
stitch="${STITCH:-$PWD/.build/release/stitch}"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-16}"
work="$(mktemp -d /tmp/stitch-http.XXXXXX)"
source ops/lib/stop-processes.sh
trap 'stop_processes $(cat "$work/pid" 2>/dev/null); rm -rf "$work"' EXIT

"$stitch" serve --data-dir "$work/data" --ingest-port 0 --query-port 0 --http-port 0 --intake-port 0 \
  --ready-file "$work/ready.json" --set intake_requests_per_second_max=1000000 \
  --set 'cors_origins=1=*' 2>"$work/serve.log" &
echo $! >"$work/pid"
for _ in $(seq 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
port() { python3 -c "import json;print(json.load(open('$work/ready.json'))['$1'])"; }

node -e '
const w = require("./tracker/stitch.js");
(async () => {
  const beacons = [];
  for (let i = 0; i < 50; i++) beacons.push({ site: 1, timeMs: 1767225600000 + i, eventId: 0,
    identifiers: [[w.KIND.cookie, "c0ffee00bench" + String(i).padStart(4, "0")], [w.KIND.session, "5e5510bench" + String(i).padStart(4, "0")]],
    type: "hit", body: { url: "https://shop.example/catalog/" + i } });
  const raw = w.encodeBatch(beacons);
  const payload = await w.deflate(raw);
  require("fs").writeFileSync(process.argv[1], w.frame(payload, 1, raw.length));
})();' "$work/batch.bin"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
local f = io.open("$work/batch.bin", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "text/plain"
LUA

for path in /v1/frames /v1/beacon; do
  echo "== HTTP POST $path, 50 beacons per request, $connections connections, $duration s"
  wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/post.lua" "http://127.0.0.1:$(port intake)$path" \
    | awk '/Requests\/sec/ {printf "%s requests/s = %.0f beacons/s\n", $2, $2 * 50} /^ +(50|99)%/ {print "latency p" $1, $2} /Non-2xx/ {print}'
done
rate="${RATE:-400}"
echo "== open loop: POST /v1/beacon at $rate requests/s ($((rate * 50)) beacons/s), latency from the intended send time"
python3 ops/http-open-loop.py --port "$(port intake)" --path /v1/beacon --body "$work/batch.bin" --rate "$rate" --duration "$duration"
echo "== TCP collector, batches of 50, unpaced, acked after each group commit"
"$stitch" load --port "$(port ingest)" --query-port "$(port query)" --transport tcp --duration "$duration" \
  --connections "$connections" --no-event-ids | grep -E '^(acked|ack latency)'
