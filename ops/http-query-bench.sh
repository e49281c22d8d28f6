#!/usr/bin/env bash
# The JSON API's lookup latency beside the binary protocol's (docs/json-api.md "JSON API
# and profile explorer"): one `stitch serve` holding simple traffic, then
#   1. the HTTP maximum: wrk (closed loop, 32 connections) on lookupPerson;
#   2. open loop at half that rate, latency from the intended send time:
#      HTTP lookups with ops/http-open-loop.py, then binary-protocol lookups at
#      the same rate with `stitch load --query-rate` (its open-loop driver),
#      one after the other in the same run.
#
#   ops/http-query-bench.sh [STITCH_BINARY] [SECONDS]   # default .build/release/stitch, 15
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="$(realpath "${1:-.build/release/stitch}")"
seconds="${2:-15}"
command -v wrk >/dev/null || apt-get install -y -qq wrk
work="$(mktemp -d /tmp/stitch-http-bench.XXXXXX)"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT

stitch_serve "$stitch" "$work"
persons=20000
echo "== seeding: 10 s of simple traffic, 4 sites of $persons visitors"
"$stitch" load --port "$(port ingest)" --query-port "$(port query)" --duration 10 --persons "$persons" | tail -1
# The cookies simple traffic gives (StitchLoad.SimpleTraffic.cookie), in a seeded order.
python3 - "$work/paths.txt" "$persons" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as out:
    for _ in range(50000):
        site = random.randint(1, 4)
        print(f"/api/v1/sites/{site}/person?kind=cookie&value=ck{site}x{random.randrange(int(sys.argv[2]))}abcdef", file=out)
PY
http="127.0.0.1:$(port http)"
echo "== HTTP maximum: wrk, 32 connections, 2 threads, $seconds s"
cat >"$work/paths.lua" <<LUA
local paths, n = {}, 0
for line in io.lines("$work/paths.txt") do paths[#paths + 1] = line end
request = function() n = n % #paths + 1; return wrk.format("GET", paths[n]) end
LUA
wrk -t2 -c32 -d"${seconds}s" -s "$work/paths.lua" "http://$http" | tee "$work/wrk.txt"
max="$(awk '/Requests\/sec/ {print int($2)}' "$work/wrk.txt")"
half=$((max / 2))
echo "== open loop at $half/s (half of $max/s), $seconds s each"
echo "-- JSON API (ops/http-open-loop.py, 64 connections)"
python3 ops/http-open-loop.py --port "$(port http)" --get-paths "$work/paths.txt" --rate "$half" \
  --duration "$seconds" --connections 64
echo "-- binary protocol (stitch load --query-rate $half, lookups; beacons at 100/s)"
"$stitch" load --port "$(port ingest)" --query-port "$(port query)" --rate 100 --duration "$seconds" \
  --persons "$persons" --query-rate "$half" | grep -iE "lookup|quer" | tail -3
