#!/usr/bin/env bash
# Runs the micro-benchmarks in Benchmarks/ (package-benchmark, release build).
#
#   ops/bench.sh                    # all
#   ops/bench.sh --filter 'Wire.*'  # a subset (regex on names)
#
# Figures are wall time on this machine; compare runs on the same machine only.
set -euo pipefail
cd "$(dirname "$0")/../Benchmarks"
../ops/install-deps.sh
# SwiftPM caches the source list of the path dependency (the main package)
# in its build plan and misses files added since; drop the plan, not the build.
rm -f .build/*.yaml .build/*/description.json
swift package --allow-writing-to-package-directory benchmark --format markdown "$@"
