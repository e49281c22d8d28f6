#!/usr/bin/env bash
# The test command: installs what is missing, builds once, runs every test.
#
#   ops/test.sh [extra `swift test` arguments, e.g. --filter Golden]
#
# Randomized tests print their seed; replay one with STITCH_TEST_SEED=N.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
# The tracker's wire test runs its JavaScript in Node (Debian's nodejs).
if ! command -v node >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs >/dev/null
fi
swift build --build-tests
swift test --skip-build "$@"
