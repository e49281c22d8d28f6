#!/usr/bin/env bash
# What erasing a person costs on a store holding many guard conflicts: one
# `stitch serve` (one shard), CONFLICTS pairs of users imported so that the
# distinct-user-ids guard refuses one login each (a conflict per pair), then
# 100 `forget`s over one query connection (the Python client), timed one by
# one, and 100 lookups beside them for scale.
#
#   ops/forget-bench.sh [STITCH_BINARY] [CONFLICTS]   # defaults: .build/release/stitch, 100000
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="$(realpath "${1:-.build/release/stitch}")"
conflicts="${2:-100000}"
work="$(mktemp -d "${TMPDIR:-/tmp}/stitch-forget.XXXXXX")"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT
python="$(ops/python-venv.sh test newest)"
python3 - "$conflicts" >"$work/conflicts.ndjson" <<'PY'
import json, sys
t0, n = 1767225600000, 0
for i in range(int(sys.argv[1])):
    for j, (ids, path) in enumerate([
        # Zero-padded: cookies and sessions shorter than 8 characters are
        # rejected (too_short), and a pair without its cookie records no conflict.
        ([("COOKIE", f"ck-a-{i:07d}"), ("USER_ID", f"user-a-{i}")], "/account"),
        ([("COOKIE", f"ck-b-{i:07d}"), ("USER_ID", f"user-b-{i}")], "/account"),
        ([("COOKIE", f"ck-a-{i:07d}"), ("SESSION", f"ss-a-{i:07d}"), ("USER_ID", f"user-b-{i}")], "/login")]):
        n += 1
        print(json.dumps({"site": 1, "time_ms": t0 + i * 10 + j, "event_id": str(n),
                          "identifiers": [{"kind": "IDENTIFIER_KIND_" + k, "value": v} for k, v in ids],
                          "hit": {"url": "https://shop.example.ru" + path}}))
PY
stitch_serve "$stitch" "$work" --set shards=1 --set ingest_priority=normal
"$stitch" import "$work/conflicts.ndjson" --server "127.0.0.1:$(port ingest)" | tail -1
echo "conflicts recorded: $(metric stitch_conflicts_total) of $conflicts pairs; identifiers rejected: $(metric stitch_identifiers_rejected_total)"
PYTHONPATH=clients/python "$python" - "$(port query)" "$conflicts" <<'PY'
import sys, time
from stitch_client import QueryClient
port, conflicts = int(sys.argv[1]), int(sys.argv[2])
step = max(1, conflicts // 100)
with QueryClient.connect(port=port) as stitch:
    def timed(call):
        start = time.perf_counter(); call(); return (time.perf_counter() - start) * 1000
    forgets = sorted(timed(lambda: stitch.forget(1, "user_id", f"user-b-{i}")) for i in range(0, conflicts, step))
    lookups = sorted(timed(lambda: stitch.lookup(1, "user_id", f"user-a-{i}")) for i in range(0, conflicts, step))
mid, p90 = len(forgets) // 2, len(forgets) * 9 // 10
print(f"{len(forgets)} forgets: median {forgets[mid]:.2f} ms, p90 {forgets[p90]:.2f} ms; lookups median {lookups[mid]:.2f} ms")
PY
