#!/usr/bin/env bash
# What exactly-once costs on disk: fills a store with up to 10M events with
# random event ids and prints the dedup table's size, bytes per remembered id
# and apply rate at 1M, 5M and 10M ids, as a Markdown table (docs/operations.md, "Exactly once").
#
#   ops/bench-dedup.sh                                       # 1M, 5M, 10M ids (~3 minutes)
#   ops/bench-dedup.sh --ids 1000000 --checkpoints 1000000   # a quick run
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/../Benchmarks"
../ops/install-deps.sh
rm -f .build/*.yaml .build/*/description.json  # see ops/bench-graph.sh
swift build -c release --product DedupCost >&2
exec .build/release/DedupCost "$@"
