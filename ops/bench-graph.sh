#!/usr/bin/env bash
# The identity graph's scale curve (apply throughput with fsync, lookup
# latency, LMDB's raw random-put rate) as a Markdown table.
#
#   ops/bench-graph.sh                                  # 100k, 1M, 10M identifiers
#   ops/bench-graph.sh --scales 100000 --events 100000  # a quick run
#
# Stores are built under $TMPDIR (about 3 GB at 10M identifiers) and removed.
# Takes 5-10 minutes for the full curve on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../Benchmarks"
../ops/install-deps.sh
# SwiftPM caches the source list of the path dependency (the main package)
# in its build plan and misses files added since; drop the plan, not the build.
rm -f .build/*.yaml .build/*/description.json
swift build -c release --product GraphScale >&2
exec .build/release/GraphScale "$@"
