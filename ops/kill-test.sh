#!/usr/bin/env bash
# Exactly-once under SIGKILL, longer than CI runs it: a real `stitch serve` is
# killed at random moments while a client resends every unacknowledged batch;
# at the end every beacon must be stored exactly once and `stitch verify` pass.
#
#   ops/kill-test.sh                       # 200 kills
#   CYCLES=1000 ops/kill-test.sh
#   STITCH_TEST_SEED=N ops/kill-test.sh    # replay one run
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
swift build --build-tests
STITCH_KILL_CYCLES="${CYCLES:-200}" swift test --skip-build --filter ExactlyOnceKillTests
