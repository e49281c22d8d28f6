#!/usr/bin/env bash
# Fuzzes the JSON query API against its own contract with Schemathesis (PyPI),
# run by ops/test.sh: a real `stitch serve` (loopback mode: the caller is
# admin, so every operation is reached) holding a small synthetic world, and
# every operation of GET /api/openapi.json called with generated arguments,
# valid and invalid. Fails on any 5xx, and on any answer whose status, content
# type or body the contract does not describe.
#
#   ops/api-contract-test.sh [STITCH_BINARY] [MAX_EXAMPLES]   # default .build/debug/stitch, 40
#
# Schemathesis prints its seed; replay a run with --seed (see its output).
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="$(realpath "${1:-.build/debug/stitch}")"
examples="${2:-40}"
venv=.build-schemathesis
SCHEMATHESIS_VERSION=4.32.5
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
work="$(mktemp -d /tmp/stitch-api-contract.XXXXXX)"
source ops/lib/stitch-serve.sh
trap 'stitch_stop; rm -rf "$work"' EXIT

stitch_serve "$stitch" "$work"
# Persons, histories, merges, leases and pools for the operations to find.
"$stitch" load --port "$(port ingest)" --query-port "$(port query)" --traffic world --world-persons 200 \
  --duration 3 >"$work/load.txt"
base="http://127.0.0.1:$(port http)"
echo "== Schemathesis against $base/api/openapi.json ($examples examples per operation)"
"$venv/bin/schemathesis" run "$base/api/openapi.json" --url "$base" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing --max-examples "$examples" --warnings off
grep -q "panic\|Fatal error" "$work/serve.log" && { cat "$work/serve.log"; exit 1; }
echo "ok: no 5xx, every answer as the contract says"
