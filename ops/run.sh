#!/usr/bin/env bash
# The run command: installs what is missing, builds Stitch in release mode and
# starts the service with its embedded defaults (data in ./stitch-data, beacons
# on UDP+TCP 127.0.0.1:7070, queries on 7071, /metrics, /healthz, the JSON API and /explorer/ on 7072).
# With arguments it runs `stitch ARGS…` instead.
#
#   ops/run.sh                                   # stitch serve, Ctrl-C stops it cleanly
#   ops/run.sh query stats                       # any subcommand
#   ops/run.sh serve --config ops/stitch.example.json
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
swift build -c release --product stitch >&2
stitch=.build/release/stitch
if [ $# -gt 0 ]; then
  exec "$stitch" "$@"
fi
exec "$stitch" serve
