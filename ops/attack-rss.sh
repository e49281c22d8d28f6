#!/usr/bin/env bash
# Issue 12's hostile clients against a real release `stitch serve`, one fresh
# server per scenario, with the server's resident memory before, at its peak
# during and after each attack: zlib frames inflating to 4 MiB on 250
# connections, a bad-CRC flood that never reads its replies, 300 slowloris
# connections, 5,000 idle connections from 200 addresses (do /healthz and the
# query port still answer?), UDP zlib bombs among real beacons, wrong hellos.
#
#   ops/attack-rss.sh                  # every scenario (~1 min after the build)
#   ops/attack-rss.sh slowloris udp    # some of them
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
ops/install-deps.sh --python
swift build -c release --product stitch >&2
python="$(ops/python-venv.sh)"
ulimit -n 20000
"$python" ops/attack-rss.py "$PWD/.build/release/stitch" "$@"
