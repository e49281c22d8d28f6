#!/usr/bin/env bash
# The test command: installs what is missing, builds once, runs every test.
#
#   ops/test.sh [extra `swift test` arguments, e.g. --filter Golden]
#
# Randomized tests print their seed; replay one with STITCH_TEST_SEED=N.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh --tests
swift build --build-tests
swift test --skip-build "$@"
