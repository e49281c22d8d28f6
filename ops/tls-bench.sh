#!/usr/bin/env bash
# What TLS costs ingest (issue 28): fresh `stitch serve`s, one plaintext and
# one with TLS (certificates from ops/make-test-certs.sh), each taking
# unpaced `stitch load` over TCP (4 connections, 50-beacon zlib batches) for
# SECONDS, alternating for ROUNDS rounds in one run (this machine's noise is
# about 10% between runs, so only a side-by-side comparison counts).
#
#   ops/tls-bench.sh [STITCH_BINARY] [SECONDS] [ROUNDS]   # defaults: .build/release/stitch, 12, 2
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
stitch="$(realpath "${1:-.build/release/stitch}")"
seconds="${2:-12}"
rounds="${3:-2}"
certs="$(mktemp -d /tmp/stitch-tls-bench-certs.XXXXXX)"
ops/make-test-certs.sh "$certs" >/dev/null
source ops/lib/stitch-serve.sh
run() {
  local label="$1"
  shift
  local work
  work="$(mktemp -d /tmp/stitch-tls-bench.XXXXXX)"
  if [ "$label" = tls ]; then
    stitch_serve "$stitch" "$work" --set "tls_cert_file=$certs/server.pem" --set "tls_key_file=$certs/server.key"
    set -- --tls-ca "$certs/ca.pem"
  else
    stitch_serve "$stitch" "$work"
    set --
  fi
  printf '%-6s ' "$label"
  "$stitch" load --port "$(port ingest)" --connections 4 --batch 50 --duration "$seconds" "$@" |
    grep -E '^acked|^ack latency' | tr '\n' ' ' | sed 's/  */ /g'
  echo
  stitch_stop
  sleep 1
  rm -rf "$work"
}
trap 'stitch_stop; rm -rf "$certs"' EXIT
for _ in $(seq "$rounds"); do
  run plain
  run tls
done
